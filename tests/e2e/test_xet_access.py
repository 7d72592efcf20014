"""Xet CAS access control seen from a second user.

A CAS read token is scoped to one repo: bob, holding a valid read token for
his own repo, must not reconstruct a file that exists only in alice's private
repo, even knowing its Xet hash. Uploading the same bytes himself (which the
server may deduplicate against alice's xorbs) must give him a working copy.
"""

import json
import urllib.error
import urllib.request

from tessera_server import scenario

SETUP = """
from huggingface_hub import HfApi, hf_hub_download

api = HfApi()
repo = PARAMS["repo"]
api.create_repo(repo, private=True)
data = random_bytes(PARAMS["size"], PARAMS["seed"])
api.upload_file(path_or_fileobj=data, path_in_repo="secret.bin", repo_id=repo)
entry = next(e for e in api.list_repo_tree(repo) if e.path == "secret.bin")
check(entry.xet_hash, f"no xet hash: {entry}")
check(Path(hf_hub_download(repo, "secret.bin")).read_bytes() == data, "owner round trip")
print("XET_HASH=" + entry.xet_hash)
"""


def cas_get(url: str, token: str, range_header: str | None = None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    if range_header:
        req.add_header("Range", range_header)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read(2000)
    except urllib.error.HTTPError as err:
        return err.code, err.read(2000)


def test_cas_read_token_cannot_reconstruct_another_repos_file(server, tmp_path):
    size, seed = 3 * 1024 * 1024 + 5, 4242
    result = scenario(server, tmp_path, "alice_private", SETUP, params={"repo": "alice/xa-private", "size": size, "seed": seed})
    xet_hash = next(line.split("=", 1)[1] for line in result.stdout.splitlines() if line.startswith("XET_HASH="))

    bob = server.token("bob")
    scenario(
        server,
        tmp_path,
        "bob_own",
        """
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("bob/xa-own")
        api.upload_file(path_or_fileobj=b"bob's own", path_in_repo="a.txt", repo_id="bob/xa-own")
        """,
        user="bob",
    )
    status, headers, body = server.request("GET", "/api/models/bob/xa-own/xet-read-token/main", token=bob)
    assert status == 200, f"bob's read token for his own repo: {status} {body[:500]!r}"
    info = json.loads(body)
    for key in ("accessToken", "casUrl", "exp"):
        assert key in info, f"xet-read-token JSON lacks {key}: {info}"

    for version in ("v1", "v2"):
        url = f"{info['casUrl']}/{version}/reconstructions/{xet_hash}"
        status, body = cas_get(url, info["accessToken"], f"bytes=0-{size - 1}")
        assert status in (401, 403, 404), f"GET {url} with bob's token for bob/xa-own -> {status} {body[:500]!r}"

    status, headers, body = server.request("GET", "/api/models/alice/xa-private/xet-read-token/main", token=bob)
    assert status == 404, f"bob got a read token for alice's private repo: {status} {body[:300]!r}"
    status, headers, body = server.request("GET", "/api/models/alice/xa-private/xet-write-token/main", token=bob)
    assert status == 404, f"bob got a write token for alice's private repo: {status} {body[:300]!r}"

    # Bob uploads the very same bytes himself; he gets a working copy.
    scenario(server, tmp_path, "bob_copy", SETUP, user="bob", params={"repo": "bob/xa-copy", "size": size, "seed": seed})


def test_admin_stats_require_admin(server):
    status, _, body = server.request("GET", "/api/admin/stats")
    assert status == 401, f"anonymous GET /api/admin/stats -> {status} {body[:300]!r}"
    status, _, body = server.request("GET", "/api/admin/stats", token=server.token("bob"))
    assert status == 403, f"non-admin GET /api/admin/stats -> {status} {body[:300]!r}"
    stats = server.stats()
    assert isinstance(stats.get("xorbBytes"), int), f"stats: {stats}"
