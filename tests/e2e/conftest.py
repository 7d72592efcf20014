"""Shared fixtures for the end-to-end tests.

The tests run the real `tessera` binary named by the environment variable
TESSERA_BIN (scripts/test sets it to the release build).
"""

import os
import shutil
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


# ---------------------------------------------------------------- server
# A real `tessera serve` shared by the Hub/Xet end-to-end tests (see
# tessera_server.py). Its log is attached to the report of every failing
# test that used it (the part written while that test ran).

from tessera_server import TesseraServer  # noqa: E402

RESULTS_DIR = Path(__file__).parent / ".results"
_LOG_OFFSET = pytest.StashKey[int]()


@pytest.fixture(scope="session")
def server(request, tessera_bin, tmp_path_factory):
    srv = TesseraServer(tessera_bin, base_dir=tmp_path_factory.mktemp("tessera-server"))
    srv.start()
    print(f"tessera server at {srv.endpoint} on {srv.backend.label}, data dir {srv.data_dir}, log {srv.log_path}")
    try:
        yield srv
    finally:
        srv.stop()
        # Hundreds of MB of blobs: keep them only when something failed.
        if request.session.testsfailed == 0:
            shutil.rmtree(srv.data_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _server_log_marker(request):
    """Remembers where the server log stood when a test using `server` began."""
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        if not srv.alive():
            pytest.fail(
                f"tessera serve is no longer running (status {srv.returncode}); log tail:\n{srv.log_tail()}",
                pytrace=False,
            )
        request.node.stash[_LOG_OFFSET] = srv.log_size()
    yield


# ---------------------------------------------------------------- backends
# TESSERA_TEST_BACKEND (see backends.py) selects SQLite + local disk (default)
# or Postgres + S3. Tests marked `postgres_s3` need the latter and are skipped
# without it; under it they must run: a skip of one of them is a failure.

from backends import POSTGRES_S3, backend_kind  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres_s3: needs TESSERA_TEST_BACKEND=postgres-s3 (a shared Postgres and S3)")


def pytest_report_header(config):
    return f"tessera backend: {backend_kind()} (TESSERA_TEST_BACKEND)"


def pytest_collection_modifyitems(config, items):
    if backend_kind() == POSTGRES_S3:
        return
    skip = pytest.mark.skip(
        reason="needs TESSERA_TEST_BACKEND=postgres-s3 with the services of scripts/services "
        "(scripts/test runs it in its Postgres + S3 pass)"
    )
    for item in items:
        if "postgres_s3" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and backend_kind() == POSTGRES_S3 and "postgres_s3" in item.keywords:
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} was skipped under TESSERA_TEST_BACKEND=postgres-s3, where it must run: {report.longrepr}"
    if report.failed and _LOG_OFFSET in item.stash:
        srv = item.funcargs.get("server")
        if srv is not None:
            state = "running" if srv.alive() else f"exited with status {srv.returncode}"
            report.sections.append(
                (f"tessera server log during this test ({state}; {srv.log_path})", srv.log_since(item.stash[_LOG_OFFSET]))
            )


@pytest.fixture(scope="session")
def results_dir() -> Path:
    """tests/e2e/.results (.results/postgres-s3 in that pass): measured figures (JSON) for humans and CI artifacts."""
    path = RESULTS_DIR if backend_kind() != POSTGRES_S3 else RESULTS_DIR / POSTGRES_S3
    path.mkdir(parents=True, exist_ok=True)
    return path
