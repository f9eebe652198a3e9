"""The book's host for the explorers of :mod:`vit_tutorial.explorers` (loaded from _config.yml).

An explorer's notebook output holds a widget view (for live Jupyter) and a ``text/html``
fallback: ``<div data-explorer="NAME">`` with the explorer's data as JSON. _config.yml tells
myst-nb to prefer that ``text/html`` in HTML builds (``nb_mime_priority_overrides``). This
extension then

* writes each explorer's ES module (``_common.js`` + ``NAME.js``, exactly the module anywidget
  runs live), ``host.js`` and ``explorers.css`` into ``_static/explorers/`` of the build;
* on each page that holds explorers (and only there) adds the stylesheet and one inline
  module script that imports ``host.js`` and those explorers' modules *statically*: they are
  fetched while the page is parsed and run before DOMContentLoaded, so the first picture does
  not wait for MathJax or the theme's scripts (a dynamic ``import()`` did, by up to 800 ms);
* drops the ipywidgets state that nbclient saves in an executed notebook's metadata, which
  myst-nb would otherwise embed in the page (hundreds of KB nothing can use, plus scripts
  from a CDN): with the text/html fallback no widget manager runs in the book.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

STATIC_DIR = "explorers"
STORE_ENV = "VIT_TUTORIAL_BROWSER_WEIGHTS"  # = vit_tutorial.explorers.browser_model.STORE_ENV


def write_modules(outdir: Path) -> list[Path]:
    """Write the explorers' modules, host and stylesheet into ``outdir/_static/explorers``."""
    from vit_tutorial.explorers._base import JS_DIR, NAMES, module_source, stylesheet

    target = Path(outdir) / "_static" / STATIC_DIR
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in NAMES:
        path = target / f"{name}.js"
        path.write_text(module_source(name), encoding="utf-8")
        written.append(path)
    for path, text in ((target / "host.js", (JS_DIR / "host.js").read_text(encoding="utf-8")),
                       (target / "explorers.css", stylesheet())):
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
    """What a page with the explorers ``names`` needs in its head: the stylesheet and one inline
    module script that imports ``host.js`` and those explorers' modules *statically* (fetched
    while the page is parsed, run before DOMContentLoaded) and mounts every ``[data-explorer]``.
    ``url(file)``: the address of ``_static/explorers/<file>`` from the page."""
    import json

    def spec(file):  # a module specifier must be "./x", "../x", "/x" or a full URL
        u = url(file)
        return u if u.startswith(("./", "../", "/")) or "://" in u else "./" + u

    names = sorted(set(names))
    imports = "".join(f"import m{i} from {json.dumps(spec(n + '.js'))};" for i, n in enumerate(names))
    table = ",".join(f"{json.dumps(n)}:m{i}" for i, n in enumerate(names))
    return (f'<link rel="stylesheet" href="{url("explorers.css")}">\n'
            f'<script type="module">import {{mountAll}} from {json.dumps(spec("host.js"))};{imports}'
            f'mountAll({{{table}}});</script>\n')


def _mount_explorers(app, pagename, templatename, context, doctree):
    """Pages with explorers get :func:`head_html`; pages without load nothing of ours."""
    import re

    names = re.findall(r'data-explorer="([a-z_-]+)"', context.get("body") or "")
    if names and "pathto" in context:
        url = lambda file: context["pathto"](f"_static/{STATIC_DIR}/{file}", 1)  # noqa: E731
        context["metatags"] = context.get("metatags", "") + head_html(names, url)


# --------------------------------------------------------------------------- the browser's ViT-B/16 weights
# Chapter 9's "your photo" explorer runs ViT-B/16 in the reader's browser, on the checkpoint this build
# runs with. The notebook's kernel exports it (vit_tutorial.explorers.browser_model.export_for_book) into a
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
