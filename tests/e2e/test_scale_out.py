"""Stateless scale-out: two `tessera serve` processes share one Postgres
database and one S3 bucket, each with its own port and data dir.

Runs only with TESSERA_TEST_BACKEND=postgres-s3 (scripts/test's second pass):
an upload through one downloads through the other; 20 concurrent commits to
one branch, split across both, all land; a stale parent gets 412; a git push
through one clones through the other, and an API commit through one is
fetched through the other, also after its git cache is deleted; and wiping
either process's data dir (its local caches and temp files) loses nothing.
"""

import base64
import json
import os
import shutil
import subprocess

import pytest

from tessera_server import TesseraServer, scenario

pytestmark = pytest.mark.postgres_s3

REPO = "alice/scale-out"
COMMITS = 20
# (path, size, seed): one regular file and two Xet files.
FILES = [("small.bin", 300, 1), ("w1.bin", 3 * 1024 * 1024 + 11, 2), ("sub/w2.bin", 1024 * 1024 + 5, 3)]

UPLOAD = """
from huggingface_hub import CommitOperationAdd, HfApi
api = HfApi()
api.create_repo(PARAMS["repo"])
ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=random_bytes(n, s)) for p, n, s in PARAMS["files"]]
info = api.create_commit(PARAMS["repo"], operations=ops, commit_message="initial")
log("uploaded", info.oid)
"""

# Every file of the repo at `head` downloads byte-equal: the uploaded ones and the c/NN.txt ones.
DOWNLOAD_ALL = """
from huggingface_hub import HfApi, hf_hub_download
api = HfApi()
repo = PARAMS["repo"]
head = api.repo_info(repo).sha
check(head == PARAMS.get("head", head), f"head is {head}, expected {PARAMS.get('head')}")
files = set(api.list_repo_files(repo))
uploaded = {p: (n, s) for p, n, s in PARAMS["files"]}
check(set(uploaded) <= files, f"missing files: {sorted(set(uploaded) - files)}")
for p in sorted(files):
    got = Path(hf_hub_download(repo, p, revision=head)).read_bytes()
    if p in uploaded:
        check(got == random_bytes(*uploaded[p]), f"{p}: {len(got)} bytes differ from the upload")
    elif p.startswith("c/"):
        check(got == f"commit {int(p[2:4])}\\n".encode(), f"{p}: {got!r}")
log(f"all {len(files)} files byte-equal through {ENDPOINT} at {head}")
print("HEAD=" + head)
"""

CONCURRENT_COMMITS = """
import threading
from concurrent.futures import ThreadPoolExecutor
from huggingface_hub import CommitOperationAdd, HfApi

repo, n = PARAMS["repo"], PARAMS["commits"]
apis = [HfApi(endpoint=e) for e in PARAMS["endpoints"]]
before = [c.commit_id for c in apis[0].list_repo_commits(repo)]
barrier = threading.Barrier(n)

def commit(i):
    api = apis[i % len(apis)]
    barrier.wait(timeout=60)
    try:
        info = api.create_commit(
            repo,
            operations=[CommitOperationAdd(path_in_repo=f"c/{i:02d}.txt", path_or_fileobj=f"commit {i}\\n".encode())],
            commit_message=f"concurrent {i} via {api.endpoint}",
        )
        return info.oid
    except Exception as err:  # noqa: BLE001
        return err

with ThreadPoolExecutor(max_workers=n) as pool:
    results = list(pool.map(commit, range(n)))
failed = [(i, r) for i, r in enumerate(results) if isinstance(r, Exception)]
for i, err in failed:
    log(f"commit {i} via {apis[i % len(apis)].endpoint} failed: {str(err).splitlines()[0]}")
check(not failed, f"{len(failed)} of {n} concurrent commits without a parent failed")
oids = results
check(len(set(oids)) == n, f"{n} commits gave {len(set(oids))} distinct ids: {oids}")

for api in apis:
    after = [c.commit_id for c in api.list_repo_commits(repo)]
    check(len(after) == len(before) + n, f"{api.endpoint}: {len(after)} commits, expected {len(before)} + {n}")
    check(set(oids) <= set(after), f"{api.endpoint}: commits missing from the history: {sorted(set(oids) - set(after))}")
    files = set(api.list_repo_files(repo))
    missing = [f"c/{i:02d}.txt" for i in range(n) if f"c/{i:02d}.txt" not in files]
    check(not missing, f"{api.endpoint}: files lost: {missing}")
log(f"{n} concurrent commits across {len(apis)} servers all landed")
"""

STALE_PARENT = """
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError

repo = PARAMS["repo"]
a, b = (HfApi(endpoint=e) for e in PARAMS["endpoints"])
old = a.repo_info(repo).sha
a.create_commit(repo, operations=[CommitOperationAdd(path_in_repo="moved.txt", path_or_fileobj=b"moved")], commit_message="move main via A")
# Through B, on the parent A has just moved main away from: 412.
expect_error(
    HfHubHTTPError,
    b.create_commit,
    repo,
    operations=[CommitOperationAdd(path_in_repo="stale.txt", path_or_fileobj=b"stale")],
    commit_message="stale parent",
    parent_commit=old,
    status=412,
)
check("stale.txt" not in b.list_repo_files(repo), "the stale commit landed")
# The current head as parent works through B.
b.create_commit(
    repo,
    operations=[CommitOperationAdd(path_in_repo="fresh.txt", path_or_fileobj=b"fresh")],
    commit_message="fresh parent",
    parent_commit=a.repo_info(repo).sha,
)
log("stale parent rejected with 412; the current parent accepted")
"""


@pytest.fixture(scope="module")
def pair(tessera_bin, tmp_path_factory):
    """Servers A and B on one Postgres database and one S3 bucket, own data dirs and ports."""
    base = tmp_path_factory.mktemp("scale-out")
    a = TesseraServer(tessera_bin, base_dir=base / "a")
    a.start()
    b = TesseraServer(tessera_bin, base_dir=base / "b", shared_with=a)
    try:
        b.start()
        print(f"A at {a.endpoint}, B at {b.endpoint}, both on {a.backend.label}")
        yield a, b
    finally:
        b.stop()
        a.stop()


@pytest.fixture(scope="module")
def uploaded(pair, tmp_path_factory):
    a, _ = pair
    scenario(a, tmp_path_factory.mktemp("scale-out-upload"), "upload_via_a", UPLOAD, params={"repo": REPO, "files": FILES})
    return REPO


def test_upload_through_one_downloads_through_the_other(pair, uploaded, tmp_path):
    a, b = pair
    scenario(b, tmp_path, "download_via_b", DOWNLOAD_ALL, params={"repo": uploaded, "files": FILES})


def test_concurrent_commits_split_across_both_servers_all_land(pair, uploaded, tmp_path):
    a, b = pair
    scenario(
        a,
        tmp_path,
        "concurrent_commits",
        CONCURRENT_COMMITS,
        params={"repo": uploaded, "commits": COMMITS, "endpoints": [a.endpoint, b.endpoint]},
        timeout=300,
    )


def test_stale_parent_gets_412_through_the_other_server(pair, uploaded, tmp_path):
    a, b = pair
    scenario(a, tmp_path, "stale_parent", STALE_PARENT, params={"repo": uploaded, "endpoints": [a.endpoint, b.endpoint]})


def run_git(*args, cwd, home):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "alice",
        "GIT_AUTHOR_EMAIL": "alice@example.com",
        "GIT_COMMITTER_NAME": "alice",
        "GIT_COMMITTER_EMAIL": "alice@example.com",
    }
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"git {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout.strip()


def test_git_push_through_one_is_served_by_the_other(pair, tmp_path):
    a, b = pair
    token = a.token("alice")
    status, _, body = a.request(
        "POST", "/api/repos/create", token=token, body=json.dumps({"name": "git-scale", "type": "model"}).encode()
    )
    assert status == 200, body
    home = tmp_path / "home"
    home.mkdir()

    def remote(server):
        return f"http://alice:{token}@{server.endpoint.split('://', 1)[1]}/alice/git-scale"

    run_git("clone", "-q", remote(a), str(tmp_path / "via-a"), cwd=tmp_path, home=home)
    (tmp_path / "via-a" / "notes.txt").write_text("pushed through A\n")
    run_git("add", "notes.txt", cwd=tmp_path / "via-a", home=home)
    run_git("commit", "-q", "-m", "through A", cwd=tmp_path / "via-a", home=home)
    run_git("push", "-q", "origin", "main", cwd=tmp_path / "via-a", home=home)
    pushed = run_git("rev-parse", "HEAD", cwd=tmp_path / "via-a", home=home)

    run_git("clone", "-q", remote(b), str(tmp_path / "via-b"), cwd=tmp_path, home=home)
    assert run_git("rev-parse", "HEAD", cwd=tmp_path / "via-b", home=home) == pushed
    assert (tmp_path / "via-b" / "notes.txt").read_text() == "pushed through A\n"

    # An API commit through B is fetched through A, even with A's git cache gone.
    shutil.rmtree(a.data_dir / "cache", ignore_errors=True)
    content = base64.b64encode(b"committed through B\n").decode()
    lines = [
        {"key": "header", "value": {"summary": "through B", "parentCommit": pushed}},
        {"key": "file", "value": {"path": "api.txt", "content": content, "encoding": "base64"}},
    ]
    status, _, body = b.request(
        "POST", "/api/models/alice/git-scale/commit/main", token=token,
        body="\n".join(json.dumps(line) for line in lines).encode(),
    )
    assert status == 200, body
    committed = json.loads(body)["commitOid"]
    run_git("pull", "-q", "--ff-only", "origin", "main", cwd=tmp_path / "via-a", home=home)
    assert run_git("rev-parse", "HEAD", cwd=tmp_path / "via-a", home=home) == committed
    assert (tmp_path / "via-a" / "api.txt").read_text() == "committed through B\n"


def test_wiping_either_servers_data_dir_loses_nothing(pair, uploaded, tmp_path):
    a, b = pair
    result = scenario(b, tmp_path, "before_wipe", DOWNLOAD_ALL, params={"repo": uploaded, "files": FILES})
    head = next(line.split("=", 1)[1] for line in result.stdout.splitlines() if line.startswith("HEAD="))
    for name, server in (("a", a), ("b", b)):
        assert server.stop() == 0, f"server {name} did not exit cleanly:\n{server.log_tail()}"
        shutil.rmtree(server.data_dir)
        server.start()
        print(f"{name} restarted on an empty data dir at {server.endpoint}")
        params = {"repo": uploaded, "files": FILES, "head": head}
        scenario(server, tmp_path, f"download_via_{name}_after_wipe", DOWNLOAD_ALL, params=params)
