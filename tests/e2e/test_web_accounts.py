"""Accounts, organizations and tokens made in the browser, through the
front door as a browser posts its forms (the browser journey itself is in
test_web_browser.py).

Checks: sign-up at /join is off by default, open, or invite-only with
single-use codes from `tessera admin invite create`, with the API's name
and password rules and one account per name in any case; the profile page
sets a full name and changes the password (checking the current one and
ending the other sessions); an organization made at /organizations/new
has its creator as admin, who adds, re-roles and removes members (and
cannot remove the last admin), and a member then sees its private repo;
fine-grained tokens made on the tokens page reach only what they name and
what their user can see; repos move from their settings page with the old
id redirecting; downloads carry a sandboxing CSP.
"""

from __future__ import annotations

import html
import json
import re
import subprocess

import pytest

from tessera_server import TesseraServer
from web_client import passwd, send, session_of, sign_in

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def site(tessera_bin, tmp_path_factory):
    server = TesseraServer(tessera_bin, base_dir=tmp_path_factory.mktemp("tessera-accounts"), users=(("alice", True), ("bob", False), ("carol", False)))
    server.start()
    try:
        for user in ("alice", "bob", "carol"):
            passwd(server, user, PASSWORD)
        yield server
    finally:
        server.stop()
        server.cleanup()


def restart_with_signup(server: TesseraServer, mode: str | None) -> None:
    server.stop()
    if mode is None:
        server.env.pop("TESSERA_SIGNUP", None)
    else:
        server.env["TESSERA_SIGNUP"] = mode
    server.start()


def session(server, user: str, password: str = PASSWORD) -> str:
    reply = sign_in(server, user, password)
    assert reply.status == 303, reply.body[:300]
    return session_of(reply)


def join(server, username: str, password: str = PASSWORD, confirm: str | None = None, invite: str | None = None):
    form = {"username": username, "password": password, "password_confirm": confirm if confirm is not None else password}
    if invite is not None:
        form["invite"] = invite
    return send(server, "POST", "/join", form=form)


def invite(server, by: str = "alice") -> str:
    cmd = [str(server.binary), "--data-dir", str(server.data_dir), "admin", "invite", "create", "--by", by]
    result = subprocess.run(cmd, capture_output=True, text=True, env=server._env(), timeout=60)
    assert result.returncode == 0, result.stderr
    code = re.search(r"^invite code: (\S+)$", result.stdout, re.M).group(1)
    assert f"/join?invite={code}" in result.stdout
    return code


def api(server, method: str, path: str, token: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    return server.request(method, path, token=token, body=data)


def test_sign_up_is_off_by_default_then_open_then_by_invitation(site):
    closed = send(site, "GET", "/join")
    assert closed.status == 200 and "Sign-up is closed" in closed.body
    assert "/join" not in send(site, "GET", "/login").body, "the sign-in page offers no sign-up when it is off"
    refused = join(site, "dave")
    assert refused.status == 403 and "closed" in refused.body
    assert sign_in(site, "dave", PASSWORD).status == 401, "no account was made"

    restart_with_signup(site, "open")
    assert 'href="/join"' in send(site, "GET", "/login").body
    assert join(site, "dave", confirm="something else").status == 400
    assert "at least 8 characters" in join(site, "dave", password="short", confirm="short").body
    assert "reserved" in join(site, "settings").body
    assert join(site, "bad--name").status == 400
    taken = join(site, "ALICE")
    assert taken.status == 409 and "already taken" in taken.body
    made = join(site, "dave")
    assert made.status == 303 and made.headers["location"] == "/dave"
    dave = session_of(made)
    assert "HttpOnly" in made.headers["set-cookie"] and "SameSite=Lax" in made.headers["set-cookie"]
    assert "Sign out" in send(site, "GET", "/", cookie=dave).body, "a new account is signed in at once"
    assert sign_in(site, "dave", PASSWORD).status == 303
    assert join(site, "dave").status == 409

    restart_with_signup(site, "invite")
    form = send(site, "GET", "/join?invite=abc")
    assert 'name="invite"' in form.body and 'value="abc"' in form.body
    assert join(site, "erin").status == 403, "invite-only sign-up needs a code"
    assert join(site, "erin", invite="not-a-code").status == 403
    code = invite(site)
    assert join(site, "bad--name", invite=code).status == 400
    assert join(site, "erin", invite=code).status == 303, "a refused sign-up leaves its invitation usable"
    reused = join(site, "frank", invite=code)
    assert reused.status == 403 and "not valid" in reused.body, "an invitation makes one account"
    not_admin = subprocess.run([str(site.binary), "--data-dir", str(site.data_dir), "admin", "invite", "create", "--by", "bob"],
                               capture_output=True, text=True, env=site._env(), timeout=60)
    assert not_admin.returncode != 0 and "admin" in not_admin.stderr
    restart_with_signup(site, None)


def test_profile_sets_a_full_name_and_changes_the_password(site):
    assert send(site, "GET", "/settings/profile").headers["location"] == "/login?next=/settings/profile"
    first, second = session(site, "carol"), session(site, "carol")
    page = send(site, "GET", "/settings/profile", cookie=first)
    assert page.status == 200 and "no-store" in page.headers["cache-control"]
    saved = send(site, "POST", "/settings/profile", cookie=first, form={"full_name": "Carol <Ché>"})
    assert saved.status == 200 and "Profile saved" in saved.body
    profile = send(site, "GET", "/carol").body
    assert "Carol &lt;Ché&gt;" in profile and "<Ché>" not in profile
    assert send(site, "POST", "/settings/profile", cookie=first, form={"full_name": "x" * 101}).status == 400

    wrong = send(site, "POST", "/settings/password", cookie=first, form={"current": "nope", "password": "a new passphrase", "password_confirm": "a new passphrase"})
    assert wrong.status == 403 and "not right" in wrong.body
    differ = send(site, "POST", "/settings/password", cookie=first, form={"current": PASSWORD, "password": "a new passphrase", "password_confirm": "another one"})
    assert differ.status == 400
    short = send(site, "POST", "/settings/password", cookie=first, form={"current": PASSWORD, "password": "short", "password_confirm": "short"})
    assert short.status == 400 and "at least 8" in short.body
    changed = send(site, "POST", "/settings/password", cookie=first, form={"current": PASSWORD, "password": "a new passphrase", "password_confirm": "a new passphrase"})
    assert changed.status == 200 and "Password changed" in changed.body
    assert "Sign out" in send(site, "GET", "/", cookie=first).body, "the session that changed it stays"
    assert "Sign out" not in send(site, "GET", "/", cookie=second).body, "every other session ended"
    assert sign_in(site, "carol", PASSWORD).status == 401
    assert sign_in(site, "carol", "a new passphrase").status == 303
    read_token = site.create_token("carol", "read")
    refused = send(site, "POST", "/settings/profile", headers={"Authorization": f"Bearer {read_token}"}, form={"full_name": "Mallory"})
    assert refused.status == 403, "a read token changes nothing"
    passwd(site, "carol", PASSWORD)


def test_organization_made_in_the_browser_with_members_and_roles(site):
    alice, bob, carol = session(site, "alice"), session(site, "bob"), session(site, "carol")
    assert send(site, "GET", "/organizations/new").headers["location"] == "/login?next=/organizations/new"
    made = send(site, "POST", "/organizations/new", cookie=bob, form={"name": "bob-lab"})
    assert made.status == 303 and made.headers["location"] == "/organizations/bob-lab/settings/members"
    assert send(site, "POST", "/organizations/new", cookie=bob, form={"name": "BOB-LAB"}).status == 409
    assert send(site, "POST", "/organizations/new", cookie=bob, form={"name": "new"}).status == 400
    members = send(site, "GET", "/organizations/bob-lab/settings/members", cookie=bob)
    assert members.status == 200 and re.search(r'<a href="/bob">bob</a>.*?value="admin" selected', members.body, re.S)

    private = send(site, "POST", "/new", cookie=bob, form={"owner": "bob-lab", "name": "lab-secret-q7", "visibility": "private"})
    assert private.status == 303
    assert send(site, "GET", "/bob-lab/lab-secret-q7", cookie=carol).status == 404
    assert send(site, "GET", "/organizations/bob-lab/settings/members", cookie=carol).status == 403
    assert send(site, "POST", "/organizations/bob-lab/settings/members", cookie=carol, form={"action": "set", "user": "carol", "role": "admin"}).status == 403
    assert "lab-secret-q7" not in send(site, "GET", "/bob-lab", cookie=carol).body

    added = send(site, "POST", "/organizations/bob-lab/settings/members", cookie=bob, form={"action": "set", "user": "carol", "role": "read"})
    assert added.status == 200 and "carol is now read of bob-lab" in added.body
    assert send(site, "GET", "/bob-lab/lab-secret-q7", cookie=carol).status == 200, "a new member sees the private repo at once"
    assert "lab-secret-q7" in send(site, "GET", "/bob-lab", cookie=carol).body
    assert send(site, "POST", "/organizations/bob-lab/settings/members", cookie=bob, form={"action": "set", "user": "nobody-here", "role": "read"}).status == 404
    assert send(site, "POST", "/organizations/bob-lab/settings/members", cookie=bob, form={"action": "set", "user": "carol", "role": "owner"}).status == 400
    last = send(site, "POST", "/organizations/bob-lab/settings/members", cookie=bob, form={"action": "remove", "user": "bob"})
    assert last.status == 409 and "at least one admin" in last.body
    promoted = send(site, "POST", "/organizations/bob-lab/settings/members", cookie=bob, form={"action": "set", "user": "carol", "role": "admin"})
    assert promoted.status == 200
    assert send(site, "GET", "/organizations/bob-lab/settings/members", cookie=carol).status == 200
    assert send(site, "GET", "/organizations/bob-lab/settings/members", cookie=alice).status == 200, "site admins manage every organization"
    removed = send(site, "POST", "/organizations/bob-lab/settings/members", cookie=bob, form={"action": "remove", "user": "carol"})
    assert removed.status == 200
    assert send(site, "GET", "/bob-lab/lab-secret-q7", cookie=carol).status == 404, "a removed member loses access at once"
    profile = send(site, "GET", "/settings/profile", cookie=bob).body
    assert 'href="/organizations/bob-lab/settings/members"' in profile


def test_fine_grained_tokens_from_the_tokens_page(site):
    bob, alice = session(site, "bob"), session(site, "alice")
    for name, private in (("fg-target", False), ("fg-other", False), ("fg-hidden-z3", True)):
        assert send(site, "POST", "/new", cookie=alice if name == "fg-hidden-z3" else bob,
                    form={"owner": "alice" if name == "fg-hidden-z3" else "bob", "name": name, "visibility": "private" if private else "public"}).status == 303
    hidden = send(site, "POST", "/settings/tokens", cookie=bob, form={"name": "ci", "role": "fine-grained", "targets": "alice/fg-hidden-z3"})
    assert "No model repo alice/fg-hidden-z3" in html.unescape(hidden.body) and "hf_" not in hidden.body, "a repo bob cannot see is answered as missing"
    assert "needs at least one" in send(site, "POST", "/settings/tokens", cookie=bob, form={"name": "ci", "role": "fine-grained", "targets": ""}).body
    assert "Unknown access" in send(site, "POST", "/settings/tokens", cookie=bob, form={"name": "ci", "role": "fine-grained", "targets": "bob/fg-target:admin"}).body
    made = send(site, "POST", "/settings/tokens", cookie=bob, form={"name": "ci", "role": "fine-grained", "targets": "bob/fg-target:write\n"})
    secret = re.search(r'value="(hf_[A-Za-z0-9]{34})"', made.body).group(1)
    listed = send(site, "GET", "/settings/tokens", cookie=bob).body
    assert "bob/fg-target (write)" in html.unescape(listed)
    assert api(site, "GET", "/api/models/bob/fg-target", secret)[0] == 200
    assert api(site, "PUT", "/api/models/bob/fg-target/settings", secret, {"private": True})[0] == 200
    assert api(site, "PUT", "/api/models/bob/fg-other/settings", secret, {"private": True})[0] == 403


def test_repo_moves_from_its_settings_page_and_downloads_are_sandboxed(site):
    bob = session(site, "bob")
    assert send(site, "POST", "/new", cookie=bob, form={"owner": "bob", "name": "to-move", "visibility": "public"}).status == 303
    bad = send(site, "POST", "/bob/to-move/settings", cookie=bob, form={"action": "move", "to": "no-slash"})
    assert bad.status == 200 and "namespace/name" in html.unescape(bad.body)
    foreign = send(site, "POST", "/bob/to-move/settings", cookie=bob, form={"action": "move", "to": "alice/took-it"})
    assert "create repos in namespace alice" in foreign.body
    moved = send(site, "POST", "/bob/to-move/settings", cookie=bob, form={"action": "move", "to": "bob/moved-here"})
    assert moved.status == 303 and moved.headers["location"] == "/bob/moved-here/settings"
    old = send(site, "GET", "/bob/to-move")
    assert old.status in (301, 307, 308) and old.headers["location"].endswith("/bob/moved-here")
    assert send(site, "GET", "/bob/moved-here").status == 200

    head = send(site, "GET", "/bob/moved-here/resolve/main/.gitattributes")
    assert head.status == 200
    assert head.headers["x-content-type-options"] == "nosniff"
    assert head.headers["content-security-policy"].startswith("sandbox")
