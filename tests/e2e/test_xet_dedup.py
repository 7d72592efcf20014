"""Cross-repo Xet deduplication, measured on the server's blob store.

1. Upload a 64 MiB random file into repo A.
2. Upload the same data with 1 MiB inserted in the middle into repo B, from a
   fresh HF_XET_CACHE (so only the server's global dedup can help).
3. The stored xorb bytes (`xorbBytes` of GET /api/admin/stats) grow by at most
   1.5 MiB on the second upload.

Both files must download byte-identical. The figures are printed and written
to tests/e2e/.results/xet_dedup.json.
"""

import json
import shutil
import time

from tessera_server import describe, run_scenario

MIB = 1024 * 1024
BASE_SIZE = 64 * MIB
INSERT_SIZE = 1 * MIB
MAX_SECOND_GROWTH = int(1.5 * MIB)
MIN_FIRST_GROWTH = 60 * MIB

UPLOAD = """
from huggingface_hub import HfApi

api = HfApi()
repo = PARAMS["repo"]
api.create_repo(repo, exist_ok=True)
base = random.Random(PARAMS["seed"]).randbytes(PARAMS["base_size"])
if PARAMS["insert_size"]:
    middle = len(base) // 2
    data = base[:middle] + random.Random(PARAMS["seed"] + 1).randbytes(PARAMS["insert_size"]) + base[middle:]
else:
    data = base
del base
local = Path("data.bin")
local.write_bytes(data)
sha = sha256_bytes(data)
log(f"{repo}: {len(data)} bytes, sha256 {sha}")
t0 = time.monotonic()
info = api.upload_file(path_or_fileobj=str(local), path_in_repo="data.bin", repo_id=repo)
log(f"upload took {time.monotonic() - t0:.1f}s, commit {info.oid}")
local.unlink()
print("RESULT=" + json.dumps({"sha256": sha, "size": len(data), "commit": info.oid, "seconds": time.monotonic() - t0}))
"""

DOWNLOAD = """
from huggingface_hub import hf_hub_download

for repo, expected in PARAMS["expected"].items():
    t0 = time.monotonic()
    path = hf_hub_download(repo, "data.bin")
    got = sha256_file(path)
    log(f"{repo}: downloaded in {time.monotonic() - t0:.1f}s, sha256 {got}")
    check(got == expected, f"{repo}/data.bin: downloaded sha256 {got} != uploaded {expected}")
    os.unlink(os.path.realpath(path))
"""


def result_line(stdout: str) -> dict:
    for line in stdout.splitlines():
        if line.startswith("RESULT="):
            return json.loads(line.split("=", 1)[1])
    raise AssertionError(f"no RESULT line in:\n{stdout}")


def test_xet_dedup_insert_in_the_middle(server, tmp_path, results_dir):
    token = server.token("alice")
    figures = {"base_size": BASE_SIZE, "insert_size": INSERT_SIZE, "max_second_growth": MAX_SECOND_GROWTH}
    uploads = {}

    def upload(name: str, repo: str, insert_size: int) -> int:
        before = server.stats()["xorbBytes"]
        root = tmp_path / name
        result = run_scenario(
            server,
            UPLOAD,
            root,
            token=token,
            name=name,
            xet_cache=root / "fresh_xet_cache",
            params={"repo": repo, "seed": 6400, "base_size": BASE_SIZE, "insert_size": insert_size},
        )
        assert result.returncode == 0, describe(result, f"upload {name}")
        after = server.stats()["xorbBytes"]
        uploads[repo] = result_line(result.stdout)
        figures[name] = {
            "repo": repo,
            "file_size": uploads[repo]["size"],
            "upload_seconds": round(uploads[repo]["seconds"], 2),
            "xorb_bytes_before": before,
            "xorb_bytes_after": after,
            "growth": after - before,
        }
        shutil.rmtree(root, ignore_errors=True)
        return after - before

    started = time.monotonic()
    try:
        first = upload("upload_a", "alice/dedup-a", 0)
        second = upload("upload_b", "alice/dedup-b", INSERT_SIZE)
        figures["second_growth_mib"] = round(second / MIB, 3)
        figures["second_growth_fraction_of_file"] = round(second / (BASE_SIZE + INSERT_SIZE), 5)

        download = run_scenario(
            server,
            DOWNLOAD,
            tmp_path / "download",
            token=token,
            name="download",
            params={"expected": {repo: u["sha256"] for repo, u in uploads.items()}},
        )
        assert download.returncode == 0, describe(download, "download both files")
        figures["download_ok"] = True
    finally:
        figures["total_seconds"] = round(time.monotonic() - started, 1)
        print("xet dedup figures:", json.dumps(figures, indent=2))
        (results_dir / "xet_dedup.json").write_text(json.dumps(figures, indent=2) + "\n")

    assert first >= MIN_FIRST_GROWTH, f"the first 64 MiB upload grew xorbBytes by only {first} bytes: {figures}"
    assert second <= MAX_SECOND_GROWTH, (
        f"the second upload (1 MiB inserted) grew xorbBytes by {second} bytes "
        f"({second / MIB:.2f} MiB) > {MAX_SECOND_GROWTH}: {figures}"
    )
