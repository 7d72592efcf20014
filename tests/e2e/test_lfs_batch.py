"""The LFS batch API at the HTTP level: the `xet` transfer (the answer
git-xet and huggingface_hub 1.0-1.19 ask for) with a CAS token that hf_xet
then really uploads with, transfer negotiation, and the scoping of objects
and signed hrefs to one repo.
"""

import json
import subprocess
import time

from lfs_helpers import batch, create_repo, download_href, http, lfs_url, oid_of, random_bytes, upload_basic
from tessera_server import scenario

def xet_hash(server, tmp_path, data: bytes) -> str:
    """The Xet file hash of `data`, from `tessera xet hash`."""
    path = tmp_path / f"hash-{oid_of(data)[:12]}.bin"
    path.write_bytes(data)
    result = subprocess.run([str(server.binary), "xet", "hash", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[0]


XET_UPLOAD = """
import hf_xet
from huggingface_hub import hf_hub_download

action = PARAMS["action"]
header = action["header"]
path = Path("x.bin")
sha = write_random(path, PARAMS["size"], PARAMS["seed"])
check(sha == PARAMS["oid"], "the bytes the batch was asked about")
session = hf_xet.XetSession()
# As git-xet does: the CAS URL and token from the batch answer's headers,
# the href as the token refresh route.
with session.new_upload_commit(
    endpoint=header["X-Xet-Cas-Url"],
    token=header["X-Xet-Access-Token"],
    token_expiry_unix_secs=int(header["X-Xet-Token-Expiration"]),
    token_refresh_url=action["href"],
    token_refresh_headers={"Authorization": "Bearer " + os.environ["HF_TOKEN"]},
) as commit:
    handle = commit.start_upload_file(str(path))
info = handle.result().xet_info
check(info.sha256 == sha, f"hf_xet's sha256 {info.sha256}")
log(f"uploaded through the CAS: xet hash {info.hash}")

# The commit names the object by its sha256 only; the server knows it from the shard.
import urllib.request
lines = [
    {"key": "header", "value": {"summary": "x.bin through the LFS xet transfer"}},
    {"key": "lfsFile", "value": {"path": "x.bin", "algo": "sha256", "oid": sha, "size": PARAMS["size"]}},
]
request = urllib.request.Request(
    f"{ENDPOINT}/api/models/{PARAMS['repo']}/commit/main",
    data="\\n".join(json.dumps(line) for line in lines).encode(),
    headers={"Authorization": "Bearer " + os.environ["HF_TOKEN"], "Content-Type": "application/x-ndjson"},
    method="POST",
)
with urllib.request.urlopen(request) as response:
    log("commit", response.status, response.read()[:200])
check(sha256_file(hf_hub_download(PARAMS["repo"], "x.bin")) == sha, "download of the committed file")
log("xet transfer ok")
"""


def test_xet_transfer_token_uploads_through_the_cas(server, tmp_path):
    repo = "alice/e2e-lfs-xet"
    create_repo(server, "alice", "e2e-lfs-xet", private=True)
    size, seed = 3 * 1024 * 1024 + 11, 77
    oid = oid_of(random_bytes(size, seed))
    stored = random_bytes(5000, 78)
    stored_oid = upload_basic(server, repo, server.token("alice"), stored)

    reply = batch(server, repo, "upload", [(stored_oid, len(stored)), (oid, size)], token=server.token("alice"),
                  transfers=("basic", "multipart", "xet"))
    assert reply.status == 200, reply
    assert reply.headers["content-type"] == "application/vnd.git-lfs+json"
    answer = reply.json()
    assert answer["transfer"] == "xet", answer
    assert "actions" not in answer["objects"][0], f"an object the repo holds needs no upload: {answer}"
    action = answer["objects"][1]["actions"]["upload"]
    assert action["href"] == f"{server.endpoint}/api/models/{repo}/xet-write-token/main", action
    header = action["header"]
    assert set(header) == {"X-Xet-Cas-Url", "X-Xet-Access-Token", "X-Xet-Token-Expiration", "X-Xet-Session-Id"}, header
    assert header["X-Xet-Cas-Url"] == server.endpoint
    assert int(header["X-Xet-Token-Expiration"]) > time.time() + 600, header

    # The href is the repo's token route: it answers the owner, nobody else.
    refreshed = http(action["href"], token=server.token("alice"))
    assert refreshed.status == 200 and refreshed.json()["casUrl"] == server.endpoint, refreshed
    assert http(action["href"], token=server.token("bob")).status == 404
    # The CAS takes it (a forged one is refused) and reads the repo's files with it.
    token = header["X-Xet-Access-Token"]
    stored_hash = xet_hash(server, tmp_path, stored)
    cas = http(f"{server.endpoint}/v1/reconstructions/{stored_hash}", token=token)
    assert cas.status == 200 and cas.json()["terms"], f"CAS GET with the batch token: {cas}"
    assert http(f"{server.endpoint}/v1/reconstructions/{stored_hash}", token=token + "x").status == 401

    # hf_xet uploads with it, the commit references the sha256, and the file downloads.
    scenario(server, tmp_path, "xet_upload", XET_UPLOAD,
             params={"action": action, "size": size, "seed": seed, "oid": oid, "repo": repo})
    # Now the repo holds it: nothing to upload, and the basic download bridge serves it.
    again = batch(server, repo, "upload", [(oid, size)], token=server.token("alice"), transfers=("xet",)).json()
    assert "actions" not in again["objects"][0], again
    got = http(download_href(server, repo, server.token("alice"), oid, size))
    assert got.status == 200 and oid_of(got.body) == oid


def test_transfer_negotiation(server, tmp_path):
    repo = "alice/e2e-lfs-transfers"
    create_repo(server, "alice", "e2e-lfs-transfers")
    data = random_bytes(2000, 5)
    oid = upload_basic(server, repo, server.token("alice"), data)
    alice = server.token("alice")

    reply = batch(server, repo, "download", [(oid, len(data))], token=alice, transfers=("basic", "xet"))
    assert reply.status == 200 and reply.json()["transfer"] == "basic", reply
    assert http(reply.json()["objects"][0]["actions"]["download"]["href"]).body == data
    reply = batch(server, repo, "download", [(oid, len(data))], token=alice, transfers=("xet",))
    assert reply.status == 422 and "basic" in reply.json()["message"], reply
    reply = batch(server, repo, "upload", [(oid_of(b"new"), 3)], token=alice, transfers=("tus", "multipart"))
    assert reply.status == 422 and "basic or xet" in reply.json()["message"], reply
    # Other refs name their own token route; a read token gets no write token.
    reply = batch(server, repo, "upload", [(oid_of(b"new"), 3)], token=alice, transfers=("xet",), ref="refs/heads/v2")
    assert reply.json()["objects"][0]["actions"]["upload"]["href"].endswith("/xet-write-token/v2"), reply
    reader = server.create_token("alice", "read")
    assert batch(server, repo, "upload", [(oid_of(b"new"), 3)], token=reader, transfers=("xet",)).status == 403
    # Datasets answer under their prefix, with their own token route.
    create_repo(server, "alice", "e2e-lfs-transfers", repo_type="dataset")
    reply = batch(server, "datasets/" + repo, "upload", [(oid, len(data))], token=alice, transfers=("xet",))
    href = reply.json()["objects"][0]["actions"]["upload"]["href"]
    assert href == f"{server.endpoint}/api/datasets/{repo}/xet-write-token/main", reply


def test_objects_and_hrefs_are_scoped_to_one_repo(server, tmp_path):
    private, public = "alice/e2e-lfs-secret", "bob/e2e-lfs-scope"
    create_repo(server, "alice", "e2e-lfs-secret", private=True)
    create_repo(server, "bob", "e2e-lfs-scope")
    alice, bob = server.token("alice"), server.token("bob")
    secret = random_bytes(200_000, 11)
    size = len(secret)
    secret_oid = upload_basic(server, private, alice, secret)
    alice_download = download_href(server, private, alice, secret_oid, size)

    # Bob cannot reach alice's private repo at all; anonymous callers are asked to log in.
    assert batch(server, private, "download", [(secret_oid, size)], token=bob).status == 404
    assert batch(server, private, "upload", [(secret_oid, size)], token=bob).status == 404
    reply = batch(server, private, "download", [(secret_oid, size)])
    assert reply.status == 401 and reply.headers.get("www-authenticate") == 'Basic realm="Tessera"', reply

    # In his own repo, alice's object does not exist, whatever he knows of it.
    reply = batch(server, public, "download", [(secret_oid, size)], token=bob)
    assert reply.status == 200, reply
    entry = reply.json()["objects"][0]
    assert entry.get("error", {}).get("code") == 404 and "actions" not in entry, entry
    reply = batch(server, public, "upload", [(secret_oid, size)], token=bob).json()
    bob_upload = reply["objects"][0]["actions"]["upload"]["href"]
    # Nor can he commit it without sending the bytes.
    lines = [{"key": "header", "value": {"summary": "steal"}},
             {"key": "lfsFile", "value": {"path": "s.bin", "algo": "sha256", "oid": secret_oid, "size": size}}]
    commit = http(f"{server.endpoint}/api/models/{public}/commit/main", "POST", token=bob,
                  body="\n".join(json.dumps(line) for line in lines).encode(), content_type="application/x-ndjson")
    assert commit.status == 422, commit

    # Hrefs are signed for one action on one object of one repo: bob's, bent
    # towards alice's repo or object, are refused.
    alice_repo_id = alice_download.split("/api/lfs/objects/", 1)[1].split("/", 1)[0]
    bob_repo_id = bob_upload.split("/api/lfs/objects/", 1)[1].split("/", 1)[0]
    assert alice_repo_id != bob_repo_id
    at_alice = bob_upload.replace(f"/objects/{bob_repo_id}/", f"/objects/{alice_repo_id}/")
    for body in (random_bytes(size, 12), secret):
        reply = http(at_alice, "PUT", body=body, content_type="application/octet-stream")
        assert reply.status == 403, f"PUT into alice's repo with bob's href: {reply}"
    assert http(at_alice).status == 403, "an upload href is no download href"
    own = random_bytes(3000, 13)
    own_oid = upload_basic(server, public, bob, own)
    bob_download = download_href(server, public, bob, own_oid, len(own))
    for forged in (
        bob_download.replace(f"/objects/{bob_repo_id}/", f"/objects/{alice_repo_id}/"),
        bob_download.replace(own_oid, secret_oid),
        bob_download.replace(own_oid, secret_oid).replace(f"size={len(own)}", f"size={size}"),
        bob_download.replace(f"/objects/{bob_repo_id}/", f"/objects/{alice_repo_id}/").replace(own_oid, secret_oid),
        alice_download.replace("sig=", "sig=A"),
    ):
        reply = http(forged)
        assert reply.status == 403, f"GET {forged.split('?')[0]}: {reply}"
    # The CAS tokens of xet batches are per repo too: alice's reads her
    # object's Xet file, bob's does not.
    secret_hash = xet_hash(server, tmp_path, secret)
    for repo, token, expected in ((private, alice, 200), (public, bob, 404)):
        reply = batch(server, repo, "upload", [(oid_of(b"x"), 1)], token=token, transfers=("xet",)).json()
        cas_token = reply["objects"][0]["actions"]["upload"]["header"]["X-Xet-Access-Token"]
        reply = http(f"{server.endpoint}/v1/reconstructions/{secret_hash}", token=cas_token)
        assert reply.status == expected, f"reconstruction of alice's object with the token of {repo}: {reply}"

    # Sending the bytes himself, with his own href, gives bob his own copy;
    # alice's object is unchanged.
    reply = http(bob_upload, "PUT", body=secret, content_type="application/octet-stream")
    assert reply.status == 200, reply
    assert http(download_href(server, public, bob, secret_oid, size)).body == secret
    got = http(download_href(server, private, alice, secret_oid, size))
    assert got.status == 200 and got.body == secret
    assert lfs_url(server, private).endswith("/alice/e2e-lfs-secret.git/info/lfs")
