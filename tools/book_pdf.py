"""The whole book as one PDF, printed from the HTML build (``make pdf``).

    python tools/book_pdf.py _build/html book.pdf            # after make book

Every page of ``_toc.yml``, in its order, is opened in headless Chromium (Playwright, as the
browser tests do) from a local web server over the built HTML, so the page is what a reader sees:
formulas typeset by the book's own MathJax, figures in place, and each explorer as its first
picture, drawn by its own script (the static page has no kernel, so nothing moves). The page is
printed to A4 with the book's print styles (``book/_static/book.css``: nothing scrolls, nothing
is cut) and Chromium's outline of its headings. pypdf joins the pages and writes the bookmarks:
one per part of the table of contents, one per chapter under it (its title), and the chapter's
own sections under that.

Nothing is fetched from the network (requests that leave the local server are refused); the
output file is written only if it does not exist or was written by this tool (``--force``
overrides).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import re
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCER = "vit-tutorial tools/book_pdf.py"
SETTLE_MS = 600  # after MathJax: explorers draw their first picture on load (a few frames)


def toc_parts(toc_path: Path = ROOT / "_toc.yml") -> list[tuple[str | None, list[str]]]:
    """``[(part caption or None, [page, ...]), ...]`` in reading order; pages without suffix."""
    import yaml

    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    strip = functools.partial(re.sub, r"\.(md|ipynb|rst)$", "")

    def walk(entries) -> list[str]:
        pages = []
        for entry in entries or []:
            if "file" in entry:
                pages.append(strip(entry["file"]))
            pages += walk(entry.get("sections"))
        return pages

    parts: list[tuple[str | None, list[str]]] = [(None, [strip(toc["root"])] + walk(toc.get("chapters")))]
    for part in toc.get("parts", []):
        parts.append((part.get("caption"), walk(part.get("chapters"))))
    return parts


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def print_pages(html: Path, pages: list[str], chromium: str, log=print) -> list[tuple[str, bytes]]:
    """``[(page title, PDF bytes), ...]``: each page of ``html`` printed by Chromium."""
    from playwright.sync_api import sync_playwright

    server, base = _serve(html)
    printed = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
            context = browser.new_context(viewport={"width": 1280, "height": 1600})
            context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
            page = context.new_page()
            for i, name in enumerate(pages, 1):
                began = time.monotonic()
                page.goto(f"{base}/{name}.html", wait_until="load")
                page.evaluate("() => (window.MathJax && MathJax.startup && MathJax.startup.promise) || null")
                page.wait_for_timeout(SETTLE_MS)
                page.emulate_media(media="print")
                title = page.evaluate("() => (document.querySelector('main h1') || {}).textContent || document.title")
                title = re.sub(r"\s+", " ", title.replace("#", "")).strip()
                pdf = page.pdf(
                    format="A4", print_background=True, outline=True, tagged=True, margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"}
                )
                page.emulate_media(media="screen")
                printed.append((title, pdf))
                log(f"pdf: page {i}/{len(pages)} {name} ({time.monotonic() - began:.1f} s)")
            browser.close()
    finally:
        server.shutdown()
    return printed


def _heading(title: str) -> str:
    """A heading as Chromium's outline gives it, tidied: spaces collapsed, and a title Chromium read twice
    ("RecapRecap": the heading's text and its copy for the page's own table of contents) read once."""
    title = re.sub(r"\s+", " ", title).strip()
    half = len(title) // 2
    return title[:half] if len(title) % 2 == 0 and title[:half] == title[half:] else title


def _copy_outline(writer, reader, items, offset: int, parent) -> None:
    """Copy a printed page's heading outline into the book's, under ``parent``, shifted by ``offset`` pages.
    The page's own "Contents" box (its table of contents) is not a section, and is left out."""
    last = None
    for item in items:
        if isinstance(item, list):
            if last is not None:
                _copy_outline(writer, reader, item, offset, last)
            continue
        title = _heading(str(item.title))
        if title == "Contents":
            last = None
            continue
        last = writer.add_outline_item(title=title, page_number=offset + reader.get_destination_page_number(item), parent=parent)


def join(parts: list[tuple[str | None, list[tuple[str, bytes]]]]) -> bytes:
    """One PDF of the printed pages, in order, with bookmarks: part > chapter (its title) > its sections."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for caption, printed in parts:
        part_item = None
        for title, pdf in printed:
            reader = PdfReader(io.BytesIO(pdf))
            offset = len(writer.pages)
            writer.append(reader, import_outline=False)
            if caption and part_item is None:
                part_item = writer.add_outline_item(title=caption, page_number=offset)
            chapter = writer.add_outline_item(title=title, page_number=offset, parent=part_item)
            outline = list(reader.outline)
            # Chromium's outline of a page is its h1 (the title again, its spaces not always kept) with the
            # sections under it: those go under our chapter item
            if len(outline) in (1, 2) and not isinstance(outline[0], list):
                outline = outline[1] if len(outline) == 2 and isinstance(outline[1], list) else []
            _copy_outline(writer, reader, outline, offset, chapter)
    writer.add_metadata({"/Title": "The Vision Transformer, line by line", "/Producer": PRODUCER})
    writer.page_mode = "/UseOutlines"
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _ours(path: Path) -> bool:
    from pypdf import PdfReader

    try:
        return (PdfReader(path).metadata or {}).get("/Producer") == PRODUCER
    except Exception:  # noqa: BLE001 - not a PDF we can read: not ours
        return False


def build(html: Path, out: Path, chromium: str = "/usr/bin/chromium", force: bool = False, log=print) -> Path:
    html = Path(html)
    if not (html / "index.html").is_file():
        raise FileNotFoundError(f"no built book at {html}: run `make book` first")
    out = Path(out)
    if out.exists() and not force and not _ours(out):
        raise FileExistsError(f"{out} exists and was not written by this tool; remove it or pass --force")
    if not Path(chromium).exists():
        raise FileNotFoundError(f"no Chromium at {chromium} (set --chromium, or install Debian's chromium)")
    began = time.monotonic()
    parts = []
    for caption, pages in toc_parts():
        missing = [p for p in pages if not (html / f"{p}.html").is_file()]
        if missing:
            raise FileNotFoundError(f"the HTML build lacks {', '.join(missing)}: rebuild the book (make book)")
        parts.append((caption, print_pages(html, pages, chromium, log)))
    data = join(parts)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".pdf.part")
    tmp.write_bytes(data)
    tmp.replace(out)
    log(f"pdf: {out} ({len(data) / 2**20:.1f} MB) in {time.monotonic() - began:.0f} s")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/book_pdf.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("html", type=Path, help="the HTML build (e.g. _build/html)")
    parser.add_argument("out", type=Path, help="the PDF to write (e.g. _build/pdf/vit-tutorial.pdf)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the Chromium to print with")
    parser.add_argument("--force", action="store_true", help="overwrite an output file this tool did not write")
    args = parser.parse_args(argv)
    try:
        build(args.html, args.out, args.chromium, args.force)
    except (FileNotFoundError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
