"""Helpers for the Git LFS end-to-end tests: plain HTTP calls to the LFS API
(as git-lfs makes them: the LFS media type, Bearer or HTTP Basic auth), and
git working copies with git-lfs talking to a TesseraServer.

Every git command runs with HOME in a temp dir (where `git lfs install`
wrote the filter config), no system config, no terminal prompts, and the
user's token handed to git by a `credential.helper` given with `-c`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

LFS_MEDIA_TYPE = "application/vnd.git-lfs+json"
GIT_TIMEOUT_SECS = 180


@dataclass
class Reply:
    status: int
    headers: dict  # lowercase names
    body: bytes

    def json(self):
        return json.loads(self.body) if self.body else None

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.body[:1000]!r}"


def http(url: str, method: str = "GET", *, token: str | None = None, basic: tuple[str, str] | None = None,
         body=None, content_type: str = LFS_MEDIA_TYPE, timeout: float = 60) -> Reply:
    """One request; `body` is JSON (dict/list), bytes, or None."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", LFS_MEDIA_TYPE)
    if data is not None:
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if basic:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def create_repo(server, user: str, name: str, *, private: bool = False, repo_type: str = "model") -> None:
    reply = http(f"{server.endpoint}/api/repos/create", "POST", token=server.token(user),
                 body={"name": name, "organization": user, "private": private, "type": repo_type},
                 content_type="application/json")
    assert reply.status == 200, f"create {user}/{name}: {reply}"


def lfs_url(server, repo: str) -> str:
    """The LFS server URL git-lfs derives from the remote `{endpoint}/{repo}.git`."""
    return f"{server.endpoint}/{repo}.git/info/lfs"


def batch(server, repo: str, operation: str, objects: list[tuple[str, int]], *, token=None,
          transfers=("basic",), ref: str = "refs/heads/main") -> Reply:
    body = {
        "operation": operation,
        "transfers": list(transfers),
        "ref": {"name": ref},
        "objects": [{"oid": oid, "size": size} for oid, size in objects],
        "hash_algo": "sha256",
    }
    return http(f"{lfs_url(server, repo)}/objects/batch", "POST", token=token, body=body)


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def oid_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload_basic(server, repo: str, token: str, data: bytes) -> str:
    """Uploads `data` through the basic transfer (batch, PUT, verify); returns its oid."""
    oid = oid_of(data)
    reply = batch(server, repo, "upload", [(oid, len(data))], token=token)
    assert reply.status == 200, f"upload batch on {repo}: {reply}"
    actions = reply.json()["objects"][0].get("actions")
    if actions:
        put = http(actions["upload"]["href"], "PUT", body=data, content_type="application/octet-stream")
        assert put.status == 200, f"PUT of {oid} to {repo}: {put}"
        verify = http(actions["verify"]["href"], "POST", body={"oid": oid, "size": len(data)})
        assert verify.status == 200, f"verify of {oid} on {repo}: {verify}"
    return oid


def download_href(server, repo: str, token: str | None, oid: str, size: int) -> str:
    reply = batch(server, repo, "download", [(oid, size)], token=token)
    assert reply.status == 200, f"download batch on {repo}: {reply}"
    entry = reply.json()["objects"][0]
    assert "actions" in entry, f"no download action for {oid} on {repo}: {entry}"
    return entry["actions"]["download"]["href"]


# ---------------------------------------------------------------- git
def git_env(home: Path) -> dict[str, str]:
    """The environment of git: nothing git- or HF-related inherited, loopback without proxies."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "HF_", "XET_"))}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "SSH_ASKPASS"):
        env.pop(name, None)
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env


def git_home(root: Path) -> Path:
    """A HOME with `git lfs install` run in it."""
    home = Path(root) / "home"
    home.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["git", "lfs", "install"], cwd=home, env=git_env(home), capture_output=True, text=True,
                            timeout=GIT_TIMEOUT_SECS)
    assert result.returncode == 0, f"git lfs install: {result.stdout}{result.stderr}"
    return home


class WorkTree:
    """A local git repo whose LFS server is a Tessera repo, used as one user."""

    def __init__(self, server, home: Path, path: Path, repo: str, user: str | None, token: str | None = None):
        self.server, self.home, self.path, self.repo, self.user = server, Path(home), Path(path), repo, user
        self.token = token if token is not None else (server.token(user) if user else None)
        self.path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", user or "anonymous")
        self.git("config", "user.email", f"{user or 'anonymous'}@tessera.test")
        self.git("config", "lfs.url", lfs_url(server, repo))
        self.git("remote", "add", "origin", f"{server.endpoint}/{repo}.git")

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Runs git with this user's credentials (none for an anonymous tree)."""
        helper = []
        if self.token:
            helper = ["-c", "credential.helper=",
                      "-c", f"credential.helper=!f() {{ echo username={self.user}; echo password={self.token}; }}; f"]
        result = subprocess.run(["git", *helper, *args], cwd=self.path, env=git_env(self.home), capture_output=True,
                                text=True, timeout=GIT_TIMEOUT_SECS, stdin=subprocess.DEVNULL)
        shown = " ".join(args)
        print(f"--- git {shown} (as {self.user or 'anonymous'}): exit {result.returncode}\n{result.stdout}{result.stderr}")
        if check:
            assert result.returncode == 0, f"git {shown} as {self.user} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        return result

    def commit_files(self, files: dict[str, bytes], message: str) -> None:
        for name, data in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def track(self, pattern: str = "*.bin") -> None:
        self.git("lfs", "track", pattern)
