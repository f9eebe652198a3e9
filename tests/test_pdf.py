"""`make pdf`: the whole book in one PDF, printed from the HTML build, with a bookmark per chapter.

Needs the built book (``VIT_TUTORIAL_BOOK_HTML``, default ``_build/html``) and Chromium, like the
browser tests; skipped without them (a failure where ``VIT_TUTORIAL_REQUIRE_BROWSER=1``).
"""

import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("VIT_TUTORIAL_CHROMIUM", "/usr/bin/chromium")


def _tool():
    spec = importlib.util.spec_from_file_location("book_pdf", ROOT / "tools" / "book_pdf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _unavailable(reason: str):
    if os.environ.get("VIT_TUTORIAL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (and VIT_TUTORIAL_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


def _title(page: str) -> str:
    """A page's title as its source gives it: the first '# ' heading of the notebook or markdown file."""
    path = ROOT / f"{page}.ipynb"
    if path.exists():
        text = "".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "markdown")
    else:
        text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
    return re.search(r"(?m)^# (.+)$", text).group(1).strip()


@pytest.fixture(scope="module")
def book_pdf(tmp_path_factory):
    html = Path(os.environ.get("VIT_TUTORIAL_BOOK_HTML", "_build/html"))
    html = html if html.is_absolute() else ROOT / html
    if not (html / "index.html").is_file():
        _unavailable(f"no built book at {html}")
    if not Path(CHROMIUM).exists():
        _unavailable(f"Chromium not found at {CHROMIUM}")
    pytest.importorskip("pypdf")
    out = tmp_path_factory.mktemp("pdf") / "book.pdf"
    lines = []
    _tool().build(html, out, CHROMIUM, log=lines.append)
    return out, lines


def test_the_pdf_has_every_page_in_order_with_bookmarks_and_typeset_maths(book_pdf):
    """One test, not two: the browser phase hands tests out one by one to two workers, and each worker that ran a test
    of this module would print the whole book again (about 50 s of CPU) for its own copy of the fixture."""
    from pypdf import PdfReader

    path, lines = book_pdf
    reader = PdfReader(path)
    _every_page_in_order_with_a_bookmark_per_part_and_chapter(reader, lines)
    _a_chapter_bookmark_holds_its_sections_and_the_maths_is_typeset(reader)


def _every_page_in_order_with_a_bookmark_per_part_and_chapter(reader, lines):
    parts = _tool().toc_parts()
    pages = [p for _, ps in parts for p in ps]
    assert len(reader.pages) >= 2 * len(pages), f"{len(reader.pages)} pages for {len(pages)} chapters and appendices"
    assert sum(line.startswith("pdf: page ") for line in lines) == len(pages)

    outline = reader.outline
    top = [item for item in outline if not isinstance(item, list)]
    children = {}  # a top-level item -> the items under it
    for i, item in enumerate(outline):
        if isinstance(item, list):
            children[id(outline[i - 1])] = [c for c in item if not isinstance(c, list)]
    expected_top = [_title(parts[0][1][0])] + [caption for caption, _ in parts[1:]]
    assert [str(t.title) for t in top] == expected_top
    # under each part, its chapters' titles, in the order of _toc.yml, each on a later page than the one before
    for (caption, chapter_pages), item in zip(parts[1:], top[1:]):
        titles = [str(c.title) for c in children[id(item)]]
        assert titles == [_title(p) for p in chapter_pages], caption
        starts = [reader.get_destination_page_number(c) for c in children[id(item)]]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)


def _a_chapter_bookmark_holds_its_sections_and_the_maths_is_typeset(reader):
    outline = reader.outline
    forward = outline[outline.index(next(i for i in outline if not isinstance(i, list) and "forward pass" in str(i.title))) + 1]
    chapter4 = forward.index(next(i for i in forward if not isinstance(i, list) and str(i.title).startswith("4.")))
    sections = [str(s.title) for s in forward[chapter4 + 1] if not isinstance(s, list)]
    assert "Exercises" in sections and "Recap" in sections, sections
    first = reader.get_destination_page_number(forward[chapter4])
    text = re.sub(r"\s+", " ", " ".join(reader.pages[i].extract_text() for i in range(first, first + 6)))
    assert "Self-attention and its heads" in text
    assert "\\operatorname" not in text and "$$" not in text, "a formula was printed as TeX source, not typeset"
