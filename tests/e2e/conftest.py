"""Shared fixtures for the end-to-end tests.

The tests run the real `tessera` binary named by the environment variable
TESSERA_BIN (scripts/test sets it to the release build).
"""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tessera_bin() -> Path:
    value = os.environ.get("TESSERA_BIN")
    if not value:
        pytest.fail(
            "TESSERA_BIN is not set: run scripts/test, or set it to a built "
            "tessera binary (e.g. target/release/tessera)",
            pytrace=False,
        )
    path = Path(value)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"TESSERA_BIN={value} is not an executable file", pytrace=False)
    return path.resolve()
