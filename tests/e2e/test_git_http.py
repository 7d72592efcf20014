"""git smart HTTP: the real `git` (2.47) and `git-lfs` (3.3) of the machine
against a real `tessera serve`, side by side with huggingface_hub.

Clones and fetches over protocol v2 and v0 (with and without `.git`, under
`/datasets/`), pushes of plain and LFS files (git-lfs uploads through the LFS
batch API at `{repo}.git/info/lfs/objects/batch`), and what the other surface
then sees: files pushed by git download with `hf_hub_download` (the LFS ones
through Xet), files uploaded with huggingface_hub clone and `git lfs pull`
byte-equal. Then the rules: private repos challenge anonymous git with 401,
readers and non-owners get 403, files over 10 MiB outside LFS and LFS
pointers to objects never uploaded are refused with a `remote:` message, a
push racing an API commit on one branch either wins or is rejected cleanly
(never both, never neither), force-pushes, branches, tags and deletions
fetch as git expects, `main` cannot be deleted, and shallow and partial
clones fetch (and push) as they do from any git server, and a hand-built
push cannot reach another repo's objects by naming their ids.

Every git command runs through git_client.GitClient (an isolated HOME with
`git lfs install`, credentials from a credential helper); every test uses its
own repos.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from git_client import GitClient, describe_git, repo_url, sha256_file, write_random
from tessera_server import describe, run_scenario, scenario, tree_files

MIB = 1024 * 1024
LFS_SPEC = "version https://git-lfs.github.com/spec/v1"


# ---------------------------------------------------------------- helpers


def client(tmp_path: Path, name: str, server, user: str | None = "alice", token: str | None = None) -> GitClient:
    """A git client as `user` with their write token (or `token`); user=None: no credentials."""
    if user is not None and token is None:
        token = server.token(user)
    return GitClient(tmp_path / f"git-{name}", username=user, token=token, name=name)


def create_repos(server, tmp_path, name: str, repos: list[dict], user: str = "alice") -> None:
    """Creates repos through huggingface_hub: dicts with repo, and optionally type and private."""
    scenario(
        server,
        tmp_path,
        name,
        """
        from huggingface_hub import HfApi
        api = HfApi()
        for spec in PARAMS["repos"]:
            url = api.create_repo(spec["repo"], repo_type=spec.get("type"), private=spec.get("private", False))
            log("created", url)
        """,
        user=user,
        params={"repos": repos},
    )


def api_json(server, path: str, user: str | None = "alice"):
    """GET an API path as `user`; requires 200."""
    status, headers, body = server.request("GET", path, token=server.token(user) if user else None)
    assert status == 200, f"GET {path} (as {user}) -> {status} {headers}\n{body[:2000]!r}"
    return json.loads(body)


def api_head(server, repo: str, repo_type: str = "model") -> str:
    """The commit `main` points at, as the Hub API reports it."""
    return api_json(server, f"/api/{repo_type}s/{repo}")["sha"]


def api_tree(server, repo: str, path: str = "", repo_type: str = "model") -> dict[str, dict]:
    """path -> entry of `GET /api/{type}s/{repo}/tree/main[/path]`."""
    suffix = f"/{path}" if path else ""
    return {entry["path"]: entry for entry in api_json(server, f"/api/{repo_type}s/{repo}/tree/main{suffix}")}


def api_branches(server, repo: str) -> dict[str, str]:
    return {b["name"]: b["targetCommit"] for b in api_json(server, f"/api/models/{repo}/refs")["branches"]}


def head(git: GitClient, work: Path, rev: str = "HEAD") -> str:
    return git.out("rev-parse", rev, cwd=work)


def commit_all(git: GitClient, work: Path, message: str) -> str:
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return head(git, work)


def assert_failed(result, *needles: str, what: str) -> None:
    """A git command that must fail, its stderr naming every needle (case-insensitive)."""
    assert result.returncode != 0, describe_git(result, f"{what}: expected a failure, but")
    text = result.stderr.lower()
    missing = [n for n in needles if n.lower() not in text]
    assert not missing, describe_git(result, f"{what}: stderr lacks {missing}:")


def assert_same_worktree(expected: Path, actual: Path) -> None:
    """Every file of two work trees (outside .git) byte-equal."""
    want = tree_files(expected, skip_dirs=(".git",))
    got = tree_files(actual, skip_dirs=(".git",))
    assert sorted(want) == sorted(got), f"work trees differ: {expected}: {sorted(want)}\n{actual}: {sorted(got)}"
    different = [p for p in want if want[p].read_bytes() != got[p].read_bytes()]
    assert not different, f"files differ between {expected} and {actual}: {different}"


def assert_lfs_entry(entry: dict, sha256: str, size: int) -> None:
    lfs = entry.get("lfs") or {}
    assert lfs.get("oid") == sha256 and lfs.get("size") == size and entry.get("size") == size, (
        f"tree entry of {entry.get('path')}: expected an LFS file sha256:{sha256} of {size} bytes, got {entry}"
    )


# Downloads with huggingface_hub: every file byte-equal (by sha256), the LFS ones through Xet.
DOWNLOAD = """
from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_download, hf_hub_url
repo, repo_type, revision = PARAMS["repo"], PARAMS.get("type"), PARAMS["revision"]
for path, want in PARAMS["files"].items():
    got = sha256_file(hf_hub_download(repo, path, repo_type=repo_type, revision=revision))
    check(got == want, f"{path}: downloaded sha256 {got}, expected {want}")
    log(f"{path}: byte-equal")
for path in PARAMS["xet"]:
    meta = get_hf_file_metadata(hf_hub_url(repo, path, repo_type=repo_type, revision=revision))
    check(meta.xet_file_data is not None, f"{path}: resolve offers no Xet hash (headers: {meta})")
    log(f"{path}: served through Xet ({meta.xet_file_data.file_hash})")
"""


def download_and_compare(server, tmp_path, name, repo, revision, files: dict[str, str], xet=(), repo_type=None, user="alice"):
    scenario(
        server,
        tmp_path,
        name,
        DOWNLOAD,
        user=user,
        params={"repo": repo, "type": repo_type, "revision": revision, "files": files, "xet": list(xet)},
    )


# ---------------------------------------------------------------- 1. clone, push, clone again
def test_clone_v2_and_v0_push_lfs_and_text_then_clone_and_download(server, tmp_path):
    repo = "alice/git-roundtrip"
    create_repos(server, tmp_path, "create", [{"repo": repo}])
    initial = api_head(server, repo)
    git = client(tmp_path, "alice", server)

    # Protocol v2 (git's default), v0, and the `.git` suffix: the same one commit with .gitattributes.
    clones = {
        "v2": (["clone"], repo_url(server, repo)),
        "v0": (["-c", "protocol.version=0", "clone"], repo_url(server, repo)),
        "v2-dot-git": (["clone"], repo_url(server, repo, dot_git=True)),
        "v0-dot-git": (["-c", "protocol.version=0", "clone"], repo_url(server, repo, dot_git=True)),
    }
    for label, (args, url) in clones.items():
        work = tmp_path / f"clone-{label}"
        result = git(*args, url, work, env={"GIT_TRACE_PACKET": "1"})
        spoke_v2 = "< version 2" in result.stderr
        assert spoke_v2 == label.startswith("v2"), describe_git(result, f"clone {label}: protocol v2 used={spoke_v2}; the trace")
        assert head(git, work) == initial, f"clone {label}: HEAD {head(git, work)}, the API says main is {initial}"
        assert git.out("symbolic-ref", "HEAD", cwd=work) == "refs/heads/main"
        files = sorted(tree_files(work, skip_dirs=(".git",)))
        assert files == [".gitattributes"], f"clone {label}: files {files}"
        attributes = (work / ".gitattributes").read_text()
        assert "*.bin filter=lfs" in attributes and "*.safetensors filter=lfs" in attributes, attributes

    # Push an LFS file and a text file in a subdirectory from the v2 clone.
    work = tmp_path / "clone-v2"
    git("lfs", "track", "*.bin", cwd=work)
    bin_sha = write_random(work / "weights" / "model.bin", 3 * MIB + 17, seed=101)
    (work / "docs" / "notes").mkdir(parents=True)
    (work / "docs" / "notes" / "readme.txt").write_text("pushed with git\nsecond line\n")
    pushed = commit_all(git, work, "weights and notes")
    lfs_files = git.out("lfs", "ls-files", "-n", cwd=work).splitlines()
    assert lfs_files == ["weights/model.bin"], f"git lfs ls-files: {lfs_files}"
    push = git("push", "origin", "main", cwd=work)
    print(push.stderr)
    assert api_head(server, repo) == pushed, f"after the push, the API says main is {api_head(server, repo)}, pushed {pushed}"

    # A fresh clone (its own HOME; over v0 with .git, smudged by git-lfs) is byte-equal.
    other = client(tmp_path, "alice-2", server)
    again = tmp_path / "clone-again"
    other("-c", "protocol.version=0", "clone", repo_url(server, repo, dot_git=True), again)
    assert head(other, again) == pushed
    assert_same_worktree(work, again)
    assert sha256_file(again / "weights" / "model.bin") == bin_sha
    # And so is a v2 clone whose objects come from the server's cache.
    third = tmp_path / "clone-third"
    other("clone", repo_url(server, repo), third)
    assert_same_worktree(work, third)

    # The Hub API sees the push: the tree, with the LFS file's sha256, and the downloads.
    top = api_tree(server, repo)
    assert set(top) == {".gitattributes", "weights", "docs"}, f"tree/main: {sorted(top)}"
    assert_lfs_entry(api_tree(server, repo, "weights")["weights/model.bin"], bin_sha, 3 * MIB + 17)
    notes = api_tree(server, repo, "docs/notes")
    assert "docs/notes/readme.txt" in notes and notes["docs/notes/readme.txt"].get("lfs") is None, f"tree/main/docs/notes: {notes}"
    text_sha = sha256_file(work / "docs" / "notes" / "readme.txt")
    files = {"weights/model.bin": bin_sha, "docs/notes/readme.txt": text_sha, ".gitattributes": sha256_file(work / ".gitattributes")}
    download_and_compare(server, tmp_path, "download", repo, pushed, files, xet=["weights/model.bin"])


# ---------------------------------------------------------------- 2. Xet upload, git clone + lfs pull
def test_xet_upload_then_git_clone_lfs_pull_and_fetch(server, tmp_path):
    repo = "alice/git-from-xet"
    src = tmp_path / "src"
    size = 12 * MIB + 3
    weights_sha = write_random(src / "model.safetensors", size, seed=202)
    (src / "config.json").write_text('{"hidden_size": 64}\n')
    scenario(
        server,
        tmp_path,
        "upload",
        """
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo(PARAMS["repo"])
        api.upload_file(path_or_fileobj=PARAMS["weights"], path_in_repo="model.safetensors", repo_id=PARAMS["repo"])
        api.upload_file(path_or_fileobj=PARAMS["config"], path_in_repo="config.json", repo_id=PARAMS["repo"])
        log("uploaded; head", api.repo_info(PARAMS["repo"]).sha)
        """,
        params={"repo": repo, "weights": str(src / "model.safetensors"), "config": str(src / "config.json")},
    )
    assert_lfs_entry(api_tree(server, repo)["model.safetensors"], weights_sha, size)

    # Clone without smudging: the work tree holds the pointer the server stores.
    git = client(tmp_path, "alice", server)
    work = tmp_path / "clone"
    git("clone", repo_url(server, repo), work, env={"GIT_LFS_SKIP_SMUDGE": "1"})
    pointer = (work / "model.safetensors").read_text()
    assert pointer == f"{LFS_SPEC}\noid sha256:{weights_sha}\nsize {size}\n", f"pointer in the clone: {pointer!r}"
    assert (work / "config.json").read_bytes() == (src / "config.json").read_bytes()

    # `git lfs pull` fetches the Xet-uploaded object through the LFS batch API.
    pull = git("lfs", "pull", cwd=work)
    print(pull.stdout, pull.stderr)
    assert sha256_file(work / "model.safetensors") == weights_sha, "git lfs pull gave other bytes than the Xet upload"
    # The stored pointer is byte-identical to what git-lfs's clean filter makes: the work tree is clean.
    status = git.out("status", "--porcelain", cwd=work)
    assert status == "", f"git status after git lfs pull is not clean (pointer not canonical?):\n{status}"

    # A second API commit; git fetch + fast-forward lands on the API's head.
    result = scenario(
        server,
        tmp_path,
        "second_commit",
        """
        from huggingface_hub import HfApi
        api = HfApi()
        info = api.upload_file(path_or_fileobj=b"second commit\\n", path_in_repo="notes/second.txt", repo_id=PARAMS["repo"])
        commits = api.list_repo_commits(PARAMS["repo"])
        check(commits[0].commit_id == info.oid, f"list_repo_commits head {commits[0].commit_id} != commit {info.oid}")
        print(f"HEAD={commits[0].commit_id}")
        print(f"COMMITS={len(commits)}")
        """,
        params={"repo": repo},
    )
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if line.startswith(("HEAD=", "COMMITS=")))
    git("fetch", "origin", cwd=work)
    git("merge", "--ff-only", "origin/main", cwd=work)
    assert head(git, work) == values["HEAD"], f"after fetch + merge --ff-only HEAD is {head(git, work)}, the API's head is {values['HEAD']}"
    assert (work / "notes" / "second.txt").read_bytes() == b"second commit\n"
    count = git.out("rev-list", "--count", "HEAD", cwd=work)
    assert count == values["COMMITS"], f"git counts {count} commits, list_repo_commits {values['COMMITS']}"
    assert sha256_file(work / "model.safetensors") == weights_sha


# ---------------------------------------------------------------- 3. git lfs push, pointers to missing objects
def test_git_lfs_push_then_hf_hub_download(server, tmp_path):
    repo = "alice/git-lfs-push"
    create_repos(server, tmp_path, "create", [{"repo": repo}])
    git = client(tmp_path, "alice", server)
    work = tmp_path / "clone"
    git("clone", repo_url(server, repo), work)
    before = head(git, work)
    size = 5 * MIB + 1
    sha = write_random(work / "ckpt" / "model.safetensors", size, seed=303)
    commit = commit_all(git, work, "checkpoint")

    # Without the pre-push hook git-lfs uploads nothing: the pointer names an object the repo lacks.
    refused = git("push", "--no-verify", "origin", "main", cwd=work, check=False)
    assert_failed(refused, "ckpt/model.safetensors", sha, "git lfs push", "rejected", what="push of a pointer to a missing LFS object")
    assert git.ls_remote(repo_url(server, repo))["refs/heads/main"] == before, "the refused push moved main"

    # `git lfs push` uploads the object through the batch API; then the same push, still
    # without the pre-push hook (so nothing else uploads it), goes through.
    git("lfs", "push", "origin", "main", cwd=work)
    git("push", "--no-verify", "origin", "main", cwd=work)
    assert api_head(server, repo) == commit
    assert_lfs_entry(api_tree(server, repo, "ckpt")["ckpt/model.safetensors"], sha, size)
    download_and_compare(server, tmp_path, "download", repo, commit, {"ckpt/model.safetensors": sha}, xet=["ckpt/model.safetensors"])


# ---------------------------------------------------------------- 4. access
def test_private_repo_challenges_anonymous_git(server, tmp_path):
    repo = "alice/git-private"
    create_repos(server, tmp_path, "create", [{"repo": repo, "private": True}])
    initial = api_head(server, repo)

    # Straight HTTP: 401 with a Basic challenge (also for a name that does not exist: nothing leaks).
    paths = (
        f"/{repo}/info/refs?service=git-upload-pack",
        f"/{repo}.git/info/refs?service=git-receive-pack",
        "/alice/no-such-repo/info/refs?service=git-upload-pack",
    )
    for path in paths:
        status, headers, body = server.request("GET", path)
        challenge = {k.lower(): v for k, v in headers.items()}.get("www-authenticate", "")
        assert status == 401 and challenge.lower().startswith("basic"), f"anonymous GET {path} -> {status} {headers} {body[:500]!r}"

    anonymous = client(tmp_path, "anonymous", server, user=None)
    result = anonymous("clone", repo_url(server, repo), tmp_path / "anon", check=False, env={"GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"})
    assert result.returncode != 0, describe_git(result, "anonymous clone of a private repo: expected a failure, but")
    assert "HTTP/1.1 401" in result.stderr and "could not read Username" in result.stderr, describe_git(
        result, "anonymous clone: no 401 / credential request in"
    )
    assert not (tmp_path / "anon").exists(), "the failed anonymous clone left a directory behind"

    wrong = client(tmp_path, "wrong-token", server, user="alice", token="hf_" + "x" * 34)
    assert_failed(wrong("clone", repo_url(server, repo), tmp_path / "wrong", check=False), "Authentication failed", what="clone with an unknown token")

    # The owner's token in the URL (no credential helper), and a read token through the helper, both clone.
    anonymous("clone", repo_url(server, repo, user="alice", token=server.token("alice")), tmp_path / "owner")
    assert head(anonymous, tmp_path / "owner") == initial
    reader = client(tmp_path, "alice-read", server, token=server.create_token("alice", "read"))
    reader("clone", repo_url(server, repo), tmp_path / "reader")
    assert head(reader, tmp_path / "reader") == initial

    # Another signed-in user does not see it.
    bob = client(tmp_path, "bob", server, user="bob")
    assert_failed(bob("clone", repo_url(server, repo), tmp_path / "bob", check=False), "not found", what="bob cloning alice's private repo")


def test_push_needs_a_write_token_and_write_access(server, tmp_path):
    repo = "alice/git-public"
    create_repos(server, tmp_path, "create", [{"repo": repo}])
    initial = api_head(server, repo)
    url = repo_url(server, repo)

    # bob may clone alice's public repo, not push to it.
    bob = client(tmp_path, "bob", server, user="bob")
    work = tmp_path / "bob"
    bob("clone", url, work)
    (work / "from-bob.txt").write_text("bob was here\n")
    commit_all(bob, work, "bob's change")
    assert_failed(bob("push", "origin", "main", cwd=work, check=False), "403", what="bob pushing to alice's repo")

    # alice with a read-scoped token: 403 as well.
    reader = client(tmp_path, "alice-read", server, token=server.create_token("alice", "read"))
    work = tmp_path / "alice-read"
    reader("clone", url, work)
    (work / "from-reader.txt").write_text("read token\n")
    commit = commit_all(reader, work, "pushed with a read token")
    assert_failed(reader("push", "origin", "main", cwd=work, check=False), "403", what="alice pushing with a read token")
    assert api_head(server, repo) == initial, "a refused push moved main"

    # The same commit with alice's write token (in the URL) goes through.
    reader("push", repo_url(server, repo, user="alice", token=server.token("alice")), "main", cwd=work)
    assert api_head(server, repo) == commit
    assert "from-reader.txt" in api_tree(server, repo) and "from-bob.txt" not in api_tree(server, repo)


def test_dataset_prefix_clone_and_push(server, tmp_path):
    repo = "alice/ds1"
    create_repos(server, tmp_path, "create", [{"repo": repo, "type": "dataset"}])
    git = client(tmp_path, "alice", server)
    work = tmp_path / "clone"
    git("clone", repo_url(server, repo, repo_type="dataset"), work)
    attributes = (work / ".gitattributes").read_text()
    assert "*.parquet filter=lfs" in attributes and "*.mp3 filter=lfs" in attributes, f"not the dataset template:\n{attributes}"

    # An LFS file (the template's *.parquet, uploaded through /datasets/…/info/lfs) and a README.
    sha = write_random(work / "data" / "train.parquet", 1 * MIB + 5, seed=404)
    (work / "README.md").write_text("# ds1\n\npushed with git\n")
    commit = commit_all(git, work, "data")
    git("push", "origin", "main", cwd=work)
    assert api_head(server, repo, "dataset") == commit
    assert_lfs_entry(api_tree(server, repo, "data", "dataset")["data/train.parquet"], sha, 1 * MIB + 5)

    again = tmp_path / "again"
    git("clone", repo_url(server, repo, repo_type="dataset", dot_git=True), again)
    assert_same_worktree(work, again)
    files = {"data/train.parquet": sha, "README.md": sha256_file(work / "README.md")}
    download_and_compare(server, tmp_path, "download", repo, commit, files, xet=["data/train.parquet"], repo_type="dataset")

    # Types are separate namespaces: there is no model alice/ds1.
    assert_failed(git("clone", repo_url(server, repo), tmp_path / "as-model", check=False), "not found", what="cloning the dataset as a model")


def test_shallow_and_partial_clones_fetch_and_push(server, tmp_path):
    """`--depth 1` and `--filter=blob:none` clones (upload-pack's shallow and
    filter support), a lazy blob fetch, and a push from the shallow clone."""
    repo = "alice/shallow"
    create_repos(server, tmp_path, "create", [{"repo": repo}])
    git = client(tmp_path, "alice", server)
    url = repo_url(server, repo)
    work = tmp_path / "full"
    git("clone", url, work)
    for number in range(3):
        (work / f"f{number}.txt").write_text(f"version {number}\n")
        commit_all(git, work, f"commit {number}")
    git("push", "origin", "main", cwd=work)

    shallow = tmp_path / "shallow"
    git("clone", "--depth", "1", url, shallow)
    assert git.out("rev-list", "--count", "HEAD", cwd=shallow) == "1"
    assert (shallow / ".git" / "shallow").exists()
    partial = tmp_path / "partial"
    git("clone", "--filter=blob:none", "--no-checkout", url, partial)
    assert git.out("rev-list", "--count", "HEAD", cwd=partial) == "4"
    missing = git.out("rev-list", "--objects", "--missing=print", "HEAD", cwd=partial)
    assert any(line.startswith("?") for line in missing.splitlines()), "blob:none left no blob out"
    git("checkout", "-q", "main", cwd=partial)  # fetches the blobs lazily
    assert (partial / "f2.txt").read_text() == "version 2\n"

    (shallow / "from-shallow.txt").write_text("pushed from a depth-1 clone\n")
    pushed = commit_all(git, shallow, "from a shallow clone")
    git("push", "origin", "main", cwd=shallow)
    assert api_head(server, repo) == pushed
    git("pull", "-q", "--ff-only", "origin", "main", cwd=work)
    assert (work / "from-shallow.txt").read_text() == "pushed from a depth-1 clone\n"


# ---------------------------------------------------------------- objects of other repos
# Git objects are shared by all repos in the database. A client that knows the
# id of an object in someone else's private repo must not be able to reach its
# content by naming it in a push (a tree entry it does not send, or the base
# of a delta). Real git never sends such pushes, so these are built by hand.
PACK_TYPES = {"commit": 1, "tree": 2, "blob": 3, "ref_delta": 7}


def pkt(text: bytes) -> bytes:
    return b"%04x" % (len(text) + 4) + text


def git_id(kind: str, data: bytes) -> str:
    return hashlib.sha1(b"%s %d\0" % (kind.encode(), len(data)) + data).hexdigest()


def pack_of(entries) -> bytes:
    """A pack of (kind, data) entries; kind "ref_delta" takes (base id, delta)."""
    out = bytearray(b"PACK" + (2).to_bytes(4, "big") + len(entries).to_bytes(4, "big"))
    for kind, data in entries:
        base = b""
        if kind == "ref_delta":
            base, data = bytes.fromhex(data[0]), data[1]
        size = len(data)
        byte = (PACK_TYPES[kind] << 4) | (size & 0x0F)
        size >>= 4
        while size:
            out.append(byte | 0x80)
            byte, size = size & 0x7F, size >> 7
        out.append(byte)
        out += base + zlib.compress(data)
    return bytes(out + hashlib.sha1(out).digest())


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def raw_push(server, repo: str, user: str, old: str, new: str, pack: bytes, ref: str = "refs/heads/main") -> tuple[str, str]:
    """POSTs one ref update and a pack; returns (report-status text, remote messages)."""
    command = f"{old} {new} {ref}\0report-status side-band-64k\n".encode()
    request = urllib.request.Request(
        f"{server.endpoint}/{repo}/git-receive-pack",
        data=pkt(command) + b"0000" + pack,
        headers={
            "Content-Type": "application/x-git-receive-pack-request",
            "Authorization": "Basic " + base64.b64encode(f"{user}:{server.token(user)}".encode()).decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
    bands = {1: b"", 2: b""}
    while body:
        length = int(body[:4], 16)
        if length == 0:
            body = body[4:]
            continue
        bands[body[4]] = bands.get(body[4], b"") + body[5:length]
        body = body[length:]
    return bands[1].decode(errors="replace"), bands[2].decode(errors="replace")


def test_a_push_cannot_reach_another_repos_objects(server, tmp_path):
    secret = b"alice's private numbers: 4 8 15 16 23 42\n"
    secret_id = git_id("blob", secret)
    create_repos(server, tmp_path, "vault", [{"repo": "alice/vault", "private": True}])
    scenario(
        server,
        tmp_path,
        "secret",
        """
        from huggingface_hub import HfApi
        HfApi().upload_file(path_or_fileobj=PARAMS["secret"].encode(), path_in_repo="secret.txt", repo_id="alice/vault")
        """,
        params={"secret": secret.decode()},
    )
    assert api_tree(server, "alice/vault")["secret.txt"]["oid"] == secret_id
    create_repos(server, tmp_path, "thief", [{"repo": "bob/thief"}], user="bob")
    before = api_head(server, "bob/thief")
    attributes = api_tree(server, "bob/thief")[".gitattributes"]["oid"]

    def commit_with(blob_id: str, name: str) -> tuple[bytes, bytes, str]:
        tree = b"100644 .gitattributes\0" + bytes.fromhex(attributes) + f"100644 {name}\0".encode() + bytes.fromhex(blob_id)
        commit = (
            f"tree {git_id('tree', tree)}\nparent {before}\n"
            f"author bob <bob@example.com> 1700000000 +0000\ncommitter bob <bob@example.com> 1700000000 +0000\n\n{name}\n"
        ).encode()
        return tree, commit, git_id("commit", commit)

    # 1. A tree naming the secret blob without sending it.
    tree, commit, commit_id = commit_with(secret_id, "stolen.txt")
    report, messages = raw_push(server, "bob/thief", "bob", before, commit_id, pack_of([("tree", tree), ("commit", commit)]))
    assert "ng refs/heads/main" in report and "in this repository" in messages, (report, messages)
    assert api_head(server, "bob/thief") == before

    # 2. A blob built as a delta against the secret blob.
    copy_all = bytes([0x80 | 0x01 | 0x10, 0, len(secret)])
    delta = varint(len(secret)) + varint(len(secret) + 1) + copy_all + bytes([1]) + b"!"
    derived = secret + b"!"
    tree, commit, commit_id = commit_with(git_id("blob", derived), "derived.txt")
    pack = pack_of([("ref_delta", (secret_id, delta)), ("tree", tree), ("commit", commit)])
    report, messages = raw_push(server, "bob/thief", "bob", before, commit_id, pack)
    assert "unpack " in report and "unpack ok" not in report and "ng refs/heads/main" in report, (report, messages)
    assert api_head(server, "bob/thief") == before

    # 3. A tree entry that says "file" but names a commit (sent in the pack)
    #    whose parent is alice's private commit.
    private_head = api_head(server, "alice/vault")
    inner_tree = b"100644 .gitattributes\0" + bytes.fromhex(attributes)
    smuggler = (
        f"tree {git_id('tree', inner_tree)}\nparent {private_head}\n"
        f"author bob <bob@example.com> 1700000000 +0000\ncommitter bob <bob@example.com> 1700000000 +0000\n\nx\n"
    ).encode()
    tree, commit, commit_id = commit_with(git_id("commit", smuggler), "looks-like-a-file")
    pack = pack_of([("tree", inner_tree), ("commit", smuggler), ("tree", tree), ("commit", commit)])
    report, messages = raw_push(server, "bob/thief", "bob", before, commit_id, pack)
    assert "ng refs/heads/main" in report and "named as a blob" in messages, (report, messages)
    assert api_head(server, "bob/thief") == before

    # 4. A refused ref stores nothing of its pack.
    objects_before = server.stats()["gitObjects"]
    junk = b"never stored\n"
    tree, commit, commit_id = commit_with(git_id("blob", junk), "junk.txt")
    pack = pack_of([("blob", junk), ("tree", tree), ("commit", commit)])
    report, _ = raw_push(server, "bob/thief", "bob", "0" * 40, commit_id, pack, ref="refs/junk/x")
    assert "ng refs/junk/x" in report, report
    assert server.stats()["gitObjects"] == objects_before

    # 5. Objects the repo holds must also be of the kind they are named as:
    #    bob's own head commit, named as a file.
    tree, commit, commit_id = commit_with(before, "own-commit-as-file")
    report, messages = raw_push(server, "bob/thief", "bob", before, commit_id, pack_of([("tree", tree), ("commit", commit)]))
    assert "ng refs/heads/main" in report and "named as a blob" in messages, (report, messages)

    # Control: the same hand-built push is accepted when bob sends the content himself.
    tree, commit, commit_id = commit_with(git_id("blob", derived), "derived.txt")
    report, messages = raw_push(server, "bob/thief", "bob", before, commit_id, pack_of([("blob", derived), ("tree", tree), ("commit", commit)]))
    assert "unpack ok" in report and "ok refs/heads/main" in report, (report, messages)
    assert api_head(server, "bob/thief") == commit_id


def test_the_cache_survives_repacks_and_a_torn_object_list(server, tmp_path):
    """The server's git cache is rebuilt from the DB; objects of a deleted
    branch survive its repack (the branch may come back), and a cut-short
    object list is rebuilt instead of refusing pushes."""
    repo = "alice/cache-care"
    create_repos(server, tmp_path, "create", [{"repo": repo}])
    git = client(tmp_path, "alice", server)
    url = repo_url(server, repo)
    work = tmp_path / "work"
    git("clone", url, work)
    git("checkout", "-q", "-b", "tmp", cwd=work)
    (work / "tmp.txt").write_text("on a branch that goes away and comes back\n")
    tmp_commit = commit_all(git, work, "tmp")
    git("push", "-q", "origin", "tmp", cwd=work)
    git.ls_remote(url)  # the cache takes in tmp
    git("push", "-q", "origin", ":tmp", cwd=work)
    git.ls_remote(url)
    git("checkout", "-q", "main", cwd=work)
    for number in range(1100):  # enough new objects for the cache to repack
        (work / "many" / f"f{number}.txt").parent.mkdir(exist_ok=True)
        (work / "many" / f"f{number}.txt").write_text(f"{number}\n")
    commit_all(git, work, "many files")
    git("push", "-q", "origin", "main", cwd=work)
    git.ls_remote(url)
    git("push", "-q", "origin", "tmp", cwd=work)
    again = tmp_path / "again"
    git("clone", "-q", "-b", "tmp", url, again)
    assert head(git, again) == tmp_commit
    assert (again / "tmp.txt").read_text() == "on a branch that goes away and comes back\n"

    lists = list((server.data_dir / "cache" / "git").glob("*.git/tessera-objects"))
    assert lists, "no object lists in the cache"
    for path in lists:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) - 7])
    (work / "after-tear.txt").write_text("pushed after the object list was torn\n")
    pushed = commit_all(git, work, "after the tear")
    git("push", "-q", "origin", "main", cwd=work)
    fresh = tmp_path / "fresh"
    git("clone", "-q", url, fresh)
    assert head(git, fresh) == pushed
    assert (fresh / "many" / "f1099.txt").read_text() == "1099\n"


def test_atomic_pushes_move_every_ref_or_none(server, tmp_path):
    repo = "alice/atomic"
    create_repos(server, tmp_path, "create", [{"repo": repo}])
    git = client(tmp_path, "alice", server)
    url = repo_url(server, repo)
    work = tmp_path / "work"
    git("clone", url, work)
    for branch in ("a", "b"):
        git("checkout", "-q", "-b", branch, "main", cwd=work)
        (work / f"{branch}.txt").write_text(f"{branch}\n")
        commit_all(git, work, branch)
    git("push", "-q", "--atomic", "origin", "a", "b", cwd=work)
    refs = git.ls_remote(url)
    assert refs["refs/heads/a"] == head(git, work, "a") and refs["refs/heads/b"] == head(git, work, "b"), refs

    # The server refuses to delete main; atomically, the new branch c fails with it.
    git("checkout", "-q", "-b", "c", "main", cwd=work)
    (work / "c.txt").write_text("c\n")
    commit_all(git, work, "c")
    refused = git("push", "--atomic", "origin", "c", ":main", cwd=work, check=False)
    assert_failed(refused, "default branch cannot be deleted", "atomic push failed", what="an atomic push with a refused ref")
    assert "refs/heads/c" not in git.ls_remote(url)
    # Without --atomic the good ref moves on its own.
    partly = git("push", "origin", "c", ":main", cwd=work, check=False)
    assert partly.returncode != 0, describe_git(partly)
    refs = git.ls_remote(url)
    assert refs["refs/heads/c"] == head(git, work, "c") and "refs/heads/main" in refs, refs


# ---------------------------------------------------------------- 5. large files outside LFS
def test_large_non_lfs_file_push_is_rejected(server, tmp_path):
    repo = "alice/git-big"
    create_repos(server, tmp_path, "create", [{"repo": repo}])
    git = client(tmp_path, "alice", server)
    url = repo_url(server, repo)
    work = tmp_path / "clone"
    git("clone", url, work)
    before = head(git, work)
    path = "data/big.dat"  # *.dat is in no pattern of the default .gitattributes
    size = 20 * MIB
    sha = write_random(work / path, size, seed=505)
    assert git.out("check-attr", "filter", path, cwd=work) == f"{path}: filter: unspecified"
    commit_all(git, work, "a big file outside LFS")

    refused = git("push", "origin", "main", cwd=work, check=False)
    assert_failed(refused, "remote:", "git lfs track", path, "rejected", what="push of a 20 MiB file outside LFS")
    print(refused.stderr)
    assert git.ls_remote(url)["refs/heads/main"] == before, "the refused push moved main"
    assert api_head(server, repo) == before
    assert "data" not in api_tree(server, repo), "the refused file shows in the tree"

    # Following the advice (git lfs track) makes the same file pushable.
    git("lfs", "track", path, cwd=work)
    git("rm", "-q", "--cached", path, cwd=work)
    git("add", ".gitattributes", path, cwd=work)
    git("commit", "-q", "--amend", "--no-edit", cwd=work)
    assert git.out("lfs", "ls-files", "-n", cwd=work).splitlines() == [path]
    git("push", "origin", "main", cwd=work)
    assert git.ls_remote(url)["refs/heads/main"] == head(git, work)
    assert_lfs_entry(api_tree(server, repo, "data")[path], sha, size)


# ---------------------------------------------------------------- 6. push racing an API commit
# The API side: huggingface_hub imported and connected, it signals `ready`,
# waits for `go` (and `delay` seconds), then commits on `parent`.
RACE_API_COMMIT = """
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError

api = HfApi()
repo = PARAMS["repo"]
op = CommitOperationAdd(path_in_repo=PARAMS["path"], path_or_fileobj=PARAMS["content"].encode())
api.whoami()  # warm up the connection before the start signal
Path(PARAMS["ready"]).touch()
deadline = time.monotonic() + 60
while PARAMS.get("go") and not Path(PARAMS["go"]).exists():
    check(time.monotonic() < deadline, "no start signal within 60 s")
    time.sleep(0.001)
time.sleep(PARAMS.get("delay", 0))
try:
    info = api.create_commit(repo, operations=[op], commit_message=PARAMS["path"], parent_commit=PARAMS["parent"])
except HfHubHTTPError as err:
    status = getattr(err.response, "status_code", None)
    check(status == 412, f"the losing API commit got HTTP {status}, expected 412: {err}")
    print("API_RESULT=412")
else:
    print("API_RESULT=" + info.oid)
"""

# The git side: a pre-push hook that runs git-lfs's own, then signals ready
# and holds the push (after git has read the server's refs, before it sends
# the pack) until the start signal, plus PUSH_DELAY seconds.
HOLDING_PRE_PUSH = """#!/bin/sh
git lfs pre-push "$@" || exit $?
touch "$PUSH_READY"
i=0
while [ ! -e "$PUSH_GO" ]; do
    sleep 0.002
    i=$((i + 1))
    [ $i -lt 30000 ] || { echo "pre-push: no start signal" >&2; exit 1; }
done
sleep "$PUSH_DELAY"
"""

# (API delay, push delay) in seconds after the common start signal, per round:
# a real race in the rounds without delays, a head start for either side in the others.
RACE_ROUNDS = ((0, 0), (0, 0), (0, 0), (0.05, 0), (0, 0.05), (0.3, 0), (0, 0.3))


def holding_hooks(tmp_path: Path) -> Path:
    hooks = tmp_path / "hooks"
    hooks.mkdir(exist_ok=True)
    hook = hooks / "pre-push"
    hook.write_text(HOLDING_PRE_PUSH)
    hook.chmod(0o755)
    return hooks


def wait_for(path: Path, what: str, *futures, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        for future in futures:
            assert not future.done(), f"{what}: ended before signalling ready: {future.result()!r}"
        assert time.monotonic() < deadline, f"{what}: not ready within {timeout} s"
        time.sleep(0.002)


def run_api_commit(server, tmp_path: Path, name: str, params: dict):
    """RACE_API_COMMIT as alice; the CompletedProcess (see api_outcome)."""
    return run_scenario(server, RACE_API_COMMIT, tmp_path / name, token=server.token("alice"), params=params, name=name, timeout=120)


def api_outcome(result, what: str) -> str:
    """The API scenario's result: a commit id, or "412"."""
    assert result.returncode == 0, describe(result, what)
    return next(line.split("=", 1)[1] for line in result.stdout.splitlines() if line.startswith("API_RESULT="))


def prepare_round(git: GitClient, url: str, tmp_path: Path, label: str) -> tuple[Path, str, str]:
    """A fresh clone with one local commit: (work tree, the head it saw, its commit)."""
    work = tmp_path / f"clone-{label}"
    git("clone", "-q", url, work)
    parent = head(git, work)
    (work / f"git-{label}.txt").write_text(f"pushed in round {label}\n")
    return work, parent, commit_all(git, work, f"git push, round {label}")


def test_push_racing_an_api_commit_exactly_one_wins(server, tmp_path):
    repo = "alice/git-race"
    create_repos(server, tmp_path, "create", [{"repo": repo}])
    git = client(tmp_path, "alice", server)
    url = repo_url(server, repo)
    hooks = holding_hooks(tmp_path)
    tally = []
    for index, (api_delay, push_delay) in enumerate(RACE_ROUNDS):
        label = str(index)
        work, parent, local = prepare_round(git, url, tmp_path, label)
        signals = tmp_path / f"signals-{label}"
        signals.mkdir()
        go = signals / "go"
        params = {
            "repo": repo,
            "parent": parent,
            "path": f"api-{label}.txt",
            "content": f"committed in round {label}\n",
            "ready": str(signals / "api-ready"),
            "go": str(go),
            "delay": api_delay,
        }
        push_env = {"PUSH_READY": str(signals / "push-ready"), "PUSH_GO": str(go), "PUSH_DELAY": str(push_delay)}
        with ThreadPoolExecutor(max_workers=2) as pool:
            api_future = pool.submit(run_api_commit, server, tmp_path, f"api_{label}", params)
            push_future = pool.submit(git, "-c", f"core.hooksPath={hooks}", "push", "origin", "main", cwd=work, check=False, env=push_env)
            wait_for(signals / "api-ready", f"round {label}: the API scenario", api_future)
            wait_for(signals / "push-ready", f"round {label}: the push", push_future)
            go.touch()
            api_result, push = api_future.result(), push_future.result()

        outcome = api_outcome(api_result, f"round {label}: the API commit scenario")
        api_won, push_won = outcome != "412", push.returncode == 0
        final = git.ls_remote(url)["refs/heads/main"]
        summary = (
            f"round {label} (API delay {api_delay}s, push delay {push_delay}s): push {'won' if push_won else 'lost'}, "
            f"API {'won ' + outcome if api_won else 'lost (412)'}, main at {final}"
        )
        print(summary)
        assert push_won != api_won, f"{summary}: exactly one of them must win\n{describe_git(push, 'the push')}\n--- API scenario\n{api_result.stdout}"
        if push_won:
            assert final == local, f"{summary}: main is not the pushed commit {local}"
            tally.append("push")
        else:
            assert "rejected" in push.stderr, describe_git(push, f"{summary}: the losing push was not rejected cleanly:")
            assert final == outcome, f"{summary}: main is not the API commit {outcome}"
            tally.append("api, push rejected as " + ("stale" if "stale info" in push.stderr else "non-fast-forward"))
        # The winner sits directly on the parent both started from; the loser's file is nowhere.
        commits = api_json(server, f"/api/models/{repo}/commits/main")
        assert [c["id"] for c in commits[:2]] == [final, parent], f"{summary}: history {[c['id'] for c in commits[:3]]}, parent {parent}"
        loser = f"api-{label}.txt" if push_won else f"git-{label}.txt"
        files = set(api_tree(server, repo))
        assert loser not in files, f"{summary}: the loser's {loser} is in the tree: {sorted(files)}"
    print("race outcomes:", tally)


def test_stale_push_and_stale_api_commit_are_rejected(server, tmp_path):
    """The two orders of the race, forced: the branch moves by API while the
    push is held between the ref advertisement and the pack (the server's
    compare-and-swap refuses it as stale), and an API commit on the parent a
    push has just moved away from (412)."""
    repo = "alice/git-stale"
    create_repos(server, tmp_path, "create", [{"repo": repo}])
    git = client(tmp_path, "alice", server)
    url = repo_url(server, repo)
    hooks = holding_hooks(tmp_path)

    work, parent, local = prepare_round(git, url, tmp_path, "stale-push")
    signals = tmp_path / "signals"
    signals.mkdir()
    push_env = {"PUSH_READY": str(signals / "push-ready"), "PUSH_GO": str(signals / "go"), "PUSH_DELAY": "0"}
    with ThreadPoolExecutor(max_workers=1) as pool:
        push_future = pool.submit(git, "-c", f"core.hooksPath={hooks}", "push", "origin", "main", cwd=work, check=False, env=push_env)
        wait_for(signals / "push-ready", "the held push", push_future)
        params = {"repo": repo, "parent": parent, "path": "api-first.txt", "content": "api first\n", "ready": str(signals / "api-ready")}
        moved = api_outcome(run_api_commit(server, tmp_path, "api_first", params), "the API commit")
        (signals / "go").touch()
        push = push_future.result()
    assert moved != "412", "the API commit on the current head was refused"
    assert_failed(push, "[remote rejected] main -> main", "stale info", what="the push whose branch moved after the advertisement")
    assert git.ls_remote(url)["refs/heads/main"] == moved == api_head(server, repo)

    work, parent, local = prepare_round(git, url, tmp_path, "stale-api")
    git("push", "origin", "main", cwd=work)
    params = {"repo": repo, "parent": parent, "path": "api-late.txt", "content": "late\n", "ready": str(signals / "api-late-ready")}
    late = api_outcome(run_api_commit(server, tmp_path, "api_late", params), "the late API commit")
    assert late == "412", f"an API commit on the parent the push moved away from got {late}, expected 412"
    assert api_head(server, repo) == local
    assert "api-late.txt" not in api_tree(server, repo)


# ---------------------------------------------------------------- 7. force-push, branches, tags, deletions
def test_force_push_branches_tags_and_deletions_fetch(server, tmp_path):
    repo = "alice/git-refs"
    create_repos(server, tmp_path, "create", [{"repo": repo}])
    git = client(tmp_path, "alice", server)
    url = repo_url(server, repo)
    a, b = tmp_path / "a", tmp_path / "b"
    git("clone", "-q", url, a)
    (a / "one.txt").write_text("one\n")
    c1 = commit_all(git, a, "one")
    git("push", "origin", "main", cwd=a)
    git("clone", "-q", url, b)
    assert head(git, b) == c1

    # A new branch and two tags (annotated and lightweight) fetch into the other clone.
    git("checkout", "-q", "-b", "feature", cwd=a)
    (a / "feature.txt").write_text("feature\n")
    feature = commit_all(git, a, "feature work")
    git("push", "origin", "feature", cwd=a)
    git("tag", "-a", "v1.0", "-m", "release 1.0", c1, cwd=a)
    git("tag", "light", feature, cwd=a)
    git("push", "origin", "v1.0", "light", cwd=a)
    tag_object = head(git, a, "refs/tags/v1.0")
    git("fetch", "--tags", "origin", cwd=b)
    assert head(git, b, "refs/remotes/origin/feature") == feature
    assert head(git, b, "refs/tags/v1.0") == tag_object and head(git, b, "v1.0^{commit}") == c1
    assert head(git, b, "refs/tags/light") == feature
    refs = git.ls_remote(url)
    assert refs.get("refs/heads/feature") == feature and refs.get("refs/tags/v1.0") == tag_object and refs.get("refs/tags/v1.0^{}") == c1, f"ls-remote: {refs}"
    assert api_branches(server, repo).get("feature") == feature, f"API refs: {api_json(server, f'/api/models/{repo}/refs')}"
    api_tags = {t["name"]: t["targetCommit"] for t in api_json(server, f"/api/models/{repo}/refs")["tags"]}
    assert api_tags.get("v1.0") == c1 and api_tags.get("light") == feature, f"API tags: {api_tags}"

    # Rewriting main: a plain push is refused, a force-push goes through and fetches as a forced update.
    git("checkout", "-q", "main", cwd=a)
    (a / "one.txt").write_text("one, rewritten\n")
    git("commit", "-q", "-a", "--amend", "-m", "one, rewritten", cwd=a)
    rewritten = head(git, a)
    assert_failed(git("push", "origin", "main", cwd=a, check=False), "rejected", what="non-fast-forward push without --force")
    forced = git("push", "--force", "origin", "main", cwd=a)
    assert "forced update" in forced.stderr, describe_git(forced, "force-push output lacks 'forced update':")
    assert api_head(server, repo) == rewritten
    fetched = git("fetch", "origin", cwd=b)
    assert "forced update" in fetched.stderr, describe_git(fetched, "fetch after a force-push lacks 'forced update':")
    assert head(git, b, "refs/remotes/origin/main") == rewritten
    git("reset", "-q", "--hard", "origin/main", cwd=b)
    assert (b / "one.txt").read_text() == "one, rewritten\n"

    # Deleting the branch and the lightweight tag; the other clone prunes them.
    deleted = git("push", "origin", ":feature", ":refs/tags/light", cwd=a)
    assert "[deleted]" in deleted.stderr, describe_git(deleted, "branch deletion output:")
    refs = git.ls_remote(url)
    assert "refs/heads/feature" not in refs and "refs/tags/light" not in refs and "refs/tags/v1.0" in refs, f"ls-remote after the deletions: {refs}"
    assert "feature" not in api_branches(server, repo)
    pruned = git("fetch", "--prune", "origin", cwd=b)
    assert "[deleted]" in pruned.stderr and "origin/feature" in pruned.stderr, describe_git(pruned, "fetch --prune output:")
    assert git("rev-parse", "--verify", "-q", "refs/remotes/origin/feature", cwd=b, check=False).returncode != 0

    # main cannot be deleted.
    refused = git("push", "origin", ":main", cwd=a, check=False)
    assert_failed(refused, "[remote rejected] main", "default branch cannot be deleted", what="deleting main")
    assert git.ls_remote(url).get("refs/heads/main") == rewritten
    assert api_head(server, repo) == rewritten
