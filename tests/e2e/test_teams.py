"""Teams: organizations, roles, fine-grained tokens, gated repos, repo moves,
names and disabled users (the contract of issue #9), seen through the real
clients: huggingface_hub 2.4.0 and the `hf` CLI in subprocesses, and the
machine's `git` + `git-lfs`.

The module runs its own `tessera serve` (the `server` fixture below overrides
the session one) with the users of USERS, so that org and user names never
collide with other test modules. The org `acme` (olga admin, wendy write, rita
read) is made once by the `acme` fixture through the admin CLI; every test
otherwise makes its own repos and tokens, so the tests do not depend on their
order.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import shutil
import subprocess
import textwrap
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest
from git_client import GitClient, describe_git, repo_url, sha256_file, write_random
from tessera_server import TesseraServer, cli, describe, scenario, tree_files

MIB = 1024 * 1024
LFS_SPEC = "version https://git-lfs.github.com/spec/v1"

# alice: site admin; olga, wendy, rita: the org acme (admin, write, read); the others: nobody's members.
USERS = (
    ("alice", True),
    ("bob", False),
    ("olga", False),
    ("wendy", False),
    ("rita", False),
    ("nick", False),
    ("gus", False),
    ("una", False),
    ("dora", False),
)
ACME_ROLES = {"olga": "admin", "wendy": "write", "rita": "read"}


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def server(request, tessera_bin, tmp_path_factory):
    """A server of this module's own (the name `server` keeps conftest's log attachment)."""
    srv = TesseraServer(tessera_bin, base_dir=tmp_path_factory.mktemp("tessera-teams"), users=USERS)
    srv.start()
    print(f"tessera server at {srv.endpoint} on {srv.backend.label}, data dir {srv.data_dir}, log {srv.log_path}")
    try:
        yield srv
    finally:
        srv.stop()
        if request.session.testsfailed == 0:
            shutil.rmtree(srv.data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def acme(server):
    """The org acme: olga (admin, its creator), wendy (write), rita (read), made with the admin CLI."""
    out = admin(server, "org", "create", "acme", "--owner", "olga").stdout
    assert "created organization acme (admin: olga)" in out, f"org create printed {out!r}"
    for user in ("wendy", "rita"):
        admin(server, "org", "add-member", "acme", user, "--role", ACME_ROLES[user])
    lines = admin(server, "org", "list").stdout.splitlines()
    assert "acme\t3 members" in lines, f"org list: {lines}"
    return ACME_ROLES


# ---------------------------------------------------------------- helpers
def admin(server, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`tessera --data-dir D admin ARGS` against the running server's data (as TesseraServer._admin)."""
    cmd = [str(server.binary), "--data-dir", str(server.data_dir), "admin", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, env=server._env(), timeout=60, stdin=subprocess.DEVNULL)
    print(f"--- tessera admin {' '.join(args)}: exit {result.returncode}\n{result.stdout}{result.stderr}")
    if check:
        assert result.returncode == 0, f"tessera admin {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def admin_refused(server, *args: str) -> subprocess.CompletedProcess:
    result = admin(server, *args, check=False)
    assert result.returncode != 0, f"tessera admin {' '.join(args)} should be refused, but exited 0:\n{result.stdout}\n{result.stderr}"
    assert "panicked" not in result.stderr, f"tessera admin {' '.join(args)} panicked:\n{result.stderr}"
    return result


def create_token(server, user: str, *args: str) -> tuple[str, str, str]:
    """`admin token create USER ARGS`: (scope as printed, token, token id)."""
    out = admin(server, "token", "create", user, *args).stdout
    match = re.search(r"^(\S+) token for (\S+): (hf_\S+)$", out, re.M)
    ident = re.search(r"^token id: (\d+)$", out, re.M)
    assert match and ident, f"token create printed {out!r}"
    assert match.group(2) == user, out
    return match.group(1), match.group(3), ident.group(1)


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self):
        return json.loads(self.body)

    def __str__(self) -> str:
        return f"{self.status} {self.headers} {self.body[:1500]!r}"


def call(server, method: str, target: str, *, token: str | None = None, json_body=None, headers: dict | None = None, body: bytes | None = None) -> Response:
    """One HTTP request, redirects NOT followed; `target` is a path on the server or a full URL."""
    url = urllib.parse.urlsplit(target if "://" in target else server.endpoint + target)
    conn = http.client.HTTPConnection(url.netloc, timeout=60)
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    if json_body is not None:
        body = json.dumps(json_body).encode()
        hdrs["Content-Type"] = "application/json"
    try:
        conn.request(method, url.path + (f"?{url.query}" if url.query else ""), body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def api_json(server, path: str, user: str = "alice"):
    resp = call(server, "GET", path, token=server.token(user))
    assert resp.status == 200, f"GET {path} (as {user}) -> {resp}"
    return resp.json()


def api_head(server, repo: str, user: str = "alice") -> str:
    return api_json(server, f"/api/models/{repo}", user)["sha"]


def worktree_shas(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file of a work tree outside .git."""
    return {p: sha256_file(f) for p, f in tree_files(root, skip_dirs=(".git",)).items()}


def git_client(tmp_path: Path, name: str, user: str | None, token: str | None) -> GitClient:
    return GitClient(tmp_path / f"git-{name}", username=user, token=token, name=name)


def commit_all(git: GitClient, work: Path, message: str) -> str:
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git.out("rev-parse", "HEAD", cwd=work)


def assert_git_failed(result, *needles: str, what: str) -> None:
    assert result.returncode != 0, describe_git(result, f"{what}: expected a failure, but")
    text = result.stderr.lower()
    missing = [n for n in needles if n.lower() not in text]
    assert not missing, describe_git(result, f"{what}: stderr lacks {missing}:")


def same_location(server, location: str, expected_path: str) -> bool:
    """A Location header (absolute or relative) names `expected_path` (with its query) on this server."""
    absolute = urllib.parse.urljoin(server.endpoint + "/", location)
    return absolute == server.endpoint + expected_path


def trace_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("HTTP ")]


# ---------------------------------------------------------------- 1. an org, three roles, one private repo
def test_org_members_with_three_roles_share_a_private_repo(server, acme, tmp_path):
    repo = "acme/x"
    scenario(
        server,
        tmp_path,
        "olga_create",
        """
        from huggingface_hub import HfApi
        api = HfApi()
        url = api.create_repo("acme/x", private=True)
        check(url.repo_id == "acme/x" and str(url) == f"{ENDPOINT}/acme/x", f"create_repo -> {url!r}")
        info = api.repo_info("acme/x")
        check(info.id == "acme/x" and info.private is True, f"repo_info: id {info.id!r}, private {info.private!r}")
        """,
        user="olga",
    )

    # wendy (write) uploads a folder with the `hf` CLI: the weights go through Xet.
    src = tmp_path / "src"
    write_random(src / "weights" / "model.safetensors", 3 * MIB + 7, seed=1)
    (src / "config.json").write_text('{"hidden_size": 64}\n')
    (src / "README.md").write_text("# acme/x\n\nshared by the acme org\n")
    up = cli(server, tmp_path, ["upload", repo, str(src), "--commit-message", "from hf upload"], user="wendy", root="cli-wendy")
    assert up.returncode == 0, describe(up, "hf upload acme/x ./src (as wendy, org write)")
    weights = {e["path"]: e for e in api_json(server, f"/api/models/{repo}/tree/main/weights", "olga")}
    entry = weights.get("weights/model.safetensors")
    assert entry and entry.get("xetHash"), f"the hf upload did not store the weights through Xet: {weights}"

    # wendy pushes a commit with an LFS file with git + git-lfs.
    wendy = git_client(tmp_path, "wendy", "wendy", server.token("wendy"))
    work = tmp_path / "wendy-clone"
    wendy("clone", repo_url(server, repo), work)
    assert sha256_file(work / "weights" / "model.safetensors") == sha256_file(src / "weights" / "model.safetensors")
    wendy("lfs", "track", "*.bin", cwd=work)
    write_random(work / "data" / "extra.bin", 2 * MIB + 3, seed=2)
    (work / "docs").mkdir()
    (work / "docs" / "notes.txt").write_text("pushed by wendy with git\n")
    pushed = commit_all(wendy, work, "git push by the write member")
    assert "data/extra.bin" in wendy.out("lfs", "ls-files", "-n", cwd=work).splitlines()
    wendy("push", "origin", "main", cwd=work)
    assert api_head(server, repo, "olga") == pushed, "wendy's push did not move main"
    files = worktree_shas(work)
    assert {"weights/model.safetensors", "data/extra.bin", "docs/notes.txt", "config.json", ".gitattributes"} <= set(files)

    # rita (read) downloads everything byte-exact, and cannot write.
    scenario(
        server,
        tmp_path,
        "rita_read",
        """
        from huggingface_hub import HfApi, hf_hub_download, snapshot_download
        from huggingface_hub.errors import HfHubHTTPError

        api = HfApi()
        repo, files = PARAMS["repo"], PARAMS["files"]
        head = api.repo_info(repo).sha
        check(head == PARAMS["head"], f"rita sees main at {head}, expected {PARAMS['head']}")
        for path, want in files.items():
            got = sha256_file(hf_hub_download(repo, path))
            check(got == want, f"{path}: sha256 {got} != {want}")
        snap = Path(snapshot_download(repo, cache_dir="snap"))
        got = {p.relative_to(snap).as_posix(): sha256_file(p) for p in snap.rglob("*") if p.is_file()}
        check(got == files, f"snapshot_download differs: {sorted(got)} vs {sorted(files)}")
        log("rita downloads ok")

        expect_error(HfHubHTTPError, api.upload_file, path_or_fileobj=b"rita was here", path_in_repo="rita.txt", repo_id=repo, status=403)
        expect_error(HfHubHTTPError, api.upload_file, path_or_fileobj=random_bytes(MIB, 3), path_in_repo="rita.bin", repo_id=repo, status=403)
        expect_error(HfHubHTTPError, api.create_repo, "acme/rita-new", status=403)
        expect_error(HfHubHTTPError, api.create_branch, repo, branch="rita", status=403)
        check(api.repo_info(repo).sha == head, "a refused write moved main")
        """,
        user="rita",
        params={"repo": repo, "files": files, "head": pushed},
    )
    refused = cli(server, tmp_path, ["upload", repo, str(src / "config.json"), "rita.json"], user="rita", root="cli-rita")
    assert refused.returncode != 0, describe(refused, "hf upload by the read member should fail")

    # rita with git: clone without smudging, `git lfs pull`, byte-exact; her push is refused.
    rita = git_client(tmp_path, "rita", "rita", server.token("rita"))
    rwork = tmp_path / "rita-clone"
    rita("clone", repo_url(server, repo), rwork, env={"GIT_LFS_SKIP_SMUDGE": "1"})
    pointer = (rwork / "data" / "extra.bin").read_text()
    assert pointer.startswith(LFS_SPEC), f"data/extra.bin in a GIT_LFS_SKIP_SMUDGE clone: {pointer[:200]!r}"
    rita("lfs", "pull", cwd=rwork)
    assert worktree_shas(rwork) == files, "rita's clone + git lfs pull differs from what wendy pushed"
    (rwork / "rita.txt").write_text("read member\n")
    commit_all(rita, rwork, "rita tries to push")
    assert_git_failed(rita("push", "origin", "main", cwd=rwork, check=False), "403", what="the read member's git push")
    assert api_head(server, repo, "olga") == pushed, "rita's refused push moved main"

    # nick (no member) sees nothing; git says not found; anonymous git gets a challenge.
    scenario(
        server,
        tmp_path,
        "nick_outsider",
        """
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import RepositoryNotFoundError

        api = HfApi()
        repo = PARAMS["repo"]
        expect_error(RepositoryNotFoundError, api.repo_info, repo)
        expect_error(RepositoryNotFoundError, hf_hub_download, repo, "config.json")
        expect_error(RepositoryNotFoundError, api.upload_file, path_or_fileobj=b"x", path_in_repo="nick.txt", repo_id=repo)
        check(not api.repo_exists(repo), "repo_exists says yes to a non-member")
        """,
        user="nick",
        params={"repo": repo},
    )
    nick = git_client(tmp_path, "nick", "nick", server.token("nick"))
    assert_git_failed(nick("clone", repo_url(server, repo), tmp_path / "nick-clone", check=False), "not found", what="a non-member's git clone")
    anonymous = git_client(tmp_path, "anonymous", None, None)
    result = anonymous("clone", repo_url(server, repo), tmp_path / "anon-clone", check=False)
    assert result.returncode != 0, describe_git(result, "anonymous git clone of a private org repo: expected a failure, but")

    # whoami, the org overview, the member list and list_models(author=...), per caller.
    tokens = {name: server.token(name) for name in ("olga", "wendy", "rita", "nick")}
    scenario(
        server,
        tmp_path,
        "org_views",
        """
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError

        api = HfApi()
        tokens, roles = PARAMS["tokens"], PARAMS["roles"]
        for name, token in tokens.items():
            me = api.whoami(token=token)
            check(me.get("name") == name, f"whoami as {name}: name {me.get('name')!r}")
            orgs = {o.get("name"): o for o in me.get("orgs") or []}
            if name in roles:
                org = orgs.get("acme")
                check(org is not None, f"whoami of {name} lacks acme: {me.get('orgs')}")
                check(org.get("roleInOrg") == roles[name], f"whoami of {name}: roleInOrg {org.get('roleInOrg')!r}, expected {roles[name]}")
                check(org.get("type") == "org", f"whoami of {name}: org entry {org}")
            else:
                check("acme" not in orgs, f"whoami of non-member {name} lists acme: {me.get('orgs')}")
            log(f"whoami {name}: orgs {me.get('orgs')}")

        callers = list(tokens.items()) + [("anonymous", False)]
        for who, token in callers:
            member = who in roles
            overview = api.get_organization_overview("acme", token=token)
            log(f"overview as {who}: {overview}")
            check(overview.name == "acme", f"overview name {overview.name!r}")
            check(getattr(overview, "type", None) == "org", f"overview type {getattr(overview, 'type', None)!r}")
            check(overview.num_users == 3, f"overview numUsers {overview.num_users!r} (as {who})")
            check(overview.is_verified is False and overview.num_followers == 0, f"overview isVerified/numFollowers: {overview}")
            models = {m.id: m for m in api.list_models(author="acme", token=token)}
            check(("acme/x" in models) == member, f"list_models(author=acme) as {who}: {sorted(models)}")
            if member:
                check(models["acme/x"].private is True, f"acme/x listed with private={models['acme/x'].private!r}")
            else:
                check(not [m for m in models.values() if m.private], f"{who} is shown private repos: {sorted(models)}")
            check(overview.num_models == len(models), f"overview numModels {overview.num_models} != {len(models)} listed (as {who})")

            members = {u.username: u for u in api.list_organization_members("acme", token=token)}
            check(set(members) == set(roles), f"members as {who}: {sorted(members)}")
            check(all(u.user_type == "user" and u.is_pro is False for u in members.values()), f"member entries as {who}: {members}")
            for name, user in members.items():
                role = getattr(user, "role", None)
                if member:
                    check(role == roles[name], f"members as {who}: {name} has role {role!r}, expected {roles[name]}")
                else:
                    check(role is None, f"members as non-member {who}: role of {name} shown ({role!r})")

        upper = [m.id for m in api.list_models(author="ACME", token=tokens["rita"])]
        check("acme/x" in upper, f"list_models(author=ACME) as rita: {upper}")
        expect_error(HfHubHTTPError, api.get_organization_overview, "no-such-org", token=tokens["olga"], status=404)
        expect_error(HfHubHTTPError, lambda: list(api.list_organization_members("no-such-org", token=tokens["olga"])), status=404)
        log("org views ok")
        """,
        user=None,
        params={"tokens": tokens, "roles": acme},
    )


# ---------------------------------------------------------------- 2. a CI token limited to one repo
def test_fine_grained_ci_token_limited_to_one_repo(server, acme, tmp_path):
    target = "acme/ci-target"
    scenario(
        server,
        tmp_path,
        "setup",
        """
        from huggingface_hub import HfApi
        olga, wendy = HfApi(token=PARAMS["olga"]), HfApi(token=PARAMS["wendy"])
        olga.create_repo("acme/ci-target", private=True)
        olga.create_repo("acme/ci-other", private=True)
        olga.upload_file(path_or_fileobj=b"org secret\\n", path_in_repo="secret.txt", repo_id="acme/ci-other")
        olga.create_repo("acme/ci-public")
        olga.upload_file(path_or_fileobj=b"public org file\\n", path_in_repo="public.txt", repo_id="acme/ci-public")
        wendy.create_repo("wendy/own-public")
        wendy.upload_file(path_or_fileobj=b"wendy public\\n", path_in_repo="a.txt", repo_id="wendy/own-public")
        wendy.create_repo("wendy/own-private", private=True)
        wendy.upload_file(path_or_fileobj=b"wendy private\\n", path_in_repo="a.txt", repo_id="wendy/own-private")
        """,
        user=None,
        params={"olga": server.token("olga"), "wendy": server.token("wendy")},
    )
    scope, ci, token_id = create_token(server, "wendy", "--repo", f"{target}:write", "--name", "ci-acme")
    assert scope == "fineGrained", f"token create with --repo printed the scope {scope!r}"
    listed = admin(server, "token", "list", "wendy").stdout.splitlines()
    assert any(line.split("\t")[:3] == [token_id, "ci-acme", "fineGrained"] for line in listed), f"token list wendy: {listed}"

    scenario(
        server,
        tmp_path,
        "ci",
        """
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

        api = HfApi()
        target = PARAMS["target"]
        me = api.whoami()
        log("whoami:", json.dumps(me))
        check(me.get("name") == "wendy", f"whoami name {me.get('name')!r}")
        access = (me.get("auth") or {}).get("accessToken") or {}
        check(access.get("role") == "fineGrained", f"auth.accessToken.role {access.get('role')!r}")
        scoped = (access.get("fineGrained") or {}).get("scoped")
        check(isinstance(scoped, list) and len(scoped) == 1, f"fineGrained.scoped {scoped!r}")
        entity = scoped[0].get("entity") or {}
        check(entity.get("type") == "model" and entity.get("name") == target, f"scoped entity {entity!r}")
        check(set(scoped[0].get("permissions") or []) == {"repo.content.read", "repo.write"}, f"permissions {scoped[0].get('permissions')!r}")
        fine = access["fineGrained"]
        check(fine.get("canReadGatedRepos") is True and fine.get("global") == [], f"fineGrained {fine}")

        # In scope: upload (a Xet file and a small one), read back.
        blob = random_bytes(2 * MIB + 11, 21)
        api.upload_file(path_or_fileobj=blob, path_in_repo="weights/ci.bin", repo_id=target, commit_message="from CI")
        api.upload_file(path_or_fileobj=b"built by ci\\n", path_in_repo="build.txt", repo_id=target)
        check(Path(hf_hub_download(target, "weights/ci.bin")).read_bytes() == blob, "weights/ci.bin round trip")
        check(api.repo_info(target).private is True, "target repo not private")

        # No repo creation, in the org or the user's own namespace.
        expect_error(HfHubHTTPError, api.create_repo, "acme/ci-new", status=403)
        expect_error(HfHubHTTPError, api.create_repo, "wendy/ci-new", status=403)
        expect_error(HfHubHTTPError, api.create_repo, "ci-new-short", status=403)

        # Private repos outside the scope are invisible (404), even the user's own.
        for repo in ("acme/ci-other", "wendy/own-private"):
            expect_error(RepositoryNotFoundError, api.repo_info, repo)
            expect_error(RepositoryNotFoundError, hf_hub_download, repo, "a.txt" if repo.startswith("wendy") else "secret.txt")
            expect_error(RepositoryNotFoundError, api.upload_file, path_or_fileobj=b"ci", path_in_repo="ci.txt", repo_id=repo)
        # Public repos outside the scope: readable, not writable (403).
        check(Path(hf_hub_download("acme/ci-public", "public.txt")).read_bytes() == b"public org file\\n", "acme/ci-public unreadable")
        for repo in ("acme/ci-public", "wendy/own-public"):
            expect_error(HfHubHTTPError, api.upload_file, path_or_fileobj=b"ci", path_in_repo="ci.txt", repo_id=repo, status=403)

        models = {m.id for m in api.list_models(author="acme")}
        check("acme/ci-target" in models and "acme/ci-public" in models, f"list_models(author=acme) with the CI token: {sorted(models)}")
        check("acme/ci-other" not in models and "acme/x" not in models, f"the CI token lists private repos outside its scope: {sorted(models)}")
        log("ci token ok")
        """,
        token=ci,
        params={"target": target},
    )
    weights = {e["path"]: e for e in api_json(server, f"/api/models/{target}/tree/main/weights", "olga")}
    assert (weights.get("weights/ci.bin") or {}).get("xetHash"), f"the CI upload did not go through Xet: {weights}"

    # git with the CI token: push to the target (with an LFS file); the public repo refuses; the private one is not found.
    git = git_client(tmp_path, "ci", "wendy", ci)
    work = tmp_path / "ci-clone"
    git("clone", repo_url(server, target), work)
    assert (work / "build.txt").read_text() == "built by ci\n"
    sha = write_random(work / "artifacts" / "ci-artifact.bin", MIB + 5, seed=22)
    pushed = commit_all(git, work, "artifact pushed by CI with git")
    assert "artifacts/ci-artifact.bin" in git.out("lfs", "ls-files", "-n", cwd=work).splitlines()
    git("push", "origin", "main", cwd=work)
    assert api_head(server, target, "olga") == pushed, "the CI token's git push did not land"
    scenario(
        server,
        tmp_path,
        "olga_reads_ci_push",
        """
        from huggingface_hub import hf_hub_download
        got = sha256_file(hf_hub_download("acme/ci-target", "artifacts/ci-artifact.bin"))
        check(got == PARAMS["sha"], f"artifact sha256 {got} != {PARAMS['sha']}")
        """,
        user="olga",
        params={"sha": sha},
    )

    pwork = tmp_path / "ci-public-clone"
    git("clone", repo_url(server, "acme/ci-public"), pwork)
    (pwork / "ci.txt").write_text("ci\n")
    commit_all(git, pwork, "CI pushing outside its scope")
    assert_git_failed(git("push", "origin", "main", cwd=pwork, check=False), "403", what="the CI token pushing to acme/ci-public")
    assert_git_failed(
        git("clone", repo_url(server, "acme/ci-other"), tmp_path / "ci-other-clone", check=False), "not found", what="the CI token cloning acme/ci-other"
    )
    # wendy's own write token still reaches acme/ci-other (the cap is the token's, not hers).
    assert api_json(server, "/api/models/acme/ci-other", "wendy")["id"] == "acme/ci-other"

    # Fine-grained tokens cannot manage tokens.
    resp = call(server, "GET", "/api/settings/tokens", token=ci)
    assert resp.status in (401, 403), f"GET /api/settings/tokens with a fine-grained token -> {resp}"

    # The same kind of token made by wendy herself through the API, read-only on the target.
    scoped = [{"entity": {"type": "model", "name": target}, "permissions": ["repo.content.read"]}]
    resp = call(server, "POST", "/api/settings/tokens", token=server.token("wendy"), json_body={"name": "api-reader", "role": "fineGrained", "scoped": scoped})
    assert resp.status == 200, f"POST /api/settings/tokens -> {resp}"
    made = resp.json()
    assert made.get("role") == "fineGrained" and str(made.get("token", "")).startswith("hf_"), f"POST /api/settings/tokens -> {made}"
    listed = call(server, "GET", "/api/settings/tokens", token=server.token("wendy"))
    assert listed.status == 200 and str(made["id"]) in [str(t.get("id")) for t in listed.json()], f"GET /api/settings/tokens -> {listed}"
    scenario(
        server,
        tmp_path,
        "api_reader",
        """
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
        api = HfApi()
        access = api.whoami()["auth"]["accessToken"]
        check(access["role"] == "fineGrained", f"role {access['role']!r}")
        check([s["permissions"] for s in access["fineGrained"]["scoped"]] == [["repo.content.read"]], f"scoped {access['fineGrained']['scoped']}")
        check(Path(hf_hub_download(PARAMS["target"], "build.txt")).read_bytes() == b"built by ci\\n", "read through the read scope")
        expect_error(HfHubHTTPError, api.upload_file, path_or_fileobj=b"r", path_in_repo="r.txt", repo_id=PARAMS["target"], status=403)
        expect_error(RepositoryNotFoundError, api.repo_info, "acme/ci-other")
        """,
        token=made["token"],
        params={"target": target},
    )
    resp = call(server, "DELETE", f"/api/settings/tokens/{made['id']}", token=server.token("wendy"))
    assert resp.status in (200, 204), f"DELETE /api/settings/tokens/{made['id']} -> {resp}"
    resp = call(server, "GET", "/api/whoami-v2", token=made["token"])
    assert resp.status == 401, f"whoami with a deleted token -> {resp}"

    # A namespace scope of write on acme may create repos there, nowhere else.
    _, ns_token, _ = create_token(server, "wendy", "--namespace", "acme:write", "--name", "acme-ns")
    scenario(
        server,
        tmp_path,
        "namespace_token",
        """
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
        api = HfApi()
        scoped = api.whoami()["auth"]["accessToken"]["fineGrained"]["scoped"]
        check([s["entity"] for s in scoped] == [{"type": "org", "name": "acme"}], f"scoped {scoped}")
        api.create_repo("acme/ns-made", private=True)
        api.upload_file(path_or_fileobj=b"ns\\n", path_in_repo="ns.txt", repo_id="acme/ns-made")
        check(api.repo_info("acme/ci-other").id == "acme/ci-other", "the namespace scope does not cover acme/ci-other")
        expect_error(HfHubHTTPError, api.create_repo, "wendy/ns-made", status=403)
        expect_error(RepositoryNotFoundError, api.repo_info, "wendy/own-private")
        """,
        token=ns_token,
    )


# ---------------------------------------------------------------- 3. gated repos
# Prepended (unindented) to the gating scenarios, whose own text is dedented first.
GATED_FILES = """
from huggingface_hub import HfApi, hf_hub_download


def files_of(token, repo, cache):
    # Every file of the repo downloaded with `token`: path -> sha256.
    out = {}
    for path in HfApi().list_repo_files(repo, token=token):
        out[path] = sha256_file(hf_hub_download(repo, path, token=token, cache_dir=cache))
    return out
"""


def test_gated_repo_manual_and_auto_access_requests(server, tmp_path):
    repo, auto = "bob/gated", "bob/gated-auto"
    weights = tmp_path / "weights.safetensors"
    weights_sha = write_random(weights, 3 * MIB + 1, seed=31)
    scenario(
        server,
        tmp_path,
        "bob_setup",
        """
        from huggingface_hub import HfApi, hf_hub_download
        api = HfApi()
        for repo in (PARAMS["repo"], PARAMS["auto"], "bob/open"):
            api.create_repo(repo)
            api.upload_file(path_or_fileobj=PARAMS["weights"], path_in_repo="model.safetensors", repo_id=repo)
            api.upload_file(path_or_fileobj=b"# gated\\n", path_in_repo="README.md", repo_id=repo)
        api.update_repo_settings(PARAMS["repo"], gated="manual")
        api.update_repo_settings(PARAMS["auto"], gated="auto")
        check(api.repo_info(PARAMS["repo"]).gated == "manual", f"gated {api.repo_info(PARAMS['repo']).gated!r}")
        check(api.repo_info(PARAMS["auto"]).gated == "auto", f"gated {api.repo_info(PARAMS['auto']).gated!r}")
        check(api.repo_info("bob/open").gated is False, f"ungated repo: gated {api.repo_info('bob/open').gated!r}")
        # The owner downloads their own gated repo.
        check(sha256_file(hf_hub_download(PARAMS["repo"], "model.safetensors")) == PARAMS["sha"], "owner download")
        """,
        user="bob",
        params={"repo": repo, "auto": auto, "weights": str(weights), "sha": weights_sha},
    )

    # nick: metadata yes, contents no (GatedRepoError); anonymous likewise (401).
    scenario(
        server,
        tmp_path,
        "nick_gated",
        """
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

        api = HfApi()
        repo = PARAMS["repo"]
        info = api.repo_info(repo)
        check(info.gated == "manual", f"repo_info gated {info.gated!r}")
        check("model.safetensors" in api.list_repo_files(repo), "tree listing of a gated repo")
        expect_error(GatedRepoError, hf_hub_download, repo, "model.safetensors", status=403)
        expect_error(GatedRepoError, hf_hub_download, repo, "README.md", status=403)
        expect_error(GatedRepoError, hf_hub_download, repo, "README.md", token=False, cache_dir="anon", status=401)
        # Managing requests and settings needs write access.
        expect_error(HfHubHTTPError, lambda: list(api.list_pending_access_requests(repo)), status=403)
        expect_error(HfHubHTTPError, api.grant_access, repo, "nick", status=403)
        expect_error(HfHubHTTPError, api.update_repo_settings, repo, gated=False, status=403)
        """,
        user="nick",
        params={"repo": repo},
    )
    nick = server.token("nick")
    resp = call(server, "GET", f"/api/models/{repo}/xet-read-token/main", token=nick)
    assert resp.status == 403 and resp.headers.get("x-error-code") == "GatedRepo", f"xet-read-token for a gated repo -> {resp}"
    resp = call(server, "HEAD", f"/{repo}/resolve/main/README.md", token=nick)
    assert resp.status == 403 and resp.headers.get("x-error-code") == "GatedRepo", f"HEAD resolve of a gated repo -> {resp}"
    resp = call(server, "GET", f"/{repo}/resolve/main/README.md", token=nick)
    message = f"Access to model {repo} is restricted and you are not in the authorized list. Visit "
    assert resp.status == 403 and message in resp.body.decode("utf-8", "replace"), f"GET resolve of a gated repo -> {resp}"
    resp = call(server, "GET", f"/{repo}/resolve/main/README.md")
    assert resp.status == 401 and resp.headers.get("x-error-code") == "GatedRepo", f"anonymous GET resolve of a gated repo -> {resp}"

    # Asking: anonymous 401, an ungated repo 400, nick: pending.
    resp = call(server, "POST", f"/api/models/{repo}/ask-access", json_body={"reason": "e2e"})
    assert resp.status == 401, f"anonymous ask-access -> {resp}"
    resp = call(server, "POST", "/api/models/bob/open/ask-access", token=nick, json_body={"reason": "e2e"})
    assert resp.status == 400, f"ask-access on an ungated repo -> {resp}"
    resp = call(server, "POST", f"/api/models/{repo}/ask-access", token=nick, json_body={"reason": "research", "affiliation": "e2e lab"})
    assert resp.status == 200 and resp.json().get("status") == "pending", f"ask-access -> {resp}"
    resp = call(server, "HEAD", f"/{repo}/resolve/main/README.md", token=nick)
    assert resp.status == 403 and resp.headers.get("x-error-code") == "GatedRepo", f"a pending request already opened the gate: {resp}"

    tokens = {name: server.token(name) for name in ("bob", "nick", "gus", "una")}
    result = scenario(
        server,
        tmp_path,
        "manual_flow",
        GATED_FILES
        + textwrap.dedent(
            """
        from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

        T = PARAMS["tokens"]
        bob = HfApi(token=T["bob"])
        repo = PARAMS["repo"]

        def lists():
            return {
                "pending": {r.username: r for r in bob.list_pending_access_requests(repo)},
                "accepted": {r.username: r for r in bob.list_accepted_access_requests(repo)},
                "rejected": {r.username: r for r in bob.list_rejected_access_requests(repo)},
            }

        def where(user):
            return [status for status, requests in lists().items() if user in requests]

        now = lists()
        log("requests:", now)
        check(list(now["pending"]) == ["nick"], f"pending {list(now['pending'])}")
        req = now["pending"]["nick"]
        check(req.status == "pending" and req.request_id, f"pending request {req}")
        check((req.fields or {}).get("reason") == "research", f"request fields {req.fields!r}")
        check(not now["accepted"] and not now["rejected"], f"accepted/rejected not empty: {now}")
        check([r.username for r in bob.list_pending_access_requests(repo)] == ["nick"], "list_pending_access_requests")

        bob.accept_access_request(repo, "nick")
        check(where("nick") == ["accepted"], f"after accept nick is in {where('nick')}")
        check([r.username for r in bob.list_accepted_access_requests(repo)] == ["nick"], "list_accepted_access_requests")
        got = files_of(T["nick"], repo, "nick-accepted")
        check(got["model.safetensors"] == PARAMS["sha"], f"nick's download after accept: {got}")
        log("accepted: nick downloads")

        bob.reject_access_request(repo, "nick", rejection_reason="not this time")
        check(where("nick") == ["rejected"], f"after reject nick is in {where('nick')}")
        check([r.username for r in bob.list_rejected_access_requests(repo)] == ["nick"], "list_rejected_access_requests")
        expect_error(GatedRepoError, hf_hub_download, repo, "README.md", token=T["nick"], cache_dir="nick-rejected", status=403)

        bob.cancel_access_request(repo, "nick")
        check(where("nick") == ["pending"], f"after cancel nick is in {where('nick')}")
        expect_error(GatedRepoError, hf_hub_download, repo, "README.md", token=T["nick"], cache_dir="nick-cancelled", status=403)
        bob.accept_access_request(repo, request_id=lists()["pending"]["nick"].request_id)
        check(where("nick") == ["accepted"], f"after accept by request id nick is in {where('nick')}")

        # grant: gus never asked.
        expect_error(GatedRepoError, hf_hub_download, repo, "README.md", token=T["gus"], cache_dir="gus-before", status=403)
        bob.grant_access(repo, "gus")
        check(where("gus") == ["accepted"], f"after grant gus is in {where('gus')}")
        check(files_of(T["gus"], repo, "gus-granted")["model.safetensors"] == PARAMS["sha"], "gus's download after grant")
        expect_error(HfHubHTTPError, bob.grant_access, repo, "gus", status=400)
        expect_error(HfHubHTTPError, bob.grant_access, repo, "no-such-user", status=404)
        # una never asked: nothing to handle.
        expect_error(HfHubHTTPError, bob.accept_access_request, repo, "una", status=404)
        expect_error(HfHubHTTPError, bob.reject_access_request, repo, "una", rejection_reason=None, status=404)
        check(where("una") == [], f"una appears in {where('una')}")
        # Ungated repo: the access-request routes answer 400.
        expect_error(HfHubHTTPError, bob.grant_access, "bob/open", "una", status=400)
        log("manual gating ok")
        """
        ),
        user=None,
        params={"repo": repo, "tokens": tokens, "sha": weights_sha},
    )
    assert [t for t in trace_lines(result) if " GET " in t and f"/api/models/{repo}/xet-read-token/" in t], (
        "the accepted users' downloads never fetched a Xet read token:\n" + "\n".join(trace_lines(result))
    )

    # auto: asking accepts at once; gated=False opens the repo to anyone.
    una = server.token("una")
    resp = call(server, "HEAD", f"/{auto}/resolve/main/model.safetensors", token=una)
    assert resp.status == 403 and resp.headers.get("x-error-code") == "GatedRepo", f"auto-gated repo before asking -> {resp}"
    resp = call(server, "POST", f"/api/models/{auto}/ask-access", token=una, json_body={})
    assert resp.status == 200 and resp.json().get("status") == "accepted", f"ask-access on an auto-gated repo -> {resp}"
    scenario(
        server,
        tmp_path,
        "auto_flow",
        GATED_FILES
        + textwrap.dedent(
            """
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import GatedRepoError

        T = PARAMS["tokens"]
        bob = HfApi(token=T["bob"])
        auto = PARAMS["auto"]
        check(files_of(T["una"], auto, "una")["model.safetensors"] == PARAMS["sha"], "una's download after the auto accept")
        snap = Path(snapshot_download(auto, token=T["una"], cache_dir="una-snap"))
        check(sha256_file(snap / "model.safetensors") == PARAMS["sha"], "una's snapshot_download")
        check([r.username for r in bob.list_accepted_access_requests(auto)] == ["una"], "auto accepted list")
        check(not list(bob.list_pending_access_requests(auto)), "auto pending list not empty")
        expect_error(GatedRepoError, hf_hub_download, auto, "README.md", token=T["nick"], cache_dir="nick-auto", status=403)

        bob.update_repo_settings(auto, gated=False)
        check(bob.repo_info(auto).gated is False, f"gated after gated=False: {bob.repo_info(auto).gated!r}")
        check(Path(hf_hub_download(auto, "README.md", token=T["nick"], cache_dir="nick-open")).read_bytes() == b"# gated\\n", "nick after ungating")
        check(Path(hf_hub_download(auto, "README.md", token=False, cache_dir="anon-open")).read_bytes() == b"# gated\\n", "anonymous after ungating")
        log("auto gating ok")
        """
        ),
        user=None,
        params={"auto": auto, "tokens": tokens, "sha": weights_sha},
    )


# ---------------------------------------------------------------- 4. moving a repo from a user to an org
def scenario_commit(server, tmp_path, repo: str, path: str, text: str, user: str = "wendy") -> str:
    """One upload_file through huggingface_hub; returns the new commit id."""
    result = scenario(
        server,
        tmp_path,
        f"commit-{path.replace('/', '_')}",
        """
        from huggingface_hub import HfApi
        info = HfApi().upload_file(path_or_fileobj=PARAMS["text"].encode(), path_in_repo=PARAMS["path"], repo_id=PARAMS["repo"])
        print(f"COMMIT={info.oid}")
        """,
        user=user,
        params={"repo": repo, "path": path, "text": text},
    )
    return next(line.split("=", 1)[1] for line in result.stdout.splitlines() if line.startswith("COMMIT="))


def test_move_repo_from_user_to_org_redirects_the_old_name(server, acme, tmp_path):
    old, new = "wendy/mover", "acme/mover"
    src = tmp_path / "src"
    sha = write_random(src / "model.safetensors", 2 * MIB + 9, seed=41)
    (src / "config.json").write_text('{"moved": true}\n')
    scenario(
        server,
        tmp_path,
        "wendy_setup",
        """
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo(PARAMS["old"], private=True)
        api.upload_folder(folder_path=PARAMS["src"], repo_id=PARAMS["old"])
        api.create_repo("wendy/mover2")
        api.upload_file(path_or_fileobj=b"two\\n", path_in_repo="two.txt", repo_id="wendy/mover2")
        api.create_repo("wendy/taken-src")
        api.create_repo("acme/taken")
        """,
        user="wendy",
        params={"old": old, "src": str(src)},
    )
    # Clones made before the moves: the private repo with the token in the URL, the public one
    # (wendy/mover2) through the credential helper.
    wendy_token = server.token("wendy")
    git = git_client(tmp_path, "wendy", "wendy", wendy_token)
    old_url = repo_url(server, old, user="wendy", token=wendy_token)
    before = tmp_path / "before-move"
    git("clone", old_url, before)
    assert sha256_file(before / "model.safetensors") == sha
    before2 = tmp_path / "before-move-2"
    git("clone", repo_url(server, "wendy/mover2"), before2)

    # rita (acme read) may not move her repo into acme: no create right there.
    scenario(
        server,
        tmp_path,
        "rita_move",
        """
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError
        api = HfApi()
        api.create_repo("rita/mine")
        expect_error(HfHubHTTPError, api.move_repo, "rita/mine", "acme/rita-mine", status=403)
        check(api.repo_info("rita/mine").id == "rita/mine", "the refused move moved it")
        """,
        user="rita",
    )

    result = scenario(
        server,
        tmp_path,
        "move",
        """
        from huggingface_hub import HfApi, hf_hub_download, snapshot_download
        from huggingface_hub.errors import HfHubHTTPError

        api = HfApi()
        old, new = PARAMS["old"], PARAMS["new"]
        head = api.repo_info(old).sha
        api.move_repo(old, new)
        info = api.repo_info(new)
        check(info.id == new and info.sha == head and info.private is True, f"after the move: {info.id} {info.sha} private={info.private}")
        # The old name follows to the new one.
        check(api.repo_info(old).id == new, f"repo_info(old).id {api.repo_info(old).id!r}")
        got = sha256_file(hf_hub_download(old, "model.safetensors", cache_dir="old-name"))
        check(got == PARAMS["sha"], f"hf_hub_download under the old name: sha256 {got}")
        check(Path(hf_hub_download(old, "config.json", cache_dir="old-name")).read_bytes() == b'{"moved": true}\\n', "config.json")
        snap = Path(snapshot_download(old, cache_dir="old-snap"))
        check(sha256_file(snap / "model.safetensors") == PARAMS["sha"], "snapshot_download under the old name")
        check(sorted(p.name for p in snap.iterdir()) == [".gitattributes", "config.json", "model.safetensors"], f"snapshot {sorted(snap.iterdir())}")

        # Onto a taken name: 409 "already exists"; an invalid name: 400.
        err = expect_error(HfHubHTTPError, api.move_repo, "wendy/taken-src", "acme/taken", status=409)
        check("acme/taken already exists" in str(err), f"move onto a taken name: {err}")
        expect_error(HfHubHTTPError, api.move_repo, "wendy/taken-src", "acme/not a valid name", status=400)
        check(api.repo_info("wendy/taken-src").id == "wendy/taken-src", "a refused move moved the repo")

        # One more commit under the new name, for the old clone to fetch.
        commit = api.upload_file(path_or_fileobj=b"after the move\\n", path_in_repo="after.txt", repo_id=new)
        print(f"AFTER={commit.oid}")
        """,
        user="wendy",
        params={"old": old, "new": new, "sha": sha},
    )
    after = next(line.split("=", 1)[1] for line in result.stdout.splitlines() if line.startswith("AFTER="))
    trace = trace_lines(result)
    assert [t for t in trace if t.startswith("HTTP 307 ") and f"/{old}/resolve/" in t], (
        "no 307 answered the /resolve requests under the old name:\n" + "\n".join(trace)
    )

    # The redirect, raw: same URL with the new id, to those who may see the repo.
    for path in (
        f"/api/models/{old}",
        f"/api/models/{old}/tree/main?recursive=true",
        f"/{old}/resolve/main/config.json",
        f"/{old}.git/info/refs?service=git-upload-pack",
    ):
        resp = call(server, "GET", path, token=wendy_token)
        expected = path.replace(old, new, 1)
        assert resp.status == 307 and same_location(server, resp.headers.get("location", ""), expected), (
            f"GET {path} after the move -> {resp}; expected 307 to {expected}"
        )
    resp = call(server, "GET", f"/api/models/{old}", token=server.token("nick"))
    assert resp.status == 404, f"a non-member asking for the old name of a private repo -> {resp} (the redirect must not leak it)"
    resp = call(server, "GET", f"/{old}/info/refs?service=git-upload-pack")
    assert resp.status == 401 and resp.headers.get("www-authenticate", "").lower().startswith("basic"), (
        f"anonymous git on the old name of a private repo -> {resp} (a challenge, not the redirect)"
    )

    # git: clone of the old URL; fetch (and an LFS push) in the clone made before the move.
    moved = tmp_path / "old-url-clone"
    git("clone", old_url, moved)
    assert git.out("rev-parse", "HEAD", cwd=moved) == after
    assert sha256_file(moved / "model.safetensors") == sha and (moved / "after.txt").read_text() == "after the move\n"
    git("fetch", "origin", cwd=before)
    git("merge", "--ff-only", "origin/main", cwd=before)
    assert git.out("rev-parse", "HEAD", cwd=before) == after, "git fetch through the old URL did not bring the new commit"
    lfs_sha = write_random(before / "pushed-after-move.bin", MIB + 1, seed=42)
    pushed = commit_all(git, before, "pushed to the old URL")
    git("push", "origin", "main", cwd=before)
    assert api_head(server, new, "wendy") == pushed, "a push to the old URL did not land in the moved repo"
    tree = {e["path"]: e for e in api_json(server, f"/api/models/{new}/tree/main", "wendy")}
    assert (tree.get("pushed-after-move.bin") or {}).get("lfs", {}).get("oid") == lfs_sha, f"LFS file pushed through the old URL: {tree}"
    # The private moved repo through the credential helper too: git's first request gets the
    # anonymous 401 and its retry the 307, after which git keeps POSTing to the old URL; the
    # server serves those requests (and LFS) under the old name as the repo itself.
    helper_clone = tmp_path / "old-url-clone-helper"
    git("clone", repo_url(server, old), helper_clone)
    assert git.out("rev-parse", "HEAD", cwd=helper_clone) == pushed, "clone of the old URL through the credential helper"
    assert sha256_file(helper_clone / "pushed-after-move.bin") == lfs_sha

    # The `hf` CLI moves too.
    moved_cli = cli(server, tmp_path, ["repos", "move", "wendy/mover2", "acme/mover2"], user="wendy", root="cli-move")
    assert moved_cli.returncode == 0, describe(moved_cli, "hf repos move wendy/mover2 acme/mover2")
    resp = call(server, "GET", "/wendy/mover2/resolve/main/two.txt", token=wendy_token)
    assert resp.status == 307 and same_location(server, resp.headers.get("location", ""), "/acme/mover2/resolve/main/two.txt"), f"after hf repos move: {resp}"
    down = cli(server, tmp_path, ["download", "wendy/mover2", "two.txt", "--local-dir", str(tmp_path / "two")], user="wendy", root="cli-move-dl")
    assert down.returncode == 0, describe(down, "hf download under the old name")
    assert (tmp_path / "two" / "two.txt").read_text() == "two\n"
    # The public moved repo through the credential helper: a fresh clone of the old URL, a fetch
    # in the clone made before the move (after a commit under the new name), a push to the old URL.
    head2 = scenario_commit(server, tmp_path, "acme/mover2", "three.txt", "three\n")
    fresh2 = tmp_path / "old-url-clone-2"
    git("clone", repo_url(server, "wendy/mover2"), fresh2)
    assert git.out("rev-parse", "HEAD", cwd=fresh2) == head2 and (fresh2 / "three.txt").read_text() == "three\n"
    git("fetch", "origin", cwd=before2)
    git("merge", "--ff-only", "origin/main", cwd=before2)
    assert git.out("rev-parse", "HEAD", cwd=before2) == head2, "git fetch through the old URL (public repo) did not bring the new commit"
    write_random(before2 / "weights.bin", MIB, seed=43)
    pushed2 = commit_all(git, before2, "pushed to the old URL of a public moved repo")
    git("push", "origin", "main", cwd=before2)
    assert api_head(server, "acme/mover2", "wendy") == pushed2, "a push to the old URL of the public moved repo did not land"

    # A new repo under the old name takes the name back.
    scenario(
        server,
        tmp_path,
        "reuse_old_name",
        """
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import RemoteEntryNotFoundError
        api = HfApi()
        url = api.create_repo(PARAMS["old"])
        check(url.repo_id == PARAMS["old"], f"create_repo under the old name -> {url!r}")
        info = api.repo_info(PARAMS["old"])
        check(info.id == PARAMS["old"], f"repo_info(old) after re-creating it: {info.id!r}")
        check(api.list_repo_files(PARAMS["old"]) == [".gitattributes"], f"the new repo has {api.list_repo_files(PARAMS['old'])}")
        expect_error(RemoteEntryNotFoundError, hf_hub_download, PARAMS["old"], "config.json", cache_dir="new-old")
        check("config.json" in api.list_repo_files(PARAMS["new"]), "the moved repo lost its files")
        """,
        user="wendy",
        params={"old": old, "new": new},
    )
    resp = call(server, "GET", f"/api/models/{old}", token=wendy_token)
    assert resp.status == 200 and resp.json().get("id") == old, f"GET /api/models/{old} after re-creating it -> {resp}"


# ---------------------------------------------------------------- 5. names
def test_names_are_case_insensitive_canonical_and_not_reserved(server, acme, tmp_path):
    # One namespace space for users and orgs, whatever the case.
    admin_refused(server, "user", "create", "Acme")
    admin_refused(server, "user", "create", "ALICE")
    admin_refused(server, "org", "create", "ACME", "--owner", "olga")
    admin_refused(server, "org", "create", "Bob", "--owner", "alice")
    # Reserved names.
    admin_refused(server, "org", "create", "settings", "--owner", "alice")
    admin_refused(server, "org", "create", "Models", "--owner", "alice")
    admin_refused(server, "user", "create", "api")
    admin_refused(server, "user", "create", "datasets")
    users = admin(server, "user", "list").stdout.splitlines()
    names = [line.split("\t")[0] for line in users]
    assert sorted(names) == sorted(name for name, _ in USERS), f"user list after refused creates: {users}"
    assert "alice\tadmin\tenabled" in users and "bob\tuser\tenabled" in users, f"user list: {users}"
    # (member lines, indented, may follow an org's line)
    orgs = [line.split("\t")[0] for line in admin(server, "org", "list").stdout.splitlines() if not line[:1].isspace()]
    assert orgs == ["acme"], f"org list after refused creates: {orgs}"
    # The admin JSON API refuses the same.
    alice = server.token("alice")
    resp = call(server, "POST", "/api/admin/organizations", token=alice, json_body={"name": "ACME", "owner": "alice"})
    assert resp.status == 409, f"POST /api/admin/organizations ACME -> {resp}"
    resp = call(server, "POST", "/api/admin/users", token=alice, json_body={"name": "Wendy"})
    assert resp.status == 409, f"POST /api/admin/users Wendy -> {resp}"
    resp = call(server, "POST", "/api/admin/organizations", token=alice, json_body={"name": "login", "owner": "alice"})
    assert 400 <= resp.status < 500, f"POST /api/admin/organizations login (reserved) -> {resp}"

    # Repo ids: any case finds the repo; responses carry the stored spelling.
    scenario(
        server,
        tmp_path,
        "case",
        """
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError

        api = HfApi()
        api.create_repo("acme/names-x", private=True)
        api.upload_file(path_or_fileobj=b"canonical\\n", path_in_repo="a.txt", repo_id="acme/names-x")
        for spelling in ("ACME/NAMES-X", "Acme/Names-X", "acme/NAMES-x"):
            info = api.repo_info(spelling)
            check(info.id == "acme/names-x", f"repo_info({spelling!r}).id == {info.id!r}")
        check(Path(hf_hub_download("ACME/Names-X", "a.txt")).read_bytes() == b"canonical\\n", "download under another case")
        expect_error(HfHubHTTPError, api.create_repo, "ACME/Names-X", status=409)

        api.create_repo("acme/MixedCase")
        for spelling in ("acme/mixedcase", "ACME/MIXEDCASE"):
            info = api.repo_info(spelling)
            check(info.id == "acme/MixedCase", f"repo_info({spelling!r}).id == {info.id!r}")
        ids = [m.id for m in api.list_models(author="Acme")]
        check("acme/MixedCase" in ids and "acme/names-x" in ids, f"list_models(author=Acme): {ids}")
        check(api.get_organization_overview("ACME").name == "acme", "overview of ACME")
        check(api.whoami()["name"] == "olga", "whoami")
        log("names ok")
        """,
        user="olga",
    )
    git = git_client(tmp_path, "olga", "olga", server.token("olga"))
    refs = git.ls_remote(repo_url(server, "ACME/Names-X"))
    assert refs.get("refs/heads/main") == api_head(server, "acme/names-x"), f"git ls-remote ACME/Names-X: {refs}"


# ---------------------------------------------------------------- 6. disabled users and revoked tokens
def test_disabled_user_and_revoked_token_fail_at_once(server, tmp_path):
    dora = server.token("dora")
    repo = "dora/secret"
    setup = scenario(
        server,
        tmp_path,
        "dora_setup",
        """
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo(PARAMS["repo"], private=True)
        api.upload_file(path_or_fileobj=random_bytes(MIB + 3, 61), path_in_repo="w.bin", repo_id=PARAMS["repo"])
        api.upload_file(path_or_fileobj=b"dora's\\n", path_in_repo="a.txt", repo_id=PARAMS["repo"])
        entry = next(e for e in api.list_repo_tree(PARAMS["repo"]) if e.path == "w.bin")
        print("XET_HASH=" + (entry.xet_hash or ""))
        """,
        user="dora",
        params={"repo": repo},
    )
    xet_hash = next(line.split("=", 1)[1] for line in setup.stdout.splitlines() if line.startswith("XET_HASH="))
    assert xet_hash, "w.bin has no Xet hash"
    _, read_token, read_id = create_token(server, "dora", "--scope", "read", "--name", "temp")

    # A CAS read token minted before the disable.
    resp = call(server, "GET", f"/api/models/{repo}/xet-read-token/main", token=dora)
    assert resp.status == 200, f"xet-read-token -> {resp}"
    cas = resp.json()
    reconstruction = f"{cas['casUrl']}/v1/reconstructions/{xet_hash}"
    resp = call(server, "GET", reconstruction, token=cas["accessToken"])
    assert resp.status == 200, f"GET {reconstruction} before the disable -> {resp}"

    git = git_client(tmp_path, "dora", "dora", dora)
    git("clone", repo_url(server, repo), tmp_path / "dora-before")

    admin(server, "user", "disable", "dora")
    assert "dora\tuser\tdisabled" in admin(server, "user", "list").stdout.splitlines()
    for token, label in ((dora, "write token"), (read_token, "read token")):
        resp = call(server, "GET", "/api/whoami-v2", token=token)
        assert resp.status == 401 and b"Invalid credentials in Authorization header" in resp.body, f"whoami with a disabled user's {label} -> {resp}"
    resp = call(server, "GET", reconstruction, token=cas["accessToken"])
    assert resp.status == 401, f"GET {reconstruction} with a CAS token minted before the disable -> {resp}"
    resp = call(server, "HEAD", f"/{repo}/resolve/main/a.txt", token=dora)
    assert resp.status == 401, f"HEAD resolve with a disabled user's token -> {resp}"
    scenario(
        server,
        tmp_path,
        "dora_disabled",
        """
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError
        api = HfApi()
        expect_error(HfHubHTTPError, api.whoami, status=401)
        expect_error(HfHubHTTPError, hf_hub_download, PARAMS["repo"], "a.txt", status=401)
        expect_error(HfHubHTTPError, api.upload_file, path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=PARAMS["repo"], status=401)
        """,
        user="dora",
        params={"repo": repo},
    )
    assert_git_failed(git("clone", repo_url(server, repo), tmp_path / "dora-disabled", check=False), "Authentication failed", what="git clone by a disabled user")
    admin_refused(server, "user", "delete", "dora")  # her namespace has repos

    # LFS too: the batch API with Basic credentials.
    basic = base64.b64encode(f"dora:{dora}".encode()).decode()
    resp = call(
        server,
        "POST",
        f"/{repo}.git/info/lfs/objects/batch",
        headers={"Authorization": f"Basic {basic}", "Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"},
        body=json.dumps({"operation": "download", "transfers": ["basic"], "objects": [{"oid": "0" * 64, "size": 1}]}).encode(),
    )
    assert resp.status == 401, f"LFS batch with a disabled user's token -> {resp}"

    admin(server, "user", "enable", "dora")
    assert "dora\tuser\tenabled" in admin(server, "user", "list").stdout.splitlines()
    # The admin JSON API does the same.
    alice = server.token("alice")
    resp = call(server, "POST", "/api/admin/users/dora/disable", token=alice)
    assert resp.status in (200, 204), f"POST /api/admin/users/dora/disable -> {resp}"
    users = {u["name"]: u for u in api_json(server, "/api/admin/users")}
    assert users["dora"]["disabled"] is True and users["alice"]["isAdmin"] is True, f"GET /api/admin/users: {users}"
    assert call(server, "GET", "/api/whoami-v2", token=dora).status == 401, "dora still signs in after the API disable"
    resp = call(server, "POST", "/api/admin/users/dora/enable", token=server.token("bob"))
    assert resp.status == 403, f"a non-admin enabling a user -> {resp}"
    resp = call(server, "POST", "/api/admin/users/dora/enable", token=alice)
    assert resp.status in (200, 204), f"POST /api/admin/users/dora/enable -> {resp}"
    assert api_json(server, "/api/whoami-v2", "dora")["name"] == "dora"
    scenario(
        server,
        tmp_path,
        "dora_enabled",
        """
        from huggingface_hub import HfApi, hf_hub_download
        api = HfApi()
        check(api.whoami()["name"] == "dora", "whoami after enable")
        check(Path(hf_hub_download(PARAMS["repo"], "a.txt")).read_bytes() == b"dora's\\n", "download after enable")
        check(api.whoami(token=PARAMS["read"])["auth"]["accessToken"]["role"] == "read", "read token after enable")
        """,
        user="dora",
        params={"repo": repo, "read": read_token},
    )
    git("clone", repo_url(server, repo), tmp_path / "dora-after")

    # Revoking one token kills it alone.
    lines = admin(server, "token", "list", "dora").stdout.splitlines()
    assert any(line.split("\t")[:3] == [read_id, "temp", "read"] for line in lines), f"token list dora: {lines}"
    admin(server, "token", "revoke", read_id)
    resp = call(server, "GET", "/api/whoami-v2", token=read_token)
    assert resp.status == 401, f"whoami with a revoked token -> {resp}"
    resp = call(server, "HEAD", f"/{repo}/resolve/main/a.txt", token=read_token)
    assert resp.status == 401, f"HEAD resolve with a revoked token -> {resp}"
    resp = call(server, "GET", "/api/whoami-v2", token=dora)
    assert resp.status == 200 and resp.json().get("name") == "dora", f"dora's other token after the revoke -> {resp}"


# ---------------------------------------------------------------- 7. the contributor role, role changes, member routes
def test_contributor_role_role_changes_and_member_routes(server, tmp_path):
    admin(server, "org", "create", "labs", "--owner", "olga")
    admin(server, "org", "add-member", "labs", "gus", "--role", "contributor")
    scenario(
        server,
        tmp_path,
        "olga_labs",
        """
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("labs/olga-model", private=True)
        api.upload_file(path_or_fileobj=b"olga's\\n", path_in_repo="o.txt", repo_id="labs/olga-model")
        """,
        user="olga",
    )
    # A contributor creates repos in the org and writes to those; reads the others.
    scenario(
        server,
        tmp_path,
        "gus_contributor",
        """
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError
        api = HfApi()
        orgs = {o["name"]: o for o in api.whoami().get("orgs") or []}
        check((orgs.get("labs") or {}).get("roleInOrg") == "contributor", f"whoami orgs {orgs}")
        api.create_repo("labs/gus-model", private=True)
        api.upload_file(path_or_fileobj=b"gus's\\n", path_in_repo="g.txt", repo_id="labs/gus-model")
        check(Path(hf_hub_download("labs/olga-model", "o.txt")).read_bytes() == b"olga's\\n", "contributor reading another org repo")
        expect_error(HfHubHTTPError, api.upload_file, path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="labs/olga-model", status=403)
        """,
        user="gus",
    )
    # Down to read: no more writes, even to the repo he created.
    admin(server, "org", "add-member", "labs", "gus", "--role", "read")
    scenario(
        server,
        tmp_path,
        "gus_read",
        """
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError
        api = HfApi()
        orgs = {o["name"]: o for o in api.whoami().get("orgs") or []}
        check((orgs.get("labs") or {}).get("roleInOrg") == "read", f"whoami orgs after the role change {orgs}")
        expect_error(HfHubHTTPError, api.upload_file, path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="labs/gus-model", status=403)
        expect_error(HfHubHTTPError, api.create_repo, "labs/gus-second", status=403)
        check(Path(hf_hub_download("labs/gus-model", "g.txt")).read_bytes() == b"gus's\\n", "read member reading")
        """,
        user="gus",
    )
    # The user overview: counts only what the caller may see, orgs listed.
    overview = api_json(server, "/api/users/olga/overview", "gus")
    assert overview.get("user") == "olga" and overview.get("type") == "user", f"GET /api/users/olga/overview: {overview}"
    assert {"labs", "acme"} >= {o.get("name") for o in overview.get("orgs") or []} >= {"labs"}, f"olga's orgs in her overview: {overview}"
    assert call(server, "GET", "/api/users/no-such-user/overview").status == 404

    # Removed: the private org repos disappear.
    admin(server, "org", "remove-member", "labs", "gus")
    resp = call(server, "GET", "/api/models/labs/olga-model", token=server.token("gus"))
    assert resp.status == 404 and resp.headers.get("x-error-code") == "RepoNotFound", f"a removed member reading a private org repo -> {resp}"
    assert "labs" not in [o.get("name") for o in api_json(server, "/api/whoami-v2", "gus").get("orgs") or []]

    # Member routes over HTTP: the org admin (not a site admin) manages members; others may not.
    olga = server.token("olga")
    resp = call(server, "PUT", "/api/organizations/labs/members/una", token=olga, json_body={"role": "write"})
    assert resp.status in (200, 204), f"PUT /api/organizations/labs/members/una by the org admin -> {resp}"
    roles = {o.get("name"): o.get("roleInOrg") for o in api_json(server, "/api/whoami-v2", "una").get("orgs") or []}
    assert roles.get("labs") == "write", f"una's orgs after PUT: {roles}"
    resp = call(server, "PUT", "/api/organizations/labs/members/nick", token=server.token("una"), json_body={"role": "admin"})
    assert resp.status == 403, f"PUT /api/organizations/labs/members/nick by a write member -> {resp}"
    resp = call(server, "DELETE", "/api/organizations/labs/members/una", token=olga)
    assert resp.status in (200, 204), f"DELETE /api/organizations/labs/members/una -> {resp}"
    members = [m.get("user") for m in api_json(server, "/api/organizations/labs/members", "olga")]
    assert sorted(members) == ["olga"], f"labs members at the end: {members}"


# ---------------------------------------------------------------- 8. review regressions
def test_tokens_moves_and_links_leak_nothing(server, acme, tmp_path):
    """What a security review of the teams model found, each now refused:
    token scopes as an oracle for private repos, grants naming a private
    repo's new name, LFS links outliving a disabled user, silent 307s for
    body-named old ids, an org repo moved out by a contributor, reserved
    `blob`/`raw`, and the token list of a disabled user."""
    from lfs_helpers import create_repo as lfs_create_repo, download_href, http as lfs_http, upload_basic

    olga, nick = server.token("olga"), server.token("nick")
    secret = "acme/Review-Secret"
    resp = call(server, "POST", "/api/repos/create", token=olga, json_body={"name": secret, "private": True})
    assert resp.status == 200, resp

    # 1. A non-member naming a private repo in a token: the same 404 as a missing repo.
    def scoped(name, kind="model"):
        body = {"name": "probe", "role": "fineGrained", "scoped": [{"entity": {"type": kind, "name": name}, "permissions": ["repo.content.read"]}]}
        return call(server, "POST", "/api/settings/tokens", token=nick, json_body=body)

    hidden, missing = scoped("ACME/review-secret"), scoped("acme/no-such-repo")
    assert hidden.status == missing.status == 404, (hidden, missing)
    assert b"Review-Secret" not in hidden.body and hidden.body.replace(b"ACME/review-secret", b"X") == missing.body.replace(b"acme/no-such-repo", b"X")
    assert scoped("acme", kind="org").status == 403, "a namespace grant on an org the user is not in"

    # 2. A member's grant on a repo they then lose: whoami and the token list do not name it.
    admin(server, "org", "add-member", "acme", "nick", "--role", "read")
    made = scoped(secret)
    assert made.status == 200, made
    nick_scoped = made.json()["token"]
    admin(server, "org", "remove-member", "acme", "nick")
    assert call(server, "POST", "/api/repos/move", token=olga, json_body={"fromRepo": secret, "toRepo": "acme/project-x", "type": "model"}).status == 200
    for resp in (call(server, "GET", "/api/whoami-v2", token=nick_scoped), call(server, "GET", "/api/settings/tokens", token=nick)):
        assert resp.status == 200 and b"project-x" not in resp.body and b"Review-Secret" not in resp.body, resp

    # 3. LFS links ask the rule again: a disabled user's download link stops at once.
    lfs_create_repo(server, "una", "lfs-links", private=True)
    data = b"secret weights " * 100
    oid = upload_basic(server, "una/lfs-links", server.token("una"), data)
    href = download_href(server, "una/lfs-links", server.token("una"), oid, len(data))
    assert lfs_http(href).body == data
    admin(server, "user", "disable", "una")
    try:
        refused = lfs_http(href)
        assert refused.status == 401 and data not in refused.body, refused
        listed = admin(server, "token", "list", "una").stdout
        assert "admin-cli" in listed, f"a disabled user's tokens can still be audited: {listed!r}"
    finally:
        admin(server, "user", "enable", "una")
    assert lfs_http(href).body == data

    # 4. Old ids: a percent-encoded one is redirected with a Location; body-named routes act on the repo.
    wendy = server.token("wendy")
    for name in ("review-old", "review-old-2"):
        assert call(server, "POST", "/api/repos/create", token=wendy, json_body={"name": f"acme/{name}"}).status == 200
    assert call(server, "POST", "/api/repos/move", token=olga, json_body={"fromRepo": "acme/review-old", "toRepo": "acme/review-new", "type": "model"}).status == 200
    resp = call(server, "GET", "/api/models/acme/review%2Dold/tree/main", token=wendy)
    assert resp.status == 307 and resp.headers.get("location", "").endswith("/api/models/acme/review-new/tree/main"), resp
    moved = call(server, "POST", "/api/repos/move", token=olga, json_body={"fromRepo": "acme/review-old", "toRepo": "acme/review-newer", "type": "model"})
    assert moved.status == 200 and call(server, "GET", "/api/models/acme/review-newer", token=olga).status == 200, moved
    deleted = call(server, "DELETE", "/api/repos/delete", token=olga, json_body={"name": "acme/review-old"})
    assert deleted.status == 200 and call(server, "GET", "/api/models/acme/review-newer", token=olga).status == 404, deleted

    # 5. Moving a repo out of an organization is for its admins: wendy (write) may not, olga (admin) may.
    out = call(server, "POST", "/api/repos/move", token=wendy, json_body={"fromRepo": "acme/review-old-2", "toRepo": "wendy/mine", "type": "model"})
    assert out.status == 403, out
    assert call(server, "POST", "/api/repos/move", token=olga, json_body={"fromRepo": "acme/review-old-2", "toRepo": "olga/taken-out", "type": "model"}).status == 200

    # 6. Names the web UI's pages use are reserved.
    for reserved in ("blob", "raw", "Tree"):
        assert "reserved" in admin_refused(server, "user", "create", reserved).stderr
