"""The real `git` and `git-lfs` of the machine against a test server, with an
isolated environment (used by test_git_http.py).

`GitClient(root, username=..., token=...)` makes a throw-away HOME under
`root` in which `git lfs install --skip-repo` has run (the LFS filters and
hooks) and whose global config sets the committer, `main` as the default
branch and, if a token is given, a credential helper that answers
`username=` / `password=` for it. A client without a token has no helper:
with GIT_TERMINAL_PROMPT=0, git fails instead of prompting when the server
asks for credentials (unless they are in the URL, see `repo_url`).

Every command runs with GIT_CONFIG_NOSYSTEM=1, the C locale (messages in
English), nothing git-, HF- or proxy-related inherited from the developer's
environment; `client(...)` returns the CompletedProcess (text stdout and
stderr) and raises GitCommandFailed, with both, on a non-zero exit unless
`check=False`.
"""

from __future__ import annotations

import hashlib
import os
import random
import shlex
import stat
import subprocess
import urllib.parse
from pathlib import Path

GIT = "git"
GIT_TIMEOUT_SECS = 300
# A timed-out command (check=False) gets this exit status, as in tessera_server.
TIMED_OUT = -999

_DROP_PREFIXES = ("GIT_", "HF_", "HUGGINGFACE_", "XET_", "GCM_")
_DROP = (
    "SSH_ASKPASS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "LANGUAGE",
    "XDG_CONFIG_HOME",
)


class GitCommandFailed(AssertionError):
    """A git command exited non-zero (or timed out); the message has its output."""

    def __init__(self, message: str, result: subprocess.CompletedProcess):
        super().__init__(message)
        self.result = result


MIB = 1 << 20


def write_random(path: Path, size: int, seed: int) -> str:
    """Writes `size` deterministic random bytes to `path`; returns their sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = random.Random(seed).randbytes(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(4 * MIB):
            h.update(block)
    return h.hexdigest()


def repo_url(server, repo: str, *, repo_type: str = "model", dot_git: bool = False, user: str | None = None, token: str | None = None) -> str:
    """The git URL of `repo` ("ns/name") on `server`: `/{ns}/{name}`, under
    `/datasets/` or `/spaces/` for those types, `.git` appended if asked, and
    `user:token@` in it if a token is given (the form HF documents)."""
    prefix = {"model": "", "dataset": "/datasets", "space": "/spaces"}[repo_type]
    scheme, rest = server.endpoint.split("://", 1)
    if token is not None:
        rest = f"{urllib.parse.quote(user or 'user', safe='')}:{urllib.parse.quote(token, safe='')}@{rest}"
    return f"{scheme}://{rest}{prefix}/{repo}{'.git' if dot_git else ''}"


def _tail(text: str, max_chars: int = 12000) -> str:
    if len(text) <= max_chars:
        return text
    return f"[... {len(text) - max_chars} chars cut ...]\n" + text[-max_chars:]


def describe_git(result: subprocess.CompletedProcess, what: str | None = None) -> str:
    """A failure message: the command, its exit status and its output tails."""
    what = what or "git " + shlex.join(str(a) for a in result.args[1:])
    status = "TIMED OUT (killed)" if result.returncode == TIMED_OUT else f"exited with status {result.returncode}"
    return f"{what} {status}\n--- stdout\n{_tail(result.stdout or '')}\n--- stderr\n{_tail(result.stderr or '')}"


class GitClient:
    """`git` as one identity, with its own HOME (see the module docstring)."""

    def __init__(self, root: Path, *, username: str | None = None, token: str | None = None, name: str | None = None):
        self.root = Path(root)
        self.home = self.root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.username = username
        self.token = token
        self.name = name or (f"{username}" if token else "anonymous")
        self._base_env = self._make_env()
        self.run("lfs", "install", "--skip-repo", cwd=self.home)
        settings = {
            "user.name": f"{username or 'anonymous'} (e2e)",
            "user.email": f"{username or 'anonymous'}@e2e.invalid",
            "init.defaultBranch": "main",
            "advice.detachedHead": "false",
            # git-lfs verifies locks (the server's LFS locks API) before every push.
            "lfs.locksverify": "true",
        }
        if token is not None:
            settings["credential.helper"] = str(self._write_credential_helper())
        for key, value in settings.items():
            self.run("config", "--global", key, value, cwd=self.home)

    def _make_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_PREFIXES) and k not in _DROP}
        env.update(
            {
                "HOME": str(self.home),
                "XDG_CONFIG_HOME": str(self.home / ".config"),
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_TERMINAL_PROMPT": "0",
                "GCM_INTERACTIVE": "never",
                "LC_ALL": "C",
                "LANG": "C",
                # Loopback only: never route through a proxy.
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        return env

    def _write_credential_helper(self) -> Path:
        """A helper that answers `get` with this client's user name and token (and ignores store/erase)."""
        secret = self.root / "credentials"
        secret.write_text(f"username={self.username or 'user'}\npassword={self.token}\n")
        helper = self.root / "credential-helper"
        helper.write_text(f'#!/bin/sh\n[ "$1" = get ] && cat {shlex.quote(str(secret))}\nexit 0\n')
        helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
        return helper

    def env(self, extra: dict | None = None) -> dict[str, str]:
        env = dict(self._base_env)
        if extra:
            env.update(extra)
        return env

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        check: bool = True,
        env: dict | None = None,
        timeout: float = GIT_TIMEOUT_SECS,
    ) -> subprocess.CompletedProcess:
        """`git *args` in `cwd` (default: this client's root)."""
        cmd = [GIT, *[str(a) for a in args]]
        cwd = Path(cwd) if cwd is not None else self.root
        try:
            result = subprocess.run(
                cmd, cwd=str(cwd), env=self.env(env), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as err:

            def text(value) -> str:
                if value is None:
                    return ""
                return value.decode("utf-8", "replace") if isinstance(value, bytes) else value

            result = subprocess.CompletedProcess(cmd, TIMED_OUT, text(err.stdout), text(err.stderr) + f"\n[killed after {timeout}s]")
        if check and result.returncode != 0:
            raise GitCommandFailed(describe_git(result, f"git {shlex.join(cmd[1:])} (as {self.name}, in {cwd})"), result)
        return result

    __call__ = run

    def out(self, *args: str, cwd: Path | None = None, env: dict | None = None) -> str:
        """The stripped stdout of a command that must succeed."""
        return self.run(*args, cwd=cwd, env=env).stdout.strip()

    def ls_remote(self, url: str) -> dict[str, str]:
        """ref name -> object id, as the server advertises them."""
        refs = {}
        for line in self.out("ls-remote", url).splitlines():
            oid, name = line.split("\t", 1)
            refs[name] = oid
        return refs
