"""Talking to the web UI as a browser does, without a browser: form posts,
the session cookie, and setting passwords with `tessera admin user passwd`
(from standard input)."""

from __future__ import annotations

import http.client
import subprocess
import urllib.parse
from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


def send(server, method: str, path: str, *, cookie: str | None = None, form: dict | None = None, headers: dict | None = None) -> Reply:
    url = urllib.parse.urlsplit(server.endpoint)
    conn = http.client.HTTPConnection(url.netloc, timeout=30)
    hdrs = dict(headers or {})
    body = None
    if cookie:
        hdrs["Cookie"] = f"tessera_session={cookie}"
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode("utf-8", "replace"))
    finally:
        conn.close()


def passwd(server, user: str, password: str) -> None:
    cmd = [str(server.binary), "--data-dir", str(server.data_dir), "admin", "user", "passwd", user]
    result = subprocess.run(cmd, input=password + "\n", capture_output=True, text=True, env=server._env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"password set for {user}" in result.stdout


def sign_in(server, user: str, password: str, next_path: str = "/") -> Reply:
    return send(server, "POST", "/login", form={"username": user, "password": password, "next": next_path})


def session_of(reply: Reply) -> str:
    cookie = reply.headers["set-cookie"]
    return cookie.split(";", 1)[0].split("=", 1)[1]
