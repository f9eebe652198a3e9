"""The built book as a reader gets it: figures they can read, alt text, code listings, exercise numbers, phones.

Reads the HTML build (``VIT_TUTORIAL_BOOK_HTML``, default ``_build/html``) and the notebooks the build
executed beside it (``../jupyter_execute``); the phone test drives headless Chromium. Without the
build (or Chromium) the tests are skipped, a failure where ``VIT_TUTORIAL_REQUIRE_BROWSER=1`` (CI).
"""

import functools
import html.parser
import http.server
import os
import re
import threading
from pathlib import Path

import pytest

from vit_tutorial.figures.fonts import COLUMN_PX, METADATA_KEY, MIN_TEXT_PX

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("VIT_TUTORIAL_CHROMIUM", "/usr/bin/chromium")


def _unavailable(reason: str):
    if os.environ.get("VIT_TUTORIAL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (and VIT_TUTORIAL_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site() -> Path:
    path = Path(os.environ.get("VIT_TUTORIAL_BOOK_HTML", "_build/html"))
    path = path if path.is_absolute() else ROOT / path
    if not (path / "index.html").is_file():
        _unavailable(f"no built book at {path} (set VIT_TUTORIAL_BOOK_HTML, or build it: make book)")
    return path


def _toc_pages() -> list[str]:
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    return [re.sub(r"\.(md|ipynb)$", "", p) for p in pages]


# --------------------------------------------------------------------------- figures: text a reader can read


def _executed_notebooks(site: Path) -> dict[str, dict]:
    """Each notebook of the book as the build executed it: from the build's execution cache (myst-nb's
    ``execute_notebooks: cache``; a copy in ``jupyter_execute`` has no outputs when it came from the cache)."""
    import nbformat
    from jupyter_cache import get_cache

    cache_dir = site.parent / ".jupyter_cache"
    assert cache_dir.is_dir(), f"no execution cache beside {site} (the book's _config.yml executes with `cache`)"
    cache = get_cache(str(cache_dir))
    executed = {}
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        try:
            record = cache.match_cache_notebook(nbformat.read(str(path), as_version=4))
        except KeyError:
            continue  # not executed by this build (e.g. left out of the table of contents)
        executed[path.stem] = cache.get_cache_bundle(record.pk).nb
    return executed


def test_every_figure_shows_its_text_at_9_px_or_more(site):
    """Each PNG output carries the size its smallest text is shown at in the 672 px column, measured in the
    kernel while the build ran (vit_tutorial.figures.fonts, loaded by book/_ext/notebook_run.py)."""
    executed = _executed_notebooks(site)
    assert executed, f"no executed notebooks in the cache beside {site}"
    figures, small, unmeasured = 0, [], []
    for stem, nb in executed.items():
        for cell in nb["cells"]:
            name = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name", "an unnamed figure")
            for output in cell.get("outputs", []):
                if "image/png" not in output.get("data", {}):
                    continue
                figures += 1
                measured = output.get("metadata", {}).get("image/png", {}).get(METADATA_KEY)
                if measured is None:
                    unmeasured.append(f"{stem}: {name}")
                elif measured["smallest_text_px"] is not None and measured["smallest_text_px"] < MIN_TEXT_PX:
                    small.append(f"{stem}: {name}: {measured['smallest_text']!r} at {measured['smallest_text_px']} px")
    assert figures >= 31
    assert not unmeasured, (
        f"figures without a measurement: {unmeasured}; were they executed before the build measured figures? "
        "rebuild with an empty execution cache (rm -rf _build/.jupyter_cache)"
    )
    assert not small, f"text under {MIN_TEXT_PX:g} px at 1280 px ({COLUMN_PX} px column): " + "; ".join(small)


# --------------------------------------------------------------------------- alt text, listings, numbers


class _Page(html.parser.HTMLParser):
    """The <img> tags inside <main>, and the text of every <pre> inside a cell's output."""

    def __init__(self):
        super().__init__()
        self.images, self.listings, self.plain_outputs, self._stack = [], [], [], []
        self._main = 0
        self._pre: list[str] | None = None
        self._pre_kind = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        self._stack.append((tag, classes))
        if tag == "main":
            self._main += 1
        if tag == "img" and self._main:
            self.images.append(attrs)
        if tag == "pre" and any("cell_output" in c for _, cs in self._stack for c in cs):
            highlighted = any(c.startswith("highlight-python") for _, cs in self._stack for c in cs)
            self._pre, self._pre_kind = [], "listing" if highlighted else "plain"

    def handle_endtag(self, tag):
        if tag == "pre" and self._pre is not None:
            (self.listings if self._pre_kind == "listing" else self.plain_outputs).append("".join(self._pre))
            self._pre = None
        if tag == "main":
            self._main -= 1
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self._pre is not None:
            self._pre.append(data)


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.mark.parametrize("page", _toc_pages())
def test_every_image_in_the_content_has_alt_text(site, page):
    for img in _parse(site / f"{page}.html").images:
        alt = (img.get("alt") or "").strip()
        assert alt, f"{page}: <img src={img.get('src')!r}> has no alt text"
        assert not re.search(r"\.(png|jpe?g|svg|gif)$", alt), f"{page}: alt text {alt!r} is a file name (myst-nb's default)"


def test_printed_source_is_a_highlighted_listing_with_its_lines_whole(site):
    page = _parse(site / "book" / "09_classifier.html")
    listing = next((text for text in page.listings if "def vit_trace(" in text), None)
    assert listing, "chapter 9 shows scratch.vit_trace as a python listing (vit_tutorial.listing.show_source)"
    # each trailing comment stays on its line of code (printed output wrapped them to a line of their own)
    assert re.search(r"patches = patch_embed\(.*\)  # \(B, N, D\) +chapter 2\n", listing)
    for chapter in sorted((site / "book").glob("[0-9A][0-9]_*.html")):
        for text in _parse(chapter).plain_outputs:
            assert not re.match(r"\s*(def|class) \w+[(:]", text), f"{chapter.stem}: source printed as plain output"


def test_exercises_are_numbered_per_chapter(site):
    text = re.sub(r"<[^>]+>", " ", (site / "book" / "04_attention.html").read_text(encoding="utf-8"))
    text = re.sub(r"\s+", " ", text)
    for number in ("4.1", "4.2", "4.3"):
        assert f"Exercise {number} " in text, number
    assert "Solution to Exercise 4.2" in text
    assert not re.search(r"Exercise (1[0-9]|[5-9]) ", text), "a book-wide exercise number is left"
    assert "the self-checks ran the hidden solutions" in text  # why a stub is followed by ✔


# --------------------------------------------------------------------------- a phone, 400 px wide


@pytest.fixture(scope="module")
def served(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def phone(served):
    if not Path(CHROMIUM).exists():
        _unavailable(f"Chromium not found at {CHROMIUM}")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 400, "height": 800})
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(served) else route.abort())
        yield context.new_page()
        browser.close()


STATE = """() => {
  const boxes = [...document.querySelectorAll('main div.math, main .vt-scroll')];
  const shown = (b) => [...b.querySelectorAll('img')].find(i => getComputedStyle(i).display !== 'none');
  return {
    pageWidth: document.scrollingElement.scrollWidth, viewport: window.innerWidth,
    boxes: boxes.map(b => ({kind: b.classList.contains('math') ? 'math' : 'figure',
      overflows: b.scrollWidth > b.clientWidth + 1, right: b.classList.contains('vt-more-right'),
      img: shown(b) ? [shown(b).naturalWidth, shown(b).getBoundingClientRect().width] : null})),
    outputsWrap: [...document.querySelectorAll('main div.cell_output div.output.stream pre')].every(p => getComputedStyle(p).whiteSpace === 'pre-wrap'),
    listingsWhole: [...document.querySelectorAll('main div.cell_output div.highlight-python pre')].every(p => getComputedStyle(p).whiteSpace === 'pre'),
  };
}"""


@pytest.mark.parametrize("page", ["book/01_meet_the_model", "book/04_attention", "book/05_layernorm", "book/09_classifier", "book/notation"])
def test_on_a_phone_wide_things_scroll_in_their_box_and_say_so(served, phone, page):
    phone.goto(f"{served}/{page}.html", wait_until="load")
    phone.evaluate("() => (window.MathJax && MathJax.startup && MathJax.startup.promise) || null")
    # the figures the theme shows, loaded now (they load lazily; the dark theme's copies stay hidden)
    phone.evaluate("() => document.querySelectorAll('main .vt-scroll img').forEach(i => {"
                   " if (getComputedStyle(i).display !== 'none') i.loading = 'eager'; })")
    phone.wait_for_function("() => [...document.querySelectorAll('main .vt-scroll img')]"
                            ".filter(i => getComputedStyle(i).display !== 'none').every(i => i.complete)")
    phone.wait_for_timeout(300)
    state = phone.evaluate(STATE)
    assert state["pageWidth"] <= state["viewport"], f"{page}: the page itself scrolls sideways"
    assert state["outputsWrap"], f"{page}: printed output no longer wraps at the edge of its box"
    assert state["listingsWhole"], f"{page}: a source listing wraps (a wrapped line would read as a line of code)"
    for i, box in enumerate(state["boxes"]):
        if box["img"]:
            natural, shown = box["img"]
            assert shown >= min(natural, COLUMN_PX) - 1, f"{page}: figure {i} shrunk to {shown:.0f} px, its text under 9 px"
        assert box["right"] == box["overflows"], f"{page}: box {i} ({box['kind']}) overflows={box['overflows']}, marked={box['right']}"
    # scrolled to its end, a wide box shows its other edge instead
    wide = phone.evaluate("""() => { const b = [...document.querySelectorAll('main .vt-scroll')].find(b => b.scrollWidth > b.clientWidth + 1);
        if (!b) return null; b.scrollLeft = b.scrollWidth; return new Promise(r => setTimeout(() => r(b.className), 200)); }""")
    if wide is not None:
        assert "vt-more-left" in wide and "vt-more-right" not in wide
