"""The web UI's pages through the front door: a real server, plain HTTP
requests as a browser sends them (visitors are anonymous or send a token in
`Authorization`, as scripts do until browser sign-in lands).

- A route x visitor table ({anonymous, another user, an org reader, the
  owner, a site admin} x {public and private repos of a user and an org} x
  every page) asserts each status and that no private repo's name appears in
  any page a visitor may not see it on: listings, profiles, the front page,
  search results and error pages included.
- A model card with `<script>`, `onerror=`, `javascript:` links and an
  `<img src="/logout">` renders inert; the card's metadata becomes chips.
- Pages carry the strict CSP and `nosniff`; `raw` is sandboxed plain text.
- A Xet file's page shows its pointer details; `….git` and moved repos redirect.
"""

from __future__ import annotations

import html
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from tessera_server import TesseraServer, scenario

USERS = (("alice", True), ("bob", False), ("carol", False), ("dave", False))

README = """---
license: apache-2.0
pipeline_tag: text-generation
tags:
- tiny
---
# A card <script>alert('card')</script>

<img src="x" onerror="alert('img')"> [click](javascript:alert('link')) <img src="/logout" alt="logout">

<div align="center" onclick="alert('div')" style="color: red">centered</div>

See [the docs](docs/usage.md) and ![the figure](figs/plot.png).
"""


@dataclass
class Page:
    status: int
    headers: dict[str, str]
    body: str


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def get(server, path: str, token: str | None = None) -> Page:
    request = urllib.request.Request(server.endpoint + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with OPENER.open(request, timeout=30) as response:
            return Page(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as error:
        return Page(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode("utf-8", "replace"))


def api(server, method: str, path: str, token: str, body=None, content_type="application/json") -> int:
    data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.endpoint + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def commit_files(server, repo: str, token: str, files: dict[str, str]) -> None:
    import base64

    lines = [{"key": "header", "value": {"summary": "files"}}]
    for path, text in files.items():
        lines.append({"key": "file", "value": {"path": path, "content": base64.b64encode(text.encode()).decode(), "encoding": "base64"}})
    body = "\n".join(json.dumps(line) for line in lines).encode()
    status = api(server, "POST", f"/api/models/{repo}/commit/main", token, body, "application/x-ndjson")
    assert status == 200, f"commit to {repo}: {status}"


# Each repo's name is unique text, so a leak is a substring search.
REPOS = {
    "user-public": ("alice", "web-public-repo", False),
    "user-private": ("alice", "web-private-zq7", True),
    "org-public": ("acme", "org-public-repo", False),
    "org-private": ("acme", "org-private-k4p", True),
}

# Who may see which private repo: alice (owner, site admin) all; carol reads acme's.
SEES_PRIVATE = {
    "anonymous": set(),
    "bob": set(),
    "carol": {"org-private"},
    "dave-admin-of-nothing": set(),
    "alice": {"user-private", "org-private"},
}


@pytest.fixture(scope="module")
def web(tessera_bin, tmp_path_factory):
    server = TesseraServer(tessera_bin, base_dir=tmp_path_factory.mktemp("tessera-web"), users=USERS)
    server.start()
    try:
        alice = server.users["alice"].token
        server._admin("org", "create", "acme", "--owner", "alice")
        server._admin("org", "add-member", "acme", "carol", "--role", "read")
        for key, (namespace, name, private) in REPOS.items():
            status = api(server, "POST", "/api/repos/create", alice, {"name": f"{namespace}/{name}", "private": private})
            assert status == 200, f"create {namespace}/{name}: {status}"
            commit_files(server, f"{namespace}/{name}", alice, {"README.md": f"# {name}\n", "docs/usage.md": "usage\n"})
        commit_files(server, "alice/web-public-repo", alice, {"README.md": README, "config.json": '{"a": 1,}'})
        yield server
    finally:
        server.stop()


def visitors(server) -> dict[str, str | None]:
    return {
        "anonymous": None,
        "bob": server.users["bob"].token,
        "carol": server.users["carol"].token,
        "dave-admin-of-nothing": server.users["dave"].token,
        "alice": server.users["alice"].token,
    }


def repo_pages(namespace: str, name: str) -> list[str]:
    base = f"/{namespace}/{name}"
    return [base, f"{base}/tree/main", f"{base}/tree/main/docs", f"{base}/blob/main/docs/usage.md", f"{base}/raw/main/README.md"]


SHARED_PAGES = ["/", "/models", "/models?search=repo", "/models?author=acme", "/alice", "/acme", "/alice/no-such-repo"]


def test_pages_by_visitor_show_only_what_each_may_see(web):
    wrong = []
    for visitor, token in visitors(web).items():
        visible_private = SEES_PRIVATE[visitor]
        hidden_names = [name for key, (_, name, private) in REPOS.items() if private and key not in visible_private]
        for key, (namespace, name, private) in REPOS.items():
            expected = 200 if (not private or key in visible_private) else 404
            for path in repo_pages(namespace, name):
                page = get(web, path, token)
                if page.status != expected:
                    wrong.append(f"{visitor} GET {path}: {page.status}, expected {expected}")
                for hidden in hidden_names:
                    if hidden in page.body:
                        wrong.append(f"{visitor} GET {path}: the body names the private {hidden}")
        for path in SHARED_PAGES:
            page = get(web, path, token)
            expected = 404 if path.endswith("no-such-repo") else 200
            if page.status != expected:
                wrong.append(f"{visitor} GET {path}: {page.status}, expected {expected}")
            for hidden in hidden_names:
                if hidden in page.body:
                    wrong.append(f"{visitor} GET {path}: the body names the private {hidden}")
            for key in visible_private:
                if path in ("/models", "/") and REPOS[key][1] not in page.body:
                    wrong.append(f"{visitor} GET {path}: misses {REPOS[key][1]}, which they may see")
    assert not wrong, "\n".join(wrong)


def test_model_card_renders_inert_with_metadata_chips(web):
    page = get(web, "/alice/web-public-repo")
    assert page.status == 200
    card = page.body[page.body.index('<article class="card">') : page.body.index("</article>")]
    for bad in ("<script", "onerror", "javascript:", "onclick", "style="):
        assert bad not in card, f"{bad!r} survived in the card:\n{card}"
    assert '<div align="center">centered</div>' in card, card
    assert 'href="/alice/web-public-repo/blob/main/docs/usage.md"' in card
    assert 'src="/alice/web-public-repo/resolve/main/figs/plot.png"' in card
    chips = [(html.unescape(k), html.unescape(v)) for k, v in re.findall(r'<span class="label">([^<]+):</span> ([^<]+)</li>', page.body)]
    assert ("License", "apache-2.0") in chips and ("Task", "text-generation") in chips and ("Tag", "tiny") in chips, chips
    # The copy boxes name this server and this repo (as text: Tera escapes `/` too).
    text = html.unescape(page.body)
    assert f"export HF_ENDPOINT={web.endpoint}" in text
    assert f"git clone {web.endpoint}/alice/web-public-repo" in text
    assert "hf download alice/web-public-repo" in text


def test_pages_carry_security_headers_and_raw_is_inert(web):
    for path in ("/", "/alice/web-public-repo", "/alice/web-public-repo/tree/main", "/alice/no-such-repo"):
        page = get(web, path)
        csp = page.headers.get("content-security-policy", "")
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, (path, csp)
        assert page.headers.get("x-content-type-options") == "nosniff", path
        assert page.headers.get("content-type", "").startswith("text/html"), path
    raw = get(web, "/alice/web-public-repo/raw/main/README.md")
    assert raw.status == 200 and raw.body == README
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"
    assert raw.headers["x-content-type-options"] == "nosniff" and "sandbox" in raw.headers["content-security-policy"]
    css = get(web, "/static/tessera.css")
    assert css.status == 200 and css.headers["content-type"].startswith("text/css")


def test_file_pages_json_check_xet_pointer_and_redirects(web, tmp_path):
    blob = get(web, "/alice/web-public-repo/blob/main/config.json")
    assert blob.status == 200 and "Invalid JSON" in blob.body
    # A Xet file uploaded by the real client: its page shows the pointer details, its row the badge.
    scenario(
        web,
        tmp_path,
        "xet_upload",
        """
        from huggingface_hub import HfApi
        HfApi().upload_file(path_or_fileobj=bytes(range(256)) * 4096, path_in_repo="weights/model.bin", repo_id="alice/web-public-repo")
        """,
        user="alice",
    )
    tree = get(web, "/alice/web-public-repo/tree/main/weights")
    assert tree.status == 200 and "model.bin" in tree.body and ">Xet<" in tree.body and "1.05 MB" in tree.body, tree.body
    pointer = get(web, "/alice/web-public-repo/blob/main/weights/model.bin")
    assert pointer.status == 200 and "Xet pointer details" in pointer.body and "1048576 bytes" in pointer.body
    assert re.search(r"<dt>Xet hash</dt><dd class=\"mono\">[0-9a-f]{64}</dd>", pointer.body), pointer.body
    # A clone URL opened in a browser goes to the repo page; a moved repo's old name to the new one.
    dot_git = get(web, "/alice/web-public-repo.git")
    assert dot_git.status in (301, 308) and dot_git.headers["location"] == "/alice/web-public-repo"
    alice = web.users["alice"].token
    assert api(web, "POST", "/api/repos/create", alice, {"name": "alice/web-old-name"}) == 200
    assert api(web, "POST", "/api/repos/move", alice, {"fromRepo": "alice/web-old-name", "toRepo": "acme/web-new-name", "type": "model"}) == 200
    moved = get(web, "/alice/web-old-name/tree/main", alice)
    assert moved.status == 307 and moved.headers["location"].endswith("/acme/web-new-name/tree/main"), moved
    anonymous = get(web, "/alice/web-old-name")
    assert anonymous.status == 307 and anonymous.headers["location"] == "/acme/web-new-name", "a public repo's old name redirects anyone"


def commit_ids(server, repo: str, token: str) -> list[str]:
    request = urllib.request.Request(f"{server.endpoint}/api/models/{repo}/commits/main")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return [entry["id"] for entry in json.loads(response.read())]


def test_history_and_commit_pages_show_changes_of_reachable_commits_only(web):
    alice = web.users["alice"].token
    commit_files(web, "alice/web-public-repo", alice, {"docs/usage.md": "usage\nmore usage\n", "notes.txt": "new\n"})
    ids = commit_ids(web, "alice/web-public-repo", alice)
    history = get(web, "/alice/web-public-repo/commits/main")
    assert history.status == 200 and all(commit_id in history.body for commit_id in ids[:3]), history.body
    per_path = get(web, "/alice/web-public-repo/commits/main/docs/usage.md")
    shown = [commit_id for commit_id in ids if commit_id in per_path.body]
    assert shown == [ids[0], ids[-2]], f"usage.md changed in the newest commit and was added by the first files commit: {shown} of {ids}"
    page = get(web, f"/alice/web-public-repo/commit/{ids[0]}")
    assert page.status == 200, page
    text = html.unescape(page.body)
    assert "Files changed (2)" in text and "CHANGED</span> docs/usage.md" in text and "ADDED</span> notes.txt" in text, text
    assert '<span class="add">+more usage</span>' in text and "+1 −0" in text, text
    assert f'href="/alice/web-public-repo/commit/{ids[1]}"' in text, "the parent is linked"
    # A private repo's commit: 404 to those who may not see the repo, and never under another repo's URL.
    private_id = commit_ids(web, "alice/web-private-zq7", alice)[0]
    assert get(web, f"/alice/web-private-zq7/commit/{private_id}").status == 404
    assert get(web, f"/alice/web-private-zq7/commit/{private_id}", alice).status == 200
    assert get(web, f"/alice/web-public-repo/commit/{private_id}", alice).status == 404


def last_commit_of(page: str, name: str) -> str | None:
    row = re.search(rf'>{re.escape(name)}</a></td>(.*?)</tr>', page, re.S)
    assert row, f"no row for {name}"
    found = re.search(r'/commit/([0-9a-f]{40})', row.group(1))
    return found.group(1) if found else None


def test_tree_page_shows_each_entry_last_commit_and_a_ref_selector(web):
    alice = web.users["alice"].token
    repo = "alice/last-commit-repo"
    assert api(web, "POST", "/api/repos/create", alice, {"name": repo}) == 200
    commit_files(web, repo, alice, {"a.txt": "one\n", "dir/b.txt": "b\n", "dir/deeper/c.txt": "c\n"})
    commit_files(web, repo, alice, {"a.txt": "two\n"})
    assert api(web, "POST", f"/api/models/{repo}/tag/main", alice, {"tag": "v1", "message": "first"}) == 200
    assert api(web, "POST", f"/api/models/{repo}/branch/feature/x", alice, {}) == 200
    commit_files(web, repo, alice, {"c.txt": "c\n", "dir/deeper/c.txt": "c2\n"})
    newest, second, first, initial = commit_ids(web, repo, alice)

    root = get(web, f"/{repo}/tree/main").body
    assert last_commit_of(root, "a.txt") == second
    assert last_commit_of(root, "c.txt") == newest
    assert last_commit_of(root, "dir") == newest, "a folder's last commit is the newest change below it"
    assert last_commit_of(root, ".gitattributes") == initial
    inner = html.unescape(get(web, f"/{repo}/tree/main/dir").body)
    assert last_commit_of(inner, "b.txt") == first and last_commit_of(inner, "deeper") == newest
    at_tag = get(web, f"/{repo}/tree/v1").body
    assert "c.txt" not in at_tag and last_commit_of(at_tag, "a.txt") == second and last_commit_of(at_tag, "dir") == first

    # The selector lists branches and tags, linking to the same view; a branch with '/' is encoded.
    assert f'href="/{repo}/tree/feature%2Fx/dir"' in inner
    assert f'href="/{repo}/tree/v1/dir"' in inner and f'href="/{repo}/tree/main/dir"' in inner
    blob = html.unescape(get(web, f"/{repo}/blob/main/dir/b.txt").body)
    assert f'href="/{repo}/blob/v1/dir/b.txt"' in blob
    assert get(web, f"/{repo}/tree/feature%2Fx/dir").status == 200


def decimal_bytes(text: str) -> float:
    number, unit = re.match(r"([0-9.]+) (Bytes|kB|MB|GB)", text).groups()
    return float(number) * {"Bytes": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]


def panel_figures(body: str) -> dict[str, str]:
    section = re.search(r'<section class="storage".*?</section>', body, re.S)
    assert section, "no storage panel"
    return {html.unescape(dt): html.unescape(re.sub(r"<[^>]+>", "", dd)) for dt, dd in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", section.group(0), re.S)}


def test_storage_panel_shows_what_each_upload_added_and_the_admin_page_the_store(web, tmp_path):
    # 4 MiB of random bytes, then a copy with its last 512 KiB changed in another repo.
    scenario(
        web,
        tmp_path,
        "storage_uploads",
        """
        import random
        from huggingface_hub import HfApi
        api = HfApi()
        data = random.Random(7).randbytes(4 << 20)
        changed = data[: (4 << 20) - (512 << 10)] + random.Random(8).randbytes(512 << 10)
        for repo, content in (("alice/store-first", data), ("alice/store-second", changed)):
            api.create_repo(repo)
            api.upload_file(path_or_fileobj=content, path_in_repo="blob.bin", repo_id=repo)
        """,
        user="alice",
    )
    first = panel_figures(get(web, "/alice/store-first/blob/main/blob.bin").body)
    second = panel_figures(get(web, "/alice/store-second/blob/main/blob.bin").body)
    assert first["Large files (this file)"] == "1, 4.19 MB", first
    assert first["Deduplicated"].startswith("0.0%"), "random bytes were all new"
    assert 500e3 <= decimal_bytes(first["Added to the store by their uploads"]) / 8 <= 700e3, first
    added = decimal_bytes(second["Added to the store by their uploads"])
    assert 500e3 <= added <= 800e3, f"about the 512 KiB changed (plus a chunk at the seam): {second}"
    assert float(second["Deduplicated"].split("%")[0]) > 60.0, second
    repo_panel = panel_figures(get(web, "/alice/store-second").body)
    assert repo_panel["Deduplicated"] == second["Deduplicated"], "the repo's only large file"

    alice, bob = web.users["alice"].token, web.users["bob"].token
    assert get(web, "/admin").status == 404 and get(web, "/admin", bob).status == 404
    admin = get(web, "/admin", alice)
    assert admin.status == 200
    store = panel_figures(admin.body)
    assert float(store["Deduplicated"].split("%")[0]) > 5.0, store
