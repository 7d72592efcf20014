#!/usr/bin/env python3
"""Steel-thread speed: upload and download of one big file through a real
`tessera serve`, with the real huggingface_hub + hf_xet clients, against
baselines measured in the same run.

Usage (from the repo root, after `scripts/test` has created .venv, or with any
Python that has the pins of tests/e2e/requirements.txt):

    cargo build --release -p tessera
    .venv/bin/python experiments/steel_thread_speed.py [--file PATH]
        [--size BYTES] [--runs N] [--bin PATH] [--json PATH] [--keep]
        [--timeout SECS]

  --file PATH    file to upload. If it exists with the requested size it is
                 reused; otherwise it is (re)written with random bytes.
                 Default: a temporary file, deleted at the end unless --keep.
  --size BYTES   size of the generated file (default 1 GiB = 1073741824).
  --runs N       timed runs of each repeatable measurement (hash, downloads,
                 plain GETs); the best (minimum) is reported (default 2).
                 The upload is timed once: a second upload of the same bytes
                 would be deduplicated.
  --bin PATH     tessera binary (default: $TESSERA_BIN, else
                 <cargo target dir>/release/tessera).
  --json PATH    also write the figures as JSON to PATH.
  --keep         keep the temporary directory (server data, logs, downloads)
                 and the generated file.
  --timeout SECS limit for each client subprocess (default 1800).

What is measured, in this order:
  H  hf_xet.hash_files([FILE]) in-process (chunking + xorb/file hashing, no
     I/O besides reading the hot file): the floor for a Xet upload.
  U  HfApi().upload_file(FILE -> alice/speed:big.bin) in a fresh Python
     subprocess (huggingface_hub reads HF_ENDPOINT at import) with a fresh
     HF_HOME / HF_XET_CACHE; only the upload_file call is timed, inside the
     subprocess. create_repo runs before it, untimed.
  D  hf_hub_download("alice/speed", "big.bin") in a fresh subprocess and a
     fresh cache (Xet path: the client fetches reconstruction terms and xorb
     ranges); timed inside the subprocess; sha256 checked against FILE.
  G  curl of the same bytes from a plain HTTP server on loopback: Python's
     ThreadingHTTPServer + SimpleHTTPRequestHandler in a separate process,
     its copy loop replaced by socket.sendfile (zero-copy, like a static file
     server) so the baseline is not Python-bound.
  R  curl of {endpoint}/alice/speed/resolve/main/big.bin with the token:
     tessera reassembling the file itself (non-Xet client path).
Ratios U/H and D/G: how far the steel thread is from its floor (1.0 = at
the floor). The page cache is warmed before timing; downloads are written to
the same file system as the generated file's temp dir and deleted after each
run. CPU seconds (client: the subprocess' own process CPU clock around the
timed call; server: utime+stime of the tessera process over the phase) are
printed too: they are less distorted than wall time when other jobs load the
machine, and the load average is recorded at start and end.

Server memory: VmHWM (kernel peak resident set) read from /proc/<pid>/status
just before SIGTERM, and VmRSS sampled every 50 ms by a thread (max overall
and per phase).

Exit status 1 if any step fails or any check (sha256, Xet hash) disagrees;
the client's output and the server log tail are printed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import multiprocessing
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import hf_xet

MIB = 1024 * 1024
GIB = 1024 * MIB
REPO_ROOT = Path(__file__).resolve().parent.parent
TOKEN = "hf_alicetoken"
REPO_ID = "alice/speed"
PATH_IN_REPO = "big.bin"
LISTENING = re.compile(r"tessera listening on (http://\S+)")
START_TIMEOUT_SECS = 30
STOP_TIMEOUT_SECS = 15
SAMPLE_SECS = 0.05
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Failure(Exception):
    """A step failed; the message says what and carries the evidence."""


# ---------------------------------------------------------------- helpers
def default_bin() -> Path:
    if os.environ.get("TESSERA_BIN"):
        return Path(os.environ["TESSERA_BIN"])
    try:
        meta = subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--no-deps"],
            cwd=REPO_ROOT, capture_output=True, text=True, check=True,
        )
        target = Path(json.loads(meta.stdout)["target_directory"])
    except (OSError, subprocess.CalledProcessError):
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
    return target / "release" / "tessera"


def ensure_file(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        print(f"reusing {path} ({size} bytes)")
        return
    print(f"writing {size} random bytes to {path} ...", flush=True)
    start = time.perf_counter()
    with open(path, "wb") as f:
        remaining = size
        while remaining:
            n = min(remaining, 16 * MIB)
            f.write(os.urandom(n))
            remaining -= n
    print(f"  done in {time.perf_counter() - start:.1f} s")


def sha256_file(path: Path) -> str:
    """Also warms the page cache."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(16 * MIB):
            h.update(block)
    return h.hexdigest()


def tail(text: str, max_chars: int = 6000) -> str:
    if len(text) <= max_chars:
        return text
    return f"[... {len(text) - max_chars} chars cut ...]\n" + text[-max_chars:]


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def proc_status_kib(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def proc_cpu_secs(pid: int) -> float | None:
    """utime + stime of a live process (all threads), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, ValueError, IndexError):
        return None


# ---------------------------------------------------------------- tessera
class Server:
    """`tessera serve` on a free loopback port with a fresh data dir and alice (admin)."""

    def __init__(self, binary: Path, base: Path):
        self.binary = binary
        self.data_dir = base / "data"
        self.log_path = base / "server.log"
        self.endpoint: str | None = None
        self.proc: subprocess.Popen | None = None
        self.stdout_lines: list[str] = []
        self._log = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_") or k == "TESSERA_LOG"}
        self.env["NO_COLOR"] = "1"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True)
        cmd = [str(self.binary), "--data-dir", str(self.data_dir),
               "admin", "user", "create", "alice", "--admin", "--token", TOKEN]
        result = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=60)
        if result.returncode != 0:
            raise Failure(f"{' '.join(cmd)} -> exit {result.returncode}\n{result.stdout}\n{result.stderr}")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.binary), "--data-dir", str(self.data_dir), "serve", "--listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
            env=self.env, text=True, bufsize=1,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            for line in self.proc.stdout:
                self.stdout_lines.append(line.rstrip("\n"))
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, name="tessera-stdout", daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_SECS
        while self.endpoint is None:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise Failure(f"no 'tessera listening on' line within {START_TIMEOUT_SECS}s\n{self.log_tail()}")
            if line is None:
                self.proc.wait(timeout=5)
                raise Failure(f"tessera serve exited with status {self.proc.returncode} before listening\n{self.log_tail()}")
            if match := LISTENING.search(line):
                self.endpoint = match.group(1).rstrip("/")
        if not self.endpoint.startswith("http://127.0.0.1:"):
            raise Failure(f"server listens on a non-loopback address: {self.endpoint}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        proc, self.proc = self.proc, None
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
        if self._log is not None:
            self._log.close()
            self._log = None
        return status

    def log_tail(self, max_chars: int = 6000) -> str:
        try:
            text = self.log_path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return "(no server log)"
        return f"--- server log tail ({self.log_path})\n" + tail(text, max_chars)

    def request(self, method: str, path: str, timeout: float = 60) -> tuple[int, dict, bytes]:
        req = urllib.request.Request(self.endpoint + path, method=method)
        req.add_header("Authorization", f"Bearer {TOKEN}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()

    def stats(self) -> dict:
        status, _, body = self.request("GET", "/api/admin/stats")
        if status != 200:
            raise Failure(f"GET /api/admin/stats -> {status}: {body[:2000]!r}\n{self.log_tail()}")
        return json.loads(body)


class RssSampler(threading.Thread):
    """Samples VmRSS of `pid` every 50 ms; keeps the max overall and per phase."""

    def __init__(self, pid: int):
        super().__init__(name="rss-sampler", daemon=True)
        self.pid = pid
        self.phase = "idle"
        self.max_kib = 0
        self.phase_max_kib: dict[str, int] = {}
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            rss = proc_status_kib(self.pid, "VmRSS")
            if rss is None:
                break
            self.samples += 1
            self.max_kib = max(self.max_kib, rss)
            phase = self.phase
            self.phase_max_kib[phase] = max(self.phase_max_kib.get(phase, 0), rss)
            self._halt.wait(SAMPLE_SECS)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=2)


# ---------------------------------------------------------------- plain HTTP baseline
def _plain_http_server(directory: str, port_pipe) -> None:
    """Runs in a separate process: serves `directory` on a free loopback port."""
    import functools
    import http.server
    import socket

    class Handler(http.server.SimpleHTTPRequestHandler):
        def copyfile(self, source, outputfile):
            # Zero-copy, like a static file server; fall back to the stock loop.
            try:
                self.wfile.flush()
                self.connection.sendfile(source)
            except (AttributeError, OSError, ValueError):
                super().copyfile(source, outputfile)

        def log_message(self, format, *args):  # noqa: A002
            pass

    socket.setdefaulttimeout(None)
    handler = functools.partial(Handler, directory=directory)
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        port_pipe.send(httpd.server_address[1])
        port_pipe.close()
        httpd.serve_forever()


class PlainHttp:
    def __init__(self, file: Path, base: Path):
        self.dir = base / "plain-http"
        self.dir.mkdir()
        (self.dir / PATH_IN_REPO).symlink_to(file.resolve())
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_plain_http_server, args=(str(self.dir), child), daemon=True)
        self.proc.start()
        child.close()
        if not parent.poll(30):
            self.stop()
            raise Failure("the plain HTTP server did not report its port within 30 s")
        self.url = f"http://127.0.0.1:{parent.recv()}/{PATH_IN_REPO}"

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(timeout=10)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join(timeout=10)


# ---------------------------------------------------------------- clients
UPLOAD_SCRIPT = r'''
import json, os, sys, time
from huggingface_hub import HfApi
api = HfApi()
api.create_repo(os.environ["SPEED_REPO"])
cpu0, t0 = time.process_time(), time.perf_counter()
api.upload_file(path_or_fileobj=os.environ["SPEED_FILE"], path_in_repo=os.environ["SPEED_PATH"],
                repo_id=os.environ["SPEED_REPO"])
seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
print(json.dumps({"seconds": seconds, "cpu": cpu}), flush=True)
'''

DOWNLOAD_SCRIPT = r'''
import json, os, sys, time
from huggingface_hub import hf_hub_download
cpu0, t0 = time.process_time(), time.perf_counter()
path = hf_hub_download(os.environ["SPEED_REPO"], os.environ["SPEED_PATH"])
seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
print(json.dumps({"seconds": seconds, "cpu": cpu, "path": path}), flush=True)
'''


def client_env(endpoint: str, root: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "XET_"))}
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(proxy, None)
    for sub in ("hf_home", "hub_cache", "xet_cache"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    env.update({
        "HF_ENDPOINT": endpoint,
        "HF_TOKEN": TOKEN,
        "HF_HOME": str(root / "hf_home"),
        "HF_HUB_CACHE": str(root / "hub_cache"),
        "HF_XET_CACHE": str(root / "xet_cache"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_XET_TELEMETRY_ENABLED": "false",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_HUB_ETAG_TIMEOUT": "60",
        "HF_HUB_DOWNLOAD_TIMEOUT": "120",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
        **extra,
    })
    return env


def run_client(server: Server, script: str, root: Path, extra: dict[str, str], timeout: float, what: str) -> dict:
    """Runs `script` in a fresh interpreter; returns its last stdout line parsed as JSON."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)], cwd=root,
            env=client_env(server.endpoint, root, extra), capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired as err:
        raise Failure(f"{what} timed out after {timeout} s\n--- stdout\n{tail(str(err.stdout or ''))}\n"
                      f"--- stderr\n{tail(str(err.stderr or ''))}\n{server.log_tail()}")
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        state = "running" if server.alive() else f"exited with status {server.proc.poll() if server.proc else '?'}"
        raise Failure(f"{what} failed with exit status {result.returncode} (server {state})\n"
                      f"--- stdout\n{tail(result.stdout)}\n--- stderr\n{tail(result.stderr)}\n{server.log_tail()}")
    return json.loads(lines[-1])


def curl(url: str, out: Path, token: str | None, timeout: float) -> tuple[float, dict]:
    """Wall time of `curl -s -o OUT URL` and curl's own figures."""
    cmd = ["curl", "-s", "-S", "--noproxy", "*", "-o", str(out),
           "-w", "%{http_code} %{size_download} %{time_total} %{time_starttransfer}", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise Failure(f"curl {url} -> exit {result.returncode}: {result.stderr.strip()}")
    code, size, total, ttfb = result.stdout.split()
    if code != "200":
        body = out.read_bytes()[:2000] if out.exists() else b""
        raise Failure(f"curl {url} -> HTTP {code}: {body!r}")
    return wall, {"http": int(code), "bytes": int(size), "curl_total": float(total), "curl_ttfb": float(ttfb)}


# ---------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path)
    parser.add_argument("--size", type=int, default=GIB)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--bin", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and generated file")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be >= 1")

    binary = (args.bin or default_bin()).resolve()
    if not os.access(binary, os.X_OK):
        sys.exit(f"tessera binary not found: {binary} (cargo build --release -p tessera, or --bin)")
    if shutil.which("curl") is None:
        sys.exit("curl not found on PATH")

    base = Path(tempfile.mkdtemp(prefix="tessera-steel-speed-"))
    path = args.file
    temp_file = None
    if path is None:
        path = temp_file = base / "source.bin"
    path = path.resolve()
    server = plain = sampler = None
    out: dict = {"load_start": loadavg()}
    status = 0
    try:
        ensure_file(path, args.size)
        size = path.stat().st_size
        mib = size / MIB
        print("warming the page cache (sha256 of the source) ...", flush=True)
        source_sha = sha256_file(path)
        out.update({
            "file": str(path), "bytes": size, "runs": args.runs, "binary": str(binary), "cpus": os.cpu_count(),
            "huggingface_hub": importlib.metadata.version("huggingface_hub"),
            "hf_xet": importlib.metadata.version("hf_xet"), "sha256": source_sha,
        })
        print(f"binary: {binary}")
        print(f"huggingface_hub {out['huggingface_hub']}  hf_xet {out['hf_xet']}  cpus {out['cpus']}  "
              f"load at start: {out['load_start']}")

        # Plain HTTP baseline server first (spawned process, before our threads exist).
        plain = PlainHttp(path, base)
        server = Server(binary, base)
        server.start()
        print(f"tessera at {server.endpoint} (pid {server.pid}), data dir {server.data_dir}")
        print(f"plain HTTP baseline at {plain.url} (pid {plain.proc.pid})")
        sampler = RssSampler(server.pid)
        sampler.start()

        def server_phase(name: str):
            sampler.phase = name
            return proc_cpu_secs(server.pid)

        # H: hf_xet.hash_files in-process.
        print(f"[H] hf_xet.hash_files, {args.runs} run(s) ...", flush=True)
        h_walls, h_cpus, xet_hash = [], [], None
        for _ in range(args.runs):
            cpu0, t0 = time.process_time(), time.perf_counter()
            infos = hf_xet.hash_files([str(path)])
            h_walls.append(time.perf_counter() - t0)
            h_cpus.append(time.process_time() - cpu0)
            xet_hash = infos[0].hash
        out["H"] = {"seconds": min(h_walls), "cpu": min(h_cpus), "runs": h_walls, "xet_hash": xet_hash}

        # U: upload_file in a subprocess.
        print("[U] create_repo + upload_file (subprocess) ...", flush=True)
        srv_cpu0 = server_phase("upload")
        upload = run_client(server, UPLOAD_SCRIPT, base / "client-upload",
                            {"SPEED_REPO": REPO_ID, "SPEED_FILE": str(path), "SPEED_PATH": PATH_IN_REPO},
                            args.timeout, "upload")
        srv_cpu1 = server_phase("after-upload")
        upload["server_cpu"] = srv_cpu1 - srv_cpu0
        out["U"] = upload
        out["stats_after_upload"] = stats = server.stats()
        out["xorbBytes"] = stats.get("xorbBytes")

        # The stored file: sha256 (ETag) and Xet hash as the client computed them.
        st, headers, body = server.request("HEAD", f"/{REPO_ID}/resolve/main/{PATH_IN_REPO}")
        if st != 200:
            raise Failure(f"HEAD resolve -> {st}\n{server.log_tail()}")
        etag = headers.get("etag", "").strip('"')
        out["server_xet_hash"] = headers.get("x-xet-hash")
        checks = {
            "etag == sha256(source)": etag == source_sha,
            "x-xet-hash == hf_xet hash": headers.get("x-xet-hash") == xet_hash,
            "x-linked-size == size": headers.get("x-linked-size") == str(size),
        }

        # D: hf_hub_download in a fresh subprocess + cache, per run.
        print(f"[D] hf_hub_download (subprocess), {args.runs} run(s) ...", flush=True)
        d_runs = []
        for i in range(args.runs):
            root = base / f"client-download-{i}"
            srv_cpu0 = server_phase("download")
            result = run_client(server, DOWNLOAD_SCRIPT, root, {"SPEED_REPO": REPO_ID, "SPEED_PATH": PATH_IN_REPO},
                                args.timeout, f"download #{i + 1}")
            result["server_cpu"] = proc_cpu_secs(server.pid) - srv_cpu0
            server_phase("idle")
            got = sha256_file(Path(result.pop("path")))
            result["sha256_ok"] = got == source_sha
            checks[f"download #{i + 1} sha256 == source"] = result["sha256_ok"]
            shutil.rmtree(root, ignore_errors=True)
            d_runs.append(result)
        best_d = min(d_runs, key=lambda r: r["seconds"])
        out["D"] = {"seconds": best_d["seconds"], "cpu": best_d["cpu"], "server_cpu": best_d["server_cpu"],
                    "runs": [r["seconds"] for r in d_runs], "all": d_runs}

        # G: plain HTTP GET of the same bytes; R: tessera's own resolve GET.
        def curl_runs(label: str, url: str, token: str | None, phase: str) -> dict:
            print(f"[{label}] curl {url}, {args.runs} run(s) ...", flush=True)
            runs = []
            for i in range(args.runs):
                dest = base / f"curl-{label}-{i}.bin"
                srv_cpu0 = server_phase(phase) if phase else None
                wall, info = curl(url, dest, token, args.timeout)
                if phase:
                    info["server_cpu"] = proc_cpu_secs(server.pid) - srv_cpu0
                    server_phase("idle")
                info["seconds"] = wall
                info["sha256_ok"] = sha256_file(dest) == source_sha
                checks[f"{label} run #{i + 1} sha256 == source"] = info["sha256_ok"]
                dest.unlink()
                runs.append(info)
            best = min(runs, key=lambda r: r["seconds"])
            return {"seconds": best["seconds"], "runs": [r["seconds"] for r in runs], "all": runs,
                    **({"server_cpu": best["server_cpu"]} if phase else {})}

        out["G"] = curl_runs("G", plain.url, None, "")
        out["R"] = curl_runs("R", f"{server.endpoint}/{REPO_ID}/resolve/main/{PATH_IN_REPO}", TOKEN, "resolve-get")

        # Server memory.
        out["rss"] = {
            "VmHWM_MiB": (proc_status_kib(server.pid, "VmHWM") or 0) / 1024,
            "VmRSS_now_MiB": (proc_status_kib(server.pid, "VmRSS") or 0) / 1024,
        }
        sampler.stop()
        out["rss"]["sampled_max_MiB"] = sampler.max_kib / 1024
        out["rss"]["sampled_max_by_phase_MiB"] = {k: v / 1024 for k, v in sampler.phase_max_kib.items()}
        out["rss"]["samples"] = sampler.samples
        out["load_end"] = loadavg()
        out["checks"] = checks

        # Summary.
        h, u, d, g, r = (out[k]["seconds"] for k in "HUDGR")
        out["U/H"], out["D/G"], out["R/G"] = u / h, d / g, r / g

        def row(name: str, secs: float, extra: str = "") -> str:
            return f"{name:<44} {secs:8.3f} s {mib / secs:9.1f} MiB/s  {extra}"

        def runs_of(key: str) -> str:
            return ", ".join(f"{t:.3f}" for t in out[key]["runs"])

        print()
        print(f"file: {path} ({size} bytes = {mib:.0f} MiB); best of {args.runs} except U (single)")
        print(row("H  hf_xet.hash_files (in-process)", h, f"cpu {out['H']['cpu']:.2f} s  runs: {runs_of('H')}"))
        print(row("U  upload_file (subprocess)", u,
                  f"cpu client {out['U']['cpu']:.2f} s, server {out['U']['server_cpu']:.2f} s"))
        print(row("D  hf_hub_download (subprocess)", d,
                  f"cpu client {out['D']['cpu']:.2f} s, server {out['D']['server_cpu']:.2f} s  runs: {runs_of('D')}"))
        print(row("G  curl, plain HTTP server (sendfile)", g, f"runs: {runs_of('G')}"))
        print(row("R  curl, tessera /resolve/main/big.bin", r,
                  f"cpu server {out['R']['server_cpu']:.2f} s  runs: {runs_of('R')}"))
        print(f"{'U/H':<44} {out['U/H']:8.2f}")
        print(f"{'D/G':<44} {out['D/G']:8.2f}")
        print(f"{'R/G':<44} {out['R/G']:8.2f}")
        print(f"{'server peak RSS, VmHWM':<44} {out['rss']['VmHWM_MiB']:8.1f} MiB")
        phases = ", ".join(f"{k} {v:.1f}" for k, v in out["rss"]["sampled_max_by_phase_MiB"].items())
        print(f"{'server peak RSS, sampled VmRSS max (50 ms)':<44} {out['rss']['sampled_max_MiB']:8.1f} MiB"
              f"  ({out['rss']['samples']} samples; by phase: {phases})")
        print(f"{'xorbBytes after upload':<44} {out['xorbBytes']:>8} ({(out['xorbBytes'] or 0) / MIB:.1f} MiB)")
        print(f"{'load average (1/5/15 min) start -> end':<44} {out['load_start']} -> {out['load_end']}"
              f"  ({out['cpus']} cpus)")
        for name, ok in checks.items():
            print(f"check {name}: {'ok' if ok else 'FAILED'}")
        if not all(checks.values()):
            status = 1
    except Failure as err:
        print(f"\nFAILED: {err}", file=sys.stderr)
        out["error"] = str(err)
        status = 1
    finally:
        if sampler is not None:
            sampler.stop()
        if server is not None:
            code = server.stop()
            if code not in (None, 0, -signal.SIGTERM):
                print(f"tessera serve exited with status {code}\n{server.log_tail()}", file=sys.stderr)
                status = 1
        if plain is not None:
            plain.stop()
        out.setdefault("load_end", loadavg())
        out["status"] = status
        if args.json is not None:
            args.json.write_text(json.dumps(out, indent=2) + "\n")
            print(f"figures written to {args.json}")
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
            if temp_file is not None:
                temp_file.unlink(missing_ok=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
