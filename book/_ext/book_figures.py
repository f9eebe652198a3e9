"""The book's figure files: a dark copy of each, lighter PNGs, loaded when they come into view.

Loaded from _config.yml (``sphinx.local_extensions``). It

* sets ``VIT_TUTORIAL_DARK_FIGURES=1`` for the kernels that execute the notebooks, so every
  matplotlib figure also carries a copy drawn for a dark page
  (:mod:`vit_tutorial.figures.dark`, mime type ``image/x-vit-tutorial-dark+png``);
* after the build, writes each dark copy next to its figure in ``_images`` (``<hash>.dark.png``,
  found through the executed notebooks: :func:`executed_notebooks`) and gives every page's figure a
  twin: ``<img class="only-light">`` and ``<img class="only-dark">``, which the theme shows one at a
  time. Both load lazily, so a reader downloads only the figures of the theme they see, and only
  when they scroll to them;
* makes the figures' files lighter (:func:`slim`): a figure that 256 colours draw faithfully (PSNR
  at least :data:`MIN_PSNR` dB: plots, diagrams, most heat maps) becomes a palette PNG, a third of
  the size; the rest (photos, noise tiles: a palette turns a cat's green eyes brown) become lossless
  WebP, the same pixels in two thirds of the bytes. The pages name the new files; Sphinx's PNGs stay.

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
IMG = re.compile(r"<img\b(?P<attrs>[^>]*?)\s*/?>")
ATTR = re.compile(r'([\w:-]+)="([^"]*)"')
LIGHT_SRC = re.compile(r"(?:^|/)_images/[0-9a-f]{64}(?:\.slim)?\.(?:png|webp)$")  # before or after pair_images
FIGURE_SRC = re.compile(r"(?:^|/)_images/(?P<sha>[0-9a-f]{64})\.png$")  # as myst-nb and Sphinx write it


# --------------------------------------------------------------------------- dark copies
def dark_copies(notebooks) -> dict[str, bytes]:
    """Light figure's sha256 -> its dark PNG, from executed ``notebooks`` (nbformat dicts)."""
    found: dict[str, bytes] = {}
    for notebook in notebooks:
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


def executed_notebooks(app):
    """The book's executed notebooks: from myst-nb's execution cache (``execution_mode: cache``, where a
    notebook taken from the cache is not written out with its outputs), and from ``jupyter_execute``
    (where a notebook executed in place is)."""
    out = Path(app.outdir)
    config = getattr(app.env, "mystnb_config", None)
    cache = Path(getattr(config, "execution_cache_path", "") or out.parent / ".jupyter_cache")
    if cache.is_dir():
        try:
            from jupyter_cache import get_cache

            store = get_cache(str(cache))
            for record in store.list_cache_records():
                yield store.get_cache_bundle(record.pk).nb
        except Exception:  # noqa: BLE001 - another jupyter-cache: the folder below may still hold them
            pass
    for path in sorted((out.parent / "jupyter_execute").rglob("*.ipynb")):
        try:
            yield json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue


def _attrs(text: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in ATTR.findall(text)}


def _tag(attrs: dict[str, str]) -> str:
    return "<img " + " ".join(f'{k}="{html.escape(v, quote=True)}"' for k, v in attrs.items()) + " />"


def pair_images(page: str, figures: dict[str, dict]) -> tuple[str, int]:
    """Every notebook figure (``<img src=".../_images/<sha>.png">``) of an HTML ``page`` that
    ``figures`` knows (sha -> ``{"light": file name, "dark": file name or None, "size": (w, h)}``)
    loads lazily, from its lighter file, with its size; one with a dark copy becomes a light/dark
    pair. Returns the page and the number of pairs."""
    pairs = 0

    def one(match: re.Match) -> str:
        nonlocal pairs
        attrs = _attrs(match.group("attrs"))
        src = FIGURE_SRC.search(attrs.get("src", ""))
        if not src or src.group("sha") not in figures or {"only-light", "only-dark"} & set(attrs.get("class", "").split()):
            return match.group(0)  # not a notebook figure, or done already
        figure = figures[src.group("sha")]
        folder = attrs["src"][: src.start("sha")]
        attrs["src"] = folder + figure["light"]
        attrs.setdefault("loading", "lazy")
        attrs.setdefault("decoding", "async")
        if figure.get("size") and "width" not in attrs and "height" not in attrs:
            attrs["width"], attrs["height"] = (str(v) for v in figure["size"])
        if not figure.get("dark"):
            return _tag(attrs)
        pairs += 1
        classes = attrs.get("class", "").split()
        light = {**attrs, "class": " ".join([*classes, "only-light"])}
        night = {**attrs, "src": folder + figure["dark"], "class": " ".join([*classes, "only-dark"])}
        # display: contents (book.css): the pair lays out as the single image did, and neither image
        # is a sibling of the figure's caption (the theme hides `.only-dark ~ figcaption`)
        return f'<span class="vt-themed-figure">{_tag(light)}{_tag(night)}</span>'

    return IMG.sub(one, page), pairs


# --------------------------------------------------------------------------- lighter files
def _psnr(a, b) -> float:
    from PIL import ImageChops, ImageStat

    diff = ImageChops.difference(a, b)
    mse = sum(v * v for v in ImageStat.Stat(diff).rms) / len(diff.getbands())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def slim(raw: bytes) -> tuple[bytes, str]:
    """A lighter file of the same picture, and its suffix: a palette PNG when 256 colours draw it at
    :data:`MIN_PSNR` dB or better (plots, diagrams, most heat maps), else a lossless WebP when that
    is smaller (photos, noise: the same pixels, a third smaller), else the PNG recompressed."""
    from PIL import Image, PngImagePlugin

    im = Image.open(io.BytesIO(raw))
    im.load()
    if im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGBA")
    if im.mode == "RGBA" and im.getchannel("A").getextrema()[0] == 255:
        im = im.convert("RGB")
    method = Image.Quantize.MEDIANCUT if im.mode == "RGB" else Image.Quantize.FASTOCTREE
    palette = im.quantize(256, method=method, dither=Image.Dither.NONE)
    if _psnr(im, palette.convert(im.mode)) >= MIN_PSNR:
        candidates = [(palette, "PNG")]
    else:
        candidates = [(im, "PNG"), (im, "WEBP")]
    best = (raw, ".png")
    for picture, kind in candidates:
        buf = io.BytesIO()
        if kind == "PNG":
            info = PngImagePlugin.PngInfo()
            picture.save(buf, "PNG", optimize=True, pnginfo=info, **({"dpi": im.info["dpi"]} if "dpi" in im.info else {}))
        else:
            picture.save(buf, "WEBP", lossless=True, quality=100, method=4)  # 6: 0.6 % smaller, 20 times slower
        if len(buf.getvalue()) < len(best[0]):
            best = (buf.getvalue(), "." + kind.lower())
    return best


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
    copies = dark_copies(executed_notebooks(app))
    figures: dict[str, dict] = {}
    for path in sorted(images.glob("*.png")) if images.is_dir() else []:
        if not re.fullmatch(r"[0-9a-f]{64}", path.stem):
            continue
        sha = path.stem
        data, suffix = slim(path.read_bytes())
        light = f"{sha}.slim{suffix}"  # a new name: the PNG stays as Sphinx wrote it (a rebuild starts again from it)
        (images / light).write_bytes(data)
        figure = {"light": light, "dark": None}
        if sha in copies:
            data, suffix = slim(copies[sha])
            figure["dark"] = f"{sha}.dark{suffix}"
            (images / figure["dark"]).write_bytes(data)
        with Image.open(path) as im:
            figure["size"] = im.size
        figures[sha] = figure
    total = pairs = 0
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new, _ = pair_images(text, figures)
        if new != text:
            page.write_text(new, encoding="utf-8")
        for m in IMG.finditer(new):  # the pages as they are now (a page Sphinx did not write again was paired before)
            attrs = _attrs(m.group("attrs"))
            if LIGHT_SRC.search(attrs.get("src", "")):
                total += 1
                pairs += "only-light" in attrs.get("class", "").split()
    logging.getLogger(__name__).info(
        f"book_figures: {pairs} of {total} figures in the pages have a dark copy"
        + ("" if pairs == total else " (the rest come from notebooks executed without one: `make clean` runs them again)")
    )


def setup(app):
    app.connect("config-inited", _kernels_draw_dark_copies)
    app.connect("build-finished", _finish)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
