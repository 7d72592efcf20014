#!/usr/bin/env python3
"""Production backends: SQLite + local disk against Postgres + S3, in one run,
through real `tessera serve` processes and the real huggingface_hub + hf_xet
clients.

Usage (from the repo root, with .venv from scripts/test):

    cargo build --release -p tessera
    .venv/bin/python experiments/production_backends.py [--size BYTES]
        [--amp-size BYTES] [--ranges N] [--range-size BYTES]
        [--concurrent N] [--concurrent-size BYTES]
        [--rss-backends pg-s3,sqlite-disk] [--runs N] [--seed N]
        [--bin PATH] [--json PATH] [--keep] [--timeout SECS]

Services: a throwaway PostgreSQL 15 cluster (initdb + pg_ctl from $PG_BIN,
default /usr/lib/postgresql/15/bin; as root run as the `postgres` user via
`runuser`, fsync off) and an s3s-fs S3 server (`s3s-fs` on PATH or in
~/.cargo/bin; installed with `cargo install s3s-fs@0.14.1 --features binary
--locked` when missing), both on free loopback ports with random
credentials, stopped and deleted at exit. Every server gets a fresh data
dir; a Postgres + S3 server also gets its own database and its own bucket (a
directory under the s3s-fs root). alice (admin, token hf_alicetoken) is
created with `tessera admin user create` under the same settings.

What is measured, in this order:
  1 Throughput, per backend (sqlite-disk, then pg-s3), fresh server each:
    HfApi().upload_file of a --size random file (default 512 MiB) and
    hf_hub_download of it, each in a fresh Python subprocess with a fresh
    HF_HOME / HF_XET_CACHE, timed inside the subprocess (steel_thread_speed.py's
    client scripts). Downloads are sha256-checked; --runs downloads, best
    reported. Ratio pg-s3 / sqlite-disk of MiB/s (> 1: Postgres + S3 faster).
  2 Read amplification (on the pg-s3 server of step 1): upload a --amp-size
    file (default 1 GiB), then --ranges (20) plain GETs of
    /alice/amp/resolve/main/amp.bin with `Range: bytes=a-b` of random
    --range-size (10 MiB) windows (tessera reassembles them from S3; redirects
    are not followed). amplification = delta blob_read_bytes_total / bytes
    received (target <= 1.05); every range is compared with the source file.
  3 Peak RSS under --concurrent (8) simultaneous uploads of distinct
    --concurrent-size (256 MiB) files (one client subprocess and one repo
    each), per backend in --rss-backends, fresh server each: VmRSS sampled
    every 50 ms, VmHWM at the end, total wall time, exit status of every
    client, 503s (xorb_uploads_rejected_busy_total: hf_xet retries them), and
    every stored file's ETag against the source sha256.

Random files are written in 16 MiB blocks and hashed while written, so this
script stays small. The load average is recorded at start and end.
Exit status 1 if any step fails or any check disagrees; the server log tail
is printed on failure.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import importlib.metadata
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from steel_thread_speed import (  # noqa: E402  (shared helpers of the sibling experiment)
    DOWNLOAD_SCRIPT,
    GIB,
    MIB,
    TOKEN,
    UPLOAD_SCRIPT,
    Failure,
    RssSampler,
    Server,
    client_env,
    default_bin,
    loadavg,
    proc_cpu_secs,
    proc_status_kib,
    run_client,
    sha256_file,
    tail,
)

RESOLVE_ROUTE = "/{namespace}/{name}/resolve/{rev}/{*path}"
XORB_ROUTE = "/v1/xorbs/{prefix}/{hash}"
S3S_FS_VERSION = "0.14.1"
BACKENDS = ("sqlite-disk", "pg-s3")


# ---------------------------------------------------------------- small helpers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_random(path: Path, size: int, rng: random.Random) -> str:
    """Writes `size` random bytes in 16 MiB blocks; returns their sha256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        remaining = size
        while remaining:
            block = rng.randbytes(min(remaining, 16 * MIB))
            h.update(block)
            f.write(block)
            remaining -= len(block)
    return h.hexdigest()


def dir_bytes(root: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        metric_name, _, label_text = head.partition("{")
        if metric_name != name:
            continue
        have = dict(LABEL.findall(label_text))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total


def metrics_text(server: Server) -> str:
    status, _, body = server.request("GET", "/metrics")
    if status != 200:
        raise Failure(f"GET /metrics -> {status}: {body[:500]!r}")
    return body.decode()


# ---------------------------------------------------------------- services
class Postgres:
    """A throwaway PostgreSQL cluster on a free loopback port (trust auth, fsync off)."""

    def __init__(self, base: Path):
        self.bin = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
        self.dir = base / "pg"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.started = False
        self.admin_url = ""

    def _run(self, args: list[str], what: str, timeout: float = 120) -> None:
        # cd / first: runuser keeps our cwd, which postgres may not be allowed to enter.
        result = subprocess.run(self.as_user + args, cwd="/", capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            log = self.dir / "server.log"
            extra = tail(log.read_text(errors="replace"), 3000) if log.exists() else ""
            raise Failure(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{extra}")

    def start(self) -> None:
        for tool in ("initdb", "pg_ctl"):
            if not os.access(self.bin / tool, os.X_OK):
                raise Failure(f"no {self.bin / tool} (apt-get install postgresql-15, or set PG_BIN)")
        if shutil.which("psql") is None:
            raise Failure("no psql on PATH")
        self.dir.mkdir()
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        port = free_port()
        self._run([str(self.bin / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust",
                   "-E", "UTF8", "--locale=C", "--no-sync"], "initdb")
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.dir / "server.log"),
                   "-w", "-t", "30", "-o",
                   f"-c listen_addresses=127.0.0.1 -p {port} -k {self.dir} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                   "start"], "pg_ctl start")
        self.started = True
        self.admin_url = f"postgres://postgres@127.0.0.1:{port}/postgres"
        self.psql("SELECT 1")

    def psql(self, sql: str) -> None:
        result = subprocess.run(["psql", self.admin_url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise Failure(f"psql {sql!r} failed: {result.stderr}")

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        if self.started:
            self.started = False
            try:
                self._run([str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                           "-w", "-t", "30", "stop"], "pg_ctl stop", timeout=60)
            except (Failure, subprocess.TimeoutExpired) as err:
                print(f"warning: {err}", file=sys.stderr)


def s3s_fs_binary() -> str:
    found = shutil.which("s3s-fs")
    cargo_bin = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo")) / "bin" / "s3s-fs"
    if found:
        return found
    if not cargo_bin.exists():
        print(f"installing s3s-fs {S3S_FS_VERSION} (cargo install, ~2 min once per machine) ...", flush=True)
        env = dict(os.environ, CARGO_TARGET_DIR=str(Path.home() / ".cache" / "s3s-fs-target"))
        subprocess.run(["cargo", "install", f"s3s-fs@{S3S_FS_VERSION}", "--features", "binary", "--locked",
                        "--quiet"], env=env, check=True)
    return str(cargo_bin)


class S3Fs:
    """s3s-fs on a free loopback port with random credentials; a bucket is a directory under root."""

    def __init__(self, base: Path):
        self.root = base / "s3" / "root"
        self.log_path = base / "s3" / "server.log"
        self.proc: subprocess.Popen | None = None
        self.key = "tessera" + os.urandom(6).hex()
        self.secret = os.urandom(20).hex()
        self.endpoint = ""
        self._log = None

    def start(self) -> None:
        binary = s3s_fs_binary()
        self.root.mkdir(parents=True)
        port = free_port()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", str(port), "--access-key", self.key,
             "--secret-key", self.secret, str(self.root)],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # any HTTP answer (403 without a signature): it is up
            except (urllib.error.URLError, OSError):
                if self.proc.poll() is not None:
                    raise Failure(f"s3s-fs exited with {self.proc.returncode}: {self.log_path.read_text()}")
                if time.monotonic() > deadline:
                    raise Failure(f"s3s-fs did not answer on {self.endpoint} within 30 s")
                time.sleep(0.05)

    def create_bucket(self, name: str) -> Path:
        path = self.root / name
        path.mkdir()
        return path

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


class Services:
    def __init__(self, base: Path, binary: Path):
        self.base = base
        self.binary = binary
        self.pg = Postgres(base)
        self.s3 = S3Fs(base)
        self.count = 0

    def start(self) -> None:
        self.pg.start()
        self.s3.start()
        print(f"postgres at {self.pg.admin_url}, s3s-fs at {self.s3.endpoint}", flush=True)

    def stop(self) -> None:
        self.s3.stop()
        self.pg.stop()

    def server(self, kind: str, label: str) -> tuple[Server, Path]:
        """A started server of backend `kind`; returns it and the directory its blobs land in."""
        self.count += 1
        base = self.base / f"server-{self.count}-{kind}-{label}"
        base.mkdir()
        server = Server(self.binary, base)
        if kind == "pg-s3":
            name = f"tessera-{self.count}-{label}"
            db_url = self.pg.create_database(name.replace("-", "_"))
            blob_dir = self.s3.create_bucket(name)
            for var in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
                server.env.pop(var, None)
            server.env.update({
                "TESSERA_DATABASE_URL": db_url,
                "TESSERA_S3_BUCKET": name,
                "TESSERA_S3_ENDPOINT": self.s3.endpoint,
                "TESSERA_S3_REGION": "us-east-1",
                "TESSERA_S3_FORCE_PATH_STYLE": "true",
                "AWS_ACCESS_KEY_ID": self.s3.key,
                "AWS_SECRET_ACCESS_KEY": self.s3.secret,
                "AWS_EC2_METADATA_DISABLED": "true",
            })
        else:
            blob_dir = server.data_dir / "blobs"
        server.start()
        status, _, body = server.request("GET", "/ready")
        if status != 200:
            server.stop()
            raise Failure(f"{kind} server not ready: GET /ready -> {status} {body[:500]!r}\n{server.log_tail()}")
        print(f"  {kind} server at {server.endpoint} (pid {server.pid})", flush=True)
        return server, blob_dir


def stop_server(server: Server, what: str) -> None:
    code = server.stop()
    if code not in (None, 0, -signal.SIGTERM):
        raise Failure(f"{what}: tessera serve exited with status {code}\n{server.log_tail()}")


def check_stored(server: Server, repo: str, path: str, sha: str, size: int) -> bool:
    status, headers, _ = server.request("HEAD", f"/{repo}/resolve/main/{path}")
    return status == 200 and headers.get("etag", "").strip('"') == sha and headers.get("x-linked-size") == str(size)


# ---------------------------------------------------------------- phases
def phase_throughput(services: Services, kind: str, src: Path, sha: str, size: int, args, base: Path, checks: dict):
    print(f"[1] throughput, {kind}: upload + download of {size / MIB:.0f} MiB ...", flush=True)
    server, blob_dir = services.server(kind, "tput")
    repo, path = "alice/tput", "big.bin"
    try:
        up = run_client(server, UPLOAD_SCRIPT, base / f"client-up-{kind}",
                        {"SPEED_REPO": repo, "SPEED_FILE": str(src), "SPEED_PATH": path}, args.timeout,
                        f"{kind} upload")
        shutil.rmtree(base / f"client-up-{kind}", ignore_errors=True)
        checks[f"1 {kind}: stored ETag == sha256(source)"] = check_stored(server, repo, path, sha, size)
        stored = dir_bytes(blob_dir)
        m0 = metrics_text(server)
        downs = []
        for i in range(args.runs):
            root = base / f"client-down-{kind}-{i}"
            cpu0 = proc_cpu_secs(server.pid)
            d = run_client(server, DOWNLOAD_SCRIPT, root, {"SPEED_REPO": repo, "SPEED_PATH": path},
                           args.timeout, f"{kind} download #{i + 1}")
            d["server_cpu"] = proc_cpu_secs(server.pid) - cpu0
            ok = sha256_file(Path(d.pop("path"))) == sha
            checks[f"1 {kind}: download #{i + 1} sha256 == source"] = ok
            shutil.rmtree(root, ignore_errors=True)
            downs.append(d)
        m1 = metrics_text(server)
        best = min(downs, key=lambda r: r["seconds"])
        return {
            "upload_s": up["seconds"], "upload_MiBps": size / MIB / up["seconds"], "upload_client_cpu": up["cpu"],
            "download_s": best["seconds"], "download_MiBps": size / MIB / best["seconds"],
            "download_runs_s": [r["seconds"] for r in downs], "download_server_cpu": best["server_cpu"],
            "blob_store_bytes": stored,
            "download_blob_read_bytes": metric(m1, "blob_read_bytes_total") - metric(m0, "blob_read_bytes_total"),
            "VmHWM_MiB": (proc_status_kib(server.pid, "VmHWM") or 0) / 1024,
        }, server
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        server.stop()
        raise


def phase_amplification(server: Server, src: Path, sha: str, size: int, args, base: Path, checks: dict) -> dict:
    repo, path = "alice/amp", "amp.bin"
    print(f"[2] read amplification (pg-s3): upload {size / MIB:.0f} MiB, then {args.ranges} range GETs of "
          f"{args.range_size / MIB:.0f} MiB ...", flush=True)
    up = run_client(server, UPLOAD_SCRIPT, base / "client-up-amp",
                    {"SPEED_REPO": repo, "SPEED_FILE": str(src), "SPEED_PATH": path}, args.timeout, "amp upload")
    shutil.rmtree(base / "client-up-amp", ignore_errors=True)
    checks["2 amp file stored ETag == sha256(source)"] = check_stored(server, repo, path, sha, size)
    rng = random.Random(args.seed + 1)
    width = min(args.range_size, size)
    windows = [(a, a + width - 1) for a in (rng.randrange(0, size - width + 1) for _ in range(args.ranges))]
    url = urllib.parse.urlsplit(server.endpoint)
    m0 = metrics_text(server)
    received, bad, statuses, secs = 0, [], {}, 0.0
    with open(src, "rb") as source:
        for a, b in windows:
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
            t0 = time.perf_counter()
            conn.request("GET", f"/{repo}/resolve/main/{path}",
                         headers={"Authorization": f"Bearer {TOKEN}", "Range": f"bytes={a}-{b}"})
            resp = conn.getresponse()
            body = resp.read()
            secs += time.perf_counter() - t0
            conn.close()
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
            received += len(body)
            source.seek(a)
            expected = source.read(b - a + 1)
            content_range = resp.getheader("Content-Range")
            if resp.status != 206 or body != expected or content_range != f"bytes {a}-{b}/{size}":
                bad.append({"range": [a, b], "status": resp.status, "content_range": content_range,
                            "got_bytes": len(body), "body_head": body[:200].decode("utf-8", "replace")
                            if resp.status != 206 else None,
                            "first_mismatch": next((i for i, (x, y) in enumerate(zip(body, expected)) if x != y),
                                                   None) if resp.status == 206 else None})
    m1 = metrics_text(server)
    store_read = metric(m1, "blob_read_bytes_total") - metric(m0, "blob_read_bytes_total")
    served = (metric(m1, "http_response_bytes_total", method="GET", route=RESOLVE_ROUTE)
              - metric(m0, "http_response_bytes_total", method="GET", route=RESOLVE_ROUTE))
    checks["2 every range: 206, right Content-Range, bytes == source"] = not bad
    checks["2 http_response_bytes_total(resolve) == bytes received"] = served == received
    return {
        "upload_s": up["seconds"], "upload_MiBps": size / MIB / up["seconds"],
        "ranges": len(windows), "range_bytes": width, "statuses": statuses,
        "bytes_received": received, "http_response_bytes": served, "blob_read_bytes": store_read,
        "amplification": store_read / received if received else None,
        "range_seconds_total": secs, "range_MiBps": received / MIB / secs if secs else None,
        "bad_ranges": bad, "windows": windows,
    }


CONCURRENT_UPLOAD_SCRIPT = UPLOAD_SCRIPT


def phase_concurrent(services: Services, kind: str, files: list[tuple[Path, str]], size: int, args, base: Path,
                     checks: dict) -> dict:
    n = len(files)
    print(f"[3] {n} concurrent uploads of {size / MIB:.0f} MiB, {kind} ...", flush=True)
    server, blob_dir = services.server(kind, "rss")
    sampler = RssSampler(server.pid)
    sampler.start()
    procs = []
    try:
        rss_start = (proc_status_kib(server.pid, "VmRSS") or 0) / 1024
        cpu0 = proc_cpu_secs(server.pid)
        t0 = time.perf_counter()
        for i, (path, _) in enumerate(files):
            root = base / f"client-conc-{kind}-{i}"
            root.mkdir()
            env = client_env(server.endpoint, root, {"SPEED_REPO": f"alice/conc-{i}", "SPEED_FILE": str(path),
                                                     "SPEED_PATH": "part.bin"})
            out, err = open(root / "stdout", "w+"), open(root / "stderr", "w+")
            procs.append((subprocess.Popen([sys.executable, "-c", textwrap.dedent(CONCURRENT_UPLOAD_SCRIPT)],
                                           cwd=root, env=env, stdout=out, stderr=err), out, err))
        results = []
        for i, (proc, out, err) in enumerate(procs):
            try:
                code = proc.wait(timeout=max(1.0, args.timeout - (time.perf_counter() - t0)))
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
            out.close()
            err.close()
            r = {"client": i, "exit": code}
            lines = stdout.strip().splitlines()
            if code == 0 and lines:
                r.update(json.loads(lines[-1]))
            else:
                r["stderr_tail"] = tail(stderr, 3000)
            results.append(r)
        wall = time.perf_counter() - t0
        server_cpu = proc_cpu_secs(server.pid) - cpu0
        time.sleep(0.2)
        hwm = (proc_status_kib(server.pid, "VmHWM") or 0) / 1024
        sampler.stop()
        m = metrics_text(server)
        failed = [r for r in results if r["exit"] != 0]
        stored_ok = [check_stored(server, f"alice/conc-{i}", "part.bin", sha, size) for i, (_, sha) in enumerate(files)]
        checks[f"3 {kind}: all {n} upload clients exited 0"] = not failed
        checks[f"3 {kind}: all {n} stored ETags == sha256(source)"] = all(stored_ok)
        out = {
            "clients": n, "file_bytes": size, "wall_s": wall,
            "aggregate_MiBps": n * size / MIB / wall,
            "client_upload_s": [round(r.get("seconds", float("nan")), 3) for r in results],
            "server_cpu_s": server_cpu,
            "rss_start_MiB": rss_start, "rss_sampled_max_MiB": sampler.max_kib / 1024, "VmHWM_MiB": hwm,
            "samples": sampler.samples,
            "busy_503": metric(m, "xorb_uploads_rejected_busy_total"),
            "http_503": metric(m, "http_requests_total", status="503"),
            "xorb_posts": metric(m, "http_requests_total", method="POST", route=XORB_ROUTE),
            "failed_clients": failed, "stored_ok": stored_ok,
            "blob_store_bytes": dir_bytes(blob_dir),
        }
        stop_server(server, f"{kind} concurrent")
        return out
    except BaseException:
        sampler.stop()
        for proc, _, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        print(server.log_tail(), file=sys.stderr)
        server.stop()
        raise
    finally:
        for i in range(n):
            shutil.rmtree(base / f"client-conc-{kind}-{i}", ignore_errors=True)


# ---------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512 * MIB, help="throughput file size (default 512 MiB)")
    parser.add_argument("--amp-size", type=int, default=GIB, help="read-amplification file size (default 1 GiB)")
    parser.add_argument("--ranges", type=int, default=20, help="range GETs (default 20)")
    parser.add_argument("--range-size", type=int, default=10 * MIB, help="bytes per range (default 10 MiB)")
    parser.add_argument("--concurrent", type=int, default=8, help="concurrent uploads (default 8)")
    parser.add_argument("--concurrent-size", type=int, default=256 * MIB, help="bytes per concurrent upload")
    parser.add_argument("--rss-backends", default="pg-s3,sqlite-disk",
                        help="backends of step 3, in order (default pg-s3,sqlite-disk; empty: skip)")
    parser.add_argument("--runs", type=int, default=1, help="downloads per backend in step 1, best reported")
    parser.add_argument("--seed", type=int, default=20261121, help="seed of the random files and ranges")
    parser.add_argument("--bin", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--timeout", type=float, default=1800, help="limit per client subprocess, seconds")
    args = parser.parse_args()
    rss_backends = [b for b in args.rss_backends.split(",") if b]
    if any(b not in BACKENDS for b in rss_backends):
        parser.error(f"--rss-backends: choose from {BACKENDS}")
    if args.runs < 1 or args.ranges < 1 or args.concurrent < 1:
        parser.error("--runs, --ranges and --concurrent must be >= 1")

    binary = (args.bin or default_bin()).resolve()
    if not os.access(binary, os.X_OK):
        sys.exit(f"tessera binary not found: {binary} (cargo build --release -p tessera, or --bin)")

    # SIGTERM/SIGHUP run the same teardown as an error.
    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    base = Path(tempfile.mkdtemp(prefix="tessera-prod-backends-"))
    base.chmod(0o755)  # the postgres user must traverse it
    out: dict = {"load_start": loadavg(), "binary": str(binary), "cpus": os.cpu_count(),
                 "huggingface_hub": importlib.metadata.version("huggingface_hub"),
                 "hf_xet": importlib.metadata.version("hf_xet")}
    checks: dict[str, bool] = {}
    out["checks"] = checks
    services = Services(base, binary)
    status = 0
    pg_server = None
    print(f"binary {binary}; huggingface_hub {out['huggingface_hub']}, hf_xet {out['hf_xet']}; "
          f"cpus {out['cpus']}; load at start {out['load_start']}; temp dir {base}", flush=True)
    try:
        # Source files first, before any server runs.
        rng = random.Random(args.seed)
        t0 = time.perf_counter()
        tput_file = base / "tput.bin"
        tput_sha = write_random(tput_file, args.size, rng)
        amp_file = base / "amp.bin"
        amp_sha = write_random(amp_file, args.amp_size, rng)
        conc_files = []
        if rss_backends:
            for i in range(args.concurrent):
                p = base / f"conc-{i}.bin"
                conc_files.append((p, write_random(p, args.concurrent_size, rng)))
        total = args.size + args.amp_size + len(conc_files) * args.concurrent_size
        print(f"wrote {total / MIB:.0f} MiB of random source files in {time.perf_counter() - t0:.1f} s", flush=True)

        services.start()

        out["throughput"] = {}
        for kind in BACKENDS:
            result, server = phase_throughput(services, kind, tput_file, tput_sha, args.size, args, base, checks)
            out["throughput"][kind] = result
            if kind == "pg-s3":
                pg_server = server
            else:
                stop_server(server, f"{kind} throughput")
        t = out["throughput"]
        out["throughput"]["ratio_pg_s3_over_sqlite_disk"] = {
            "upload": t["pg-s3"]["upload_MiBps"] / t["sqlite-disk"]["upload_MiBps"],
            "download": t["pg-s3"]["download_MiBps"] / t["sqlite-disk"]["download_MiBps"],
        }

        try:
            out["amplification"] = phase_amplification(pg_server, amp_file, amp_sha, args.amp_size, args, base,
                                                       checks)
            out["pg_s3_server_VmHWM_MiB_after_1_2"] = (proc_status_kib(pg_server.pid, "VmHWM") or 0) / 1024
        except BaseException:
            print(pg_server.log_tail(), file=sys.stderr)
            raise
        finally:
            code = pg_server.stop()
            if code not in (None, 0, -signal.SIGTERM):
                print(f"pg-s3 server exited with status {code}\n{pg_server.log_tail()}", file=sys.stderr)
                status = 1
        for p in (tput_file, amp_file):
            p.unlink()

        out["concurrent"] = {}
        for kind in rss_backends:
            out["concurrent"][kind] = phase_concurrent(services, kind, conc_files, args.concurrent_size, args, base,
                                                       checks)
        out["load_end"] = loadavg()
        print_table(out, args)
        if not all(checks.values()):
            status = 1
    except Failure as err:
        print(f"\nFAILED: {err}", file=sys.stderr)
        out["error"] = str(err)
        status = 1
        if out.get("throughput") or out.get("amplification") or out.get("concurrent"):
            out.setdefault("load_end", loadavg())
            print_table(out, args)
    finally:
        services.stop()
        out.setdefault("load_end", loadavg())
        out["status"] = status
        if args.json is not None:
            args.json.write_text(json.dumps(out, indent=2, default=str) + "\n")
            print(f"figures written to {args.json}")
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return status


def print_table(out: dict, args) -> None:
    print()
    t = out.get("throughput", {})
    if t:
        print(f"1. Throughput ({args.size / MIB:.0f} MiB file; upload timed once, download best of {args.runs})")
        print(f"   {'backend':<12} {'upload s':>9} {'MiB/s':>8} {'download s':>11} {'MiB/s':>8} "
              f"{'blob store MiB':>15} {'dl blob reads MiB':>18} {'VmHWM MiB':>10}")
        for kind in BACKENDS:
            if kind in t:
                r = t[kind]
                print(f"   {kind:<12} {r['upload_s']:9.2f} {r['upload_MiBps']:8.1f} {r['download_s']:11.2f} "
                      f"{r['download_MiBps']:8.1f} {r['blob_store_bytes'] / MIB:15.1f} "
                      f"{r['download_blob_read_bytes'] / MIB:18.1f} {r['VmHWM_MiB']:10.1f}")
        if "ratio_pg_s3_over_sqlite_disk" in t:
            ratio = t["ratio_pg_s3_over_sqlite_disk"]
            print(f"   ratio pg-s3 / sqlite-disk (MiB/s): upload {ratio['upload']:.2f}, download {ratio['download']:.2f}")
    a = out.get("amplification")
    if a:
        print(f"2. Read amplification, pg-s3 ({args.amp_size / MIB:.0f} MiB file uploaded in {a['upload_s']:.2f} s "
              f"= {a['upload_MiBps']:.1f} MiB/s)")
        print(f"   {a['ranges']} range GETs of {a['range_bytes']} bytes: statuses {a['statuses']}, "
              f"{len(a['bad_ranges'])} bad; {a['range_seconds_total']:.2f} s total "
              f"({a['range_MiBps']:.1f} MiB/s)")
        print(f"   bytes received {a['bytes_received']}  http_response_bytes_total(resolve) delta "
              f"{a['http_response_bytes']:.0f}  blob_read_bytes_total delta {a['blob_read_bytes']:.0f}")
        amp = a["amplification"]
        print(f"   amplification = blob reads / bytes received = "
              f"{amp:.4f}" + ("  (target <= 1.05: ok)" if amp is not None and amp <= 1.05 else "  (target <= 1.05: MISSED)"))
    c = out.get("concurrent", {})
    if c:
        print(f"3. Concurrent uploads ({args.concurrent} x {args.concurrent_size / MIB:.0f} MiB, one repo each)")
        print(f"   {'backend':<12} {'wall s':>8} {'agg MiB/s':>10} {'RSS start':>10} {'RSS max(50ms)':>14} "
              f"{'VmHWM MiB':>10} {'srv cpu s':>10} {'503s':>5} {'failed':>7}")
        for kind, r in c.items():
            print(f"   {kind:<12} {r['wall_s']:8.2f} {r['aggregate_MiBps']:10.1f} {r['rss_start_MiB']:10.1f} "
                  f"{r['rss_sampled_max_MiB']:14.1f} {r['VmHWM_MiB']:10.1f} {r['server_cpu_s']:10.1f} "
                  f"{r['busy_503']:5.0f} {len(r['failed_clients']):7d}")
            print(f"   {'':<12} per-client upload_file s: {r['client_upload_s']}; xorb POSTs {r['xorb_posts']:.0f}; "
                  f"blob store {r['blob_store_bytes'] / MIB:.1f} MiB")
            for f in r["failed_clients"]:
                print(f"   client {f['client']} exit {f['exit']}:\n{textwrap.indent(f.get('stderr_tail', ''), '      ')}")
    print(f"load average (1/5/15 min) start -> end: {out['load_start']} -> {out.get('load_end')}  "
          f"({out['cpus']} cpus)")
    for name, ok in out["checks"].items():
        print(f"check {name}: {'ok' if ok else 'FAILED'}")
    if a and a["bad_ranges"]:
        print("bad ranges:", json.dumps(a["bad_ranges"][:5], indent=1))


if __name__ == "__main__":
    sys.exit(main())
