#!/usr/bin/env python3
"""git clone speed: a repo of 1,000 commits and 1,000 files cloned from a
real `tessera serve` over smart HTTP, against `git clone` of the same repo
from a local bare repository, measured in the same run.

Usage (from the repo root):

    cargo build --release -p tessera
    .venv/bin/python experiments/git_clone_speed.py [--commits N] [--files N]
        [--runs N] [--bin PATH] [--json PATH] [--keep]

What is built: commit 1 adds N files (a few hundred bytes each, in 10
directories); every later commit rewrites one of them, so the history has
N commits and the tip N files. It is made with `git fast-import`, then
pushed once to `alice/clone-speed` on the server (untimed, but reported).

What is timed (wall clock of the `git clone` process, each into a fresh
directory; the median of --runs rounds, in which L, F, T and T1 take turns):
  L   git clone /path/bare.git            local clone (hard links; git's fastest path)
  F   git clone file:///path/bare.git     local clone through the pack protocol
  T0  git clone http://…/alice/clone-speed with the server's cache dir
      deleted first: the cache is rebuilt from the DB (timed once)
  T   the same clone again (cache warm), protocol v2
  T1  the same with -c protocol.version=0
Ratios T/L (the closing figure), T/F, T0/L. Every clone is checked: same
tip commit id as the source and `git fsck` clean for the first one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from steel_thread_speed import TOKEN, Failure, Server, default_bin  # noqa: E402  (shared with the sibling experiment)

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(*args: str, cwd: Path | None = None, input: bytes | None = None, env: dict | None = None) -> bytes:
    full_env = {**os.environ, **GIT_ENV, **(env or {})}
    result = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=full_env)
    if result.returncode != 0:
        raise Failure(f"git {' '.join(args)} -> {result.returncode}\n{result.stderr.decode(errors='replace')[-4000:]}")
    return result.stdout


def fast_import_stream(commits: int, files: int) -> bytes:
    """A fast-import stream: commit 1 adds every file, each later one rewrites one file."""
    out = bytearray()
    when = 1_700_000_000

    def blob_of(path: str, version: int) -> bytes:
        return (f"{path} version {version}\n" + "x" * 200 + "\n").encode()

    for number in range(1, commits + 1):
        message = f"commit {number}\n".encode()
        out += b"commit refs/heads/main\n"
        out += f"committer bench <bench@example.com> {when + number} +0000\n".encode()
        out += f"data {len(message)}\n".encode() + message
        if number == 1:
            changed = [(f"dir{i % 10}/file{i}.txt", 0) for i in range(files)]
        else:
            i = (number - 2) % files
            changed = [(f"dir{i % 10}/file{i}.txt", number)]
        for path, version in changed:
            data = blob_of(path, version)
            out += f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data
        out += b"\n"
    return bytes(out)


def timed_clone(source: str, dest: Path, *extra: str) -> float:
    if dest.exists():
        shutil.rmtree(dest)
    env = {**os.environ, **GIT_ENV}
    start = time.perf_counter()
    result = subprocess.run(["git", *extra, "clone", "-q", source, str(dest)], capture_output=True, env=env)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise Failure(f"clone of {source} failed\n{result.stderr.decode(errors='replace')[-4000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--bin", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    binary = args.bin or default_bin()
    if not binary.exists():
        print(f"no tessera binary at {binary}; run cargo build --release -p tessera", file=sys.stderr)
        return 1

    base = Path(tempfile.mkdtemp(prefix="git-clone-speed-"))
    server = Server(binary, base)
    figures: dict = {"commits": args.commits, "files": args.files, "runs": args.runs}
    try:
        work = base / "work"
        git("init", "-q", "-b", "main", str(work))
        git("fast-import", "--quiet", cwd=work, input=fast_import_stream(args.commits, args.files))
        git("reset", "-q", "--hard", "main", cwd=work)
        bare = base / "bare.git"
        git("clone", "-q", "--bare", str(work), str(bare))
        tip = git("rev-parse", "main", cwd=bare).decode().strip()
        figures["tip"] = tip

        server.start()
        endpoint = server.endpoint
        host = endpoint.removeprefix("http://")
        request = urllib.request.Request(
            f"{endpoint}/api/repos/create",
            data=json.dumps({"name": "clone-speed", "type": "model"}).encode(),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=60).read()
        remote = f"http://alice:{TOKEN}@{host}/alice/clone-speed"
        start = time.perf_counter()
        git("push", "-q", "--force", remote, "main:main", cwd=work)
        figures["push_secs"] = time.perf_counter() - start

        clones = base / "clones"
        clones.mkdir()
        # Wait for the cache update the push started, then delete the cache.
        git("ls-remote", remote, cwd=base)
        shutil.rmtree(server.data_dir / "cache", ignore_errors=True)
        figures["tessera_cold_secs"] = timed_clone(remote, clones / "cold")
        cloned_tip = git("rev-parse", "HEAD", cwd=clones / "cold").decode().strip()
        if cloned_tip != tip:
            raise Failure(f"cloned tip {cloned_tip} != source tip {tip}")
        git("fsck", "--strict", "--no-progress", cwd=clones / "cold")
        count = git("rev-list", "--count", "HEAD", cwd=clones / "cold").decode().strip()
        if int(count) != args.commits:
            raise Failure(f"the clone has {count} commits, expected {args.commits}")
        # The warm measurements take turns, so drift in the machine's speed
        # hits every column alike; medians are reported.
        samples: dict[str, list[float]] = {"local": [], "file": [], "tessera": [], "tessera_v0": []}
        for _ in range(args.runs):
            samples["local"].append(timed_clone(str(bare), clones / "local"))
            samples["file"].append(timed_clone(f"file://{bare}", clones / "file"))
            samples["tessera"].append(timed_clone(remote, clones / "warm"))
            samples["tessera_v0"].append(timed_clone(remote, clones / "v0", "-c", "protocol.version=0"))
        for name, values in samples.items():
            figures[f"{name}_secs"] = statistics.median(values)
            figures[f"{name}_samples"] = values
        figures["ratio_tessera_vs_local"] = figures["tessera_secs"] / figures["local_secs"]
        figures["ratio_tessera_vs_file"] = figures["tessera_secs"] / figures["file_secs"]
        figures["ratio_cold_vs_local"] = figures["tessera_cold_secs"] / figures["local_secs"]
        figures["ratio_v0_vs_local"] = figures["tessera_v0_secs"] / figures["local_secs"]
    except Failure as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        if server.alive():
            print(server.log_tail(), file=sys.stderr)
        return 1
    finally:
        if server.alive():
            server.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"kept {base}")

    print(f"repo: {args.commits} commits, {args.files} files; push to tessera took {figures['push_secs']:.2f}s")
    rows = [
        ("L  git clone <local bare path>", figures["local_secs"]),
        ("F  git clone file://<bare>", figures["file_secs"]),
        ("T0 tessera, cache rebuilt from DB", figures["tessera_cold_secs"]),
        ("T  tessera, v2, warm", figures["tessera_secs"]),
        ("T1 tessera, v0, warm", figures["tessera_v0_secs"]),
    ]
    for label, secs in rows:
        print(f"  {label:<36} {secs:8.3f} s")
    print(f"ratios: T/L {figures['ratio_tessera_vs_local']:.2f}  T/F {figures['ratio_tessera_vs_file']:.2f}  "
          f"T0/L {figures['ratio_cold_vs_local']:.2f}  T1/L {figures['ratio_v0_vs_local']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
