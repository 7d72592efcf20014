"""Browser sign-in through the front door, as a browser sends it: passwords
set with `tessera admin user passwd` (from standard input), `POST /login`
for a session cookie and `POST /logout`.

Checks: the cookie's flags; one generic refusal for unknown users, wrong
passwords and locked accounts; a lockout after ten failures; sessions
survive a restart (they live in the database) and stop for a disabled
user; the cookie is accepted by web pages only, never by the API; cross-site
form posts are refused; `next` never leads off the site.
"""

from __future__ import annotations

import http.client
import re
import urllib.parse

import pytest

from tessera_server import TesseraServer
from web_client import passwd, send, session_of, sign_in

PASSWORD = "correct horse battery"
GENERIC = "Invalid username or password."


@pytest.fixture(scope="module")
def site(tessera_bin, tmp_path_factory):
    server = TesseraServer(tessera_bin, base_dir=tmp_path_factory.mktemp("tessera-sessions"), users=(("alice", True), ("bob", False), ("carol", False)))
    server.start()
    try:
        for user in ("alice", "bob", "carol"):
            passwd(server, user, PASSWORD)
        token = server.users["alice"].token
        conn = http.client.HTTPConnection(urllib.parse.urlsplit(server.endpoint).netloc, timeout=30)
        conn.request("POST", "/api/repos/create", body=b'{"name": "alice/session-private-x9", "private": true}',
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert conn.getresponse().status == 200
        conn.close()
        yield server
    finally:
        server.stop()


def test_sign_in_sets_a_safe_cookie_and_shows_private_pages(site):
    assert send(site, "GET", "/login").status == 200
    reply = sign_in(site, "alice", PASSWORD, "/alice/session-private-x9")
    assert reply.status == 303 and reply.headers["location"] == "/alice/session-private-x9", reply
    cookie = reply.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie and "Secure" not in cookie, cookie
    session = session_of(reply)
    page = send(site, "GET", "/alice/session-private-x9", cookie=session)
    assert page.status == 200 and ">alice</a>" in page.body and "Sign out" in page.body
    assert send(site, "GET", "/alice/session-private-x9").status == 404, "anonymous visitors get the 404 page"
    # The cookie is for web pages only: the API does not take it.
    assert send(site, "GET", "/api/models/alice/session-private-x9", cookie=session).status == 404
    assert send(site, "GET", "/api/whoami-v2", cookie=session).status == 401


def test_failures_get_one_answer_and_lock_the_account(site):
    for user, password in (("nobody", PASSWORD), ("bob", "wrong password")):
        reply = sign_in(site, user, password)
        assert reply.status == 401 and GENERIC in reply.body and "set-cookie" not in reply.headers, reply
    for _ in range(10):
        assert sign_in(site, "carol", "not her password").status == 401
    locked = sign_in(site, "carol", PASSWORD)
    assert locked.status == 401 and GENERIC in locked.body, "ten failures lock the account, with the same answer"
    assert sign_in(site, "bob", PASSWORD).status == 303, "another account is not locked"


def test_cross_site_posts_are_refused_and_logout_ends_the_session(site):
    session = session_of(sign_in(site, "bob", PASSWORD))
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        refused = send(site, "POST", "/logout", cookie=session, headers=headers)
        assert refused.status == 403, (headers, refused)
        assert send(site, "GET", "/", cookie=session).body.count("Sign out") == 1, "the session survived the refused post"
    host = urllib.parse.urlsplit(site.endpoint).netloc
    out = send(site, "POST", "/logout", cookie=session, headers={"Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"})
    assert out.status == 303 and "Max-Age=0" in out.headers["set-cookie"], out
    assert "Sign out" not in send(site, "GET", "/", cookie=session).body, "the session ended"
    # `next` never leads off the site.
    assert sign_in(site, "bob", PASSWORD, "//evil.example/x").headers["location"] == "/"


def test_sessions_survive_restarts_and_stop_for_disabled_users(site):
    session = session_of(sign_in(site, "alice", PASSWORD))
    site.stop()
    site.start()
    assert send(site, "GET", "/alice/session-private-x9", cookie=session).status == 200, "sessions live in the database"
    bob = session_of(sign_in(site, "bob", PASSWORD))
    site._admin("user", "disable", "bob")
    try:
        assert "Sign out" not in send(site, "GET", "/", cookie=bob).body, "a disabled user's session stops at once"
        assert sign_in(site, "bob", PASSWORD).status == 401
    finally:
        site._admin("user", "enable", "bob")


def test_tokens_page_creates_a_token_shown_once_that_the_clients_use(site, tmp_path):
    from tessera_server import run_cli

    first = send(site, "GET", "/settings/tokens")
    assert first.status == 303 and first.headers["location"] == "/login?next=/settings/tokens", first
    session = session_of(sign_in(site, "alice", PASSWORD, "/settings/tokens"))
    created = send(site, "POST", "/settings/tokens", cookie=session, form={"name": "laptop", "role": "write"})
    assert created.status == 200 and created.headers.get("cache-control") == "no-store", created
    secret = re.search(r'value="(hf_[A-Za-z0-9]{34})"', created.body).group(1)
    listed = send(site, "GET", "/settings/tokens", cookie=session)
    assert "laptop" in listed.body and secret not in listed.body, "the secret is shown once only"
    # The new token works with the real CLI.
    login = run_cli(site, ["auth", "login", "--token", secret], tmp_path / "cli", token=None)
    assert login.returncode == 0, login.stderr
    whoami = run_cli(site, ["auth", "whoami"], tmp_path / "cli", token=None)
    assert whoami.returncode == 0 and "alice" in whoami.stdout, (whoami.stdout, whoami.stderr)
    # Revoking it (a same-site form post) stops it.
    token_id = re.search(r'<td>laptop</td>.*?action="/settings/tokens/(\d+)/delete"', listed.body, re.S).group(1)
    host = urllib.parse.urlsplit(site.endpoint).netloc
    revoked = send(site, "POST", f"/settings/tokens/{token_id}/delete", cookie=session, headers={"Origin": f"http://{host}"})
    assert revoked.status == 303, revoked
    assert run_cli(site, ["auth", "whoami"], tmp_path / "cli", token=None).returncode != 0
    assert send(site, "POST", "/settings/tokens", cookie=session, form={"name": "", "role": "read"}).status == 200


def test_new_repo_form_and_repo_settings(site):
    assert send(site, "GET", "/new").headers.get("location") == "/login?next=/new"
    alice = session_of(sign_in(site, "alice", PASSWORD))
    form = send(site, "GET", "/new-dataset", cookie=alice)
    assert form.status == 200 and "Create a new dataset repository" in form.body
    made = send(site, "POST", "/new", cookie=alice, form={"owner": "alice", "name": "web-made", "visibility": "public"})
    assert made.status == 303 and made.headers["location"] == "/alice/web-made", made
    assert send(site, "GET", "/alice/web-made").status == 200
    again = send(site, "POST", "/new", cookie=alice, form={"owner": "alice", "name": "web-made", "visibility": "public"})
    assert again.status == 200 and "You already created this model repo" in again.body
    bad = send(site, "POST", "/new", cookie=alice, form={"owner": "alice", "name": "bad--name", "visibility": "public"})
    assert bad.status == 200 and "Invalid repo name" in html_text(bad.body)
    bob = session_of(sign_in(site, "bob", PASSWORD))
    foreign = send(site, "POST", "/new", cookie=bob, form={"owner": "alice", "name": "not-bobs", "visibility": "public"})
    assert foreign.status == 200 and "rights to create repos" in html_text(foreign.body)
    # Settings: writers only; visibility hides the repo from others at once; deletion needs the typed id.
    assert send(site, "GET", "/alice/web-made/settings", cookie=bob).status == 403
    assert send(site, "GET", "/alice/web-made/settings", cookie=alice).status == 200
    private = send(site, "POST", "/alice/web-made/settings", cookie=alice, form={"action": "visibility", "visibility": "private"})
    assert private.status == 200 and "is now private" in private.body
    assert send(site, "GET", "/alice/web-made", cookie=bob).status == 404
    assert send(site, "GET", "/alice/web-made").status == 404
    assert send(site, "GET", "/alice/web-made/settings", cookie=bob).status == 404, "a private repo's settings do not exist for others"
    gated = send(site, "POST", "/alice/web-made/settings", cookie=alice, form={"action": "gating", "gated": "manual"})
    assert gated.status == 200 and "Gating: manual." in gated.body
    kept = send(site, "POST", "/alice/web-made/settings", cookie=alice, form={"action": "delete", "confirm": "web-made"})
    assert kept.status == 200 and send(site, "GET", "/alice/web-made", cookie=alice).status == 200
    gone = send(site, "POST", "/alice/web-made/settings", cookie=alice, form={"action": "delete", "confirm": "alice/web-made"})
    assert gone.status == 303 and send(site, "GET", "/alice/web-made", cookie=alice).status == 404


def html_text(body: str) -> str:
    import html

    return html.unescape(body)
