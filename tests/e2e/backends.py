"""Where a test server keeps its metadata and blobs.

By default (`TESSERA_TEST_BACKEND` unset or `sqlite-disk`) every server keeps
both in its data directory: a SQLite file and a local blob store, exactly as
`tessera serve` does out of the box.

With `TESSERA_TEST_BACKEND=postgres-s3` (scripts/test's second pass, with the
services of scripts/services running) every server gets its own fresh
Postgres database on the cluster named by `TESSERA_TEST_PG_ADMIN_URL` and its
own fresh bucket on the S3 server `TESSERA_TEST_S3_ENDPOINT` (path style,
credentials AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). Two servers may share
one `Backend` (the scale-out tests).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import itertools
import os
import secrets
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

SQLITE_DISK = "sqlite-disk"
POSTGRES_S3 = "postgres-s3"
S3_REGION = "us-east-1"
_counter = itertools.count()


def backend_kind() -> str:
    kind = os.environ.get("TESSERA_TEST_BACKEND", "") or SQLITE_DISK
    if kind not in (SQLITE_DISK, POSTGRES_S3):
        raise RuntimeError(f"TESSERA_TEST_BACKEND={kind!r}: expected {SQLITE_DISK!r} or {POSTGRES_S3!r}")
    return kind


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"TESSERA_TEST_BACKEND={POSTGRES_S3} needs {name} (start the services: source scripts/services)")
    return value


@dataclass
class Backend:
    """The server settings of one metadata database and blob store; empty = the data dir."""

    kind: str = SQLITE_DISK
    database_url: str | None = None
    s3_bucket: str | None = None
    s3_endpoint: str | None = None
    server_env: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.kind == SQLITE_DISK:
            return "SQLite + local disk"
        return f"Postgres {self.database_url.rsplit('/', 1)[-1]} + S3 bucket {self.s3_bucket} at {self.s3_endpoint}"

    @classmethod
    def fresh(cls, kind: str | None = None) -> "Backend":
        """A new, empty backend of `kind` (default: TESSERA_TEST_BACKEND)."""
        kind = kind or backend_kind()
        if kind == SQLITE_DISK:
            return cls()
        admin_url = _required("TESSERA_TEST_PG_ADMIN_URL")
        endpoint = _required("TESSERA_TEST_S3_ENDPOINT").rstrip("/")
        key, secret = _required("AWS_ACCESS_KEY_ID"), _required("AWS_SECRET_ACCESS_KEY")
        name = f"tessera_e2e_{os.getpid()}_{next(_counter)}_{secrets.token_hex(3)}"
        database_url = create_database(admin_url, name)
        bucket = name.replace("_", "-")
        create_bucket(endpoint, bucket, key, secret)
        return cls(
            kind=kind,
            database_url=database_url,
            s3_bucket=bucket,
            s3_endpoint=endpoint,
            server_env={
                "TESSERA_DATABASE_URL": database_url,
                "TESSERA_S3_BUCKET": bucket,
                "TESSERA_S3_ENDPOINT": endpoint,
                "TESSERA_S3_REGION": S3_REGION,
                "TESSERA_S3_FORCE_PATH_STYLE": "true",
                "AWS_ACCESS_KEY_ID": key,
                "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_REGION": S3_REGION,
            },
        )


# ---------------------------------------------------------------- Postgres
def create_database(admin_url: str, name: str) -> str:
    """CREATE DATABASE `name` on the cluster of `admin_url` (psql); returns its URL."""
    result = subprocess.run(
        ["psql", admin_url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", f'CREATE DATABASE "{name}"'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(f"CREATE DATABASE {name} failed ({result.returncode}): {result.stderr}")
    parts = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


# ---------------------------------------------------------------- S3 (SigV4, stdlib only)
def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def s3_request(method: str, endpoint: str, path: str, key: str, secret: str, body: bytes = b"", region: str = S3_REGION):
    """One SigV4-signed path-style request; returns (status, body)."""
    parts = urllib.parse.urlsplit(endpoint)
    host = parts.netloc
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    canonical_uri = urllib.parse.quote(path, safe="/-_.~")
    headers = {"host": host, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [method, canonical_uri, "", "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, payload_hash]
    )
    scope = f"{date}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = _sign(("AWS4" + secret).encode(), date)
    k = _sign(k, region)
    k = _sign(k, "s3")
    k = _sign(k, "aws4_request")
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(endpoint.rstrip("/") + canonical_uri, data=body if method in ("PUT", "POST") else None, method=method)
    for name, value in headers.items():
        if name != "host":
            req.add_header(name, value)
    req.add_header("Authorization", f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed}, Signature={signature}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def create_bucket(endpoint: str, bucket: str, key: str, secret: str) -> None:
    status, body = s3_request("PUT", endpoint, f"/{bucket}", key, secret)
    if status != 200:
        raise RuntimeError(f"S3 CreateBucket {bucket} at {endpoint} -> {status}: {body[:500]!r}")


def list_objects(endpoint: str, bucket: str, key: str, secret: str) -> bytes:
    status, body = s3_request("GET", endpoint, f"/{bucket}", key, secret)
    if status != 200:
        raise RuntimeError(f"S3 ListObjects {bucket} at {endpoint} -> {status}: {body[:500]!r}")
    return body
