"""The book's host for the explorers of :mod:`vit_tutorial.explorers` (loaded from _config.yml).

An explorer's notebook output holds a widget view (for live Jupyter) and a ``text/html``
fallback: ``<div data-explorer="NAME">`` with the explorer's data as JSON. _config.yml tells
myst-nb to prefer that ``text/html`` in HTML builds (``nb_mime_priority_overrides``). This
extension then

* writes each explorer as a *classic* script into ``_static/explorers/`` of the build
  (``NAME.js``: the same ES modules anywidget runs live, linked by
  :func:`vit_tutorial.explorers.bundle.book_script`), with ``host.js`` and ``explorers.css``.
  Browsers refuse module scripts in a page opened from disk (``file://``, origin 'null'); classic
  scripts run there as over http;
* on each page that holds explorers (and only there) adds the stylesheet and, ``defer``-ed, the
  scripts of those explorers and then the host: they are fetched while the page is parsed and
  run, in order, before DOMContentLoaded, so the first picture waits for neither MathJax nor
  the theme's scripts. No inline script, no ``type="module"``;
* drops the ipywidgets state that nbclient saves in an executed notebook's metadata, which
  myst-nb would otherwise embed in the page (hundreds of KB nothing can use, plus scripts
  from a CDN): with the text/html fallback no widget manager runs in the book.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

STATIC_DIR = "explorers"
HOST = "host.js"
STORE_ENV = "VIT_TUTORIAL_BROWSER_WEIGHTS"  # = vit_tutorial.weights.browser_model.STORE_ENV
EXPLORER_ROOT = re.compile(r'data-explorer="([a-z0-9_-]+)"')


def _files() -> dict[str, str]:
    """What ``_static/explorers`` holds: file name -> text."""
    from vit_tutorial.explorers import bundle
    from vit_tutorial.explorers._base import NAMES, stylesheet

    files = {f"{name}.js": bundle.book_script(name) for name in NAMES}
    files[HOST] = bundle.book_host()
    files["explorers.css"] = stylesheet()
    return files


def write_modules(outdir: Path) -> list[Path]:
    """Write every explorer's classic script, the host and the stylesheet into ``outdir/_static/explorers``."""
    target = Path(outdir) / "_static" / STATIC_DIR
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for file, text in _files().items():
        path = target / file
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _copy_assets(app, exception):
    if exception is None and app.builder.format == "html":
        write_modules(Path(app.outdir))


def _drop_widget_state(app, pagename, templatename, context, doctree):
    try:
        from myst_nb.sphinx_ import NbMetadataCollector
    except ImportError:  # pragma: no cover
        return
    env = app.env
    if not hasattr(env, "nb_metadata") or pagename not in env.nb_metadata:
        return
    js_files = NbMetadataCollector.get_js_files(env, pagename)
    for key in [k for k in js_files if k.startswith("ipywidgets")]:
        del js_files[key]


def head_html(names, url) -> str:
    """What a page with the explorers ``names`` needs in its head: the stylesheet, the explorers'
    classic scripts and then the host, all ``defer``-ed (run in this order once the page is parsed).
    ``url(file)``: the address of ``_static/explorers/<file>`` from the page."""
    files = _files()
    scripts = [f"{name}.js" for name in sorted(set(names))] + [HOST]
    missing = [f for f in scripts if f not in files]
    if missing:
        raise ValueError(f"no explorer script for {missing}: is the name in vit_tutorial.explorers._base.NAMES?")

    def versioned(file):  # a new build's scripts are never taken from a browser's cache of an older one
        return f"{url(file)}?v={hashlib.sha256(files[file].encode()).hexdigest()[:8]}"

    return (f'<link rel="stylesheet" href="{versioned("explorers.css")}">\n'
            + "".join(f'<script defer src="{versioned(file)}"></script>\n' for file in scripts))


def _mount_explorers(app, pagename, templatename, context, doctree):
    """Pages with explorers get :func:`head_html`; pages without load nothing of ours."""
    names = EXPLORER_ROOT.findall(context.get("body") or "")
    if names and "pathto" in context:
        url = lambda file: context["pathto"](f"_static/{STATIC_DIR}/{file}", 1)  # noqa: E731
        context["metatags"] = context.get("metatags", "") + head_html(names, url)


# --------------------------------------------------------------------------- the browser's ViT-B/16 weights
# Chapter 9's "your photo" explorer runs ViT-B/16 in the reader's browser, on the checkpoint this build
# runs with. The notebook's kernel exports it (vit_tutorial.weights.browser_model.export_for_book) into a
# store next to the build's output, named by its id; the pages refer to _static/vit-weights/<id>/vit.json;
# at the end of the build the folders the pages refer to are copied (hard-linked where possible) there.
WEIGHTS_PATH = re.compile(r"_static/vit-weights/([0-9a-f]{16})/vit\.json")


def weights_store(outdir) -> Path:
    """Where the kernels export the browser's weights: ``<outdir>/../browser-weights`` (``_build/browser-weights``)."""
    return Path(outdir).resolve().parent / "browser-weights"


def copy_weights(outdir: Path, store: Path) -> tuple[list[str], list[str]]:
    """Put every weights folder a page of ``outdir`` refers to into ``outdir/_static/vit-weights``;
    remove the ones no page refers to any more. Returns (copied ids, ids missing from ``store``)."""
    wanted = set()
    for page in Path(outdir).rglob("*.html"):
        wanted.update(WEIGHTS_PATH.findall(page.read_text(encoding="utf-8", errors="replace")))
    site = Path(outdir) / "_static" / "vit-weights"
    if site.is_dir():
        for old in site.iterdir():
            if old.name not in wanted:
                shutil.rmtree(old) if old.is_dir() else old.unlink()
    copied, missing = [], []
    for wid in sorted(wanted):
        source, target = store / wid, site / wid
        if not (source / "vit.json").is_file():
            missing.append(wid)
            continue
        target.mkdir(parents=True, exist_ok=True)
        for file in source.iterdir():
            dest = target / file.name
            if dest.exists() and dest.stat().st_size == file.stat().st_size:
                continue
            dest.unlink(missing_ok=True)
            try:
                os.link(file, dest)
            except OSError:
                shutil.copyfile(file, dest)
        copied.append(wid)
    return copied, missing


def _copy_weights(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    store = Path(os.environ.get(STORE_ENV) or weights_store(app.outdir))
    _, missing = copy_weights(Path(app.outdir), store)
    if missing:
        from sphinx.util import logging

        logging.getLogger(__name__).warning(
            f"a page refers to the browser weights {', '.join(missing)}, which are not in {store}: its notebook's "
            "output came from the execution cache of an earlier build. Remove the cache (jupyter-book clean . , "
            "or delete _build/.jupyter_cache) and build again.")


def setup(app):
    # the kernels that execute the notebooks inherit this: chapter 9 exports the weights there
    os.environ.setdefault(STORE_ENV, str(weights_store(app.outdir)))
    app.connect("build-finished", _copy_weights)
    # before myst-nb's own handler (priority 500) turns the page's js_files into <script> tags
    app.connect("html-page-context", _drop_widget_state, priority=400)
    app.connect("html-page-context", _mount_explorers)
    app.connect("build-finished", _copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
