"""Small Sphinx fixes for the rendered book (loaded from _config.yml: sphinx.local_extensions).

Inline scripts added after the builder starts (sphinx-thebe's ``const THEBE_JS_URL ...``,
sphinx-togglebutton's selector) are emitted twice by Sphinx < 8.2: the registry copy has
filename ``None``, the builder copy ``''``, so Sphinx's own de-duplication misses them
(sphinx-doc/sphinx#13402). In the browser the second ``const`` declaration throws
``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`` on every page.
We drop the exact duplicates from each page's script list.

It also installs :func:`vit_tutorial.nbexec.patch` before myst-nb executes the notebooks:
without it a cell with ``widgets.interact`` could wait out the whole cell timeout.
"""
from __future__ import annotations


def _key(script):
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return (str(filename), getattr(script, "priority", 500), tuple(sorted(attributes.items())))


def drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    from vit_tutorial.nbexec import patch

    patch()
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
