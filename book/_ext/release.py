"""Which release a page belongs to: version, build date and weights in every page's footer, the
version switcher, and the Open Graph address (loaded from _config.yml: sphinx.local_extensions).

Every page's footer gets one line, before the credits of ``html.extra_footer``::

    vit-tutorial 0.2.0 (book: latest) · built 2026-12-06 · weights: pretrained (google/vit-base-patch16-224)

* the **version** is ``__version__`` of ``vit_tutorial/__init__.py`` (the one place it lives);
* the **build date** is today's (UTC), or ``SOURCE_DATE_EPOCH``'s for a reproducible build;
* the **weights** are the ones the notebooks were executed with, as they recorded them: each
  chapter's ``vt.load_model()`` prints ``[vit_tutorial] weights: <source> (<checkpoint>)`` into its
  output, and this extension reads that line back from the page. A page that loads no model (the
  introduction, the glossary) names the weights of the build's chapters instead.

The **book version** (``VIT_TUTORIAL_BOOK_VERSION``: ``latest``, the default, for main; ``v0.2``
for the tags v0.2.x) says where the build is published: ``<Book URL><book version>/`` (the Book
URL follows pyproject.toml, see tools/repo_url.py). It sets ``ogp_site_url`` for
sphinxext-opengraph, so ``og:image`` and ``og:url`` point inside this version of the book.

The **version switcher** (``_static/release.js``) lists the published versions from the site's
``switcher.json`` (written by ``tools/release.py site``), and asks for it only when the page is
read from the published site: a copy opened from disk or from a local server makes no request
and logs nothing; its footer still names its version.

At the end of a build, ``release.json`` (version, book version, date, weights) is written next to
``index.html``; ``tools/release.py site`` labels the switcher's entries with it.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
BOOK_VERSION_ENV = "VIT_TUTORIAL_BOOK_VERSION"
BOOK_VERSION = re.compile(r"^(latest|v\d+\.\d+)$")
# what vit_tutorial.load_model prints (WeightSource.__str__): "[vit_tutorial] weights: random (google/... architecture) - why"
WEIGHTS_LINE = re.compile(r"\[vit_tutorial\] weights: ([\w-]+) \(([^)\n]*)\)")
UNTRAINED = {"random", "trained-like"}
SHIPPED = {"tiny-digits"}  # ships with the package: no build-time choice, so never the book's answer for a page without a model


def package_version(root: Path = ROOT) -> str:
    """``__version__`` as vit_tutorial/__init__.py writes it (read, not imported)."""
    text = (root / "vit_tutorial" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    if not match:
        raise ExtensionError('release: vit_tutorial/__init__.py has no line __version__ = "..."')
    return match.group(1)


def book_url(root: Path = ROOT) -> str:
    """The published book's address (pyproject.toml's [project.urls] Book, as tools/repo_url.py derives it)."""
    spec = importlib.util.spec_from_file_location("_vt_repo_url", root / "tools" / "repo_url.py")
    repo_url = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(repo_url)
    return repo_url.derived(repo_url.source_url(root))["Book"]


def book_version() -> str:
    value = os.environ.get(BOOK_VERSION_ENV, "").strip() or "latest"
    if not BOOK_VERSION.match(value):
        raise ExtensionError(f"{BOOK_VERSION_ENV}={value!r}: use 'latest' (main) or 'vMAJOR.MINOR' (a release, e.g. v0.2)")
    return value


def build_date() -> str:
    """Today (UTC) as YYYY-MM-DD, or SOURCE_DATE_EPOCH's date when it is set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    when = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return when.strftime("%Y-%m-%d")


def weights_in(doctree: nodes.Node) -> list[tuple[str, str]]:
    """The ``(source, checkpoint)`` pairs the page's printed cell outputs name, in order, once each."""
    found: list[tuple[str, str]] = []
    for block in doctree.findall(nodes.literal_block):
        if "output" not in block.get("classes", []):
            continue
        for pair in WEIGHTS_LINE.findall(block.astext()):
            if pair not in found:
                found.append(pair)
    return found


def _one(source: str, checkpoint: str) -> str:
    return f"{source} ({checkpoint}{', not trained' if source in UNTRAINED else ''})"


def describe_weights(page: list[tuple[str, str]], book: dict[str, list[tuple[str, str]]]) -> str:
    """The footer's words: the page's own weights, else those of the build's chapters."""
    if page:
        return "weights: " + "; ".join(_one(*pair) for pair in page)
    pages = Counter(pair for pairs in book.values() for pair in set(pairs) if pair[0] not in SHIPPED)
    if not pages:
        return "weights: none loaded in this build"
    if len(pages) == 1:
        return f"weights of the chapters: {_one(*next(iter(pages)))}"
    return "weights of the chapters: " + "; ".join(f"{_one(*pair)} on {n} page{'s' * (n != 1)}" for pair, n in pages.most_common())


def footer_html(version: str, slug: str, date: str, weights: str, site: str, page: str) -> str:
    """The footer's release line and the (hidden until filled) version switcher."""
    esc = html.escape
    return (
        '<div class="vt-release">\n'
        f'<p class="vt-release-line">vit-tutorial <span class="vt-version">{esc(version)}</span> '
        f'(book: <span class="vt-book-version">{esc(slug)}</span>) · built <span class="vt-built">{esc(date)}</span> · '
        f'<span class="vt-weights">{esc(weights)}</span></p>\n'
        f'<p class="vt-versions" data-site-root="{esc(site)}" data-version="{esc(slug)}" data-page="{esc(page)}" hidden>'
        '<label>Other versions of this book: <select aria-label="Version of the book"></select></label></p>\n'
        "</div>\n"
    )


# ----------------------------------------------------------------------------- Sphinx events


def _config_inited(app, config) -> None:
    app.vt_release = {"version": package_version(), "book_version": book_version(), "built": build_date(), "site": book_url()}
    # og:image, og:url: absolute addresses inside this version of the published book (unless _config.yml sets its own)
    if hasattr(config, "ogp_site_url") and not config.ogp_site_url:
        config.ogp_site_url = app.vt_release["site"] + app.vt_release["book_version"] + "/"
    if hasattr(config, "ogp_site_name") and config.ogp_site_name is None:
        config.ogp_site_name = config.html_title or config.project  # Jupyter Book sets the title, not Sphinx's project


def _doctree_read(app, doctree) -> None:
    env = app.env
    if not hasattr(env, "vt_weights"):
        env.vt_weights = {}
    env.vt_weights[env.docname] = weights_in(doctree)


def _purge(app, env, docname) -> None:
    getattr(env, "vt_weights", {}).pop(docname, None)


def _merge(app, env, docnames, other) -> None:
    if not hasattr(env, "vt_weights"):
        env.vt_weights = {}
    env.vt_weights.update({d: w for d, w in getattr(other, "vt_weights", {}).items() if d in docnames})


def _env_updated(app, env):
    """Every page again when the footer's words changed since the last build (a new version, a new day, other weights):
    an incremental build otherwise rewrites only the pages whose source changed, and the others would keep an old footer."""
    stamp = {**app.vt_release, "weights": describe_weights([], getattr(env, "vt_weights", {}))}
    if getattr(env, "vt_release_stamp", None) != stamp:
        env.vt_release_stamp = stamp
        return sorted(env.found_docs)
    return []


def _page_context(app, pagename, templatename, context, doctree) -> None:
    release = app.vt_release
    book = getattr(app.env, "vt_weights", {})
    weights = describe_weights(book.get(pagename, []), book)
    line = footer_html(release["version"], release["book_version"], release["built"], weights, release["site"], app.builder.get_target_uri(pagename))
    context["theme_extra_footer"] = line + (context.get("theme_extra_footer") or "")


def _build_finished(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    release = dict(app.vt_release)
    book = getattr(app.env, "vt_weights", {})
    release["weights"] = describe_weights([], book)
    Path(app.outdir, "release.json").write_text(json.dumps(release, indent=1) + "\n", encoding="utf-8")


def setup(app):
    app.connect("config-inited", _config_inited)
    app.connect("doctree-read", _doctree_read)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-updated", _env_updated)
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _build_finished)
    app.add_js_file("release.js", loading_method="defer")
    app.add_css_file("release.css")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
