"""`tessera xet hash` against the reference client, hf_xet.hash_files.

Every file is hashed once by the binary (one invocation, all files) and once by
the pinned hf_xet wheel; the Xet file hash and the size must agree, and the
sha256 column must be the file's sha256.
"""

import hashlib
import random
import subprocess
from pathlib import Path

import hf_xet
import pytest

MIB = 1024 * 1024

# Sizes around the chunker's edges: empty, one byte, just under / at the
# minimum chunk size (8 KiB), a few chunks, several MiB, and a large file.
SIZES = [0, 1, 8191, 8192, 1_000_000, 3 * MIB + 17, 100 * MIB]

# Xet content-defined chunking: chunks are at most 128 KiB (and, except the
# last, at least 8 KiB).
MIN_CHUNK = 8 * 1024
MAX_CHUNK = 128 * 1024

SEED = 0x7E55E7A


def write_random_file(path: Path, size: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "wb") as f:
        remaining = size
        while remaining:
            n = min(remaining, 16 * MIB)
            f.write(rng.randbytes(n))
            remaining -= n


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(4 * MIB):
            h.update(block)
    return h.hexdigest()


def parse_hash_output(stdout: str) -> list[dict]:
    rows = []
    for line in stdout.splitlines():
        xet_hash, sha256, size, chunks, path = line.split(" ", 4)
        rows.append(
            {
                "xet_hash": xet_hash,
                "sha256": sha256,
                "size": int(size),
                "chunks": int(chunks),
                "path": path,
            }
        )
    return rows


@pytest.fixture(scope="module")
def random_files(tmp_path_factory) -> list[Path]:
    directory = tmp_path_factory.mktemp("xet_hash")
    files = []
    for i, size in enumerate(SIZES):
        path = directory / f"random_{size}.bin"
        write_random_file(path, size, SEED + i)
        assert path.stat().st_size == size
        files.append(path)
    return files


@pytest.fixture(scope="module")
def tessera_rows(tessera_bin, random_files) -> list[dict]:
    result = subprocess.run(
        [str(tessera_bin), "xet", "hash", *map(str, random_files)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"tessera xet hash failed ({result.returncode}):\n{result.stderr}"
    rows = parse_hash_output(result.stdout)
    assert [row["path"] for row in rows] == [str(p) for p in random_files], result.stdout
    return rows


@pytest.fixture(scope="module")
def hf_xet_infos(random_files) -> list:
    infos = hf_xet.hash_files([str(p) for p in random_files])
    assert len(infos) == len(random_files)
    return infos


@pytest.mark.parametrize("index", range(len(SIZES)), ids=[f"size={s}" for s in SIZES])
def test_xet_hash_matches_hf_xet(index, random_files, tessera_rows, hf_xet_infos):
    path, row, info = random_files[index], tessera_rows[index], hf_xet_infos[index]
    size = SIZES[index]

    assert row["size"] == size
    assert info.file_size == size
    assert row["xet_hash"] == info.hash, f"{path.name}: tessera {row['xet_hash']} != hf_xet {info.hash}"


@pytest.mark.parametrize("index", range(len(SIZES)), ids=[f"size={s}" for s in SIZES])
def test_sha256_column(index, random_files, tessera_rows):
    assert tessera_rows[index]["sha256"] == sha256_file(random_files[index])


@pytest.mark.parametrize("index", range(len(SIZES)), ids=[f"size={s}" for s in SIZES])
def test_chunk_count_plausible(index, tessera_rows):
    size, chunks = SIZES[index], tessera_rows[index]["chunks"]
    if size == 0:
        assert chunks == 0
    else:
        assert -(-size // MAX_CHUNK) <= chunks <= max(1, -(-size // MIN_CHUNK))


def test_empty_file_hash_is_zero(tessera_rows):
    # hf_xet reports the all-zero hash for an empty file.
    assert tessera_rows[0]["xet_hash"] == "0" * 64


def test_missing_file_fails_clearly(tessera_bin, tmp_path):
    missing = tmp_path / "does-not-exist.bin"
    result = subprocess.run(
        [str(tessera_bin), "xet", "hash", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert str(missing) in result.stderr
    assert "No such file or directory" in result.stderr


def test_no_arguments_is_a_usage_error(tessera_bin):
    result = subprocess.run(
        [str(tessera_bin), "xet", "hash"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "Usage" in result.stderr or "usage" in result.stderr
