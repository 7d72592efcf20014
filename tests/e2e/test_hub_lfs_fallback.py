"""Uploads without hf_xet's Xet path: HF_HUB_DISABLE_XET=1 makes
huggingface_hub use the git-LFS batch API (basic / multipart transfers), as
clients without hf_xet, BytesIO uploads and git pushes do.
"""

from tessera_server import scenario


def test_lfs_batch_upload_and_download(server, tmp_path):
    scenario(
        server,
        tmp_path,
        "lfs_fallback",
        """
        import io
        from huggingface_hub import HfApi, hf_hub_download, snapshot_download

        api = HfApi()
        repo = "alice/edge-lfs"
        api.create_repo(repo)
        data = random_bytes(3 * MIB + 5, 9)
        info = api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=repo)
        log(f"commit {info.oid}")
        entry = next(e for e in api.list_repo_tree(repo) if e.path == "w.bin")
        check(entry.lfs is not None and entry.lfs.sha256 == sha256_bytes(data), f"tree entry {entry}")
        check(Path(hf_hub_download(repo, "w.bin")).read_bytes() == data, "download of the LFS upload")
        snap = Path(snapshot_download(repo, cache_dir="snap"))
        check((snap / "w.bin").read_bytes() == data, "snapshot of the LFS upload")
        log("lfs fallback ok")
        """,
        env={"HF_HUB_DISABLE_XET": "1"},
    )


def test_bytesio_upload_uses_lfs_batch(server, tmp_path):
    scenario(
        server,
        tmp_path,
        "bytesio",
        """
        import io
        from huggingface_hub import HfApi, hf_hub_download

        api = HfApi()
        repo = "alice/edge-bytesio"
        api.create_repo(repo)
        data = random_bytes(2 * MIB, 10)
        api.upload_file(path_or_fileobj=io.BytesIO(data), path_in_repo="b.bin", repo_id=repo)
        check(Path(hf_hub_download(repo, "b.bin")).read_bytes() == data, "download of the BytesIO upload")
        log("bytesio ok")
        """,
    )
