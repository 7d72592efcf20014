"""The web UI in a real browser: Debian's Chromium driven by Playwright
(`executable_path=/usr/bin/chromium`; no browser is ever downloaded).

One journey, run twice, with JavaScript enabled and disabled: sign in; make
a write token on the tokens page and upload with it through
huggingface_hub (a README with metadata and a Xet file, then a second
commit); create a repo in the browser; read its card, files, the Xet file's
pointer page, the history and a commit's diff; make it private and see it
vanish for another signed-in user and for an anonymous visitor; create an
organization with a private repo, whose admin adds that other user as a
member, who then sees the repo.
Screenshots of the main pages at desktop and phone widths are saved under
tests/e2e/.results/screenshots (git-ignored).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tessera_server import TesseraServer, scenario

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "browser journey pass"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
README = """---
license: mit
pipeline_tag: text-classification
---
# Browser journey

A card written by the browser test.
"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI") not in (None, "", "false"):
            pytest.fail("CI needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)")
        pytest.skip("no /usr/bin/chromium: apt-get install chromium to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def site(tessera_bin, tmp_path_factory):
    server = TesseraServer(tessera_bin, base_dir=tmp_path_factory.mktemp("tessera-browser"), users=(("alice", True), ("bob", False)))
    server.start()
    try:
        for user in ("alice", "bob"):
            cmd = [str(server.binary), "--data-dir", str(server.data_dir), "admin", "user", "passwd", user]
            done = subprocess.run(cmd, input=PASSWORD + "\n", capture_output=True, text=True, env=server._env(), timeout=60)
            assert done.returncode == 0, done.stderr
        yield server
    finally:
        server.stop()


def sign_in(context, site, user: str):
    page = context.new_page()
    page.goto(f"{site.endpoint}/login")
    page.fill("#login-username", user)
    page.fill("#login-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url == f"{site.endpoint}/", page.url
    assert page.locator("header .account").inner_text().startswith(user)
    return page


def shoot(page, results_dir: Path, name: str) -> None:
    folder = results_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    for label, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(VIEWPORTS["desktop"])


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_browser_journey(browser, site, tmp_path, results_dir, javascript):
    repo = f"alice/journey-{'js' if javascript else 'nojs'}"
    context = browser.new_context(java_script_enabled=javascript, viewport=VIEWPORTS["desktop"])
    page = sign_in(context, site, "alice")

    # A write token from the tokens page, shown once.
    page.goto(f"{site.endpoint}/settings/tokens")
    page.fill("#token-name", f"journey-{javascript}")
    page.check("input[name=role][value=write]")
    page.click("text=Create token")
    token = page.input_value("#new-token")
    assert token.startswith("hf_") and len(token) == 37
    if javascript:
        shoot(page, results_dir, "tokens")

    # A repo created in the browser.
    page.goto(f"{site.endpoint}/new")
    page.fill("#new-name", repo.split("/")[1])
    page.click("text=Create repository")
    page.wait_for_load_state()
    assert page.url == f"{site.endpoint}/{repo}", page.url

    # Uploads with that token through the real client: a card and a Xet file, then a change.
    scenario(
        site,
        tmp_path,
        "upload",
        """
        from huggingface_hub import CommitOperationAdd, HfApi
        api = HfApi()
        api.create_commit(PARAMS["repo"], [
            CommitOperationAdd("README.md", PARAMS["readme"].encode()),
            CommitOperationAdd("weights/model.bin", bytes(range(256)) * 8192),
        ], commit_message="Add the card and weights")
        api.upload_file(path_or_fileobj=(PARAMS["readme"] + "More text.\\n").encode(), path_in_repo="README.md",
                        repo_id=PARAMS["repo"], commit_message="Extend the card")
        """,
        token=token,
        params={"repo": repo, "readme": README},
    )

    # The card, with its metadata as chips.
    page.goto(f"{site.endpoint}/{repo}")
    assert page.locator(".markdown h1").inner_text() == "Browser journey"
    chips = page.locator(".chips li").all_inner_texts()
    assert "License: mit" in chips and "Task: text-classification" in chips, chips
    assert page.locator("#copy-git").input_value() == f"git clone {site.endpoint}/{repo}"
    if javascript:
        shoot(page, results_dir, "repo")

    # Files, then the Xet file's pointer details.
    page.click("text=Files and versions")
    page.click("a:text-is('weights')")
    row = page.locator("tr", has_text="model.bin")
    assert "Xet" in row.inner_text() and "2.10 MB" in row.inner_text(), row.inner_text()
    if javascript:
        shoot(page, results_dir, "tree")
    page.click("a:text-is('model.bin')")
    assert page.locator(".pointer h2").inner_text() == "Xet pointer details"
    assert "2097152 bytes" in page.locator(".pointer").inner_text()
    if javascript:
        shoot(page, results_dir, "blob")

    # The file's history, the repo's history, then the last commit's diff.
    page.click("text=history")
    assert page.locator(".commits li a").all_inner_texts() == ["Add the card and weights"]
    page.goto(f"{site.endpoint}/{repo}/tree/main")
    page.click("a:text-is('History')")
    titles = page.locator(".commits li a").all_inner_texts()
    assert titles[:2] == ["Extend the card", "Add the card and weights"], titles
    page.click("text=Extend the card")
    assert "CHANGED" in page.locator(".diff h4").first.inner_text()
    assert "+More text." in page.locator(".diff-lines .add").all_inner_texts()
    if javascript:
        shoot(page, results_dir, "commit")

    # Private: gone for another signed-in user and for anonymous visitors.
    page.goto(f"{site.endpoint}/{repo}/settings")
    page.check("input[name=visibility][value=private]")
    page.click("text=Save visibility")
    assert "is now private" in page.locator(".notice").inner_text()
    other = browser.new_context(java_script_enabled=javascript)
    bob = sign_in(other, site, "bob")
    response = bob.goto(f"{site.endpoint}/{repo}")
    assert response.status == 404 and repo not in bob.content()
    bob.goto(f"{site.endpoint}/models")
    assert repo not in bob.content()
    anonymous = browser.new_context(java_script_enabled=javascript).new_page()
    assert anonymous.goto(f"{site.endpoint}/{repo}").status == 404
    assert page.goto(f"{site.endpoint}/{repo}").status == 200, "the owner still sees it"

    # An organization made in the browser, with a private repo; its admin adds bob, who then sees it.
    org = f"lab-{'js' if javascript else 'nojs'}"
    page.goto(f"{site.endpoint}/organizations/new")
    page.fill("#org-name", org)
    page.click("text=Create organization")
    page.wait_for_load_state()
    assert page.url == f"{site.endpoint}/organizations/{org}/settings/members", page.url
    page.goto(f"{site.endpoint}/new")
    page.select_option("#new-owner", org)
    page.fill("#new-name", "secret-model")
    page.check("input[name=visibility][value=private]")
    page.click("text=Create repository")
    page.wait_for_load_state()
    assert page.url == f"{site.endpoint}/{org}/secret-model", page.url
    assert bob.goto(f"{site.endpoint}/{org}/secret-model").status == 404
    page.goto(f"{site.endpoint}/organizations/{org}/settings/members")
    page.fill("#member-user", "bob")
    page.select_option("#member-role", "read")
    page.click("text=Add member")
    assert f"bob is now read of {org}" in page.locator(".notice").inner_text()
    assert page.locator("tr", has_text="bob").locator("select").input_value() == "read"
    if javascript:
        shoot(page, results_dir, "org-members")
    assert bob.goto(f"{site.endpoint}/{org}/secret-model").status == 200, "the new member sees the org's private repo"
    bob.goto(f"{site.endpoint}/{org}")
    assert "secret-model" in bob.content()
    if javascript:
        bob.goto(f"{site.endpoint}/settings/profile")
        shoot(bob, results_dir, "profile-settings")
    other.close()
    context.close()


# ---------------------------------------------------------------- HTML validity and accessibility
WEB_TOOLS = Path(os.environ.get("TESSERA_WEB_TOOLS", Path.home() / ".cache" / "tessera-web-tools"))
WEB_TOOL_PINS = ("vnu-jar@26.9.27", "axe-core@4.14.1")


@pytest.fixture(scope="module")
def web_tools() -> Path:
    """The Nu HTML checker and axe-core from npm, installed once into a cache dir outside the repo."""
    import shutil

    vnu = WEB_TOOLS / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
    axe = WEB_TOOLS / "node_modules" / "axe-core" / "axe.min.js"
    if not (vnu.exists() and axe.exists()):
        if not (shutil.which("npm") and shutil.which("java")):
            if os.environ.get("CI") not in (None, "", "false"):
                pytest.fail("CI needs npm and java for vnu and axe (.ci/run installs them)")
            pytest.skip("npm and java are needed for the HTML and accessibility checks")
        WEB_TOOLS.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["npm", "install", "--prefix", str(WEB_TOOLS), "--no-audit", "--no-fund", *WEB_TOOL_PINS],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    return WEB_TOOLS


def test_every_page_template_is_valid_html_and_accessible(browser, site, tmp_path, web_tools):
    repo = "alice/checked-pages"
    context = browser.new_context(bypass_csp=True)  # axe is injected as a script
    page = sign_in(context, site, "alice")
    page.goto(f"{site.endpoint}/new")
    page.fill("#new-name", repo.split("/")[1])
    page.click("text=Create repository")
    scenario(
        site,
        tmp_path,
        "fill",
        """
        from huggingface_hub import CommitOperationAdd, HfApi
        api = HfApi()
        api.create_commit(PARAMS["repo"], [CommitOperationAdd("README.md", PARAMS["readme"].encode()),
                                           CommitOperationAdd("docs/notes.json", b'{"ok": true}'),
                                           CommitOperationAdd("weights/model.bin", bytes(range(256)) * 4096)],
                          commit_message="Fill")
        api.upload_file(path_or_fileobj=b"changed\\n", path_in_repo="docs/notes.txt", repo_id=PARAMS["repo"])
        """,
        user="alice",
        params={"repo": repo, "readme": README},
    )
    head = page.goto(f"{site.endpoint}/api/models/{repo}").json()["sha"]
    site._admin("org", "create", "checkers", "--owner", "alice")
    site._admin("org", "add-member", "checkers", "bob", "--role", "write")
    paths = {
        "home": "/",
        "listing": "/models?search=checked",
        "profile": "/alice",
        "repo": f"/{repo}",
        "tree": f"/{repo}/tree/main",
        "blob-text": f"/{repo}/blob/main/docs/notes.json",
        "blob-xet": f"/{repo}/blob/main/weights/model.bin",
        "commits": f"/{repo}/commits/main",
        "commit": f"/{repo}/commit/{head}",
        "settings": f"/{repo}/settings",
        "tokens": "/settings/tokens",
        "new": "/new",
        "profile-settings": "/settings/profile",
        "new-org": "/organizations/new",
        "org-members": "/organizations/checkers/settings/members",
        "org-profile": "/checkers",
        "admin": "/admin",
        "not-found": "/alice/no-such-repo",
    }
    pages_dir = tmp_path / "pages"
    pages_dir.mkdir()
    axe_script = (web_tools / "node_modules" / "axe-core" / "axe.min.js").read_text()
    serious = []
    for name, path in paths.items():
        page.goto(f"{site.endpoint}{path}")
        (pages_dir / f"{name}.html").write_text(page.content())
        page.add_script_tag(content=axe_script)
        result = page.evaluate("async () => await axe.run()")
        for violation in result["violations"]:
            if violation["impact"] in ("serious", "critical"):
                serious.append(f"{name}: {violation['id']} ({violation['impact']}): {violation['help']}")
    anonymous = browser.new_context().new_page()
    for name in ("login", "join"):
        anonymous.goto(f"{site.endpoint}/{name}")
        (pages_dir / f"{name}.html").write_text(anonymous.content())
    assert not serious, "axe found serious or critical violations:\n" + "\n".join(serious)
    # The server's own HTML (not the DOM after axe ran): fetch it again, then one vnu run over every page.
    for name, path in paths.items():
        response = page.request.get(f"{site.endpoint}{path}")
        (pages_dir / f"{name}.html").write_text(response.text())
    vnu = web_tools / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
    checked = subprocess.run(["java", "-jar", str(vnu), "--errors-only", "--format", "gnu", *sorted(map(str, pages_dir.glob("*.html")))],
                             capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, f"the Nu HTML checker found errors:\n{checked.stdout}{checked.stderr}"
    context.close()
