"""The book's figure files: a dark copy of each, lighter PNGs, loaded when they come into view.

Loaded from _config.yml (``sphinx.local_extensions``). It

* sets ``VIT_TUTORIAL_DARK_FIGURES=1`` for the kernels that execute the notebooks, so every
  matplotlib figure also carries a copy drawn for a dark page
  (:mod:`vit_tutorial.figures.dark`, mime type ``image/x-vit-tutorial-dark+png``);
* after the build, writes each dark copy next to its figure in ``_images`` (``<hash>.dark.png``,
  found through the executed notebooks in ``jupyter_execute``) and gives every page's figure a
  twin: ``<img class="only-light">`` and ``<img class="only-dark">``, which the theme shows one at a
  time. Both load lazily, so a reader downloads only the figures of the theme they see, and only
  when they scroll to them;
* makes the figures' PNGs lighter: opaque RGBA becomes RGB, and a figure that 256 colours draw
  faithfully (PSNR at least :data:`MIN_PSNR` dB: plots, diagrams, most heat maps) becomes a
  palette PNG, a third of the size; the rest (noise tiles, photos) are only recompressed.

A cached notebook executed before this extension existed has no dark copies: then its figures
show as before (the theme dims them on a white card), and the build says how many lack one.
``make clean`` (or deleting ``_build/.jupyter_cache``) runs the notebooks again.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
import os
import re
from pathlib import Path

ENV = "VIT_TUTORIAL_DARK_FIGURES"
MIME = "image/x-vit-tutorial-dark+png"
MIN_PSNR = 38.0  # dB: below it the palette version differs visibly (measured on the book's figures)
SLIM_MARK = "vit-tutorial-slim"  # a PNG text chunk: already made lighter (a rebuild skips it)
IMG = re.compile(r"<img\b(?P<attrs>[^>]*?)\s*/?>")
ATTR = re.compile(r'([\w:-]+)="([^"]*)"')
FIGURE_SRC = re.compile(r"(?:^|/)_images/(?P<sha>[0-9a-f]{64})\.png$")


# --------------------------------------------------------------------------- dark copies
def dark_copies(notebooks_dir: Path) -> dict[str, bytes]:
    """Light figure's sha256 -> its dark PNG, from the executed notebooks under ``notebooks_dir``."""
    found: dict[str, bytes] = {}
    for path in sorted(Path(notebooks_dir).rglob("*.ipynb")):
        try:
            notebook = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for cell in notebook.get("cells", []):
            for output in cell.get("outputs", []) or []:
                data = output.get("data") or {}
                light, dark = data.get("image/png"), data.get(MIME)
                if isinstance(light, list):
                    light = "".join(light)
                if isinstance(dark, list):
                    dark = "".join(dark)
                if light and dark:
                    found[hashlib.sha256(base64.b64decode(light)).hexdigest()] = base64.b64decode(dark)
    return found


def _attrs(text: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in ATTR.findall(text)}


def _tag(attrs: dict[str, str]) -> str:
    return "<img " + " ".join(f'{k}="{html.escape(v, quote=True)}"' for k, v in attrs.items()) + " />"


def pair_images(page: str, dark: set[str], sizes: dict[str, tuple[int, int]] | None = None) -> tuple[str, int]:
    """Every notebook figure (``<img src=".../_images/<sha>.png">``) of an HTML ``page`` loads lazily,
    with its size; one whose sha is in ``dark`` becomes a light/dark pair. Returns the page and
    the number of pairs."""
    sizes = sizes or {}
    pairs = 0

    def one(match: re.Match) -> str:
        nonlocal pairs
        attrs = _attrs(match.group("attrs"))
        src = FIGURE_SRC.search(attrs.get("src", ""))
        if not src or {"only-dark", "only-light"} & set(attrs.get("class", "").split()):
            return match.group(0)  # not a notebook figure, or paired already
        sha = src.group("sha")
        attrs.setdefault("loading", "lazy")
        attrs.setdefault("decoding", "async")
        if sha in sizes and "width" not in attrs and "height" not in attrs:
            attrs["width"], attrs["height"] = (str(v) for v in sizes[sha])
        if sha not in dark:
            return _tag(attrs)
        pairs += 1
        light = {**attrs, "class": " ".join([*attrs.get("class", "").split(), "only-light"])}
        night = {**attrs, "src": attrs["src"][: -len(".png")] + ".dark.png", "class": " ".join([*attrs.get("class", "").split(), "only-dark"])}
        # display: contents (book.css): the pair lays out as the single image did, and neither image
        # is a sibling of the figure's caption (the theme hides `.only-dark ~ figcaption`)
        return f'<span class="vt-themed-figure">{_tag(light)}{_tag(night)}</span>'

    return IMG.sub(one, page), pairs


# --------------------------------------------------------------------------- lighter PNGs
def _psnr(a, b) -> float:
    from PIL import ImageChops, ImageStat

    diff = ImageChops.difference(a, b)
    mse = sum(v * v for v in ImageStat.Stat(diff).rms) / len(diff.getbands())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def slim_png(raw: bytes) -> bytes:
    """A lighter PNG of the same picture (see the module's docstring); ``raw`` if nothing is lighter."""
    from PIL import Image, PngImagePlugin

    im = Image.open(io.BytesIO(raw))
    if im.info.get(SLIM_MARK):
        return raw
    im.load()
    if im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGBA")
    if im.mode == "RGBA" and im.getchannel("A").getextrema()[0] == 255:
        im = im.convert("RGB")
    if im.mode == "RGB":
        palette = im.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    else:
        palette = im.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    best = palette if _psnr(im, palette.convert(im.mode)) >= MIN_PSNR else im
    info = PngImagePlugin.PngInfo()
    info.add_text(SLIM_MARK, "1")
    buf = io.BytesIO()
    best.save(buf, "PNG", optimize=True, pnginfo=info, **({"dpi": im.info["dpi"]} if "dpi" in im.info else {}))
    out = buf.getvalue()
    return out if len(out) < len(raw) else raw


# --------------------------------------------------------------------------- the build
def _kernels_draw_dark_copies(app, config) -> None:
    os.environ[ENV] = "1"  # kernels started from here inherit it (vit_tutorial/__init__.py reads it)


def _finish(app, exception) -> None:
    if exception is not None or getattr(app.builder, "format", None) != "html":
        return
    from PIL import Image
    from sphinx.util import logging

    out = Path(app.outdir)
    images = out / "_images"
    copies = dark_copies(out.parent / "jupyter_execute")
    dark, sizes = set(), {}
    for path in sorted(images.glob("*.png")) if images.is_dir() else []:
        if path.name.endswith(".dark.png"):
            continue
        sha = path.stem
        if sha in copies:
            (images / f"{sha}.dark.png").write_bytes(slim_png(copies[sha]))
            dark.add(sha)
        raw = path.read_bytes()
        slim = slim_png(raw)
        if slim is not raw:
            path.write_bytes(slim)
        with Image.open(path) as im:
            sizes[sha] = im.size
    figures = pairs = 0
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new, _ = pair_images(text, dark, sizes)
        if new != text:
            page.write_text(new, encoding="utf-8")
        for m in IMG.finditer(new):
            attrs = _attrs(m.group("attrs"))
            if FIGURE_SRC.search(attrs.get("src", "")):
                figures += 1
                pairs += "only-light" in attrs.get("class", "").split()
    logging.getLogger(__name__).info(
        f"book_figures: {pairs} of {figures} figures in the pages have a dark copy"
        + ("" if pairs == figures else " (the rest come from notebooks executed without one: `make clean` runs them again)")
    )


def setup(app):
    app.connect("config-inited", _kernels_draw_dark_copies)
    app.connect("build-finished", _finish)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
