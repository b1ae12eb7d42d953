"""GraphiQL at ``GET /graphql`` works without internet (``server/graphiql.py``).

Found: strawberry's GraphiQL page loads its five scripts and two stylesheets from unpkg, so
on an intranet without internet a newcomer opening ``/graphql`` sees only "Loading...".
Now the page loads the same files, vendored from npm (``scripts/vendor_graphiql.sh``), from
``/graphiql/static/``.

Checked here:

- the page at ``GET /graphql`` (``Accept: text/html``) names no external resource: every
  ``src``/``href`` is a path on this server under ``/graphiql/static/`` or a ``data:`` URI,
  no ``<base>``, import map or module script, and its inline script and style hold no URL
  with a host (``//host``) and no ``@import``; strawberry's original page fails this check;
- every asset it references answers 200 with its content type (JavaScript or CSS), matches
  the page's sha384 integrity value and the sha256 in ``VERSIONS``;
- the vendored JS/CSS name no CDN host (``//unpkg.com``, ``cdn.jsdelivr.net``, ``esm.sh/``,
  ``cdnjs.cloudflare.com``, Google Fonts), contain no ``import()``/``importScripts()``/
  ``@import`` of an absolute URL and their CSS ``url()`` are all ``data:`` (URLs in licence
  comments and in error-message strings, which nothing fetches, are allowed);
- in headless Chromium with every connection but loopback cut (and the cut itself checked),
  against ``wangge serve`` on a seeded SQLite database: the editor renders, a login mutation
  typed into it returns a token, and with that token typed into the headers editor
  ``viewer`` returns the user; the browser asked for nothing but the server's own URLs and
  threw no error. Skipped only when Chromium is absent and ``CI`` is not ``true``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html.parser
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from conftest import DEMO_PASSWORD, IN_CI

REPO = Path(__file__).resolve().parent.parent
STATIC_DIR = REPO / "server" / "static" / "graphiql"
STATIC_PREFIX = "/graphiql/static/"
HTML = {"Accept": "text/html"}
JS_TYPES = {"text/javascript", "application/javascript"}

# every file the page must load (five scripts, two stylesheets)
EXPECTED_ASSETS = {
    "react/react.production.min.js", "react-dom/react-dom.production.min.js", "js-cookie/js.cookie.min.js",
    "graphiql/graphiql.min.js", "graphiql/graphiql.min.css",
    "plugin-explorer/index.umd.js", "plugin-explorer/style.css",
}

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True, scope="session")


# --- what a page loads ------------------------------------------------------------------------

URL_ATTRIBUTES = {"src", "href", "srcset", "action", "formaction", "poster", "data", "background", "manifest"}
HOST_URL = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//[a-z0-9.-]+\.[a-z]{2,}", re.I)


class _Page(html.parser.HTMLParser):
    """Collects the page's resource references and inline code."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.references: list[tuple[str, str, dict]] = []  # (tag, url, attributes)
        self.tags: list[tuple[str, dict]] = []
        self.inline: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        for name, value in attributes.items():
            if name in URL_ATTRIBUTES:
                self.references.append((tag, value.strip(), attributes))
        if tag in ("script", "style") and "src" not in attributes:
            self._in = tag

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in:
            self.inline.append(data)


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def external_loads(page: str) -> list[str]:
    """Everything in ``page`` that would make a browser fetch from anywhere but this server."""
    parsed = parse(page)
    problems = []
    for tag, url, _ in parsed.references:
        if url.startswith("data:"):
            continue  # inline (the favicon): its SVG's xmlns is a name, not a fetch
        if not url.startswith(STATIC_PREFIX) or url.startswith("//"):
            problems.append(f"<{tag}> loads {url}")
    for tag, attributes in parsed.tags:
        if tag == "base":
            problems.append(f"<base href={attributes.get('href')!r}>")
        if tag == "script" and attributes.get("type") in ("module", "importmap"):
            problems.append(f"<script type={attributes['type']}>")
        if tag == "meta" and attributes.get("http-equiv", "").lower() == "refresh":
            problems.append("<meta http-equiv=refresh>")
    for code in parsed.inline:
        problems += [f"inline code names {m.group(0)}" for m in HOST_URL.finditer(code)]
        if "@import" in code:
            problems.append("inline @import")
    return problems


def assets(page: str) -> dict[str, tuple[str, dict]]:
    """The page's local scripts and stylesheets: path under the static root -> (kind, attributes)."""
    found = {}
    for tag, url, attributes in parse(page).references:
        if url.startswith(STATIC_PREFIX):
            kind = "js" if tag == "script" else "css" if attributes.get("rel") == "stylesheet" else tag
            found[url[len(STATIC_PREFIX):]] = (kind, attributes)
    return found


# --- what a vendored file loads ---------------------------------------------------------------

CDN_HOSTS = re.compile(
    r"//unpkg\.com|cdn\.jsdelivr\.net|//esm\.sh|esm\.sh/|cdnjs\.cloudflare\.com|fonts\.googleapis\.com|fonts\.gstatic\.com")
ABSOLUTE_IMPORT = re.compile(r"""(?:\bimport\s*\(|\bimportScripts\s*\(|\bimport\s[^;]{0,200}?\bfrom)\s*["'`](?:[a-z]+:)?//""")
CSS_IMPORT = re.compile(r"@import\b")
CSS_URL = re.compile(r"""url\(\s*["']?([^"')\s]*)""")


def vendored_fetches(name: str, text: str) -> list[str]:
    """What in a vendored JS/CSS file would fetch from elsewhere (URLs in comments are fine)."""
    code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # block comments: licences, @license, notes
    problems = [f"{name}: names {m.group(0)}" for m in CDN_HOSTS.finditer(code)]
    problems += [f"{name}: {m.group(0)}" for m in ABSOLUTE_IMPORT.finditer(code)]
    if name.endswith(".css"):
        problems += [f"{name}: @import" for _ in CSS_IMPORT.finditer(code)]
        problems += [f"{name}: url({u[:60]})" for u in CSS_URL.findall(code) if not u.startswith("data:")]
    return problems


def versions() -> dict[str, tuple[str, str, str, str]]:
    """``VERSIONS``: path -> (package, version, sha256, sha384 SRI)."""
    entries = {}
    for line in (STATIC_DIR / "VERSIONS").read_text().splitlines():
        if line and not line.startswith("#"):
            path, package, version, sha256, sri = line.split()
            entries[path] = (package, version, sha256, sri)
    return entries


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


# --- in process -------------------------------------------------------------------------------

@sqlite_only
def test_get_graphql_answers_the_offline_page(api):
    response = api.client.get("/graphql", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<div id="graphiql"' in response.text
    assert set(assets(response.text)) == EXPECTED_ASSETS
    assert external_loads(response.text) == []
    # strawberry's behaviour kept: headers editor, the fetcher posting to the page's own URL
    assert "isHeadersEditorEnabled: true" in response.text
    assert 'const fetchURL = window.location.href.split("?")[0];' in response.text


def test_the_check_catches_strawberrys_cdn_page():
    """Strawberry's own page (what GET /graphql answered before) fails the check above."""
    from strawberry.http.ides import get_graphql_ide_html

    problems = external_loads(get_graphql_ide_html("graphiql"))
    assert len([p for p in problems if "https://unpkg.com/" in p]) == 7, problems


def test_page_under_a_root_path():
    """Behind a proxy that mounts the app at a prefix, the assets are asked for under it."""
    from server.graphiql import graphiql_page

    page = graphiql_page("/wangge/")
    urls = [url for _, url, _ in parse(page).references if not url.startswith("data:")]
    assert len(urls) == 7 and all(u.startswith("/wangge/graphiql/static/") for u in urls), urls


@sqlite_only
def test_every_asset_answers_with_its_type_and_matches_its_pins(api):
    page = api.client.get("/graphql", headers=HTML).text
    pins = versions()
    found = assets(page)
    assert set(found) == EXPECTED_ASSETS
    for path, (kind, attributes) in found.items():
        response = api.client.get(STATIC_PREFIX + path)
        assert response.status_code == 200, path
        content_type = response.headers["content-type"].split(";")[0].strip()
        assert content_type in (JS_TYPES if kind == "js" else {"text/css"}), (path, content_type)
        assert attributes.get("integrity") == sri(response.content), path
        assert response.content == (STATIC_DIR / path).read_bytes(), path
        assert hashlib.sha256(response.content).hexdigest() == pins[path][2], path
    assert api.client.get(STATIC_PREFIX + "no-such-file.js").status_code == 404
    assert api.client.get(STATIC_PREFIX + "../graphiql.py").status_code == 404


def test_vendored_files_fetch_nothing_from_elsewhere():
    for path in sorted(EXPECTED_ASSETS):
        assert vendored_fetches(path, (STATIC_DIR / path).read_text(encoding="utf-8")) == []
    # and the check is not blind: a CDN import, a font from Google and an external url()
    assert vendored_fetches("x.js", 'import("https://esm.sh/react")') != []
    assert vendored_fetches("x.js", 'import React from "//unpkg.com/react"') != []
    assert vendored_fetches("x.css", "@import 'https://fonts.googleapis.com/css?family=Roboto';") != []
    assert vendored_fetches("x.css", "a{background:url(https://example.org/a.png)}") != []
    assert vendored_fetches("x.js", "/* https://unpkg.com/ in a licence comment */") == []


def test_vendored_tree_is_what_versions_says_with_licences():
    pins = versions()
    files = {p.relative_to(STATIC_DIR).as_posix() for p in STATIC_DIR.rglob("*") if p.is_file()}
    assert files == set(pins) | {"VERSIONS", "README.md"}
    for path, (_, _, sha256, pin_sri) in pins.items():
        data = (STATIC_DIR / path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha256, path
        assert sri(data) == pin_sri, path
    for directory in {Path(p).parent for p in EXPECTED_ASSETS}:
        assert (STATIC_DIR / directory / "LICENSE").is_file(), directory
    assert {(package, version) for package, version, _, _ in pins.values()} >= {
        ("react", "18.2.0"), ("react-dom", "18.2.0"), ("js-cookie", "3.0.5"), ("graphiql", "3.8.3"),
        ("@graphiql/plugin-explorer", "1.0.2")}


# --- in a browser without network -------------------------------------------------------------

def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    if IN_CI:
        pytest.fail("Chromium is not installed (CI=true): apt-get install -y chromium")
    pytest.skip("Chromium is not installed (apt-get install -y chromium)")


class Browser:
    """Headless Chromium over its DevTools protocol: one page, its events recorded."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, timeout: float = 30, **params) -> dict:
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def pump(self, seconds: float) -> None:
        """Record the events that arrive within ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                message = json.loads(self.ws.recv(timeout=left))
                if "method" in message:
                    self.events.append(message)

    def js(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := self.js(expression):
                return value
            self.pump(0.2)
        raise AssertionError(f"still false after {timeout} s: {expression}\npage: "
                             + str(self.js("document.body ? document.body.innerText.slice(0, 300) : ''")))

    def navigate(self, url: str) -> dict:
        return self.send("Page.navigate", url=url)

    def key(self, key: str, code: str, keycode: int, modifiers: int = 0, text: str | None = None) -> None:
        for kind in ("keyDown", "keyUp"):
            params = {"type": kind, "key": key, "code": code, "windowsVirtualKeyCode": keycode,
                      "modifiers": modifiers}
            if text and kind == "keyDown":
                params["text"] = text
            self.send("Input.dispatchKeyEvent", **params)

    def click(self, selector: str) -> None:
        box = self.js(f"""(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();
                           return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def type_into(self, editor: str, text: str) -> None:
        """Replace the text of the CodeMirror editor inside ``editor`` by typing ``text``."""
        self.click(f"{editor} .CodeMirror")
        self.key("a", "KeyA", 65, modifiers=2)  # Ctrl+A: select everything
        self.key("Delete", "Delete", 46)
        self.send("Input.insertText", text=text)

    def editor_value(self, editor: str) -> str:
        return self.js(f"document.querySelector({json.dumps(editor + ' .CodeMirror')}).CodeMirror.getValue()")


@contextlib.contextmanager
def offline_chromium(binary: str):
    """Headless Chromium that can reach loopback only: names do not resolve, and everything
    that is not loopback goes to a proxy port where nothing listens."""
    from live_server import free_port
    from websockets.sync.client import connect

    profile = tempfile.mkdtemp(prefix="wangge-chromium-")
    dead_proxy = free_port()
    process = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1280,900",
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
         f"--proxy-server=http://127.0.0.1:{dead_proxy}",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        active = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and len(active.read_text().splitlines()) >= 2):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(active.read_text().splitlines()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10, trust_env=False).json()
        page = next(t for t in targets if t["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
            browser = Browser(ws)
            for domain in ("Page", "Runtime", "Network", "Log"):
                browser.send(f"{domain}.enable")
            yield browser
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)  # the group Chromium's own children run in
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


LOGIN = 'mutation { login(username: "community_staff", password: "%s") { accessToken errors { message } } }'
VIEWER = "{ viewer { username displayName } }"
QUERY_EDITOR = ".graphiql-query-editor"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden)"
RESPONSE = ".graphiql-response"


def run_and_read(browser: Browser) -> dict:
    """Press the run button; the JSON the response pane shows once it has changed."""
    before = browser.js(f"(() => {{ const cm = document.querySelector('{RESPONSE} .CodeMirror');"
                        " return cm ? cm.CodeMirror.getValue() : ''; })()")
    browser.click(".graphiql-execute-button")
    text = browser.wait_for(f"""(() => {{ const cm = document.querySelector('{RESPONSE} .CodeMirror');
        const v = cm && cm.CodeMirror.getValue();
        return v && v.trim().startsWith('{{') && v !== {json.dumps(before)} ? v : null; }})()""")
    return json.loads(text)


@sqlite_only
def test_graphiql_renders_and_runs_a_query_with_the_network_cut(db_url):
    binary = chromium_binary()
    if not IN_CI:
        pytest.importorskip("websockets.sync.client")
    from live_server import live_server

    with live_server(db_url) as base, offline_chromium(binary) as browser:
        # the cut holds: a CDN name does not resolve, a public address is not reached
        for outside in ("https://unpkg.com/react@18.2.0/umd/react.production.min.js", "http://1.1.1.1/"):
            assert browser.navigate(outside).get("errorText"), f"{outside} was reachable"
        browser.pump(0.5)
        browser.events.clear()

        assert not browser.navigate(f"{base}/graphql").get("errorText")
        browser.wait_for(f"!!document.querySelector('{QUERY_EDITOR} .CodeMirror') && "
                         "!!document.querySelector('.graphiql-execute-button')")
        assert "Loading..." not in browser.js("document.body.innerText")

        browser.type_into(QUERY_EDITOR, LOGIN % DEMO_PASSWORD)
        assert browser.editor_value(QUERY_EDITOR) == LOGIN % DEMO_PASSWORD
        answer = run_and_read(browser)
        token = answer["data"]["login"]["accessToken"]
        assert token and answer["data"]["login"]["errors"] == [], answer

        # the headers editor: its tab, then the token typed into it
        browser.js("""[...document.querySelectorAll('.graphiql-editor-tools button')]
                      .find(b => b.textContent.trim() === 'Headers').click()""")
        browser.wait_for(f"!!document.querySelector('{HEADERS_EDITOR} .CodeMirror')")
        headers = json.dumps({"Authorization": f"Bearer {token}"})
        browser.type_into(HEADERS_EDITOR, headers)
        assert browser.editor_value(HEADERS_EDITOR) == headers
        browser.type_into(QUERY_EDITOR, VIEWER)
        viewer = run_and_read(browser)
        assert viewer == {"data": {"viewer": {"username": "community_staff", "displayName": "乡政社区工作者"}}}, viewer

        browser.pump(0.5)
        requested = [e["params"]["request"]["url"] for e in browser.events
                     if e["method"] == "Network.requestWillBeSent"]
        assert requested and all(u.startswith(base + "/") or u.startswith("data:") for u in requested), requested
        assert any(u == f"{base}/graphiql/static/graphiql/graphiql.min.js" for u in requested), requested
        failed = [e["params"] for e in browser.events if e["method"] == "Network.loadingFailed"]
        assert failed == [], failed
        thrown = [e["params"]["exceptionDetails"] for e in browser.events if e["method"] == "Runtime.exceptionThrown"]
        assert thrown == [], thrown
        errors = [e["params"]["entry"] for e in browser.events
                  if e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"]
        assert errors == [], errors
