#!/usr/bin/env python3
"""What the one access rule costs per request: request rates of the hot
metadata and CAS routes, measured with wrk on loopback, as ratios against
`GET /health` of the same server and (with --baseline-bin) against a build
of an earlier release on the same routes, in one run.

Usage (from the repo root, with .venv from scripts/test and wrk installed):

    cargo build --release -p tessera
    .venv/bin/python experiments/access_rule_cost.py [--bin PATH]
        [--baseline-bin PATH] [--duration SECS] [--connections N]
        [--rounds N] [--json PATH]

  --bin PATH           the tessera binary to measure (default: $TESSERA_BIN,
                       else <cargo target dir>/release/tessera).
  --baseline-bin PATH  a tessera binary of an earlier release, measured on
                       the routes it has (no organizations before teams).
                       Build one from an older commit in its own worktree
                       and its own CARGO_TARGET_DIR.
  --duration SECS      wrk duration per route (default 5).
  --connections N      wrk connections (default 32; 2 threads).
  --rounds N           the binaries take turns N times; the best rate of each
                       route is reported (default 2).
  --json PATH          also write every figure as JSON.

Routes (SQLite + local disk, the embedded default, one server per binary):
  health             GET  /health (the framework's floor)
  resolve_public     GET  /alice/pub/resolve/main/README.md, anonymous (GET:
                     wrk waits for a body after a HEAD that has a length)
  resolve_private    GET  /alice/priv/resolve/main/README.md, owner's token
  info_private       GET  /api/models/alice/priv, owner's token
  cas_reconstruct    GET  /v1/reconstructions/{xet hash} with a CAS read token
                     (since teams the CAS asks the access rule again: the
                     minting token, the repo and the caller's role)
  resolve_org_member GET  /acme/priv/resolve/main/README.md, a `write`
                     member's token (teams only: a membership lookup)
  resolve_org_scoped the same with a fine-grained token scoped to acme/priv
                     (teams only: the token's grants too)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from tessera_server import TesseraServer, run_scenario  # noqa: E402


def default_bin() -> Path:
    if os.environ.get("TESSERA_BIN"):
        return Path(os.environ["TESSERA_BIN"])
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return Path(json.loads(meta.stdout)["target_directory"]) / "release" / "tessera"


def call(server: TesseraServer, method: str, path: str, token: str | None = None, body: bytes | None = None, ctype=None):
    request = urllib.request.Request(server.endpoint + path, data=body, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if ctype:
        request.add_header("Content-Type", ctype)
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, dict(response.headers), response.read()


def commit_readme(server: TesseraServer, repo: str, token: str) -> None:
    import base64

    lines = [
        {"key": "header", "value": {"summary": "readme"}},
        {"key": "file", "value": {"path": "README.md", "content": base64.b64encode(b"# hello\n").decode(), "encoding": "base64"}},
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    call(server, "POST", f"/api/models/{repo}/commit/main", token, body, "application/x-ndjson")


def create_repo(server: TesseraServer, repo: str, token: str, private: bool) -> None:
    body = json.dumps({"name": repo, "private": private}).encode()
    call(server, "POST", "/api/repos/create", token, body, "application/json")
    commit_readme(server, repo, token)


def setup(server: TesseraServer, teams: bool, work: Path) -> dict[str, tuple[str, str, str | None]]:
    """Repos and tokens; returns route name -> (method, path, bearer token)."""
    alice = server.users["alice"].token
    create_repo(server, "alice/pub", alice, private=False)
    create_repo(server, "alice/priv", alice, private=True)
    # One Xet file, uploaded by the real client, for the CAS route.
    upload = run_scenario(
        server,
        """
        import os
        from huggingface_hub import HfApi
        HfApi().upload_file(path_or_fileobj=os.urandom(1 << 20), path_in_repo="w.bin", repo_id="alice/pub")
        """,
        work / "xet-upload",
        token=alice,
    )
    assert upload.returncode == 0, upload.stderr
    _, headers, _ = call(server, "HEAD", "/alice/pub/resolve/main/w.bin", alice)
    xet_hash = {k.lower(): v for k, v in headers.items()}["x-xet-hash"]
    _, _, body = call(server, "GET", "/api/models/alice/pub/xet-read-token/main", alice)
    cas_token = json.loads(body)["accessToken"]
    routes = {
        "health": ("GET", "/health", None),
        "resolve_public": ("GET", "/alice/pub/resolve/main/README.md", None),
        "resolve_private": ("GET", "/alice/priv/resolve/main/README.md", alice),
        "info_private": ("GET", "/api/models/alice/priv", alice),
        "cas_reconstruct": ("GET", f"/v1/reconstructions/{xet_hash}", cas_token),
    }
    if teams:
        server._admin("org", "create", "acme", "--owner", "alice")
        server._admin("org", "add-member", "acme", "bob", "--role", "write")
        create_repo(server, "acme/priv", alice, private=True)
        out = server._admin("token", "create", "bob", "--repo", "acme/priv:read", "--name", "bench")
        scoped = re.search(r"token for \S+: (\S+)", out).group(1)
        routes["resolve_org_member"] = ("GET", "/acme/priv/resolve/main/README.md", server.users["bob"].token)
        routes["resolve_org_scoped"] = ("GET", "/acme/priv/resolve/main/README.md", scoped)
    # Every route answers 200 before it is measured.
    for name, (method, path, token) in routes.items():
        status, _, _ = call(server, method, path, token)
        assert status == 200, f"{name}: {method} {path} -> {status}"
    return routes


def wrk(server: TesseraServer, method: str, path: str, token: str | None, args) -> dict:
    assert method == "GET", "wrk measures GETs only"
    cmd = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    cmd.append(server.endpoint + path)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"{method} {path}: {non_2xx.group(1)} non-2xx answers\n{out}")

    def percentile(p: str) -> float:
        match = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"rate": rate, "p50_ms": percentile("50"), "p99_ms": percentile("99")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", type=Path, default=None)
    parser.add_argument("--baseline-bin", type=Path, default=None)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    binaries = {"teams": args.bin or default_bin()}
    if args.baseline_bin:
        binaries["baseline"] = args.baseline_bin

    best: dict[str, dict[str, dict]] = {label: {} for label in binaries}
    with tempfile.TemporaryDirectory(prefix="tessera-access-cost-") as tmp:
        tmp = Path(tmp)
        servers, routes = {}, {}
        try:
            for label, binary in binaries.items():
                server = TesseraServer(binary, base_dir=tmp / label)
                env_log = os.environ.get("TESSERA_LOG")
                os.environ["TESSERA_LOG"] = "warn"  # per-request log lines would dominate
                try:
                    server.start()
                finally:
                    if env_log is None:
                        os.environ.pop("TESSERA_LOG", None)
                    else:
                        os.environ["TESSERA_LOG"] = env_log
                servers[label] = server
                routes[label] = setup(server, teams=label == "teams", work=tmp / f"{label}-work")
            for round_no in range(args.rounds):
                for label, server in servers.items():
                    for name, (method, path, token) in routes[label].items():
                        figures = wrk(server, method, path, token, args)
                        print(f"round {round_no + 1} {label:8} {name:20} {figures['rate']:10.0f} req/s  "
                              f"p50 {figures['p50_ms']:.2f} ms  p99 {figures['p99_ms']:.2f} ms", flush=True)
                        if figures["rate"] > best[label].get(name, {}).get("rate", 0):
                            best[label][name] = figures
        finally:
            for server in servers.values():
                server.stop()

    print()
    header = f"{'route':20} {'teams req/s':>12} {'/health':>8} {'p99 ms':>7}"
    if "baseline" in best:
        header += f" {'baseline req/s':>15} {'/health':>8} {'teams/baseline':>15}"
    print(header)
    report = {"binaries": {k: str(v) for k, v in binaries.items()}, "best": best, "ratios": {}}
    for name, figures in best["teams"].items():
        to_health = figures["rate"] / best["teams"]["health"]["rate"]
        line = f"{name:20} {figures['rate']:12.0f} {to_health:8.2f} {figures['p99_ms']:7.2f}"
        ratios = {"to_health": to_health}
        base = best.get("baseline", {}).get(name)
        if base:
            base_to_health = base["rate"] / best["baseline"]["health"]["rate"]
            ratios["baseline_to_health"] = base_to_health
            ratios["to_baseline"] = figures["rate"] / base["rate"]
            line += f" {base['rate']:15.0f} {base_to_health:8.2f} {ratios['to_baseline']:15.2f}"
        report["ratios"][name] = ratios
        print(line)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
