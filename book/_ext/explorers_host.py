"""The book's host for the explorers of :mod:`vit_tutorial.explorers` (loaded from _config.yml).

An explorer's notebook output holds a widget view (for live Jupyter) and a ``text/html``
fallback: ``<div data-explorer="NAME">`` with the explorer's data as JSON. _config.yml tells
myst-nb to prefer that ``text/html`` in HTML builds (``nb_mime_priority_overrides``). This
extension then

* writes each explorer's ES module (``_common.js`` + ``NAME.js``, exactly the module anywidget
  runs live), ``host.js`` and ``explorers.css`` into ``_static/explorers/`` of the build;
* loads ``host.js`` (an ES module) and the stylesheet on every page; ``host.js`` mounts each
  ``[data-explorer]`` it finds and does nothing elsewhere;
* adds ``<link rel="modulepreload">`` for the explorers a page holds, so their modules load
  while the page is parsed (the first picture comes sooner);
* drops the ipywidgets state that nbclient saves in an executed notebook's metadata, which
  myst-nb would otherwise embed in the page (hundreds of KB nothing can use, plus scripts
  from a CDN): with the text/html fallback no widget manager runs in the book.
"""
from __future__ import annotations

from pathlib import Path

STATIC_DIR = "explorers"


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


def _preload_modules(app, pagename, templatename, context, doctree):
    """On a page with explorers, let the browser fetch their modules while it parses the HTML."""
    import re

    body = context.get("body") or ""
    names = sorted(set(re.findall(r'data-explorer="([a-z_]+)"', body)))
    if not names or "pathto" not in context:
        return
    links = "".join(f'<link rel="modulepreload" href="{context["pathto"](f"_static/{STATIC_DIR}/{n}.js", 1)}">\n'
                    for n in names)
    context["metatags"] = context.get("metatags", "") + links


def setup(app):
    app.add_js_file(f"{STATIC_DIR}/host.js", type="module")
    app.add_css_file(f"{STATIC_DIR}/explorers.css")
    # before myst-nb's own handler (priority 500) turns the page's js_files into <script> tags
    app.connect("html-page-context", _drop_widget_state, priority=400)
    app.connect("html-page-context", _preload_modules)
    app.connect("build-finished", _copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
