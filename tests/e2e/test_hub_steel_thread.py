"""The Hub steel thread: the pinned real clients (huggingface_hub 2.4.0 +
hf_xet 1.8.0, and the `hf` CLI) against a real `tessera serve`.

Every scenario runs in its own Python subprocess with an isolated HF_HOME,
hub cache and Xet cache (see tessera_server.py); a scenario exits non-zero
with a diagnostic on the first broken expectation, and prints every HTTP
exchange of the Python client to its stderr.
"""

import hashlib
import random
import shutil
from pathlib import Path

from tessera_server import assert_same_tree, cli, describe, scenario, tree_files

MIB = 1024 * 1024


# ---------------------------------------------------------------- auth


def test_cli_auth_login_and_whoami(server, tmp_path):
    for user in ("alice", "bob"):
        root = f"cli-{user}"
        login = cli(server, tmp_path, ["auth", "login", "--token", server.token(user)], user=None, root=root)
        assert login.returncode == 0, describe(login, f"hf auth login (as {user})")
        whoami = cli(server, tmp_path, ["auth", "whoami"], user=None, root=root)
        assert whoami.returncode == 0, describe(whoami, f"hf auth whoami (as {user})")
        assert user in whoami.stdout, describe(whoami, f"hf auth whoami does not name {user}")
    other = "alice" if user == "bob" else "bob"
    assert other not in whoami.stdout, describe(whoami, "hf auth whoami names the wrong user")

    bad = cli(server, tmp_path, ["auth", "login", "--token", "hf_not_a_valid_token_at_all"], user=None, root="cli-bad")
    assert bad.returncode != 0, describe(bad, "hf auth login with an unknown token should fail")


# ---------------------------------------------------------------- repos


def test_create_model_and_dataset_repos(server, tmp_path):
    scenario(
        server,
        tmp_path,
        "create_repos",
        """
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError

        api = HfApi()
        model = api.create_repo("alice/steel-model")
        log("model url:", model, model.repo_type, model.repo_id)
        check(str(model) == f"{ENDPOINT}/alice/steel-model", f"model url {model!r}")
        check(model.repo_id == "alice/steel-model" and model.repo_type == "model", f"model url parsed as {model.repo_id!r} {model.repo_type!r}")

        dataset = api.create_repo("alice/steel-dataset", repo_type="dataset")
        log("dataset url:", dataset, dataset.repo_type, dataset.repo_id)
        check(str(dataset) == f"{ENDPOINT}/datasets/alice/steel-dataset", f"dataset url {dataset!r}")
        check(dataset.repo_id == "alice/steel-dataset" and dataset.repo_type == "dataset", "dataset url parsed wrong")

        # exist_ok=True relies on the 409 body carrying the repo url.
        again = api.create_repo("alice/steel-model", exist_ok=True)
        check(str(again) == str(model), f"exist_ok model url {again!r} != {model!r}")
        again = api.create_repo("alice/steel-dataset", repo_type="dataset", exist_ok=True)
        check(str(again) == str(dataset), f"exist_ok dataset url {again!r} != {dataset!r}")
        expect_error(HfHubHTTPError, api.create_repo, "alice/steel-model", status=409)

        info = api.model_info("alice/steel-model")
        check(info.id == "alice/steel-model", f"model_info id {info.id!r}")
        check(info.private is False, f"model private={info.private!r}")
        dinfo = api.dataset_info("alice/steel-dataset")
        check(dinfo.id == "alice/steel-dataset", f"dataset_info id {dinfo.id!r}")

        # Types are separate namespaces.
        check(api.repo_exists("alice/steel-dataset", repo_type="dataset"), "dataset does not exist")
        check(not api.repo_exists("alice/steel-model", repo_type="dataset"), "model visible as a dataset")
        check(not api.repo_exists("alice/steel-dataset"), "dataset visible as a model")
        check(not api.repo_exists("alice/never-created"), "unknown repo exists")
        log("repos ok")
        """,
    )


# ---------------------------------------------------------------- uploads and downloads


def test_upload_file_small_and_download(server, tmp_path):
    scenario(
        server,
        tmp_path,
        "small_file",
        """
        from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_download, hf_hub_url

        api = HfApi()
        repo = "alice/steel-small"
        api.create_repo(repo)
        files = {
            "hello.txt": b"hello tessera\\n",
            "nested/dir/notes.md": "caf\\u00e9 \\u2615 line\\n".encode() * 50,
        }
        local = Path("upload")
        commits = {}
        for path, content in files.items():
            target = local / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            info = api.upload_file(path_or_fileobj=str(target), path_in_repo=path, repo_id=repo, commit_message=f"add {path}")
            log(f"uploaded {path}: commit {info.oid} {info.commit_url}")
            check(isinstance(info.oid, str) and len(info.oid) == 40, f"commit oid {info.oid!r}")
            check(info.commit_url == f"{ENDPOINT}/{repo}/commit/{info.oid}", f"commit url {info.commit_url!r}")
            commits[path] = info.oid
        check(len(set(commits.values())) == 2, "the two uploads made the same commit")

        head = api.repo_info(repo).sha
        check(head == commits["nested/dir/notes.md"], f"repo_info sha {head} is not the last commit")
        for path, content in files.items():
            downloaded = hf_hub_download(repo, path)
            got = Path(downloaded).read_bytes()
            check(got == content, f"{path}: downloaded {len(got)} bytes {got[:60]!r}, expected {len(content)} bytes {content[:60]!r}")
            check(f"/snapshots/{head}/" in downloaded, f"{path} cached under {downloaded}, not the head commit {head}")
            meta = get_hf_file_metadata(hf_hub_url(repo, path))
            log(f"{path}: metadata {meta}")
            check(meta.commit_hash == head, f"X-Repo-Commit {meta.commit_hash} != {head}")
            check(meta.size == len(content), f"size {meta.size} != {len(content)}")
        log("small files ok")
        """,
    )


def test_upload_file_100mb_via_xet_and_download(server, tmp_path):
    size = 100 * MIB
    result = scenario(
        server,
        tmp_path,
        "large_file",
        """
        from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_download, hf_hub_url

        size = PARAMS["size"]
        api = HfApi()
        repo = "alice/steel-large"
        path = "weights/large.bin"
        api.create_repo(repo)
        local = Path("upload/large.bin")
        sha = write_random(local, size, seed=1001)
        log(f"local file: {size} bytes, sha256 {sha}")

        t0 = time.monotonic()
        info = api.upload_file(path_or_fileobj=str(local), path_in_repo=path, repo_id=repo)
        log(f"upload: {time.monotonic() - t0:.1f}s, commit {info.oid}")
        local.unlink()

        entries = {e.path: e for e in api.list_repo_tree(repo, recursive=True)}
        log("tree:", entries)
        entry = entries.get(path)
        check(entry is not None, f"{path} missing from the tree listing: {sorted(entries)}")
        check(entry.size == size, f"tree size {entry.size} != {size}")
        check(entry.lfs is not None, f"tree entry has no lfs info: {entry}")
        check(entry.lfs.sha256 == sha, f"tree lfs.oid {entry.lfs.sha256} != sha256 {sha}")
        check(entry.lfs.size == size, f"tree lfs.size {entry.lfs.size} != {size}")
        xet_hash = entry.xet_hash
        check(isinstance(xet_hash, str) and len(xet_hash) == 64, f"tree entry has no 64-hex xetHash: {xet_hash!r}")

        meta = get_hf_file_metadata(hf_hub_url(repo, path))
        log("metadata:", meta)
        check(meta.xet_file_data is not None, "HEAD /resolve gives no Xet data (X-Xet-Hash + Link rel=xet-auth)")
        check(meta.xet_file_data.file_hash == xet_hash, f"X-Xet-Hash {meta.xet_file_data.file_hash} != tree xetHash {xet_hash}")
        check(meta.etag == sha, f"etag {meta.etag} is not the sha256 {sha}")
        check(meta.size == size, f"metadata size {meta.size} != {size}")
        check(meta.commit_hash == info.oid, f"X-Repo-Commit {meta.commit_hash} != {info.oid}")

        t0 = time.monotonic()
        downloaded = hf_hub_download(repo, path)
        log(f"download: {time.monotonic() - t0:.1f}s -> {downloaded}")
        got = sha256_file(downloaded)
        check(os.path.getsize(downloaded) == size, f"downloaded {os.path.getsize(downloaded)} bytes, expected {size}")
        check(got == sha, f"downloaded sha256 {got} != uploaded {sha}")
        log("large file ok")
        """,
        params={"size": size},
    )
    # The Python client's own HTTP trace: the upload never used the LFS batch
    # API, and the download fetched a Xet read token instead of GETting /resolve.
    trace = [line for line in result.stderr.splitlines() if line.startswith("HTTP ")]
    assert not [t for t in trace if "/info/lfs/" in t], "the upload went through the LFS batch API:\n" + "\n".join(trace)
    assert [t for t in trace if " GET " in t and "/api/models/alice/steel-large/xet-read-token/" in t], (
        "the download never fetched a Xet read token:\n" + "\n".join(trace)
    )
    resolve_gets = [t for t in trace if " GET " in t and "/resolve/" in t and "large.bin" in t]
    assert not resolve_gets, "the 100 MiB file was downloaded over plain HTTP, not Xet:\n" + "\n".join(resolve_gets)
    shutil.rmtree(tmp_path / "large_file", ignore_errors=True)


def make_folder(root: Path, count: int = 200) -> None:
    """`count` files: mostly small text in nested dirs, a few binary, one empty, one name with a space."""
    rng = random.Random(2024)
    words = ["tessera", "xet", "chunk", "shard", "xorb", "hub", "commit", "tree", "blob", "résumé", "日本"]
    for i in range(count):
        if i % 20 == 7:
            path = root / f"bin/part_{i:03d}.bin"
            data = rng.randbytes(rng.randint(1_000, 300_000))
        elif i == 3:
            path = root / "empty.txt"
            data = b""
        elif i == 5:
            path = root / "sub dir/with space.txt"
            data = b"a file whose directory has a space\n"
        else:
            path = root / f"d{i % 7}/s{i % 3}/file_{i:03d}.txt"
            lines = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) for _ in range(rng.randint(1, 40))]
            data = ("\n".join(lines) + "\n").encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert len(tree_files(root)) == count


def test_upload_folder_200_files_and_snapshot_download(server, tmp_path):
    folder = tmp_path / "src"
    make_folder(folder)
    result = scenario(
        server,
        tmp_path,
        "upload_folder",
        """
        from huggingface_hub import HfApi, snapshot_download

        api = HfApi()
        repo = "alice/steel-folder"
        api.create_repo(repo)
        t0 = time.monotonic()
        info = api.upload_folder(folder_path=PARAMS["folder"], repo_id=repo, commit_message="200 files")
        log(f"upload_folder: {time.monotonic() - t0:.1f}s, commit {info.oid}")
        files = api.list_repo_files(repo)
        log(f"{len(files)} files in the repo")
        check(len([f for f in files if f != ".gitattributes"]) == 200, f"repo has {len(files)} files: {sorted(files)[:20]}...")
        t0 = time.monotonic()
        snapshot = snapshot_download(repo)
        log(f"snapshot_download: {time.monotonic() - t0:.1f}s")
        print("SNAPSHOT=" + snapshot)
        check(f"/snapshots/{api.repo_info(repo).sha}" in snapshot, f"snapshot dir {snapshot} is not the head commit")
        """,
        params={"folder": str(folder)},
    )
    snapshot = Path(next(line for line in result.stdout.splitlines() if line.startswith("SNAPSHOT=")).split("=", 1)[1])
    assert_same_tree(folder, snapshot)


def test_download_at_branch(server, tmp_path):
    scenario(
        server,
        tmp_path,
        "branch",
        """
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import RemoteEntryNotFoundError

        api = HfApi()
        repo = "alice/steel-branch"
        api.create_repo(repo)
        main_bin = random_bytes(50_000, 11)
        dev_bin = random_bytes(60_000, 12)
        api.upload_file(path_or_fileobj=b"main content\\n", path_in_repo="file.txt", repo_id=repo)
        api.upload_file(path_or_fileobj=main_bin, path_in_repo="data.bin", repo_id=repo)
        main_head = api.repo_info(repo).sha
        api.create_branch(repo, branch="dev")
        dev = api.upload_file(path_or_fileobj=b"dev content\\n", path_in_repo="file.txt", repo_id=repo, revision="dev")
        api.upload_file(path_or_fileobj=dev_bin, path_in_repo="data.bin", repo_id=repo, revision="dev")
        api.upload_file(path_or_fileobj=b"only on dev\\n", path_in_repo="dev-only.txt", repo_id=repo, revision="dev")
        log(f"main head {main_head}, first dev commit {dev.oid}")

        check(api.repo_info(repo).sha == main_head, "uploads to dev moved main")
        check(api.repo_info(repo, revision="dev").sha != main_head, "dev still points at main's head")
        got = Path(hf_hub_download(repo, "file.txt", revision="dev")).read_bytes()
        check(got == b"dev content\\n", f"file.txt at dev: {got!r}")
        got = Path(hf_hub_download(repo, "data.bin", revision="dev")).read_bytes()
        check(got == dev_bin, f"data.bin at dev: {len(got)} bytes, sha256 {sha256_bytes(got)} != {sha256_bytes(dev_bin)}")
        got = Path(hf_hub_download(repo, "dev-only.txt", revision="dev")).read_bytes()
        check(got == b"only on dev\\n", f"dev-only.txt at dev: {got!r}")

        got = Path(hf_hub_download(repo, "file.txt")).read_bytes()
        check(got == b"main content\\n", f"file.txt at main: {got!r}")
        got = Path(hf_hub_download(repo, "data.bin", revision="main")).read_bytes()
        check(got == main_bin, "data.bin at main changed")
        expect_error(RemoteEntryNotFoundError, hf_hub_download, repo, "dev-only.txt")
        log("branch ok")
        """,
    )


def test_download_at_commit_sha(server, tmp_path):
    scenario(
        server,
        tmp_path,
        "commit_sha",
        """
        from huggingface_hub import HfApi, CommitOperationAdd, hf_hub_download, snapshot_download

        api = HfApi()
        repo = "alice/steel-history"
        api.create_repo(repo)
        versions = []
        for n in (1, 2, 3):
            text = f"version {n}\\n".encode()
            blob = random_bytes(40_000 + n, 100 + n)
            info = api.create_commit(
                repo,
                operations=[CommitOperationAdd("data.txt", text), CommitOperationAdd("model.bin", blob)],
                commit_message=f"version {n}",
            )
            log(f"version {n}: commit {info.oid}")
            versions.append((info.oid, text, blob))
        check(len({v[0] for v in versions}) == 3, "commits are not distinct")

        for oid, text, blob in versions:
            got = Path(hf_hub_download(repo, "data.txt", revision=oid)).read_bytes()
            check(got == text, f"data.txt at {oid}: {got!r}, expected {text!r}")
            got = Path(hf_hub_download(repo, "model.bin", revision=oid)).read_bytes()
            check(got == blob, f"model.bin at {oid}: sha256 {sha256_bytes(got)}, expected {sha256_bytes(blob)}")

        first = versions[0]
        snap = Path(snapshot_download(repo, revision=first[0], cache_dir="snapshot-cache"))
        check((snap / "data.txt").read_bytes() == first[1], "snapshot at the first commit has newer data.txt")
        check((snap / "model.bin").read_bytes() == first[2], "snapshot at the first commit has newer model.bin")
        got = Path(hf_hub_download(repo, "data.txt", cache_dir="fresh-cache")).read_bytes()
        check(got == versions[-1][1], f"data.txt at main: {got!r}")
        log("history ok")
        """,
    )


def test_delete_file(server, tmp_path):
    scenario(
        server,
        tmp_path,
        "delete",
        """
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, RemoteEntryNotFoundError

        api = HfApi()
        repo = "alice/steel-delete"
        api.create_repo(repo)
        keep_bin = random_bytes(30_000, 5)
        api.upload_file(path_or_fileobj=b"doomed\\n", path_in_repo="doomed.txt", repo_id=repo)
        before = api.upload_file(path_or_fileobj=keep_bin, path_in_repo="keep.bin", repo_id=repo).oid
        check(api.file_exists(repo, "doomed.txt"), "doomed.txt does not exist after upload")

        info = api.delete_file("doomed.txt", repo_id=repo)
        log(f"delete commit {info.oid}")
        check(info.oid != before, "delete_file made no new commit")
        check(not api.file_exists(repo, "doomed.txt"), "doomed.txt still exists after delete_file")
        check(api.file_exists(repo, "keep.bin"), "keep.bin vanished")
        files = api.list_repo_files(repo)
        check("doomed.txt" not in files and "keep.bin" in files, f"files after delete: {files}")
        expect_error(RemoteEntryNotFoundError, hf_hub_download, repo, "doomed.txt", cache_dir="cache-after")
        got = Path(hf_hub_download(repo, "keep.bin", cache_dir="cache-after")).read_bytes()
        check(got == keep_bin, "keep.bin content changed")
        # History still has it.
        got = Path(hf_hub_download(repo, "doomed.txt", revision=before, cache_dir="cache-before")).read_bytes()
        check(got == b"doomed\\n", f"doomed.txt at the commit before the delete: {got!r}")
        # Deleting a missing file is an EntryNotFound error.
        expect_error(EntryNotFoundError, api.delete_file, "never-existed.txt", repo_id=repo)
        log("delete ok")
        """,
    )


def test_stale_parent_commit_raises_412(server, tmp_path):
    scenario(
        server,
        tmp_path,
        "parent_commit",
        """
        from huggingface_hub import HfApi, CommitOperationAdd, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError

        api = HfApi()
        repo = "alice/steel-parent"
        api.create_repo(repo)
        c1 = api.upload_file(path_or_fileobj=b"one\\n", path_in_repo="x.txt", repo_id=repo).oid
        c2 = api.upload_file(path_or_fileobj=b"two\\n", path_in_repo="x.txt", repo_id=repo).oid
        log(f"c1 {c1}, c2 {c2}")

        err = expect_error(
            HfHubHTTPError,
            api.create_commit,
            repo,
            operations=[CommitOperationAdd("x.txt", b"stale\\n")],
            commit_message="based on a stale parent",
            parent_commit=c1,
            status=412,
        )
        log(f"412 message: {err}")
        check(api.repo_info(repo).sha == c2, "the rejected commit moved the branch")
        check(Path(hf_hub_download(repo, "x.txt", cache_dir="c1")).read_bytes() == b"two\\n", "rejected commit's content is visible")

        c3 = api.create_commit(
            repo,
            operations=[CommitOperationAdd("x.txt", b"three\\n")],
            commit_message="based on the head",
            parent_commit=c2,
        ).oid
        check(api.repo_info(repo).sha == c3, "commit with the current parent did not land")
        check(Path(hf_hub_download(repo, "x.txt", cache_dir="c2")).read_bytes() == b"three\\n", "x.txt is not three")
        log("parent commit ok")
        """,
    )


def test_private_repo_not_found_for_other_users(server, tmp_path):
    scenario(
        server,
        tmp_path,
        "private_owner",
        """
        from huggingface_hub import HfApi, hf_hub_download

        api = HfApi()
        api.create_repo("alice/steel-private", private=True)
        api.upload_file(path_or_fileobj=b"top secret\\n", path_in_repo="secret.txt", repo_id="alice/steel-private")
        api.create_repo("alice/steel-public")
        api.upload_file(path_or_fileobj=b"for everyone\\n", path_in_repo="public.txt", repo_id="alice/steel-public")
        info = api.repo_info("alice/steel-private")
        check(info.private is True, f"private repo reports private={info.private!r}")
        check(Path(hf_hub_download("alice/steel-private", "secret.txt")).read_bytes() == b"top secret\\n", "owner cannot read")
        log("owner ok")
        """,
    )
    outsider = """
        from huggingface_hub import HfApi, CommitOperationAdd, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

        api = HfApi()
        repo = "alice/steel-private"
        # Control: the same client reads alice's public repo fine.
        check(Path(hf_hub_download("alice/steel-public", "public.txt")).read_bytes() == b"for everyone\\n", "public repo unreadable")
        expect_error(RepositoryNotFoundError, api.repo_info, repo)
        expect_error(RepositoryNotFoundError, hf_hub_download, repo, "secret.txt")
        expect_error(RepositoryNotFoundError, hf_hub_download, repo, "does-not-exist.txt")
        check(not api.repo_exists(repo), "repo_exists says yes")
        expect_error(
            HfHubHTTPError,
            api.create_commit,
            repo,
            operations=[CommitOperationAdd("intruder.txt", b"hi")],
            commit_message="should not land",
        )
        log("outsider ok")
    """
    scenario(server, tmp_path, "private_bob", outsider, user="bob")
    scenario(server, tmp_path, "private_anonymous", outsider, user=None)
    scenario(
        server,
        tmp_path,
        "private_owner_after",
        """
        from huggingface_hub import HfApi
        files = HfApi().list_repo_files("alice/steel-private")
        check("intruder.txt" not in files, f"an outsider wrote into the private repo: {files}")
        """,
    )


# ---------------------------------------------------------------- CLI


def test_cli_upload_and_download_roundtrip(server, tmp_path):
    src = tmp_path / "src"
    rng = random.Random(77)
    (src / "nested/deeper").mkdir(parents=True)
    (src / "README.md").write_text("# cli repo\n\nuploaded with `hf upload`\n")
    (src / "config.json").write_text('{"hidden_size": 64, "layers": 2}\n')
    (src / "nested/notes.txt").write_text("some notes\n" * 100)
    (src / "nested/deeper/weights.bin").write_bytes(rng.randbytes(3 * MIB + 123))
    (src / "nested/deeper/small.bin").write_bytes(rng.randbytes(4096))

    up = cli(server, tmp_path, ["upload", "alice/cli-repo", str(src)])
    assert up.returncode == 0, describe(up, "hf upload alice/cli-repo ./src")
    down = cli(server, tmp_path, ["download", "alice/cli-repo", "--local-dir", str(tmp_path / "out")])
    assert down.returncode == 0, describe(down, "hf download alice/cli-repo --local-dir out")
    assert_same_tree(src, tmp_path / "out")

    # Second upload into the now existing repo (create_repo exist_ok path) with a changed file.
    (src / "nested/notes.txt").write_text("changed notes\n")
    (src / "extra.txt").write_text("added later\n")
    up = cli(server, tmp_path, ["upload", "alice/cli-repo", str(src), "--commit-message", "second"])
    assert up.returncode == 0, describe(up, "second hf upload alice/cli-repo ./src")
    down = cli(server, tmp_path, ["download", "alice/cli-repo", "--local-dir", str(tmp_path / "out2")], root="cli2")
    assert down.returncode == 0, describe(down, "hf download alice/cli-repo --local-dir out2")
    assert_same_tree(src, tmp_path / "out2")

    # A single file.
    one = cli(server, tmp_path, ["download", "alice/cli-repo", "nested/deeper/weights.bin", "--local-dir", str(tmp_path / "one")], root="cli3")
    assert one.returncode == 0, describe(one, "hf download alice/cli-repo nested/deeper/weights.bin")
    got = tmp_path / "one/nested/deeper/weights.bin"
    assert hashlib.sha256(got.read_bytes()).digest() == hashlib.sha256((src / "nested/deeper/weights.bin").read_bytes()).digest()
