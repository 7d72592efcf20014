#!/usr/bin/env python3
"""What a web page costs against the JSON API route that reads the same
data, measured with wrk on loopback in one run (SQLite + local disk).

Usage (from the repo root, with .venv from scripts/test and wrk installed):

    cargo build --release -p tessera
    .venv/bin/python experiments/web_page_speed.py [--bin PATH] [--files N]
        [--duration SECS] [--connections N] [--json PATH]

Pairs (page, then its API baseline), on a public repo of N files (default
1,000) in 10 directories plus a README with front matter:
  repo      GET /alice/big                  vs GET /api/models/alice/big
            (the page also renders the card and sums every file's size)
  repo_blobs GET /alice/big                 vs GET /api/models/alice/big?blobs=true
            (the API route that reads the same data: every file's size)
  tree      GET /alice/big/tree/main/d0     vs GET /api/models/alice/big/tree/main/d0
            (one directory of N/10 files)
  tree_root GET /alice/big/tree/main        vs GET /api/models/alice/big/tree/main
  health    GET /health                     (the framework's floor, for scale)
Reported: requests/s of each, page/API ratio, p99 latency.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "experiments"))

from access_rule_cost import default_bin, wrk  # noqa: E402
from tessera_server import TesseraServer  # noqa: E402

README = "---\nlicense: apache-2.0\ntags:\n- speed\n---\n# Big\n\nA repo of many small files.\n"


def post(server: TesseraServer, path: str, token: str, body: bytes, content_type: str) -> None:
    request = urllib.request.Request(server.endpoint + path, data=body, method="POST")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 200


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", type=Path, default=None)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    os.environ["TESSERA_LOG"] = "warn"
    results = {}
    with tempfile.TemporaryDirectory(prefix="tessera-web-speed-") as tmp:
        server = TesseraServer(args.bin or default_bin(), base_dir=Path(tmp))
        server.start()
        try:
            alice = server.users["alice"].token
            post(server, "/api/repos/create", alice, json.dumps({"name": "alice/big"}).encode(), "application/json")
            lines = [{"key": "header", "value": {"summary": "many files"}}]
            files = {"README.md": README, **{f"d{i % 10}/file{i:05}.txt": f"file {i}\n" for i in range(args.files)}}
            for path, text in files.items():
                content = base64.b64encode(text.encode()).decode()
                lines.append({"key": "file", "value": {"path": path, "content": content, "encoding": "base64"}})
            body = "\n".join(json.dumps(line) for line in lines).encode()
            post(server, "/api/models/alice/big/commit/main", alice, body, "application/x-ndjson")
            pairs = {
                "repo": ("/alice/big", "/api/models/alice/big"),
                "repo_blobs": ("/alice/big", "/api/models/alice/big?blobs=true"),
                "tree": ("/alice/big/tree/main/d0", "/api/models/alice/big/tree/main/d0"),
                "tree_root": ("/alice/big/tree/main", "/api/models/alice/big/tree/main"),
            }
            results["health"] = wrk(server, "GET", "/health", None, args)
            print(f"health {results['health']['rate']:.0f} req/s", flush=True)
            for name, (page, api) in pairs.items():
                page_figures = wrk(server, "GET", page, None, args)
                api_figures = wrk(server, "GET", api, None, args)
                ratio = page_figures["rate"] / api_figures["rate"]
                results[name] = {"page": page_figures, "api": api_figures, "page_to_api": ratio}
                print(
                    f"{name:10} page {page_figures['rate']:8.0f} req/s (p99 {page_figures['p99_ms']:.1f} ms)   "
                    f"api {api_figures['rate']:8.0f} req/s (p99 {api_figures['p99_ms']:.1f} ms)   page/api {ratio:.2f}",
                    flush=True,
                )
        finally:
            server.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
