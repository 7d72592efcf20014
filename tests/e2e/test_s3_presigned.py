"""With blobs in S3, hf_xet reads xorbs straight from S3 through presigned URLs.

Runs only with TESSERA_TEST_BACKEND=postgres-s3 (scripts/test's second pass):
the reconstruction answer's fetch URLs point at the S3 endpoint and carry a
SigV4 query signature, and a full `hf_hub_download` makes no request to
tessera's own data route `/v1/xorb-data/{hash}` — the bytes never pass
through tessera.
"""

import json
import os
import re
import urllib.error
import urllib.request

import pytest

from tessera_server import scenario

pytestmark = pytest.mark.postgres_s3

DATA_ROUTE = "/v1/xorb-data/{hash}"
SIZE, SEED = 5 * 1024 * 1024 + 77, 9191


def route_requests(server, route_part: str) -> int:
    """Requests so far to routes whose template contains `route_part`, from `/metrics`."""
    status, _, body = server.request("GET", "/metrics")
    assert status == 200, f"GET /metrics -> {status}: {body[:300]!r}"
    total = 0
    for line in body.decode().splitlines():
        match = re.match(r'http_requests_total\{.*route="([^"]*)".*\} (\S+)$', line)
        if match and route_part in match.group(1):
            total += int(float(match.group(2)))
    return total


def urls_in(value) -> list[str]:
    """Every string under a key named `url` in a JSON value."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "url" and isinstance(item, str):
                found.append(item)
            else:
                found.extend(urls_in(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(urls_in(item))
    return found


def get(url: str, headers: dict | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_xet_downloads_read_presigned_s3_urls(server, tmp_path):
    s3_endpoint = server.backend.s3_endpoint
    bucket_prefix = f"{s3_endpoint}/{server.backend.s3_bucket}/"
    repo = "alice/presigned"
    result = scenario(
        server,
        tmp_path,
        "upload",
        """
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo(PARAMS["repo"])
        api.upload_file(path_or_fileobj=random_bytes(PARAMS["size"], PARAMS["seed"]), path_in_repo="w.bin", repo_id=PARAMS["repo"])
        entry = next(e for e in api.list_repo_tree(PARAMS["repo"]) if e.path == "w.bin")
        check(entry.xet_hash, f"no xet hash: {entry}")
        print("XET_HASH=" + entry.xet_hash)
        """,
        params={"repo": repo, "size": SIZE, "seed": SEED},
    )
    xet_hash = next(line.split("=", 1)[1] for line in result.stdout.splitlines() if line.startswith("XET_HASH="))

    status, _, body = server.request("GET", f"/api/models/{repo}/xet-read-token/main", token=server.token("alice"))
    assert status == 200, f"xet-read-token -> {status}: {body[:300]!r}"
    token = json.loads(body)
    for version in ("v1", "v2"):
        url = f"{token['casUrl']}/{version}/reconstructions/{xet_hash}"
        status, body = get(url, {"Authorization": f"Bearer {token['accessToken']}"})
        assert status == 200, f"GET {url} -> {status}: {body[:500]!r}"
        answer = json.loads(body)
        fetch_urls = urls_in(answer)
        assert fetch_urls, f"{version} reconstruction has no fetch URLs: {answer}"
        for fetch_url in fetch_urls:
            assert fetch_url.startswith(bucket_prefix), f"{version} fetch URL is not in the S3 bucket {bucket_prefix}: {fetch_url[:200]}"
            assert not fetch_url.startswith(server.endpoint), f"{version} fetch URL points at tessera: {fetch_url[:200]}"
            assert re.search(r"[?&]X-Amz-Signature=[0-9a-f]{64}(&|$)", fetch_url), f"not a SigV4 presigned URL: {fetch_url[:300]}"
            assert "X-Amz-Expires=" in fetch_url and "X-Amz-Credential=" in fetch_url, fetch_url[:300]
        # A presigned URL works without any credentials, straight from S3.
        status, data = get(fetch_urls[0], {"Range": "bytes=0-99"})
        assert status == 206 and len(data) == 100, f"presigned GET with Range -> {status}, {len(data)} bytes: {data[:200]!r}"

    before = route_requests(server, DATA_ROUTE)
    reconstructions_before = route_requests(server, "/reconstructions/")
    log_offset = server.log_size()
    scenario(
        server,
        tmp_path,
        "download",
        """
        from huggingface_hub import hf_hub_download
        path = hf_hub_download(PARAMS["repo"], "w.bin")
        check(Path(path).read_bytes() == random_bytes(PARAMS["size"], PARAMS["seed"]), "downloaded bytes differ")
        log("download ok")
        """,
        params={"repo": repo, "size": SIZE, "seed": SEED},
    )
    after = route_requests(server, DATA_ROUTE)
    assert after == before, f"hf_hub_download made {after - before} requests to tessera's {DATA_ROUTE}"
    assert route_requests(server, "/reconstructions/") > reconstructions_before, (
        "the download asked tessera for no reconstruction: did it use the Xet path at all?"
    )
    log = server.log_since(log_offset, max_chars=10**7)
    assert "/v1/xorb-data/" not in log, "tessera served xorb data during the download:\n" + log[-3000:]
    assert os.environ.get("TESSERA_TEST_BACKEND") == "postgres-s3"
