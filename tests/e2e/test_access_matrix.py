"""The access matrix of the teams model (issue #9, /work/spec/teams-api.md):
every caller against every kind of repo on every route family, generated
from ONE table, each cell's answer computed by a small Python model of the
contract's one access rule.

Callers (CALLERS): anonymous, a site admin (alice), the admin, a `write`, a
`contributor` and a `read` member of the org `acme`, a non-member (bob), a
read token and a fine-grained token (write on one org repo) of the `write`
member, a disabled user's token, and a non-member whose access request to
the gated repo was accepted.

Resources (RESOURCES): a public and a private repo of a user, a public and a
private repo of the org (created by the org admin), a public gated
(`manual`) org repo, and a private org repo the contributor created.

Routes (ROUTES): the Hub API (repo info, auth-check, tree, paths-info, refs,
commits, resolve HEAD/GET, xet-read-token, xet-write-token, preupload, an
NDJSON commit, a settings PUT that changes nothing, branch and tag
create/delete, and on the gated repo the list of access requests), the Xet
CAS (a reconstruction with the CAS token the caller got from xet-read-token;
a caller who gets none is held to that route's refusal), git smart HTTP
(`info/refs` for upload-pack and receive-pack, HTTP Basic), Git LFS (batch
download and upload, locks list, lock create and unlock). Repo creation
(CREATE_NAMESPACES) is one more column: the org, the caller's own
namespace, and another user's.

Adding a route is adding a row to ROUTES (with the contract rule it follows:
metadata / download / write); adding a caller or a repo is a row of CALLERS
or RESOURCES. One server, one pass; every cell that differs from the model
(status, X-Error-Code / message / challenge the contract names, or a leak:
a private repo's name the caller may not see, or the bytes of a file the
caller may not download, in any response body) is listed in one assertion
message. The whole matrix is written to .results/access_matrix.txt.

Write cells keep the repos' state stable: commits rewrite one file with the
same bytes, settings PUT the current visibility, branches, tags and LFS
locks are per caller and deleted right after, the LFS upload batch names an
object the repo holds; the test checks the repos are as they were.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from lfs_helpers import LFS_MEDIA_TYPE, random_bytes, upload_basic
from tessera_server import TesseraServer

# ====================================================================== the world
NONE, READ, WRITE = 0, 1, 2
LEVEL = {NONE: "None", READ: "Read", WRITE: "Write"}

ORG = "acme"
ORG_OWNER = "carol"  # `org create acme --owner carol`: the org's admin
ORG_ROLES = {"carol": "admin", "dave": "write", "erin": "contributor", "gina": "read", "hank": "write"}
SITE_ADMINS = frozenset({"alice"})
# Every user of the server (alice is the harness' admin, bob its other user;
# uma owns nothing and belongs nowhere: "another user's namespace" for creation).
USERS = ("alice", "bob", "carol", "dave", "erin", "gina", "hank", "ivy", "uma")

INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
READ_ONLY = "This token has read access only"


@dataclass(frozen=True)
class Resource:
    key: str
    namespace: str
    name: str
    creator: str
    private: bool
    gated: str | bool = False

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


RESOURCES = (
    Resource("user-public", "dave", "mx-user-public", "dave", private=False),
    Resource("user-private", "dave", "mx-user-hidden-q7", "dave", private=True),
    Resource("org-public", ORG, "mx-org-public", "carol", private=False),
    Resource("org-private", ORG, "mx-org-hidden-k3", "carol", private=True),
    Resource("org-gated", ORG, "mx-org-gated", "carol", private=False, gated="manual"),
    Resource("contrib-own", ORG, "mx-contrib-hidden-w5", "erin", private=True),
)
BY_KEY = {r.key: r for r in RESOURCES}
# (user, repo id) whose access request was accepted.
ACCEPTED = frozenset({("ivy", BY_KEY["org-gated"].id)})


@dataclass(frozen=True)
class Caller:
    key: str
    user: str | None  # None: anonymous
    kind: str | None = None  # write | read | fineGrained
    # fine-grained scopes: ("repo" | "namespace", id, READ | WRITE)
    scopes: tuple[tuple[str, str, int], ...] = ()
    disabled: bool = False


CALLERS = (
    Caller("anonymous", None),
    Caller("site-admin", "alice", "write"),
    Caller("org-admin", "carol", "write"),
    Caller("org-write", "dave", "write"),
    Caller("org-contributor", "erin", "write"),
    Caller("org-read", "gina", "write"),
    Caller("non-member", "bob", "write"),
    Caller("read-token", "dave", "read"),
    Caller("fine-grained", "dave", "fineGrained", (("repo", BY_KEY["org-private"].id, WRITE),)),
    Caller("disabled", "hank", "write", disabled=True),
    Caller("gate-accepted", "ivy", "write"),
)

# Namespaces a repo is created in: key -> namespace (None: the caller's own).
CREATE_NAMESPACES = {"ns-org": ORG, "ns-self": None, "ns-other-user": "uma"}


# ====================================================================== the model
def user_level(user: str | None, res: Resource) -> int:
    if user is None:
        return NONE
    if user in SITE_ADMINS:
        return WRITE
    if user.lower() == res.namespace.lower():
        return WRITE
    if res.namespace.lower() == ORG:
        role = ORG_ROLES.get(user)
        if role in ("admin", "write"):
            return WRITE
        if role == "contributor":
            return WRITE if res.creator == user else READ
        if role == "read":
            return READ
    return NONE


def token_cap(caller: Caller, res: Resource) -> int:
    if caller.kind == "read":
        return READ
    if caller.kind == "write":
        return WRITE
    if caller.kind == "fineGrained":
        return max(
            (
                level
                for kind, name, level in caller.scopes
                if (kind == "repo" and name.lower() == res.id.lower())
                or (kind == "namespace" and name.lower() == res.namespace.lower())
            ),
            default=NONE,
        )
    return NONE


def effective(caller: Caller, res: Resource) -> int:
    if caller.user is None or caller.disabled:
        return NONE
    return min(user_level(caller.user, res), token_cap(caller, res))


def visible(caller: Caller, res: Resource) -> bool:
    return not res.private or effective(caller, res) >= READ


def may_download(caller: Caller, res: Resource) -> bool:
    if not visible(caller, res):
        return False
    if not res.gated or effective(caller, res) >= READ:
        return True
    return not caller.disabled and (caller.user, res.id) in ACCEPTED


def may_write(caller: Caller, res: Resource) -> bool:
    return effective(caller, res) >= WRITE


def may_create(caller: Caller, namespace: str) -> bool:
    if caller.user is None or caller.disabled:
        return False
    token_ok = caller.kind == "write" or (
        caller.kind == "fineGrained"
        and any(kind == "namespace" and name.lower() == namespace.lower() and level >= WRITE for kind, name, level in caller.scopes)
    )
    user_ok = (
        caller.user in SITE_ADMINS
        or caller.user.lower() == namespace.lower()
        or (namespace.lower() == ORG and ORG_ROLES.get(caller.user) in ("contributor", "write", "admin"))
    )
    return token_ok and user_ok


@dataclass(frozen=True)
class Expect:
    status: int
    code: str | None = None  # X-Error-Code the contract names
    challenge: bool = False  # WWW-Authenticate: Basic ...
    message: str | None = None  # a substring of the body / X-Error-Message
    why: str = ""

    def __str__(self) -> str:
        extra = [f"code={self.code}"] if self.code else []
        if self.challenge:
            extra.append("Basic challenge")
        if self.message:
            extra.append(f"msg~{self.message[:40]!r}")
        return f"{self.status}" + (f" ({', '.join(extra)})" if extra else "")


def expect(caller: Caller, res: Resource, route: "Route") -> Expect:
    """What the contract answers `caller` on `route` of `res`."""
    if caller.disabled:
        return Expect(401, message=INVALID_CREDENTIALS, why="disabled user's token")
    anonymous = caller.user is None
    git_like = route.surface in ("git", "lfs")
    eff = effective(caller, res)
    facts = f"effective {LEVEL[eff]}"
    if not visible(caller, res):
        if git_like:
            return Expect(401, challenge=True, why="not visible, anonymous") if anonymous else Expect(404, why=f"not visible ({facts})")
        return Expect(404, code="RepoNotFound", why=f"not visible ({facts})")
    if route.rule == "metadata":
        return Expect(route.ok, why=f"visible ({facts})")
    if route.rule == "download":
        if may_download(caller, res):
            accepted = " (access request accepted)" if res.gated and eff < READ else ""
            return Expect(route.ok, why=f"download ({facts}){accepted}")
        if route.surface == "cas":
            # No CAS token without xet-read-token: held to that route's refusal.
            return expect(caller, res, ROUTE_BY_KEY["xet-read-token"])
        gated = f"Access to model {res.id} is restricted and you are not in the authorized list."
        if anonymous:
            if git_like:
                return Expect(401, challenge=True, why="gated, anonymous")
            return Expect(401, code="GatedRepo", why="gated, anonymous")
        return Expect(403, code="GatedRepo", message=gated, why=f"gated, not accepted ({facts})")
    assert route.rule == "write", route
    if may_write(caller, res):
        return Expect(route.ok, why=f"write ({facts})")
    if anonymous:
        return Expect(401, challenge=git_like, why="write, anonymous")
    if caller.kind == "read":
        return Expect(403, message=READ_ONLY, why=f"write with a read token ({facts})")
    return Expect(403, why=f"write refused ({facts})")


def expect_create(caller: Caller, namespace: str) -> Expect:
    if caller.disabled:
        return Expect(401, message=INVALID_CREDENTIALS, why="disabled user's token")
    if caller.user is None:
        return Expect(401, why="anonymous")
    if may_create(caller, namespace):
        return Expect(200, why=f"may create in {namespace}")
    return Expect(403, why=f"may not create in {namespace} (token {caller.kind})")


# ====================================================================== HTTP
@dataclass
class Reply:
    status: int
    headers: dict  # lowercase names
    body: bytes
    request: str = ""

    def json(self):
        return json.loads(self.body)

    def text(self) -> str:
        return self.body.decode("utf-8", "replace") + " " + self.headers.get("x-error-message", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def http(
    url: str,
    method: str = "GET",
    *,
    bearer: str | None = None,
    basic: tuple[str, str] | None = None,
    body: bytes | None = None,
    content_type: str | None = None,
    accept: str | None = None,
    shown_auth: str = "",
) -> Reply:
    req = urllib.request.Request(url, data=body, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    if accept:
        req.add_header("Accept", accept)
    if bearer:
        req.add_header("Authorization", f"Bearer {bearer}")
    if basic:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode())
    parts = urllib.parse.urlsplit(url)
    shown = f"{method} {parts.path}" + (f"?{parts.query}" if parts.query else "")
    if shown_auth:
        shown += f" [{shown_auth}]"
    try:
        with _OPENER.open(req, timeout=60) as resp:
            return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read(), shown)
    except urllib.error.HTTPError as err:
        return Reply(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read(), shown)


# ====================================================================== the world, built
@dataclass
class World:
    server: TesseraServer
    tokens: dict[str, str | None]  # caller key -> token
    secrets: dict[str, bytes]  # resource key -> small.txt bytes
    weights: dict[str, bytes]  # resource key -> weights.bin bytes
    xet_hashes: dict[str, str]  # resource key -> Xet hash of weights.bin
    lfs_oids: dict[str, str]
    hank_cas_token: str = ""
    hank_cas_url: str = ""
    locks: dict[tuple[str, str], str] = field(default_factory=dict)  # (caller, resource) -> LFS lock id

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def hub(self, caller: Caller, method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> Reply:
        token = self.tokens[caller.key]
        return http(self.endpoint + path, method, bearer=token, body=body, content_type=content_type,
                    shown_auth=f"Bearer {caller.key}" if token else "anonymous")

    def git(self, caller: Caller, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
            accept: str | None = None) -> Reply:
        token = self.tokens[caller.key]
        basic = (caller.user or "user", token) if token else None
        return http(self.endpoint + path, method, basic=basic, body=body, content_type=content_type, accept=accept,
                    shown_auth=f"Basic {caller.user}:<{caller.key} token>" if token else "anonymous")


IDEMPOTENT = b"the same bytes, commit after commit\n"


def ndjson(*lines: dict) -> bytes:
    return "\n".join(json.dumps(line) for line in lines).encode()


def file_line(path: str, content: bytes) -> dict:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}}


def admin(server: TesseraServer, *args: str) -> str:
    return server._admin(*args)


def xet_hash_of(server: TesseraServer, path: Path) -> str:
    result = subprocess.run([str(server.binary), "xet", "hash", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"tessera xet hash {path}: {result.stderr}"
    return result.stdout.split()[0]


def parse_token(out: str) -> str:
    for line in out.splitlines():
        if "token for " in line and ": hf_" in line:
            return line.rsplit(": ", 1)[1].strip()
    raise AssertionError(f"no token in the admin CLI output: {out!r}")


def require(reply: Reply, what: str, status: int = 200) -> Reply:
    assert reply.status == status, f"setup: {what}: {reply.request} -> {reply.status} {reply.headers} {reply.body[:1000]!r}"
    return reply


def build_world(server: TesseraServer, files: Path) -> World:
    ep = server.endpoint
    # --- the org and its members (admin CLI)
    out = admin(server, "org", "create", ORG, "--owner", ORG_OWNER)
    assert f"created organization {ORG}" in out, out
    for user, role in ORG_ROLES.items():
        if user != ORG_OWNER:
            admin(server, "org", "add-member", ORG, user, "--role", role)

    # --- the repos, each with a small secret file, an idempotent file and an LFS file
    world = World(server, {}, {}, {}, {}, {})
    for index, res in enumerate(RESOURCES):
        token = server.token(res.creator)
        require(
            http(f"{ep}/api/repos/create", "POST", bearer=token, content_type="application/json",
                 body=json.dumps({"name": res.name, "organization": res.namespace, "private": res.private, "type": "model"}).encode()),
            f"{res.creator} creates {res.id}",
        )
        secret = f"tessera-matrix-secret {res.key} {secrets.token_hex(16)}\n".encode()
        weights = random_bytes(6000 + index, 9000 + index)
        oid = upload_basic(server, res.id, token, weights)
        require(
            http(f"{ep}/api/models/{res.id}/commit/main", "POST", bearer=token, content_type="application/x-ndjson",
                 body=ndjson(
                     {"key": "header", "value": {"summary": "matrix fixtures"}},
                     file_line("small.txt", secret),
                     file_line("idempotent.txt", IDEMPOTENT),
                     {"key": "lfsFile", "value": {"path": "weights.bin", "algo": "sha256", "oid": oid, "size": len(weights)}},
                 )),
            f"initial commit to {res.id}",
        )
        path = files / f"{res.key}.bin"
        path.write_bytes(weights)
        world.secrets[res.key] = secret
        world.weights[res.key] = weights
        world.lfs_oids[res.key] = oid
        world.xet_hashes[res.key] = xet_hash_of(server, path)
        if res.gated:
            require(
                http(f"{ep}/api/models/{res.id}/settings", "PUT", bearer=token, content_type="application/json",
                     body=json.dumps({"gated": res.gated}).encode()),
                f"gate {res.id}",
            )

    # --- accepted access requests
    for user, repo_id in sorted(ACCEPTED):
        reply = require(
            http(f"{ep}/api/models/{repo_id}/ask-access", "POST", bearer=server.token(user), content_type="application/json", body=b"{}"),
            f"{user} asks for access to {repo_id}",
        )
        assert reply.json().get("status") == "pending", f"manual gating: {reply.body!r}"
        require(
            http(f"{ep}/api/models/{repo_id}/user-access-request/handle", "POST", bearer=server.token(ORG_OWNER),
                 content_type="application/json", body=json.dumps({"user": user, "status": "accepted"}).encode()),
            f"{ORG_OWNER} accepts {user} on {repo_id}",
        )

    # --- the callers' tokens
    for caller in CALLERS:
        if caller.user is None:
            world.tokens[caller.key] = None
        elif caller.kind == "write":
            world.tokens[caller.key] = server.token(caller.user)
        elif caller.kind == "read":
            world.tokens[caller.key] = parse_token(admin(server, "token", "create", caller.user, "--scope", "read", "--name", caller.key))
        else:
            args = []
            for kind, name, level in caller.scopes:
                args += [f"--{kind}", f"{name}:{'write' if level >= WRITE else 'read'}"]
            out = admin(server, "token", "create", caller.user, *args, "--name", caller.key)
            assert "fineGrained token for" in out, out
            world.tokens[caller.key] = parse_token(out)

    # --- a CAS token of hank's, minted (and working) before he is disabled
    hank = next(c for c in CALLERS if c.disabled)
    res = BY_KEY["org-private"]
    reply = require(http(f"{ep}/api/models/{res.id}/xet-read-token/main", bearer=server.token(hank.user)), "hank's xet-read-token")
    world.hank_cas_token, world.hank_cas_url = reply.json()["accessToken"], reply.json()["casUrl"]
    require(http(f"{world.hank_cas_url}/v1/reconstructions/{world.xet_hashes[res.key]}", bearer=world.hank_cas_token),
            "hank's CAS reconstruction before he is disabled")
    for caller in CALLERS:
        if caller.disabled:
            admin(server, "user", "disable", caller.user)
    listed = admin(server, "user", "list")
    assert f"{hank.user}\tuser\tdisabled" in listed, listed
    return world


# ====================================================================== the routes
@dataclass(frozen=True)
class Route:
    key: str
    surface: str  # hub | cas | git | lfs
    rule: str  # metadata | download | write
    send: Callable[[World, Caller, Resource], Reply]
    # On success: a problem with the answer's content, or None.
    check_ok: Callable[[World, Resource, Reply], str | None] | None = None
    ok: int = 200  # the status of success
    gated_only: bool = False  # a route of gated repos only (gating management)

    def applies(self, res: Resource) -> bool:
        return bool(res.gated) or not self.gated_only


def api(res: Resource, tail: str = "") -> str:
    return f"/api/models/{res.id}{tail}"


def lfs_batch(w: World, c: Caller, res: Resource, operation: str) -> Reply:
    body = {
        "operation": operation,
        "transfers": ["basic"],
        "ref": {"name": "refs/heads/main"},
        "objects": [{"oid": w.lfs_oids[res.key], "size": len(w.weights[res.key])}],
        "hash_algo": "sha256",
    }
    return w.git(c, "POST", f"/{res.id}.git/info/lfs/objects/batch", json.dumps(body).encode(), LFS_MEDIA_TYPE, LFS_MEDIA_TYPE)


def cas_reconstruction(w: World, c: Caller, res: Resource) -> Reply:
    token = w.hub(c, "GET", api(res, "/xet-read-token/main"))
    if token.status != 200:
        token.request = "(no CAS token) " + token.request
        return token
    info = token.json()
    reply = http(f"{info['casUrl']}/v1/reconstructions/{w.xet_hashes[res.key]}", bearer=info["accessToken"],
                 shown_auth=f"CAS token of {c.key}")
    return reply


def branch(c: Caller) -> str:
    return f"mx-tmp-{c.key}"


def tag(c: Caller) -> str:
    return f"mx-tag-{c.key}"


def lfs_lock_create(w: World, c: Caller, res: Resource) -> Reply:
    body = json.dumps({"path": f"mx-lock-{c.key}.bin", "ref": {"name": "refs/heads/main"}}).encode()
    reply = w.git(c, "POST", f"/{res.id}.git/info/lfs/locks", body, LFS_MEDIA_TYPE, LFS_MEDIA_TYPE)
    if reply.status == 201:
        try:
            w.locks[(c.key, res.key)] = str(reply.json()["lock"]["id"])
        except (ValueError, KeyError, TypeError):
            pass
    return reply


def lfs_lock_unlock(w: World, c: Caller, res: Resource) -> Reply:
    # The caller's own lock from lfs-lock-create; a caller who got none names an id never issued.
    lock_id = w.locks.get((c.key, res.key), "999999")
    body = json.dumps({"ref": {"name": "refs/heads/main"}}).encode()
    return w.git(c, "POST", f"/{res.id}.git/info/lfs/locks/{lock_id}/unlock", body, LFS_MEDIA_TYPE, LFS_MEDIA_TYPE)


def ok_json_key(key: str):
    def check(w: World, res: Resource, reply: Reply) -> str | None:
        try:
            value = reply.json()
        except ValueError:
            return f"not JSON: {reply.body[:200]!r}"
        return None if isinstance(value, dict) and key in value else f"no {key!r} in {reply.body[:200]!r}"

    return check


def ok_secret(w: World, res: Resource, reply: Reply) -> str | None:
    return None if reply.body == w.secrets[res.key] else f"body {reply.body[:120]!r} is not small.txt"


def ok_lfs_download(w: World, res: Resource, reply: Reply) -> str | None:
    try:
        entry = reply.json()["objects"][0]
    except (ValueError, KeyError, IndexError):
        return f"not a batch answer: {reply.body[:200]!r}"
    return None if "download" in entry.get("actions", {}) else f"no download action: {entry}"


def ok_advertisement(service: str):
    def check(w: World, res: Resource, reply: Reply) -> str | None:
        return None if f"# service={service}".encode() in reply.body[:100] else f"not a {service} advertisement: {reply.body[:100]!r}"

    return check


def ok_reconstruction(w: World, res: Resource, reply: Reply) -> str | None:
    return ok_json_key("terms")(w, res, reply)


def preupload_body() -> bytes:
    files = [{"path": "idempotent.txt", "size": len(IDEMPOTENT), "sample": base64.b64encode(IDEMPOTENT).decode()}]
    return json.dumps({"files": files}).encode()


def commit_body(c: Caller) -> bytes:
    return ndjson({"key": "header", "value": {"summary": f"idempotent commit by {c.key}"}}, file_line("idempotent.txt", IDEMPOTENT))


JSON = "application/json"

# THE table. (key, surface, rule, request)
ROUTES = (
    Route("info", "hub", "metadata", lambda w, c, r: w.hub(c, "GET", api(r)), ok_json_key("id")),
    # Ids are case-insensitive: another spelling finds the repo under the same rule.
    Route("info-upper-case", "hub", "metadata", lambda w, c, r: w.hub(c, "GET", f"/api/models/{r.id.upper()}"),
          lambda w, r, reply: None if reply.json().get("id") == r.id else f"id {reply.json().get('id')!r}, not the stored {r.id!r}"),
    Route("auth-check", "hub", "metadata", lambda w, c, r: w.hub(c, "GET", api(r, "/auth-check"))),
    Route("tree", "hub", "metadata", lambda w, c, r: w.hub(c, "GET", api(r, "/tree/main"))),
    Route("paths-info", "hub", "metadata",
          lambda w, c, r: w.hub(c, "POST", api(r, "/paths-info/main"), b"paths=small.txt&paths=weights.bin&expand=false",
                                "application/x-www-form-urlencoded")),
    Route("refs", "hub", "metadata", lambda w, c, r: w.hub(c, "GET", api(r, "/refs")), ok_json_key("branches")),
    Route("commits", "hub", "metadata", lambda w, c, r: w.hub(c, "GET", api(r, "/commits/main"))),
    Route("resolve-head", "hub", "download", lambda w, c, r: w.hub(c, "HEAD", f"/{r.id}/resolve/main/small.txt")),
    Route("resolve-get", "hub", "download", lambda w, c, r: w.hub(c, "GET", f"/{r.id}/resolve/main/small.txt"), ok_secret),
    Route("resolve-get-upper-case", "hub", "download",
          lambda w, c, r: w.hub(c, "GET", f"/{r.id.upper()}/resolve/main/small.txt"), ok_secret),
    Route("xet-read-token", "hub", "download", lambda w, c, r: w.hub(c, "GET", api(r, "/xet-read-token/main")), ok_json_key("accessToken")),
    Route("cas-reconstruction", "cas", "download", cas_reconstruction, ok_reconstruction),
    Route("xet-write-token", "hub", "write", lambda w, c, r: w.hub(c, "GET", api(r, "/xet-write-token/main")), ok_json_key("accessToken")),
    Route("preupload", "hub", "write", lambda w, c, r: w.hub(c, "POST", api(r, "/preupload/main"), preupload_body(), JSON), ok_json_key("files")),
    Route("commit", "hub", "write",
          lambda w, c, r: w.hub(c, "POST", api(r, "/commit/main"), commit_body(c), "application/x-ndjson")),
    Route("settings", "hub", "write",
          lambda w, c, r: w.hub(c, "PUT", api(r, "/settings"), json.dumps({"private": r.private}).encode(), JSON)),
    Route("branch-create", "hub", "write", lambda w, c, r: w.hub(c, "POST", api(r, f"/branch/{branch(c)}"), b"{}", JSON)),
    Route("branch-delete", "hub", "write", lambda w, c, r: w.hub(c, "DELETE", api(r, f"/branch/{branch(c)}"))),
    Route("tag-create", "hub", "write",
          lambda w, c, r: w.hub(c, "POST", api(r, "/tag/main"), json.dumps({"tag": tag(c)}).encode(), JSON)),
    Route("tag-delete", "hub", "write", lambda w, c, r: w.hub(c, "DELETE", api(r, f"/tag/{tag(c)}"))),
    Route("access-requests", "hub", "write", lambda w, c, r: w.hub(c, "GET", api(r, "/user-access-request/accepted")),
          lambda w, r, reply: None if isinstance(reply.json(), list) else f"not a list: {reply.body[:200]!r}", gated_only=True),
    Route("git-upload-pack", "git", "download",
          lambda w, c, r: w.git(c, "GET", f"/{r.id}.git/info/refs?service=git-upload-pack"), ok_advertisement("git-upload-pack")),
    Route("git-receive-pack", "git", "write",
          lambda w, c, r: w.git(c, "GET", f"/{r.id}.git/info/refs?service=git-receive-pack"), ok_advertisement("git-receive-pack")),
    Route("lfs-batch-download", "lfs", "download", lambda w, c, r: lfs_batch(w, c, r, "download"), ok_lfs_download),
    Route("lfs-batch-upload", "lfs", "write", lambda w, c, r: lfs_batch(w, c, r, "upload"), ok_json_key("objects")),
    # Listing locks shows paths, not contents: metadata, like tree (the contract lists
    # only lock create/unlock among the writes).
    Route("lfs-locks", "lfs", "metadata", lambda w, c, r: w.git(c, "GET", f"/{r.id}.git/info/lfs/locks", accept=LFS_MEDIA_TYPE),
          ok_json_key("locks")),
    Route("lfs-lock-create", "lfs", "write", lfs_lock_create, ok_json_key("lock"), ok=201),
    Route("lfs-lock-unlock", "lfs", "write", lfs_lock_unlock, ok_json_key("lock")),
)
ROUTE_BY_KEY = {route.key: route for route in ROUTES}


# ====================================================================== judging a cell
@dataclass
class Cell:
    caller: str
    resource: str
    route: str
    expected: Expect
    reply: Reply
    problems: list[str]

    @property
    def id(self) -> str:
        return f"{self.caller}-{self.resource}-{self.route}"

    def got(self) -> str:
        extra = []
        if self.reply.headers.get("x-error-code"):
            extra.append(f"code={self.reply.headers['x-error-code']}")
        if self.reply.headers.get("www-authenticate"):
            extra.append(f"www-authenticate={self.reply.headers['www-authenticate']!r}")
        if self.reply.headers.get("location"):
            extra.append(f"location={self.reply.headers['location']}")
        return f"{self.reply.status}" + (f" ({', '.join(extra)})" if extra else "")

    def line(self, verbose: bool = False) -> str:
        text = f"{'FAIL' if self.problems else 'ok  '} {self.id:60} expected {str(self.expected):34} got {self.got()}"
        if self.problems or verbose:
            text += f"\n       model: {self.expected.why}\n       request: {self.reply.request}"
        if self.problems:
            body = self.reply.body[:300].decode("utf-8", "replace").replace("\n", "\\n")
            text += "\n       body: " + body + "".join(f"\n       - {p}" for p in self.problems)
        return text


def forbidden_strings(w: World, caller: Caller) -> list[tuple[str, bytes]]:
    """What no answer to `caller` may contain: names of private repos it may not
    see, and the bytes of files it may not download."""
    out = []
    for res in RESOURCES:
        if not visible(caller, res):
            out.append((f"the name of {res.id}", res.name.lower().encode()))
        if not may_download(caller, res):
            out.append((f"small.txt of {res.id}", w.secrets[res.key].strip()))
            out.append((f"weights.bin of {res.id}", w.weights[res.key][:48]))
    return out


def judge(w: World, caller: Caller, resource: str, route: str, want: Expect, reply: Reply,
          check_ok: Callable | None, res: Resource | None) -> Cell:
    problems = []
    if reply.status != want.status:
        problems.append(f"status {reply.status}, expected {want.status}")
    else:
        if want.code and reply.headers.get("x-error-code") != want.code:
            problems.append(f"X-Error-Code {reply.headers.get('x-error-code')!r}, expected {want.code!r}")
        if want.challenge and not reply.headers.get("www-authenticate", "").lower().startswith("basic"):
            problems.append(f"WWW-Authenticate {reply.headers.get('www-authenticate')!r}, expected a Basic challenge")
        if want.message and want.message not in reply.text():
            problems.append(f"message lacks {want.message!r}")
        if want.status < 300 and check_ok is not None and res is not None:
            problem = check_ok(w, res, reply)
            if problem:
                problems.append(problem)
    body = reply.body.lower()
    for what, needle in forbidden_strings(w, caller):
        if needle.lower() in body:
            problems.append(f"LEAK: the body holds {what}")
    return Cell(caller.key, resource, route, want, reply, problems)


# ====================================================================== fixtures
@pytest.fixture(scope="module")
def server(tessera_bin, tmp_path_factory):
    """This module's own server (overrides the session one), with every user of the matrix."""
    srv = TesseraServer(tessera_bin, base_dir=tmp_path_factory.mktemp("access-matrix"),
                        users=tuple((name, name in SITE_ADMINS) for name in USERS))
    srv.start()
    print(f"tessera server at {srv.endpoint}, data dir {srv.data_dir}, log {srv.log_path}")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def world(server, tmp_path_factory) -> World:
    return build_world(server, tmp_path_factory.mktemp("access-matrix-files"))


# ====================================================================== tests
def test_the_world_is_as_the_contract_describes(server, world):
    """The facts the matrix stands on, so a matrix failure is not a setup surprise."""
    ep = server.endpoint
    problems = []
    gated = BY_KEY["org-gated"]
    info = http(f"{ep}/api/models/{gated.id}", bearer=server.token(ORG_OWNER))
    if info.status != 200 or info.json().get("gated") != "manual":
        problems.append(f"repo info of {gated.id}: gated should be 'manual': {info.status} {info.body[:300]!r}")
    for user, role in ORG_ROLES.items():
        if any(c.disabled and c.user == user for c in CALLERS):
            continue
        who = http(f"{ep}/api/whoami-v2", bearer=server.token(user))
        orgs = {o.get("name"): o.get("roleInOrg") for o in (who.json().get("orgs", []) if who.status == 200 else [])}
        if orgs.get(ORG) != role:
            problems.append(f"whoami-v2 of {user}: roleInOrg in {ORG} {orgs.get(ORG)!r}, expected {role!r} ({who.status} {who.body[:300]!r})")
    who = http(f"{ep}/api/whoami-v2", bearer=world.tokens["fine-grained"])
    role = who.json().get("auth", {}).get("accessToken", {}).get("role") if who.status == 200 else None
    if role != "fineGrained":
        problems.append(f"whoami-v2 with the fine-grained token: role {role!r} ({who.status} {who.body[:300]!r})")
    assert not problems, "\n".join(problems)


def test_cas_token_minted_before_the_user_was_disabled_stops_working(world):
    res = BY_KEY["org-private"]
    reply = http(f"{world.hank_cas_url}/v1/reconstructions/{world.xet_hashes[res.key]}", bearer=world.hank_cas_token)
    assert reply.status == 401, f"a CAS token of a disabled user (minted before): {reply.status} {reply.body[:300]!r}"
    assert world.weights[res.key][:48] not in reply.body


def test_access_matrix(server, world, results_dir):
    cells: list[Cell] = []
    for caller in CALLERS:
        for res in RESOURCES:
            for route in ROUTES:
                if not route.applies(res):
                    continue
                want = expect(caller, res, route)
                reply = route.send(world, caller, res)
                cells.append(judge(world, caller, res.key, route.key, want, reply, route.check_ok, res))
        for ns_key, namespace in CREATE_NAMESPACES.items():
            if namespace is None:
                if caller.user is None:
                    continue
                namespace = caller.user
            want = expect_create(caller, namespace)
            name = f"mx-new-{caller.key}-{ns_key}"
            reply = world.hub(caller, "POST", "/api/repos/create",
                              json.dumps({"name": name, "organization": namespace, "type": "model"}).encode(), JSON)
            reply.request += f" {{organization: {namespace}}}"
            cells.append(judge(world, caller, ns_key, "create", want, reply, None, None))

    # The repos are as they were: visibility, gating, contents, branches.
    state = []
    admin_token = server.token("alice")
    for res in RESOURCES:
        info = http(f"{server.endpoint}/api/models/{res.id}", bearer=admin_token)
        if info.status != 200 or info.json().get("private") != res.private or info.json().get("gated", False) != res.gated:
            state.append(f"{res.id}: info after the matrix: {info.status} {info.body[:300]!r}")
        got = http(f"{server.endpoint}/{res.id}/resolve/main/small.txt", bearer=admin_token)
        if got.status != 200 or got.body != world.secrets[res.key]:
            state.append(f"{res.id}: small.txt after the matrix: {got.status} {got.body[:100]!r}")
        refs = http(f"{server.endpoint}/api/models/{res.id}/refs", bearer=admin_token)
        branches = sorted(b["name"] for b in refs.json().get("branches", [])) if refs.status == 200 else refs.status
        if branches != ["main"]:
            state.append(f"{res.id}: branches after the matrix: {branches}")
        tags = sorted(t["name"] for t in refs.json().get("tags", [])) if refs.status == 200 else refs.status
        if tags != []:
            state.append(f"{res.id}: tags after the matrix: {tags}")
        locks = http(f"{server.endpoint}/{res.id}.git/info/lfs/locks", bearer=admin_token, accept=LFS_MEDIA_TYPE)
        if locks.status != 200 or locks.json().get("locks") != []:
            state.append(f"{res.id}: LFS locks after the matrix: {locks.status} {locks.body[:300]!r}")

    wrong = [cell for cell in cells if cell.problems]
    report = [f"access matrix: {len(cells)} cells ({len(CALLERS)} callers x {len(RESOURCES)} repos x up to {len(ROUTES)} routes"
              f" + repo creation in {len(CREATE_NAMESPACES)} namespaces), {len(wrong)} wrong"]
    report += [cell.line() for cell in cells]
    report += [f"STATE: {line}" for line in state]
    (results_dir / "access_matrix.txt").write_text("\n".join(report) + "\n")
    summary = [report[0]] + [cell.line() for cell in wrong] + [f"STATE: {line}" for line in state]
    assert not wrong and not state, "\n".join(summary) + f"\n(full matrix: {results_dir / 'access_matrix.txt'})"
