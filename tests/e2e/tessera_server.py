"""Helpers for the end-to-end tests: a real `tessera serve` process and the
pinned clients (huggingface_hub, hf_xet, the `hf` CLI) run against it.

`TesseraServer` starts the binary on a free loopback port with a throw-away
data directory and two users (alice, an admin, and bob) whose write tokens are
known in advance. Its stderr (the server log) goes to a file; `log_tail()` and
`log_since()` return parts of it for failure reports.

`huggingface_hub` reads `HF_ENDPOINT` (and the cache locations) at import
time, so every client scenario runs in a fresh Python subprocess
(`run_scenario`) or as the `hf` CLI (`run_cli`), with an isolated HF_HOME,
hub cache and Xet cache.

Where the server keeps metadata and blobs follows `TESSERA_TEST_BACKEND` (see
backends.py): by default a SQLite file and local blobs in the data dir; with
`postgres-s3` a fresh Postgres database and S3 bucket per server, or the ones
of another server (`TesseraServer(..., shared_with=other)`).
"""

from __future__ import annotations

import filecmp
import json
import os
import queue
import re
import secrets
import signal
import string
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from backends import Backend

START_TIMEOUT_SECS = 30
STOP_TIMEOUT_SECS = 15
LISTENING = re.compile(r"tessera listening on (http://\S+)")

# Settings the server would otherwise pick up from the developer's environment.
_SERVER_ENV_DROP = (
    "TESSERA_CONFIG",
    "TESSERA_DATA_DIR",
    "TESSERA_DATABASE_URL",
    "TESSERA_LISTEN",
    "TESSERA_PUBLIC_URL",
    "TESSERA_S3_BUCKET",
    "TESSERA_S3_ENDPOINT",
    "TESSERA_S3_REGION",
    "TESSERA_S3_FORCE_PATH_STYLE",
    "TESSERA_SIGNUP",
)
# Client settings that must never leak in from the developer's environment.
_CLIENT_ENV_PREFIXES = ("HF_", "HUGGINGFACE_", "XET_")
# The server's default log filter plus the per-request lines of tower_http.
DEFAULT_SERVER_LOG = "info,tower_http=debug,sqlx=warn"


def random_token() -> str:
    alphabet = string.ascii_letters + string.digits
    return "hf_" + "".join(secrets.choice(alphabet) for _ in range(34))


@dataclass(frozen=True)
class User:
    name: str
    token: str
    admin: bool = False


class ServerError(RuntimeError):
    pass


class TesseraServer:
    """A running `tessera serve`; use as a context manager.

    >>> with TesseraServer(Path(os.environ["TESSERA_BIN"])) as server:
    ...     server.endpoint, server.users["alice"].token, server.stats()
    """

    def __init__(
        self,
        binary: Path,
        base_dir: Path | None = None,
        users: tuple[tuple[str, bool], ...] = (("alice", True), ("bob", False)),
        *,
        backend: Backend | None = None,
        shared_with: "TesseraServer | None" = None,
        env: dict[str, str] | None = None,
    ):
        """`backend`: where metadata and blobs live (default: a fresh one of
        TESSERA_TEST_BACKEND); `shared_with`: another server whose database,
        blob store and users this one shares (its own data dir and port);
        `env`: settings for the server (`TESSERA_SIGNUP`, …), also read at
        every restart from `self.env`."""
        self.env = dict(env or {})
        self.binary = Path(binary)
        if shared_with is not None:
            if shared_with.backend.kind == "sqlite-disk":
                raise ValueError("servers can share a Postgres database and S3 bucket only (TESSERA_TEST_BACKEND=postgres-s3)")
            backend = shared_with.backend
        self.backend = backend if backend is not None else Backend.fresh()
        self._own_tmp = None
        if base_dir is None:
            self._own_tmp = tempfile.TemporaryDirectory(prefix="tessera-e2e-")
            base_dir = Path(self._own_tmp.name)
        self.base_dir = Path(base_dir)
        self.data_dir = self.base_dir / "data"
        self.log_path = self.base_dir / "server.log"
        if shared_with is not None:
            self.users: dict[str, User] = dict(shared_with.users)
        else:
            self.users = {name: User(name, random_token(), admin) for name, admin in users}
        self.endpoint: str | None = None
        self.stdout_lines: list[str] = []
        self._proc: subprocess.Popen | None = None
        self._log_file = None
        self._stdout_thread: threading.Thread | None = None
        # Users live in the database: created once per database.
        self._users_created = shared_with is not None

    # ------------------------------------------------------------ lifecycle
    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV_DROP}
        env.setdefault("TESSERA_LOG", DEFAULT_SERVER_LOG)
        env.setdefault("RUST_BACKTRACE", "1")
        env["NO_COLOR"] = "1"  # plain-text log file
        env.update(self.backend.server_env)
        env.update(self.env)
        return env

    def _admin(self, *args: str) -> str:
        cmd = [str(self.binary), "--data-dir", str(self.data_dir), "admin", *args]
        result = subprocess.run(cmd, capture_output=True, text=True, env=self._env(), timeout=60)
        if result.returncode != 0:
            raise ServerError(
                f"{' '.join(cmd)} failed with exit status {result.returncode}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result.stdout

    def create_user(self, user: User) -> None:
        args = ["user", "create", user.name, "--token", user.token]
        if user.admin:
            args.append("--admin")
        self._admin(*args)

    def create_token(self, user: str, scope: str = "read") -> str:
        out = self._admin("token", "create", user, "--scope", scope)
        match = re.search(r"token for \S+: (\S+)", out)
        if not match:
            raise ServerError(f"cannot parse the token from: {out!r}")
        return match.group(1)

    def start(self) -> "TesseraServer":
        """Starts serving; the users are created on the first start only (a restart keeps the data dir)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self._users_created:
            for user in self.users.values():
                self.create_user(user)
            self._users_created = True
        self.endpoint = None
        self._log_file = open(self.log_path, "ab")
        cmd = [str(self.binary), "--data-dir", str(self.data_dir), "serve", "--listen", "127.0.0.1:0"]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            env=self._env(),
            text=True,
            bufsize=1,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self._proc is not None and self._proc.stdout is not None
            for line in self._proc.stdout:
                self.stdout_lines.append(line.rstrip("\n"))
                lines.put(line)
            lines.put(None)

        self._stdout_thread = threading.Thread(target=pump, name="tessera-stdout", daemon=True)
        self._stdout_thread.start()

        deadline = time.monotonic() + START_TIMEOUT_SECS
        while self.endpoint is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail_start(f"no 'tessera listening on' line within {START_TIMEOUT_SECS}s")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self._proc.wait(timeout=5)
                self._fail_start(f"server exited with status {self._proc.returncode} before listening")
            match = LISTENING.search(line)
            if match:
                self.endpoint = match.group(1).rstrip("/")
        host = self.endpoint.split("://", 1)[1].split("/", 1)[0]
        if not host.startswith("127.0.0.1:"):
            self.stop()
            raise ServerError(f"server listens on a non-loopback address: {self.endpoint}")
        return self

    def _fail_start(self, why: str):
        self.stop()
        raise ServerError(
            f"tessera serve did not start: {why}\n--- stdout\n" + "\n".join(self.stdout_lines) + f"\n--- server log tail ({self.log_path})\n" + self.log_tail()
        )

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def stop(self) -> int | None:
        """SIGTERM, wait, SIGKILL as a last resort. Returns the exit status."""
        proc, self._proc = self._proc, None
        status = None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_TIMEOUT_SECS)
                except subprocess.TimeoutExpired:
                    print(f"tessera serve (pid {proc.pid}) ignored SIGTERM for {STOP_TIMEOUT_SECS}s; killing it", file=sys.stderr)
                    proc.kill()
                    proc.wait(timeout=STOP_TIMEOUT_SECS)
            status = proc.returncode
            if self._stdout_thread is not None:
                self._stdout_thread.join(timeout=5)
            if status not in (0, -signal.SIGTERM):
                print(f"tessera serve exited with status {status}; server log tail:\n{self.log_tail()}", file=sys.stderr)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return status

    def cleanup(self) -> None:
        if self._own_tmp is not None:
            self._own_tmp.cleanup()
            self._own_tmp = None

    def __enter__(self) -> "TesseraServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.cleanup()

    # ------------------------------------------------------------ logs
    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int, max_chars: int = 20000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
        if len(text) > max_chars:
            text = f"[... {len(text) - max_chars} chars cut ...]\n" + text[-max_chars:]
        return text

    def log_tail(self, max_chars: int = 8000) -> str:
        return self.log_since(max(0, self.log_size() - max_chars), max_chars)

    # ------------------------------------------------------------ HTTP
    def request(self, method: str, path: str, token: str | None = None, body: bytes | None = None, timeout: float = 30):
        """A raw HTTP request; returns (status, headers, body bytes)."""
        assert self.endpoint, "server not started"
        req = urllib.request.Request(self.endpoint + path, data=body, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def stats(self) -> dict:
        """`GET /api/admin/stats` as alice (admin)."""
        status, headers, body = self.request("GET", "/api/admin/stats", token=self.users["alice"].token)
        if status != 200:
            raise ServerError(f"GET /api/admin/stats -> {status} {headers} {body[:2000]!r}")
        return json.loads(body)

    def token(self, user: str) -> str:
        return self.users[user].token


# ---------------------------------------------------------------- clients
VENV_BIN = Path(sys.executable).parent
HF_CLI = VENV_BIN / "hf"

# Prepended to every scenario script.
SCENARIO_PRELUDE = r'''
import hashlib, json, os, random, sys, time, traceback
from pathlib import Path

PARAMS = json.loads(os.environ.get("TESSERA_SCENARIO_PARAMS", "{}"))
ENDPOINT = os.environ["HF_ENDPOINT"]
MIB = 1024 * 1024


def log(*args):
    print(*args, flush=True)


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(4 * MIB):
            h.update(block)
    return h.hexdigest()


def random_bytes(size, seed):
    return random.Random(seed).randbytes(size)


def write_random(path, size, seed, block=16 * MIB):
    """Writes `size` deterministic random bytes; returns their sha256."""
    rng = random.Random(seed)
    h = hashlib.sha256()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            data = rng.randbytes(min(left, block))
            h.update(data)
            f.write(data)
            left -= len(data)
    return h.hexdigest()


def fail(message):
    log(f"SCENARIO FAILED: {message}")
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def expect_error(exc_type, fn, *args, status=None, **kwargs):
    """Calls fn and requires it to raise exc_type (and HTTP `status` if given); returns the exception."""
    try:
        value = fn(*args, **kwargs)
    except exc_type as err:
        response = getattr(err, "response", None)
        got = getattr(response, "status_code", None)
        log(f"ok: {getattr(fn, '__name__', fn)} raised {type(err).__name__} (HTTP {got}): {str(err).splitlines()[0] if str(err) else ''}")
        if status is not None and got != status:
            fail(f"{getattr(fn, '__name__', fn)} raised {type(err).__name__} with HTTP {got}, expected {status}:\n{err}")
        return err
    except Exception as err:  # noqa: BLE001
        traceback.print_exc()
        response = getattr(err, "response", None)
        fail(
            f"{getattr(fn, '__name__', fn)} raised {type(err).__name__} (HTTP {getattr(response, 'status_code', None)}), "
            f"expected {exc_type.__name__}: {err}"
        )
    fail(f"{getattr(fn, '__name__', fn)} returned {value!r}, expected it to raise {exc_type.__name__}")


# Request trace: every HTTP exchange the Python client makes (not hf_xet's own
# Rust traffic), printed to stderr as "HTTP <status> <METHOD> <url> [x-error-code]".
def _install_trace():
    import httpx2
    from huggingface_hub.utils import _http

    def on_response(response):
        request = response.request
        extra = ""
        code = response.headers.get("x-error-code")
        if code:
            extra += f" x-error-code={code}"
        message = response.headers.get("x-error-message")
        if message:
            extra += f" x-error-message={message!r}"
        rid = response.headers.get("x-request-id")
        if response.status_code >= 400 and rid:
            extra += f" x-request-id={rid}"
        print(f"HTTP {response.status_code} {request.method} {request.url}{extra}", file=sys.stderr, flush=True)

    def factory():
        return httpx2.Client(
            event_hooks={"request": [_http.hf_request_event_hook], "response": [on_response]},
            follow_redirects=True,
            timeout=None,
        )

    _http.set_client_factory(factory)


_install_trace()
'''


@dataclass
class ClientEnv:
    """Isolated client state (HF_HOME, hub cache, Xet cache) under one directory."""

    root: Path

    @property
    def hf_home(self) -> Path:
        return self.root / "hf_home"

    @property
    def hub_cache(self) -> Path:
        return self.root / "hub_cache"

    @property
    def xet_cache(self) -> Path:
        return self.root / "xet_cache"


def client_env(server: TesseraServer, root: Path, token: str | None, xet_cache: Path | None = None, extra: dict | None = None) -> dict[str, str]:
    """The environment of a client process: nothing HF-related inherited."""
    dirs = ClientEnv(Path(root))
    for d in (dirs.hf_home, dirs.hub_cache):
        d.mkdir(parents=True, exist_ok=True)
    xet = Path(xet_cache) if xet_cache is not None else dirs.xet_cache
    xet.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLIENT_ENV_PREFIXES)}
    env.update(
        {
            "HF_ENDPOINT": server.endpoint,
            "HF_HOME": str(dirs.hf_home),
            "HF_HUB_CACHE": str(dirs.hub_cache),
            "HF_XET_CACHE": str(xet),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_XET_TELEMETRY_ENABLED": "false",
            "HF_HUB_ETAG_TIMEOUT": "30",
            "HF_HUB_DOWNLOAD_TIMEOUT": "60",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_UPDATE_CHECK": "1",
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
            # Loopback only: never route through a proxy.
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(proxy, None)
    if token:
        env["HF_TOKEN"] = token
    if extra:
        env.update(extra)
    return env


def _tail(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return f"[... {len(text) - max_chars} chars cut ...]\n" + text[-max_chars:]


def describe(result: subprocess.CompletedProcess, what: str, max_chars: int = 12000) -> str:
    """A failure message: exit status, the HTTP errors seen, and the output tails."""
    stdout = result.stdout or ""
    stderr = result.stderr or ""
    errors = [line for line in stderr.splitlines() if re.match(r"HTTP [45]\d\d ", line)]
    if result.returncode == TIMED_OUT:
        parts = [f"{what} TIMED OUT (killed)"]
    else:
        parts = [f"{what} exited with status {result.returncode}"]
    if errors:
        parts.append("--- HTTP errors seen by the client (up to 40)\n" + "\n".join(errors[:40]))
    parts.append("--- stdout\n" + _tail(stdout, max_chars))
    parts.append("--- stderr\n" + _tail(stderr, max_chars))
    return "\n".join(parts)


def run_scenario(
    server: TesseraServer,
    script: str,
    root: Path,
    *,
    token: str | None,
    params: dict | None = None,
    xet_cache: Path | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
    env: dict | None = None,
    name: str = "scenario",
) -> subprocess.CompletedProcess:
    """Runs `script` (with the prelude) in a fresh interpreter; returns the result (check returncode)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.py"
    path.write_text(SCENARIO_PRELUDE + "\n# ---- scenario\n" + textwrap.dedent(script))
    process_env = client_env(server, root, token, xet_cache=xet_cache, extra=env)
    process_env["TESSERA_SCENARIO_PARAMS"] = json.dumps(params or {})
    return _run([sys.executable, str(path)], cwd=cwd or root, env=process_env, timeout=timeout)


def run_cli(
    server: TesseraServer,
    args: list[str],
    root: Path,
    *,
    token: str | None,
    cwd: Path | None = None,
    timeout: float = 600,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """Runs the `hf` CLI of the venv with an isolated client environment."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    return _run([str(HF_CLI), *args], cwd=cwd or root, env=client_env(server, root, token, extra=env), timeout=timeout)


TIMED_OUT = -999


def _run(cmd: list[str], *, cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
    """subprocess.run; a timeout becomes returncode TIMED_OUT with the output so far (see describe)."""
    try:
        return subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as err:

        def text(value) -> str:
            if value is None:
                return ""
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else value

        return subprocess.CompletedProcess(cmd, TIMED_OUT, text(err.stdout), text(err.stderr) + f"\n[killed after {timeout}s]")


# ---------------------------------------------------------------- test helpers
def scenario(server, tmp_path, name, script, *, user="alice", token=None, params=None, timeout=600, **kwargs):
    """Runs one client scenario as `user` (None: anonymous), or with `token`, and requires success."""
    if token is not None:
        user = f"token {token[:6]}…"
    else:
        token = server.token(user) if user else None
    result = run_scenario(server, script, tmp_path / name, token=token, params=params, name=name, timeout=timeout, **kwargs)
    print(f"--- scenario {name} (as {user or 'anonymous'}): exit {result.returncode}\n{result.stdout}")
    assert result.returncode == 0, describe(result, f"scenario {name!r} (as {user or 'anonymous'})")
    return result


def cli(server, tmp_path, args, *, user="alice", root="cli", **kwargs):
    token = server.token(user) if user else None
    result = run_cli(server, args, tmp_path / root, token=token, **kwargs)
    print(f"--- hf {' '.join(args)} (as {user or 'anonymous'}): exit {result.returncode}\n{result.stdout}{result.stderr}")
    return result


def tree_files(root: Path, skip_dirs=(".cache",)) -> dict[str, Path]:
    """Relative posix path -> file, for every regular file (symlinks followed)."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = [d for d in dirnames if d not in skip_dirs]
        for filename in filenames:
            path = Path(dirpath) / filename
            files[path.relative_to(root).as_posix()] = path
    return files


def assert_same_tree(expected_root: Path, actual_root: Path, allowed_extra=(".gitattributes",)):
    expected = tree_files(expected_root)
    actual = tree_files(actual_root)
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected) - set(allowed_extra))
    different = sorted(p for p in set(expected) & set(actual) if not filecmp.cmp(expected[p], actual[p], shallow=False))
    assert not (missing or extra or different), (
        f"trees differ: {expected_root} vs {actual_root}\n"
        f"missing ({len(missing)}): {missing[:20]}\nextra ({len(extra)}): {extra[:20]}\n"
        f"different ({len(different)}): {different[:20]}"
    )
