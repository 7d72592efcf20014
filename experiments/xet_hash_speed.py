#!/usr/bin/env python3
"""Throughput of `tessera xet hash` against hf_xet.hash_files, in the same run.

Usage (from the repo root, after `scripts/test` has created .venv, or with any
Python that has the pinned hf_xet from tests/e2e/requirements.txt):

    cargo build --release -p tessera
    .venv/bin/python experiments/xet_hash_speed.py [--file PATH] [--size BYTES]
        [--runs N] [--bin PATH] [--keep]

  --file PATH   file to hash. If it exists with the requested size it is
                reused; otherwise it is (re)written with random bytes.
                Default: a temporary 1 GiB file, deleted at the end unless
                --keep is given.
  --size BYTES  size of the generated file (default 1 GiB = 1073741824).
  --runs N      timed runs per tool; the best (minimum) is reported (default 3).
  --bin PATH    tessera binary (default: $TESSERA_BIN, else
                <cargo target dir>/release/tessera).

The file is read once before timing so the page cache is hot for both tools.
tessera is timed as a subprocess (wall time of `tessera xet hash FILE`, so it
includes process start-up); hf_xet is timed in-process
(`hf_xet.hash_files([FILE])`). Both hashes must agree, else exit status 1.
The printed ratio is hf_xet_time / tessera_time: > 1 means tessera is faster.
CPU time (user+sys over all threads) is printed too: it is less distorted than
wall time when other jobs share the machine.
Note: tessera also computes the file's sha256 (on a second thread);
hf_xet.hash_files does not (its results carry sha256=None).
"""

import argparse
import importlib.metadata
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import hf_xet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from steel_thread_speed import default_bin, ensure_file  # noqa: E402  (shared with the sibling experiment)

MIB = 1024 * 1024
GIB = 1024 * MIB


def warm_up(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(16 * MIB):
            pass


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_tessera(binary: Path, path: Path, runs: int) -> tuple[list[float], list[float], str]:
    """Wall times and CPU times (user+sys, all threads) of each run, and the hash."""
    walls, cpus, xet_hash = [], [], None
    for _ in range(runs):
        cpu0, start = children_cpu(), time.perf_counter()
        result = subprocess.run(
            [str(binary), "xet", "hash", str(path)], capture_output=True, text=True
        )
        walls.append(time.perf_counter() - start)
        cpus.append(children_cpu() - cpu0)
        if result.returncode != 0:
            sys.exit(f"tessera failed ({result.returncode}): {result.stderr.strip()}")
        xet_hash = result.stdout.split(" ", 1)[0]
    return walls, cpus, xet_hash


def time_hf_xet(path: Path, runs: int) -> tuple[list[float], list[float], str]:
    """Wall times and CPU times (process CPU clock, all threads) of each run, and the hash."""
    walls, cpus, xet_hash = [], [], None
    for _ in range(runs):
        cpu0, start = time.process_time(), time.perf_counter()
        infos = hf_xet.hash_files([str(path)])
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu0)
        xet_hash = infos[0].hash
    return walls, cpus, xet_hash


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path)
    parser.add_argument("--size", type=int, default=GIB)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bin", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated temporary file")
    args = parser.parse_args()

    binary = args.bin or default_bin()
    if not os.access(binary, os.X_OK):
        sys.exit(f"tessera binary not found: {binary} (cargo build --release -p tessera, or --bin)")

    temp = None
    path = args.file
    if path is None:
        fd, name = tempfile.mkstemp(prefix="tessera-xet-speed-", suffix=".bin")
        os.close(fd)
        path = temp = Path(name)
    try:
        ensure_file(path, args.size)
        size = path.stat().st_size
        warm_up(path)
        print(f"binary: {binary}")
        print(f"hf_xet: {importlib.metadata.version('hf_xet')}  cpus: {os.cpu_count()}  load before: {load_average()}")

        walls_tessera, cpus_tessera, h_tessera = time_tessera(binary, path, args.runs)
        walls_hf, cpus_hf, h_hf = time_hf_xet(path, args.runs)
        print(f"load after: {load_average()}")

        t_tessera, t_hf = min(walls_tessera), min(walls_hf)
        c_tessera, c_hf = min(cpus_tessera), min(cpus_hf)
        mib = size / MIB
        runs = lambda ts: ", ".join(f"{t:.3f}" for t in ts)  # noqa: E731
        print()
        print(f"file: {path} ({size} bytes = {mib:.0f} MiB), best of {args.runs}")
        print(f"tessera xet hash : wall {t_tessera:7.3f} s {mib / t_tessera:8.1f} MiB/s  cpu {c_tessera:7.3f} s"
              f"   wall runs: {runs(walls_tessera)}")
        print(f"hf_xet.hash_files: wall {t_hf:7.3f} s {mib / t_hf:8.1f} MiB/s  cpu {c_hf:7.3f} s"
              f"   wall runs: {runs(walls_hf)}")
        print(f"ratio hf_xet/tessera: {t_hf / t_tessera:.2f} wall, {c_hf / c_tessera:.2f} cpu"
              "  (> 1 means tessera is faster / cheaper)")
        print(f"tessera hash: {h_tessera}")
        print(f"hf_xet hash : {h_hf}")
        if h_tessera != h_hf:
            print("MISMATCH: the hashes differ", file=sys.stderr)
            return 1
        print("hashes agree")
        return 0
    finally:
        if temp is not None and not args.keep:
            temp.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
