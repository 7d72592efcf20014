"""Beyond the steel thread: edges the real clients hit in everyday use
(datasets, branch names with '/', tags, awkward paths, README validation,
pull requests, read-only tokens, ranged reads through HfFileSystem, the
commit API's push rules).
"""

import base64
import json

from tessera_server import scenario


def test_dataset_repo_upload_and_download(server, tmp_path):
    scenario(
        server,
        tmp_path,
        "dataset",
        """
        from huggingface_hub import HfApi, hf_hub_download, snapshot_download

        api = HfApi()
        repo = "alice/edge-dataset"
        api.create_repo(repo, repo_type="dataset")
        csv = b"a,b\\n1,2\\n3,4\\n"
        blob = random_bytes(300_000, 31)
        api.upload_file(path_or_fileobj=csv, path_in_repo="data/train.csv", repo_id=repo, repo_type="dataset")
        info = api.upload_file(path_or_fileobj=blob, path_in_repo="data/blob.bin", repo_id=repo, repo_type="dataset")
        check(info.commit_url == f"{ENDPOINT}/datasets/{repo}/commit/{info.oid}", f"commit url {info.commit_url}")
        got = Path(hf_hub_download(repo, "data/train.csv", repo_type="dataset")).read_bytes()
        check(got == csv, f"train.csv: {got!r}")
        snap = Path(snapshot_download(repo, repo_type="dataset", cache_dir="snap"))
        check((snap / "data/train.csv").read_bytes() == csv, "snapshot train.csv")
        check((snap / "data/blob.bin").read_bytes() == blob, "snapshot blob.bin")
        local = Path(hf_hub_download(repo, "data/blob.bin", repo_type="dataset", local_dir="local"))
        check(local.read_bytes() == blob, "local_dir blob.bin")
        # Not reachable as a model.
        check(not api.repo_exists(repo), "dataset visible as a model")
        log("dataset ok")
        """,
    )


def test_branch_with_slash_and_tag(server, tmp_path):
    scenario(
        server,
        tmp_path,
        "refs",
        """
        from huggingface_hub import HfApi, hf_hub_download, snapshot_download

        api = HfApi()
        repo = "alice/edge-refs"
        api.create_repo(repo)
        api.upload_file(path_or_fileobj=b"main 1", path_in_repo="f.txt", repo_id=repo)
        api.create_branch(repo, branch="feature/x")
        api.upload_file(path_or_fileobj=b"feature", path_in_repo="f.txt", repo_id=repo, revision="feature/x")
        api.create_tag(repo, tag="v1.0")
        api.upload_file(path_or_fileobj=b"main 2", path_in_repo="f.txt", repo_id=repo)

        refs = api.list_repo_refs(repo)
        log("refs:", refs)
        check({b.name for b in refs.branches} == {"main", "feature/x"}, f"branches {refs.branches}")
        check([t.name for t in refs.tags] == ["v1.0"], f"tags {refs.tags}")

        def read(revision, cache):
            return Path(hf_hub_download(repo, "f.txt", revision=revision, cache_dir=cache)).read_bytes()

        check(read("feature/x", "c1") == b"feature", "feature/x")
        check(read("v1.0", "c2") == b"main 1", "tag v1.0")
        check(read("main", "c3") == b"main 2", "main")
        snap = Path(snapshot_download(repo, revision="feature/x", cache_dir="c4"))
        check((snap / "f.txt").read_bytes() == b"feature", "snapshot at feature/x")

        api.delete_branch(repo, branch="feature/x")
        api.delete_tag(repo, tag="v1.0")
        refs = api.list_repo_refs(repo)
        check([b.name for b in refs.branches] == ["main"] and not refs.tags, f"refs after deletes: {refs}")
        log("refs ok")
        """,
    )


def test_special_character_paths(server, tmp_path):
    scenario(
        server,
        tmp_path,
        "paths",
        """
        from huggingface_hub import HfApi, CommitOperationAdd, hf_hub_download, snapshot_download

        api = HfApi()
        repo = "alice/edge-paths"
        api.create_repo(repo)
        names = [
            "dir with space/file #1 100%.txt",
            "\\u65e5\\u672c/\\u30d5\\u30a1\\u30a4\\u30eb.txt",
            "a+b=c&d?.txt",
            "x/[brackets] (1).bin",
            "deep/a/b/c/d/e/f.txt",
        ]
        ops = [
            CommitOperationAdd(n, random_bytes(30_000, i) if n.endswith(".bin") else (n * 3).encode())
            for i, n in enumerate(names)
        ]
        api.create_commit(repo, operations=ops, commit_message="awkward names")
        for op in ops:
            got = Path(hf_hub_download(repo, op.path_in_repo)).read_bytes()
            check(got == op.path_or_fileobj, f"{op.path_in_repo!r}: wrong content")
        snap = Path(snapshot_download(repo, cache_dir="snap"))
        for op in ops:
            check((snap / op.path_in_repo).read_bytes() == op.path_or_fileobj, f"snapshot {op.path_in_repo!r}")
        infos = api.get_paths_info(repo, names)
        check(sorted(i.path for i in infos) == sorted(names), f"paths-info: {[i.path for i in infos]}")
        listed = [e.path for e in api.list_repo_tree(repo, path_in_repo="dir with space")]
        check(listed == ["dir with space/file #1 100%.txt"], f"tree of 'dir with space': {listed}")
        log("paths ok")
        """,
    )


def test_readme_upload_and_pull_request(server, tmp_path):
    scenario(
        server,
        tmp_path,
        "readme_pr",
        """
        from huggingface_hub import HfApi, hf_hub_download

        api = HfApi()
        repo = "alice/edge-readme"
        api.create_repo(repo)
        readme = b"---\\nlicense: mit\\ntags:\\n- test\\n---\\n# Edge\\n"
        api.upload_file(path_or_fileobj=readme, path_in_repo="README.md", repo_id=repo)  # calls /api/validate-yaml
        check(Path(hf_hub_download(repo, "README.md")).read_bytes() == readme, "README content")
        head = api.repo_info(repo).sha
        # Same content again: the client skips the commit and asks repo_info for the sha.
        same = api.upload_file(path_or_fileobj=readme, path_in_repo="README.md", repo_id=repo)
        check(same.oid == head, f"no-op upload returned {same.oid}, head is {head}")

        pr = api.upload_file(path_or_fileobj=b"proposed", path_in_repo="pr.txt", repo_id=repo, create_pr=True)
        log("pr:", pr.pr_url, pr.pr_revision, pr.pr_num)
        check(pr.pr_revision == "refs/pr/1", f"pr revision {pr.pr_revision!r}")
        check(pr.pr_url == f"{ENDPOINT}/{repo}/discussions/1", f"pr url {pr.pr_url!r}")
        got = Path(hf_hub_download(repo, "pr.txt", revision="refs/pr/1")).read_bytes()
        check(got == b"proposed", f"pr.txt on refs/pr/1: {got!r}")
        check(not api.file_exists(repo, "pr.txt"), "pr.txt landed on main")
        check(api.repo_info(repo).sha == head, "the PR moved main")
        log("readme/pr ok")
        """,
    )


def test_read_token_cannot_write(server, tmp_path):
    read_token = server.create_token("alice", "read")
    scenario(
        server,
        tmp_path,
        "read_token_setup",
        """
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("alice/edge-readonly", private=True)
        api.upload_file(path_or_fileobj=b"hi", path_in_repo="a.txt", repo_id="alice/edge-readonly")
        """,
    )
    scenario(
        server,
        tmp_path,
        "read_token",
        """
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError

        api = HfApi()
        check(api.whoami()["name"] == "alice", "whoami with the read token")
        repo = "alice/edge-readonly"
        check(Path(hf_hub_download(repo, "a.txt")).read_bytes() == b"hi", "read token cannot read the private repo")
        expect_error(HfHubHTTPError, api.create_repo, "alice/edge-readonly-2", status=403)
        expect_error(HfHubHTTPError, api.upload_file, path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo, status=403)
        # A Xet upload: the write-token refusal (403) surfaces from hf_xet as a ConnectionError.
        expect_error(Exception, api.upload_file, path_or_fileobj=random_bytes(100_000, 1), path_in_repo="x.bin", repo_id=repo)
        expect_error(HfHubHTTPError, api.delete_file, "a.txt", repo_id=repo, status=403)
        check(api.list_repo_files(repo) == [".gitattributes", "a.txt"] or api.list_repo_files(repo) == ["a.txt"], f"files changed: {api.list_repo_files(repo)}")
        log("read token ok")
        """,
        token=read_token,
    )


def test_hf_filesystem_ranged_reads(server, tmp_path):
    scenario(
        server,
        tmp_path,
        "hffs",
        """
        from huggingface_hub import HfApi, HfFileSystem

        api = HfApi()
        repo = "alice/edge-hffs"
        api.create_repo(repo)
        blob = random_bytes(2 * MIB + 77, 8)
        text = b"0123456789" * 1000
        api.upload_file(path_or_fileobj=blob, path_in_repo="w.bin", repo_id=repo)
        api.upload_file(path_or_fileobj=text, path_in_repo="t.txt", repo_id=repo)
        fs = HfFileSystem()
        check(sorted(fs.ls(repo, detail=False)) == sorted([f"{repo}/.gitattributes", f"{repo}/t.txt", f"{repo}/w.bin"]) or
              sorted(fs.ls(repo, detail=False)) == sorted([f"{repo}/t.txt", f"{repo}/w.bin"]), f"ls: {fs.ls(repo, detail=False)}")
        for path, data in (("w.bin", blob), ("t.txt", text)):
            with fs.open(f"{repo}/{path}", "rb") as f:
                for start, length in ((0, 10), (1000, 5000), (len(data) - 7, 7), (len(data) // 2, 200_000)):
                    f.seek(start)
                    got = f.read(length)
                    want = data[start:start + length]
                    check(got == want, f"{path}[{start}:{start + length}]: {len(got)} bytes differ from expected {len(want)}")
            check(fs.cat_file(f"{repo}/{path}") == data, f"cat {path}")
        log("hffs ok")
        """,
    )


def test_commit_api_applies_the_push_rules(server):
    """The rules a git push obeys hold for raw NDJSON commits too: no regular
    file over 10 MiB, no LFS pointer to an object the repo does not hold."""
    token = server.token("alice")
    status, _, body = server.request(
        "POST", "/api/repos/create", token=token, body=json.dumps({"name": "edge-rules", "type": "model"}).encode()
    )
    assert status == 200, body

    def commit(path, content):
        lines = [
            {"key": "header", "value": {"summary": f"add {path}"}},
            {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}},
        ]
        payload = "\n".join(json.dumps(line) for line in lines).encode()
        return server.request("POST", "/api/models/alice/edge-rules/commit/main", token=token, body=payload, timeout=120)

    status, headers, body = commit("big.dat", b"\0" * (10 * 1024 * 1024 + 1))
    assert status == 422, (status, body)
    assert "git lfs track" in json.loads(body)["error"] and "big.dat" in json.loads(body)["error"], body
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"ab" * 32 + b"\nsize 12\n"
    status, _, body = commit("w.bin", pointer)
    assert status == 422, (status, body)
    assert "does not hold" in json.loads(body)["error"], body
    status, _, body = commit("ok.txt", b"x" * (10 * 1024 * 1024))
    assert status == 200, (status, body)


def test_data_survives_restart(tessera_bin, tmp_path):
    """Everything lives in the data dir: a restarted server (new port) serves the same repos."""
    from tessera_server import TesseraServer

    srv = TesseraServer(tessera_bin, base_dir=tmp_path / "server")
    upload = """
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("alice/restart", private=True)
        api.upload_file(path_or_fileobj=b"small", path_in_repo="s.txt", repo_id="alice/restart")
        info = api.upload_file(path_or_fileobj=random_bytes(MIB + 3, 1), path_in_repo="x.bin", repo_id="alice/restart")
        print("HEAD=" + info.oid)
    """
    download = """
        from huggingface_hub import HfApi, snapshot_download
        check(HfApi().repo_info("alice/restart").sha == PARAMS["head"], "head moved")
        snap = Path(snapshot_download("alice/restart"))
        check((snap / "s.txt").read_bytes() == b"small", "s.txt")
        check((snap / "x.bin").read_bytes() == random_bytes(MIB + 3, 1), "x.bin")
        log("restart ok")
    """
    with srv:
        first = srv.endpoint
        result = scenario(srv, tmp_path, "before", upload)
        head = next(line.split("=", 1)[1] for line in result.stdout.splitlines() if line.startswith("HEAD="))
        assert srv.stop() == 0, f"tessera serve did not exit cleanly on SIGTERM:\n{srv.log_tail()}"
        srv.start()
        print(f"restarted: {first} -> {srv.endpoint}")
        scenario(srv, tmp_path, "after", download, params={"head": head})
