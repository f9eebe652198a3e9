"""The rendered book, opened in a real browser (headless Chromium driven by Playwright).

Serves the built HTML (env ``VIT_TUTORIAL_BOOK_HTML``, default ``_build/html``) on a
loopback port and, for every page in ``_toc.yml``, checks that it loads with its title,
that every local link, image, stylesheet and script answers 200, that chapter pages
(``book/NN_*``) show at least one figure from a notebook output, that every widget has a
static figure above it, and that the navigation lists every page. The search page must
find "attention". A screenshot of each page goes to ``test-artifacts/screenshots/``.

:func:`test_page_everywhere` checks every page in eight ways: from disk (``file://``, as a reader
who opens ``_build/html/index.html``) and over http, at 1280 px and at 400 px, in the light and
the dark theme, in five page loads (:data:`OPENED`; three are switched to the other theme with the
header's switch and checked again, :data:`SWITCHED`). Each time every explorer
(``vit_tutorial.explorers``, root ``[data-explorer]``) must draw in the theme's colours, every figure must show its copy for the theme, nothing may
scroll sideways, and there may be no console error and no failed request; twice (:data:`DRIVE`)
every control of every explorer is operated (``tests/_explorer_driver.py``) and the theme is
switched, which must redraw them. A first visit over http weighs at most :data:`PAGE_BUDGET`,
everything counted; ``test-artifacts/page-weights.json`` records what was measured, and the
screenshots of chapters 1, 4 and 9 from disk go to ``test-artifacts/screenshots/``.

Every request that leaves the machine (a CDN, a launch-button target) is aborted at once, and
counts as a failure: the book loads nothing from the network.

Without the built book or without Chromium the tests are skipped, with the reason;
``VIT_TUTORIAL_REQUIRE_BROWSER=1`` (CI) turns those skips into failures.
Build the book first: ``jupyter-book build . -W -n --keep-going``; install the browser
with ``.ci/install-browser``.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest
import yaml

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("VIT_TUTORIAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CHAPTER = re.compile(r"^book/\d\d_")  # numbered chapters must show a figure
SEARCH_TERM = "attention"
TIMEOUT_MS = 30_000
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# bytes: a first visit to a page, everything counted (its HTML with the explorers' data, images,
# scripts, stylesheets, fonts, MathJax and its fonts), with the figures of one theme loaded
PAGE_BUDGET = 3_000_000
FIRST_PICTURE_MS = 200  # an explorer's first picture, at most this long after the page's load event
PHONE_WIDTH = 400
EXPECTED_EXPLORERS = {  # page -> the explorers it must hold
    "book/02_patch_embeddings": {"patches"},
    "book/03_cls_position_dropout": {"positions"},
    "book/04_attention": {"attention"},
    "book/05_layernorm": {"layernorm"},
    "book/06_residual": {"residual"},
    "book/07_mlp_encoder": {"activations", "residual"},
    "book/08_pooler": {"agreement"},
    "book/09_classifier": {"predictions", "your-photo"},
    "book/A1_what_the_model_learned": {"rollout", "positions"},
    "book/A2_tiny_vit_digits": {"digits", "draw-digit"},
}


# --------------------------------------------------------------------------- what to visit
def toc_pages(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """Every page of the table of contents, in reading order, as paths without suffix."""
    toc = yaml.safe_load(toc_path.read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    walk(toc.get("sections"))
    return [re.sub(r"\.(md|ipynb|rst)$", "", p) for p in pages]


PAGES = toc_pages()


def page_id(page: str) -> str:
    return page.replace("/", "__")


# --------------------------------------------------------------------------- preconditions
def unavailable(reason: str):
    """Skip (default) or fail (VIT_TUTORIAL_REQUIRE_BROWSER=1) with the reason."""
    if os.environ.get("VIT_TUTORIAL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (and VIT_TUTORIAL_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


def html_dir() -> Path:
    path = Path(os.environ.get("VIT_TUTORIAL_BOOK_HTML", "_build/html"))
    return path if path.is_absolute() else ROOT / path


def screenshot_dir() -> Path:
    path = ROOT / "test-artifacts" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def site() -> Path:
    path = html_dir()
    if not (path / "index.html").is_file():
        unavailable(
            f"no built book at {path} (set VIT_TUTORIAL_BOOK_HTML, or build it with "
            "`jupyter-book build . -W -n --keep-going`)"
        )
    return path


# --------------------------------------------------------------------------- the server
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # The browser drops connections it no longer needs (page closed mid-transfer): not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def server(site):
    """The built book on http://127.0.0.1:<free port>/ for the duration of the module."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@functools.lru_cache(maxsize=None)
def http_status(url: str) -> int:
    """Status of a GET on the loopback server (urllib, so the browser's cache plays no part)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@functools.lru_cache(maxsize=None)
def _html_ids(url: str) -> frozenset[str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode("utf-8", "replace")
    return frozenset(re.findall(r'\bid="([^"]+)"', text))


# --------------------------------------------------------------------------- the browser
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        unavailable(f"Chromium not found at {CHROMIUM} (run .ci/install-browser)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install playwright)")
    with sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        except Exception as err:  # noqa: BLE001 - any launch failure means "no usable browser"
            unavailable(f"Chromium at {CHROMIUM} did not start: {err}")
        yield chromium
        chromium.close()


class Visit:
    """One page opened in a fresh browser context (an empty cache: a first visit), in the given
    light/dark theme, with what happened on the way."""

    def __init__(self, browser, url: str, width: int = 1280, theme: str = "light"):
        self.blocked: list[str] = []  # requests that tried to leave the machine
        self.failed: list[str] = []  # local responses >= 400, or local requests that failed
        self.errors: list[str] = []  # uncaught JavaScript exceptions
        self.console: list[str] = []  # console.error messages
        self.context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=theme)
        # the reader's choice in the theme's switch, as the theme stores it (file:// pages have storage too)
        self.context.add_init_script(f"try {{ localStorage.setItem('mode', '{theme}'); "
                                     f"localStorage.setItem('theme', '{theme}'); }} catch (e) {{}}")
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.on("response", self._response)
        self.page.on("requestfailed", self._request_failed)
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        self.page.on("console", lambda msg: self.console.append(msg.text) if msg.type == "error" else None)
        self.response = self.page.goto(url, wait_until="load")

    @staticmethod
    def _local(url: str) -> bool:
        return url.startswith(("data:", "file:", "blob:")) or urlparse(url).hostname in LOOPBACK

    def _route(self, route):
        if self._local(route.request.url):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort("internetdisconnected")

    def _response(self, response):
        if self._local(response.url) and response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")

    def _request_failed(self, request):
        if self._local(request.url):
            self.failed.append(f"{request.failure} {request.url}")

    def forget_events(self):
        """Empty the lists of what happened (a page checked once, then switched and checked again)."""
        for events in (self.blocked, self.failed, self.errors, self.console):
            events.clear()

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser, server, site):
    """``visit(path, width=1280, theme="light", scheme="http")``: open a page of the book over http
    (the loopback server) or from disk (``file://``)."""
    opened: list[Visit] = []

    def open_page(path: str, width: int = 1280, theme: str = "light", scheme: str = "http") -> Visit:
        base = server if scheme == "http" else site.resolve().as_uri() + "/"
        v = Visit(browser, base + path, width, theme)
        opened.append(v)
        return v

    yield open_page
    for v in opened:
        v.close()


# --------------------------------------------------------------------------- per page
JS_LOCAL_RESOURCES = """
() => {
  const out = [];
  for (const a of document.querySelectorAll('a[href]')) out.push(['link', a.href]);
  for (const i of document.querySelectorAll('img[src]')) out.push(['image', i.src]);
  for (const s of document.querySelectorAll('script[src]')) out.push(['script', s.src]);
  for (const l of document.querySelectorAll('link[href]')) out.push(['link ' + l.rel, l.href]);
  return out;
}
"""

JS_FIGURES = """
() => Array.from(document.querySelectorAll('.cell_output img, figure img')).map(
  i => ({src: i.getAttribute('src'), width: i.naturalWidth, height: i.naturalHeight,
         visible: i.getBoundingClientRect().width > 0}))
"""

# For each widget, whether a notebook-output image comes before it in document order.
JS_WIDGETS_WITHOUT_FIGURE_ABOVE = """
(mime) => {
  const imgs = Array.from(document.querySelectorAll('.cell_output img'));
  const widgets = Array.from(document.querySelectorAll(`script[type="${mime}"]`));
  return widgets.filter(w => !imgs.some(
      i => i.compareDocumentPosition(w) & Node.DOCUMENT_POSITION_FOLLOWING)).length;
}
"""

JS_SEARCH_DONE = """
() => document.querySelector('#search-results ul.search li') !== null
   || /did not match|found 0 page/i.test(document.querySelector('#search-results')?.textContent || '')
"""

JS_RAW_MARKDOWN_TABLES = r"""
() => Array.from(document.querySelectorAll('.cell_output .output.text_markdown, .cell_output p'))
  .map(e => e.textContent).filter(t => /\|\s*:?(-{3,}|[\u2013\u2014]+):?\s*\|/.test(t)).map(t => t.slice(0, 120))
"""

JS_MATH = r"""
() => {
  const els = Array.from(document.querySelectorAll('main .math'));
  // (formulas MathJax has already typeset hold an mjx-container instead of their TeX source)
  const bad = els.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.trim()).filter(t => !/^(\\\(|\\\[|\$\$|\\begin\{)/.test(t));
  const mathjax = Array.from(document.querySelectorAll('script[src]')).some(s => /mathjax/i.test(s.src));
  return {count: els.length, bad: bad, mathjax: mathjax};
}
"""

JS_MATH_TYPESET_COUNT = "() => document.querySelectorAll('main .math mjx-container, main mjx-container').length"
JS_MATH_TYPESET = r"""
(count) => document.querySelectorAll('main .math mjx-container, main mjx-container.MathJax').length > 0
  && Array.from(document.querySelectorAll('main .math')).every(e => e.querySelector('mjx-container'))
"""

JS_NAV_LINKS = """
() => Array.from(document.querySelectorAll('nav.bd-docs-nav a[href], #bd-docs-nav a[href]')).map(a => a.href)
"""


def _page_url_path(url: str) -> str:
    """'http://127.0.0.1:1234/book/x.html#y' -> 'book/x'."""
    path = urlparse(url).path.lstrip("/")
    return re.sub(r"\.html$", "", path)


@pytest.mark.parametrize("page", PAGES, ids=[page_id(p) for p in PAGES])
def test_page(page, visit, server):
    v = visit(page + ".html")
    v.page.evaluate(JS_READ_THROUGH)  # figures load as they come into view
    shots = screenshot_dir()
    v.page.screenshot(path=str(shots / f"{page_id(page)}.png"))
    v.page.screenshot(path=str(shots / f"{page_id(page)}.full.png"), full_page=True)

    # loads, with its title
    status = v.response.status if v.response is not None else None
    assert status == 200, (
        f"{page}.html: HTTP {status} (is {html_dir()} built from the current _toc.yml?)"
    )
    book_title = yaml.safe_load((ROOT / "_config.yml").read_text())["title"]
    heading = v.page.locator("main h1").first.inner_text().strip().rstrip("#").strip()
    title = v.page.title()
    assert heading, f"{page}: no <h1> heading"
    assert heading in title and book_title in title, f"{page}: title {title!r} lacks {heading!r} / {book_title!r}"

    # every local link, image, stylesheet and script answers 200 (fragments must exist too)
    broken = []
    for kind, url in v.page.evaluate(JS_LOCAL_RESOURCES):
        if urlparse(url).hostname not in LOOPBACK:
            continue
        target, fragment = urldefrag(url)
        status = http_status(target)
        if status != 200:
            broken.append(f"{kind} {target} -> {status}")
        elif fragment and target.endswith(".html") and fragment not in _html_ids(target):
            broken.append(f"{kind} {url} -> no element with id {fragment!r}")
    assert not broken, f"{page}: broken local references:\n" + "\n".join(sorted(set(broken)))
    assert not v.failed, f"{page}: local requests failed while loading:\n" + "\n".join(v.failed)

    # local images actually decode
    undecoded = v.page.evaluate(
        "() => Array.from(document.images).filter(i => i.src.startsWith(location.origin)"
        " && i.complete && i.naturalWidth === 0).map(i => i.src)"
    )
    assert not undecoded, f"{page}: images that did not decode: {undecoded}"

    # a widget never stands alone: its static figure comes above it
    lonely = v.page.evaluate(JS_WIDGETS_WITHOUT_FIGURE_ABOVE, WIDGET_VIEW)
    assert lonely == 0, f"{page}: {lonely} widget(s) without a static figure above them"

    # chapters show at least one figure from a notebook output
    figures = [f for f in v.page.evaluate(JS_FIGURES) if f["width"] > 0 and f["visible"]]
    if CHAPTER.match(page):
        assert figures, f"{page}: a chapter must show at least one figure (notebook output image)"

    # markdown a notebook displays (display(Markdown(...))) is rendered, not shown as raw pipes
    raw_tables = v.page.evaluate(JS_RAW_MARKDOWN_TABLES)
    assert not raw_tables, f"{page}: notebook output shows an unrendered markdown table: {raw_tables[:1]}"

    # math is marked up for MathJax and typeset by the copy of MathJax served with the book
    # (book/_static/mathjax), so it renders with no network at all
    math = v.page.evaluate(JS_MATH)
    if not math["count"]:
        assert not math["mathjax"], f"{page}: loads MathJax but holds no math"
    if math["count"]:
        assert math["mathjax"], f"{page}: has math but loads no MathJax script"
        assert not math["bad"], f"{page}: math without TeX delimiters: {math['bad'][:3]}"
        try:
            v.page.wait_for_function(JS_MATH_TYPESET, arg=math["count"], timeout=20_000)
        except Exception:  # noqa: BLE001 - report what was left untypeset
            pytest.fail(f"{page}: MathJax did not typeset the page's {math['count']} formulas offline "
                        f"({v.page.evaluate(JS_MATH_TYPESET_COUNT)} typeset)")

    # no JavaScript of our own breaks (scripts that need a CDN are blocked, not broken)
    own_errors = [e for e in v.errors if not v.blocked]
    assert not own_errors, f"{page}: JavaScript errors: {own_errors}"

    # at desktop width no printed output line is wider than its box
    wide = v.page.evaluate(JS_WIDE_OUTPUT)
    assert not wide, f"{page}: {len(wide)} printed output block(s) wider than their box, e.g. {wide[:2]}"

    # and what every visit must show (test_page_everywhere), for this one: over http, 1280 px, light
    problems = _check_visit(page, v, *FIRST_VISIT)
    assert not problems, f"{page}:\n" + "\n".join(problems)


JS_WIDE_OUTPUT = """
() => Array.from(document.querySelectorAll('main .cell_output pre, main .output pre'))
  .filter(p => !p.closest('.highlight-python'))  // source listings (vt.show_source) keep whole lines and scroll
  .filter(p => p.scrollWidth > p.clientWidth + 1)
  .map(p => `${p.scrollWidth}>${p.clientWidth}: ${p.textContent.split('\\n').sort((a, b) => b.length - a.length)[0].slice(0, 80)}`)
"""

# What a page weighs on a first visit, everything counted: the HTML (with the explorers' data), and
# every file it made the browser fetch (images, scripts, stylesheets, fonts, MathJax and its fonts).
JS_WEIGHT = r"""
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const out = {html: nav.encodedBodySize || nav.transferSize, images: 0, explorers: 0, mathjax: 0, fonts: 0, theme: 0};
  for (const r of performance.getEntriesByType('resource')) {
    const size = r.encodedBodySize || r.transferSize || 0;
    if (r.name.startsWith('data:')) continue;
    if (r.initiatorType === 'img' || /\/_images\//.test(r.name)) out.images += size;
    else if (/\/_static\/explorers\//.test(r.name)) out.explorers += size;
    else if (/\/mathjax\//.test(r.name)) out.mathjax += size;
    else if (/\.(woff2?|ttf|otf)(\?|$)/.test(r.name)) out.fonts += size;
    else out.theme += size;
  }
  out.total = out.html + out.images + out.explorers + out.mathjax + out.fonts + out.theme;
  return out;
}
"""

JS_SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"

# down the whole page and back, so that lazily loaded figures load (a reader who reads it all)
JS_READ_THROUGH = """
async () => {
  for (let y = 0; y < document.documentElement.scrollHeight; y += 600) {
    window.scrollTo(0, y);
    await new Promise((r) => setTimeout(r, 40));
  }
  window.scrollTo(0, 0);
  // the figures that the theme shows, all of them loaded (one that scrolled by too fast included)
  const shown = Array.from(document.images).filter((i) => getComputedStyle(i).display !== 'none');
  for (const i of shown) if (i.loading === 'lazy' && !i.complete) i.loading = 'eager';
  await Promise.all(shown.map((i) => i.complete ? null
    : new Promise((r) => { i.addEventListener('load', r, {once: true}); i.addEventListener('error', r, {once: true}); })));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await document.fonts.ready;
}
"""

# MathJax done (a typeset formula may widen the page) and the fonts in
JS_SETTLE = """
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await document.fonts.ready;
}
"""

JS_EXPLORERS_DRAWN = """
() => Array.from(document.querySelectorAll('[data-explorer]')).every((e) => e.dataset.firstPicture || e.dataset.failed)
"""

# the lightness (0 black .. 1 white) of what is drawn behind an element: its own background, or the
# first ancestor's that is not transparent
JS_BEHIND = """
function behind(el) {
  for (let e = el; e; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor.match(/[\\d.]+/g).map(Number);
    if (c.length < 4 || c[3] > 0) return (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255;
  }
  return 1;
}
"""

JS_EXPLORERS = """
() => { """ + JS_BEHIND + """
  return Array.from(document.querySelectorAll('[data-explorer]')).map((e) => ({
    name: e.dataset.explorer, failed: e.dataset.failed || null, drawn: !!e.dataset.firstPicture,
    background: behind(e), around: behind(e.parentElement)}));
}
"""

# Notebook figures: each a light/dark pair (book_figures.py); which of each pair the theme shows.
JS_FIGURES_THEMED = r"""
() => { """ + JS_BEHIND + r"""
  const figures = Array.from(document.querySelectorAll('main img')).filter((i) => /\/_images\/[0-9a-f]{64}(\.slim|\.dark)?\.(png|webp)$/.test(i.src));
  const dark = (i) => /\.dark\.(png|webp)$/.test(i.src);
  const shown = figures.filter((i) => getComputedStyle(i).display !== 'none');
  return {light: figures.filter((i) => !dark(i)).length, dark: figures.filter(dark).length,
          shown_light: shown.filter((i) => !dark(i)).length, shown_dark: shown.filter(dark).length,
          dark_on_light: shown.filter((i) => dark(i) && behind(i) > 0.5).length};
}
"""

SCHEMES, WIDTHS, THEMES = ("file", "http"), (1280, PHONE_WIDTH), ("light", "dark")
FIRST_VISIT = ("http", 1280, "light")  # test_page's: the visit that also measures how soon explorers draw
# Every (scheme, width, theme) is checked, in five page loads rather than eight: a load is checked in the theme it
# opened in, and the three loads in SWITCHED are checked once more after the reader's own switch in the header has
# turned them to the other theme (with the system's preference following). Between them the loads open every pair --
# (scheme, width), (scheme, theme), (width, theme) -- fresh at least once, and the two first visits over http at
# desktop width, which are weighed, open fresh (test_every_combination_is_checked_and_every_pair_opens_fresh).
OPENED = {FIRST_VISIT, ("http", 1280, "dark"), ("http", PHONE_WIDTH, "dark"), ("file", 1280, "dark"),
          ("file", PHONE_WIDTH, "light")}
SWITCHED = {("http", PHONE_WIDTH, "dark"), ("file", 1280, "dark"), ("file", PHONE_WIDTH, "light")}
# where every control of every explorer is operated (elsewhere each must draw its first picture):
# from disk and over http, at both widths, in both themes
DRIVE = {("file", 1280, "dark"), ("http", PHONE_WIDTH, "light")}
SCREENSHOT_PAGES = {"book/01_meet_the_model", "book/04_attention", "book/09_classifier"}


def _record(page: str, key: str, value) -> None:
    """Add what was measured to test-artifacts/page-weights.json (for the closing note)."""
    import json

    path = ROOT / "test-artifacts" / "page-weights.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault(page, {})[key] = value
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def _check_visit(page: str, v: Visit, scheme: str, width: int, theme: str, fresh: bool = True) -> list[str]:
    """Everything one visit must show; returns what went wrong (empty: nothing). ``fresh``: the page opened in
    this theme (a first visit, weighed and timed where that is due), not switched to it."""
    from _explorer_driver import JS_SNAPSHOT, drive  # tests/ is on sys.path (pytest's rootdir conftest)

    where = f"{scheme} {width} px {theme}"
    problems: list[str] = []
    v.page.wait_for_function(JS_EXPLORERS_DRAWN, timeout=15_000)
    v.page.evaluate(JS_SETTLE)
    if v.page.evaluate("() => document.documentElement.dataset.theme") != theme:
        problems.append(f"{where}: the page is not in the {theme} theme")

    if fresh and scheme == "http" and width == 1280:  # a first visit's weight, every file counted, read to the end
        v.page.evaluate(JS_READ_THROUGH)
        weight = v.page.evaluate(JS_WEIGHT)
        _record(page, f"weight_{theme}", weight)
        if weight["total"] > PAGE_BUDGET:
            problems.append(f"{where}: weighs {weight['total'] / 1e6:.2f} MB > {PAGE_BUDGET / 1e6:.0f} MB ({weight})")

    explorers = v.page.evaluate(JS_EXPLORERS)
    expected = EXPECTED_EXPLORERS.get(page, set())
    if not expected <= {e["name"] for e in explorers}:
        problems.append(f"{where}: missing explorer(s) {sorted(expected - {e['name'] for e in explorers})}")
    for e in explorers:
        if e["failed"] or not e["drawn"]:
            problems.append(f"{where}: explorer {e['name']} did not draw: {e['failed']}")
        for what in ("background", "around"):
            if (e[what] < 0.5) != (theme == "dark"):
                problems.append(f"{where}: explorer {e['name']} has a {'dark' if e[what] < 0.5 else 'light'} {what}")

    figures = v.page.evaluate(JS_FIGURES_THEMED)
    if figures["dark"] != figures["light"]:
        problems.append(f"{where}: {figures['light'] - figures['dark']} of {figures['light']} figures have no dark copy "
                        "(notebooks executed before book_figures.py? `make clean` and build again)")
    want = {"shown_light": figures["light"], "shown_dark": 0} if theme == "light" else \
        {"shown_light": 0, "shown_dark": figures["dark"]}
    if {k: figures[k] for k in want} != want:
        problems.append(f"{where}: figures shown {figures}, want {want}")
    if figures["dark_on_light"]:
        problems.append(f"{where}: {figures['dark_on_light']} dark figure(s) drawn on a light card")

    if (scheme, width, theme) in DRIVE and explorers:
        for r in drive(v.page):
            if r["failed"] or not r["controls"] or r["unchanged"]:
                problems.append(f"{where}: explorer {r['name']}: failed {r['failed']}, controls {r['controls']}, "
                                f"nothing changed for {r['unchanged']}")
        # the theme switches: every canvas explorer draws again in the other theme's colours
        canvases = [i for i, e in enumerate(explorers) if v.page.locator("[data-explorer]").nth(i).locator("canvas").count()]
        before = [v.page.evaluate(JS_SNAPSHOT, i) for i in canvases]
        other = _other(theme)
        v.page.evaluate(f"() => {{ document.documentElement.dataset.theme = '{other}'; }}")
        v.page.wait_for_timeout(400)
        same = [explorers[i]["name"] for i, b in zip(canvases, before) if v.page.evaluate(JS_SNAPSHOT, i) == b]
        if same:
            problems.append(f"{where}: explorers not redrawn when the theme switched to {other}: {same}")
        v.page.evaluate(f"() => {{ document.documentElement.dataset.theme = '{theme}'; }}")
        v.page.wait_for_timeout(200)

    if fresh and (scheme, width, theme) == FIRST_VISIT:
        firsts = {}
        for i, e in enumerate(explorers):
            t = v.page.evaluate(_JS_TIMING, i)
            firsts[e["name"]] = round(t["first"] - t["load"], 1)
        if firsts:
            _record(page, "first_picture_ms_after_load", firsts)
        slow = {k: f for k, f in firsts.items() if f > FIRST_PICTURE_MS}
        if slow:
            problems.append(f"{where}: first picture later than {FIRST_PICTURE_MS} ms after page load: {slow}")

    sideways = v.page.evaluate(JS_SIDEWAYS)
    if sideways > 0:
        problems.append(f"{where}: scrolls sideways by {sideways} px")
    if scheme == "file" and page in SCREENSHOT_PAGES:
        v.page.evaluate(JS_READ_THROUGH)  # every figure loaded
        v.page.screenshot(path=str(screenshot_dir() / f"{page_id(page)}.{width}.{theme}.png"), full_page=True)
    if v.console:
        problems.append(f"{where}: console errors: {v.console}")
    if v.errors:
        problems.append(f"{where}: JavaScript errors: {v.errors}")
    if v.failed:
        problems.append(f"{where}: failed requests: {v.failed}")
    if v.blocked:
        problems.append(f"{where}: asked the network for {v.blocked}")
    return problems


_JS_TIMING = """
(i) => {
  const el = document.querySelectorAll('[data-explorer]')[i];
  const nav = performance.getEntriesByType('navigation')[0];
  return {first: Number(el.dataset.firstPicture), load: nav.loadEventEnd};
}
"""


@pytest.mark.parametrize("page", PAGES, ids=[page_id(p) for p in PAGES])
def test_page_everywhere(page, visit):
    """The page from disk (file://) and over http, at desktop and phone width, in the light
    and the dark theme, with every off-machine request blocked: every explorer draws (and, in
    :data:`DRIVE`, answers every control, and draws again when the theme switches), every figure
    has its copy for the theme, nothing scrolls sideways, no console error, no failed request, and
    a first visit over http weighs at most :data:`PAGE_BUDGET`, everything counted. The page opens as
    :data:`OPENED` says, and those in :data:`SWITCHED` are checked again in the other theme. The light
    visit over http at 1280 px is :func:`test_page`'s, which runs these checks too."""
    problems = []
    for scheme, width, theme in sorted(OPENED - {FIRST_VISIT}):  # test_page's visit: its checks run there
        v = visit(page + ".html", width=width, theme=theme, scheme=scheme)
        try:
            problems += _check_visit(page, v, scheme, width, theme)
            if (scheme, width, theme) in SWITCHED:
                v.forget_events()  # reported above: what the switched page reports is its own
                other = _other(theme)
                problems += _switch_theme(v, other, f"{scheme} {width} px {theme}")
                problems += _check_visit(page, v, scheme, width, other, fresh=False)
        finally:
            v.close()
    assert not problems, f"{page}:\n" + "\n".join(problems)


def _other(theme: str) -> str:
    return "light" if theme == "dark" else "dark"


# the reader's switch in the header: each press moves the theme's mode on (light, dark, auto, in an order that
# depends on the system's preference); at most three presses reach any theme
JS_PRESS_THEME_SWITCH = """
(want) => {
  const button = document.querySelector('.theme-switch-button');
  if (!button) return null;
  for (let i = 0; i < 3 && document.documentElement.dataset.theme !== want; i++) button.click();
  return document.documentElement.dataset.theme;
}
"""


def _switch_theme(v: Visit, theme: str, where: str) -> list[str]:
    """Turn an opened page to ``theme`` as a reader does: the system's preference changes and the reader presses
    the theme's switch; returns what went wrong (empty: nothing)."""
    v.page.emulate_media(color_scheme=theme)
    got = v.page.evaluate(JS_PRESS_THEME_SWITCH, theme)
    if got != theme:
        return [f"{where}: the theme's switch did not turn the page {theme} (it is {got!r}: no switch in the header?)"]
    return []


JS_ICONS = """
() => Array.from(document.querySelectorAll('.bd-header-article i[class*="fa-"]')).map(i => {
  const r = i.getBoundingClientRect();
  return {cls: i.className.replace(/\\s+/g, ' '), content: getComputedStyle(i, '::before').content,
          font: getComputedStyle(i).fontFamily, visible: r.width > 0 && r.height > 0};
})
"""


def test_icons_draw_from_the_web_fonts(visit, site):
    """The header's icons (launch, repository, download, full screen, light/dark, search) are drawn by
    the theme's own web fonts; the 1.5 MB fontawesome.js is neither linked nor shipped."""
    v = visit("book/05_layernorm.html")
    v.page.wait_for_load_state("load")
    v.page.wait_for_timeout(300)
    scripts = v.page.evaluate("() => Array.from(document.querySelectorAll('script[src]')).map(s => s.src)")
    assert not [s for s in scripts if "fontawesome" in s], scripts
    assert not (site / "_static" / "scripts" / "fontawesome.js").exists()
    assert v.page.evaluate("() => document.fonts.check('900 16px \"Font Awesome 6 Free\"')")
    icons = [i for i in v.page.evaluate(JS_ICONS) if i["visible"]]
    assert len(icons) >= 5, icons
    for icon in icons:
        assert icon["content"] not in ("none", "normal", ""), f"an icon draws nothing: {icon}"
        assert "Font Awesome" in icon["font"], f"an icon is not drawn by the icon font: {icon}"


JS_ALL_ICONS = """
() => Array.from(document.querySelectorAll('[class*="fa-"]')).map(i => {
  const s = getComputedStyle(i, '::before');
  return {cls: (i.getAttribute('class') || '').replace(/\\s+/g, ' '), content: s.content, family: s.fontFamily, weight: s.fontWeight};
}).filter(i => i.content && i.content !== 'none' && i.content !== 'normal' && /Font Awesome/.test(i.family))
"""


@pytest.mark.parametrize("page", ["book/05_layernorm", "search"])
def test_every_icon_is_in_its_font(visit, site, page):
    """book_fixes.py trims the icon fonts to the icons the book shows: every icon a page can show
    (visible or not, such as the other half of the light/dark switch) has its glyph in the font
    file the stylesheet names for its family and weight."""
    from fontTools.ttLib import TTFont

    v = visit(page + ".html")
    v.page.wait_for_load_state("load")
    css_path = site / "_static" / "styles" / "pydata-sphinx-theme.css"
    faces = {}
    for face in re.findall(r"@font-face\{([^}]*)\}", css_path.read_text(encoding="utf-8")):
        family = re.search(r"font-family:([^;]*)", face).group(1).replace("\\", "").strip(" \"'")
        weight = re.search(r"font-weight:(\d+)", face).group(1)
        url = re.search(r"src:url\(([^)]*)\)", face).group(1)
        faces[(family, weight)] = set(TTFont(css_path.parent / url).getBestCmap())
    icons = v.page.evaluate(JS_ALL_ICONS)
    assert len(icons) >= 5, icons
    missing = []
    for icon in icons:
        family = icon["family"].split(",")[0].strip(" \"'")
        glyphs = faces.get((family, icon["weight"]))
        char = icon["content"].strip("\"")
        if glyphs is None or len(char) != 1 or ord(char) not in glyphs:
            missing.append(icon)
    assert not missing, f"icons whose glyph the font lacks: {missing}"


def test_navigation_lists_every_page(visit):
    """The sidebar of the home page links every page of the table of contents."""
    v = visit("index.html")  # redirects to the root page
    v.page.wait_for_selector("nav.bd-docs-nav a, #bd-docs-nav a", state="attached")
    listed = {_page_url_path(u) for u in v.page.evaluate(JS_NAV_LINKS)}
    missing = [p for p in PAGES if p not in listed]
    assert not missing, f"the navigation does not list: {missing} (it lists {sorted(listed)})"
    assert _page_url_path(v.page.url) == PAGES[0], f"index.html lands on {v.page.url}, not {PAGES[0]}"


def test_search_finds_attention(visit):
    """The client-side search (searchtools.js over searchindex.js) returns results."""
    v = visit(f"search.html?q={SEARCH_TERM}")
    results = v.page.locator("#search-results ul.search li")
    try:  # searchtools.js loads searchindex.js, then fills the list (or says it found nothing)
        v.page.wait_for_function(JS_SEARCH_DONE, timeout=TIMEOUT_MS)
    except Exception as err:  # noqa: BLE001 - playwright's TimeoutError
        pytest.fail(f"the search page never finished searching for {SEARCH_TERM!r} "
                    f"within {TIMEOUT_MS / 1000:.0f} s (searchindex.js missing?): {type(err).__name__}")
    count = results.count()
    v.page.screenshot(path=str(screenshot_dir() / "search.png"))
    assert count >= 1, f"search for {SEARCH_TERM!r} found nothing"
    linked = {_page_url_path(u) for u in v.page.locator("#search-results ul.search li a").evaluate_all(
        "as => as.map(a => a.href)")}
    assert linked & set(PAGES), f"search results link no page of the book: {sorted(linked)}"
    assert not v.failed, "local requests failed on the search page:\n" + "\n".join(v.failed)


def test_no_page_needs_module_scripts(site):
    """Opened from disk, a browser refuses module scripts and imports from other files: no built page
    loads one (``<script type="module" src>``, or an inline module that imports)."""
    offenders = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for tag, body in re.findall(r"(<script\b[^>]*>)(.*?)</script>", text, re.S):
            module = re.search(r'type\s*=\s*"module"', tag)
            if module and ("src=" in tag or re.search(r"\bimport\b[^;]*\bfrom\b|\bimport\s*\(", body)):
                offenders.append(f"{page.relative_to(site)}: {tag[:80]}")
    assert not offenders, "pages that need module scripts (dead from file://):\n" + "\n".join(offenders)


def test_every_combination_is_checked_and_every_pair_opens_fresh():
    """The plan of test_page_everywhere: the eight (scheme, width, theme) are each checked once; every pair of
    two of them is opened fresh by some load; the weighed first visits (http, 1280 px) and test_page's open fresh;
    the visits that operate the explorers are among those checked."""
    import itertools

    every = set(itertools.product(SCHEMES, WIDTHS, THEMES))
    switched_to = [(scheme, width, _other(theme)) for scheme, width, theme in SWITCHED]
    checked = sorted(OPENED) + switched_to
    assert sorted(checked) == sorted(every), f"checked {checked}, want each of {sorted(every)} once"
    assert SWITCHED <= OPENED
    for i, j in itertools.combinations(range(3), 2):
        pairs = {(c[i], c[j]) for c in every}
        assert pairs == {(c[i], c[j]) for c in OPENED}, f"a pair of {('scheme', 'width', 'theme')[i]} and " \
            f"{('scheme', 'width', 'theme')[j]} never opens fresh: {pairs - {(c[i], c[j]) for c in OPENED}}"
    assert {c for c in every if c[:2] == ("http", 1280)} | {FIRST_VISIT} <= OPENED - SWITCHED
    assert DRIVE <= every and {c[0] for c in DRIVE} == set(SCHEMES) and {c[1] for c in DRIVE} == set(WIDTHS)


def test_toc_reader():
    """The page list really comes from _toc.yml: root first, nested sections included."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        toc = Path(tmp) / "_toc.yml"
        toc.write_text(
            "format: jb-book\nroot: book/intro\nparts:\n"
            "  - caption: A\n    chapters:\n      - file: book/01_x.ipynb\n"
            "        sections:\n          - file: book/01b_y\n"
            "      # - file: book/02_not_yet\n"
            "  - caption: B\n    chapters:\n      - file: book/references.md\n"
        )
        assert toc_pages(toc) == ["book/intro", "book/01_x", "book/01b_y", "book/references"]
    assert PAGES[0] == "book/intro" and "book/01_meet_the_model" in PAGES
