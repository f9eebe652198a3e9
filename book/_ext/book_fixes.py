"""Small Sphinx fixes for the rendered book (loaded from _config.yml: sphinx.local_extensions).

Inline scripts added after the builder starts (sphinx-thebe's ``const THEBE_JS_URL ...``,
sphinx-togglebutton's selector) are emitted twice by Sphinx < 8.2: the registry copy has
filename ``None``, the builder copy ``''``, so Sphinx's own de-duplication misses them
(sphinx-doc/sphinx#13402). In the browser the second ``const`` declaration throws
``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`` on every page.
We drop the exact duplicates from each page's script list.

It also

* registers the bibliography style ``authoryear`` (``bibtex_default_style`` in _config.yml):
  the reference list is labelled "Dosovitskiy et al., 2021", matching the author-year
  citations in the text (the default "alpha" labels read [DBK+21]), and sorted by author;
* adds ``_static/book.css``: printed cell output wraps at its box's edge, display math and
  wide tables scroll inside their own box, so no page scrolls sideways on a phone;
* drops the theme's ``fontawesome.js`` (1.5 MB, the heaviest file a reader downloads, more
  than MathJax): it only redraws the icons as inline SVG, and the theme's own stylesheet
  already draws the same icons from its bundled web fonts (about 0.3 MB). Every page loses
  its ``<script>`` tag and the file leaves ``_static``; where a theme ships no web fonts, the
  script stays;
* loads the search index only on the search page (see :func:`drop_search_scripts`);
* trims the icon fonts to the icons the book shows (:func:`subset_icon_fonts`: 0.3 MB to a few KB);
* loads MathJax only on pages that hold math (myst-nb asks Sphinx to put it on every page:
  0.9 MB with its fonts, for nothing on the intro or the references);
* shows the sidebar from its top (title, search box) when the current page's link shows there
  anyway (:data:`SIDEBAR_FROM_TOP`);
* gives the theme a light/dark mode to start from (``auto``: the reader's system setting): with
  none, every page logged ``Got invalid theme mode: . Resetting to auto.``; and settles ``auto``
  to ``light`` or ``dark`` before the page is drawn, so CSS (and images marked ``only-light`` /
  ``only-dark``) never sees an undecided theme.
"""
from __future__ import annotations

import re
from pathlib import Path

BOOK_CSS = "book.css"


def _last_names(persons) -> list[str]:
    names = []
    for person in persons:
        last = " ".join(person.prelast_names + person.last_names)
        names.append(last.replace("{", "").replace("}", ""))
    return names


def author_year(entry) -> str:
    """'Dosovitskiy et al., 2021', 'Abnar and Zuidema, 2020', 'Kravets, 2023' for a pybtex entry."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = _last_names(persons)
    others = any(n.lower() == "others" for n in names)
    names = [n for n in names if n.lower() != "others"]
    if not names:
        who = entry.fields.get("title", entry.key).split(":")[0]
    elif len(names) == 1:
        who = names[0] + (" et al." if others else "")
    elif len(names) == 2 and not others:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


def register_bibliography_style() -> None:
    """Register the pybtex formatting style ``authoryear`` (unsrt's entries, author-year labels)."""
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.unsrt import Style as UnsrtStyle
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            labels = [author_year(e) for e in sorted_entries]
            seen: dict[str, int] = {}
            for label in labels:
                seen[label] = seen.get(label, 0) + 1
            suffix: dict[str, int] = {}
            for label in labels:  # "Smith, 2020a", "Smith, 2020b" when two entries collide
                if seen[label] > 1:
                    suffix[label] = suffix.get(label, 0) + 1
                    yield label + "abcdefghijklmnopqrstuvwxyz"[suffix[label] - 1]
                else:
                    yield label

    class AuthorYearStyle(UnsrtStyle):
        default_label_style = AuthorYearLabels
        default_sorting_style = "author_year_title"

    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle, force=True)


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


FONTAWESOME_SCRIPT = re.compile(r'[ \t]*<script defer src="[^"]*_static/scripts/fontawesome\.js(?:\?[^"]*)?"></script>\n?')


SEARCH_SCRIPTS = re.compile(
    r'[ \t]*<script src="[^"]*(?:_static/searchtools\.js|_static/language_data\.js|searchindex\.js)"></script>\n?')


def drop_search_scripts(app, exception) -> None:
    """build-finished: pages other than search.html load no search index. The theme loads Sphinx's
    search tools and the whole index (80 KB, growing with the book) on every page, synchronously,
    for its search-as-you-type, which this book does not turn on: its search box opens search.html."""
    if exception is not None or getattr(app.builder, "format", None) != "html":
        return
    if (app.config.html_theme_options or {}).get("search_as_you_type"):
        return
    out = Path(app.outdir)
    for page in out.rglob("*.html"):
        if page == out / "search.html":
            continue
        text = page.read_text(encoding="utf-8")
        kept = SEARCH_SCRIPTS.sub("", text)
        if kept != text:
            page.write_text(kept, encoding="utf-8")


def drop_fontawesome_script(app, exception) -> None:
    """build-finished: the icons come from the web fonts, not from ``fontawesome.js`` (see above)."""
    if exception is not None or getattr(app.builder, "format", None) != "html":
        return
    out = Path(app.outdir)
    if not any((out / "_static" / "vendor" / "fontawesome" / "webfonts").glob("fa-solid-900.*")):
        return  # no web fonts to fall back on: keep the script
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        kept = FONTAWESOME_SCRIPT.sub("", text)
        if kept != text:
            page.write_text(kept, encoding="utf-8")
    for name in ("fontawesome.js", "fontawesome.js.map", "fontawesome.js.LICENSE.txt"):
        (out / "_static" / "scripts" / name).unlink(missing_ok=True)


MATH_IN_PAGE = re.compile(r'class="[^"]*\bmath\b')


def _is_mathjax(script, mathjax_path: str) -> bool:
    filename = str(getattr(script, "filename", script) or "")
    body = (getattr(script, "attributes", {}) or {}).get("body", "") or ""
    # Sphinx files a relative mathjax_path under _static/
    return bool(mathjax_path) and filename in (mathjax_path, f"_static/{mathjax_path}") or body.lstrip().startswith(
        ("window.MathJax", "MathJax.")
    )


def mathjax_only_with_math(app, pagename, templatename, context, doctree):
    """html-page-context: a page without math (no element of class ``math``) loads no MathJax."""
    scripts = context.get("script_files")
    if not scripts or MATH_IN_PAGE.search(context.get("body") or ""):
        return
    path = getattr(app.config, "mathjax_path", "") or ""
    context["script_files"] = [s for s in scripts if not _is_mathjax(s, path)]


# Runs in <head> after the theme's own first script, which sets data-theme from the reader's
# stored choice or the default mode: "auto" becomes what the system prefers, at once.
SETTLE_THEME = (
    "(function () { var d = document.documentElement;"
    " if (d.dataset.theme !== 'light' && d.dataset.theme !== 'dark') {"
    " d.dataset.theme = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'; } })();"
)


# After the theme's own scripts (DOMContentLoaded follows them): the theme scrolls the sidebar to the
# current page's link whenever that link sits below 30 % of the sidebar's height, which at 1280 x 900
# hides the book's title and search box although the link shows without scrolling. Then: back to the top.
SIDEBAR_FROM_TOP = (
    "document.addEventListener('DOMContentLoaded', function () {"
    " var bar = document.querySelector('.bd-sidebar-primary');"
    " var link = bar && bar.querySelector('.bd-docs-nav a.current');"
    " if (!bar || !link || !bar.scrollTop) return;"
    " var bottom = link.getBoundingClientRect().bottom - bar.getBoundingClientRect().top + bar.scrollTop;"
    " if (bottom <= bar.clientHeight) bar.scrollTop = 0; });"
)


def default_mode(app, config) -> None:
    """config-inited: the theme starts from ``auto`` unless _config.yml chose a mode (pydata-sphinx-theme
    reads it from ``html_context``)."""
    if not (config.html_context or {}).get("default_mode"):
        config.html_context = {**(config.html_context or {}), "default_mode": "auto"}


ICON_RULE = re.compile(r'((?:\.fa-[a-z0-9-]+::?(?:before|after)\s*,?\s*)+)\{\s*content:\s*"([^"]*)"\s*;?\s*\}')
ICON_CLASS = re.compile(r"\bfa-[a-z0-9-]+")
CSS_CHAR = re.compile(r'(?:content|--[\w-]+)\s*:\s*"([^"]*)"')
FONT_FACE = re.compile(r"@font-face\{[^}]*?src:url\((?P<dir>[^)]*/)(?P<name>fa-[a-z]+-\d+)\.woff2\)[^}]*\}")


def _codepoint(value: str) -> int | None:
    """A CSS string's one character: '\\f09b' or the character itself; None for anything else."""
    escaped = re.fullmatch(r"\\([0-9a-fA-F]{1,6})\s?", value)
    if escaped:
        return int(escaped.group(1), 16)
    return ord(value) if len(value) == 1 else None


def icon_classes_in_use(out: Path) -> set[str]:
    """Every ``fa-*`` class a built page or script names."""
    used = set()
    for path in [*out.rglob("*.html"), *out.rglob("*.js")]:
        used.update(ICON_CLASS.findall(path.read_text(encoding="utf-8", errors="replace")))
    return used


def icons_in_use(out: Path, css: str) -> set[int]:
    """The icon codepoints the built book can show: those of every ``fa-*`` class named in a page or
    a script, and every private-use character a stylesheet puts in ``content`` (or a variable)."""
    by_class: dict[str, int] = {}
    for selectors, value in ICON_RULE.findall(css):
        cp = _codepoint(value)
        for name in ICON_CLASS.findall(selectors):
            if cp is not None:
                by_class[name] = cp
    used = icon_classes_in_use(out)
    points = {by_class[n] for n in used if n in by_class}
    for sheet in out.rglob("*.css"):  # outside the icon classes' own rules
        for value in CSS_CHAR.findall(ICON_RULE.sub("", sheet.read_text(encoding="utf-8", errors="replace"))):
            cp = _codepoint(value)
            if cp is not None and 0xE000 <= cp <= 0xF8FF:
                points.add(cp)
    return points


def subset_icon_fonts(app, exception) -> None:
    """build-finished: the theme's icon fonts (fa-solid 156 KB, fa-brands 118 KB, fa-regular 25 KB)
    keep only the icons the book can show (:func:`icons_in_use`), as WOFF files of a few KB that the
    theme's stylesheet then names, and the stylesheet drops the rules of the icons no page names.
    Needs fontTools (a dependency of matplotlib); without it, or when the stylesheet looks
    different, nothing changes."""
    if exception is not None or getattr(app.builder, "format", None) != "html":
        return
    try:
        from fontTools import subset
        from fontTools.ttLib import TTFont
    except ImportError:  # pragma: no cover
        return
    import logging

    logging.getLogger("fontTools").setLevel(logging.WARNING)  # its INFO lines would flood the build's output
    out = Path(app.outdir)
    sheet = out / "_static" / "styles" / "pydata-sphinx-theme.css"
    if not sheet.is_file():
        return
    css = sheet.read_text(encoding="utf-8")
    points = icons_in_use(out, css)
    if not points:
        return

    def one(m: re.Match) -> str:
        fonts = sheet.parent / m.group("dir")
        ttf = (fonts / f"{m.group('name')}.ttf").resolve()
        if not ttf.is_file():
            return m.group(0)
        font = TTFont(ttf)
        keep = points & set(font.getBestCmap())
        options = subset.Options()
        options.flavor = "woff"  # zlib: woff2 would need brotli
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(keep))
        subsetter.subset(font)
        target = ttf.with_name(f"{m.group('name')}.book.woff")
        font.flavor = "woff"
        font.save(target)
        face = re.sub(r"src:[^;}]*", f'src:url({m.group("dir")}{target.name}) format("woff")', m.group(0))
        return face

    new = FONT_FACE.sub(one, css)
    # and the stylesheet keeps the rules of those icons only (1,881 rules, 90 KB, of which 30 are used)
    used = icon_classes_in_use(out)
    new = ICON_RULE.sub(lambda m: m.group(0) if used & set(ICON_CLASS.findall(m.group(1))) else "", new)
    if new != css:
        sheet.write_text(new, encoding="utf-8")


def setup(app):
    register_bibliography_style()
    app.add_css_file(BOOK_CSS)
    app.add_js_file(None, body=SETTLE_THEME, priority=1)
    app.add_js_file(None, body=SIDEBAR_FROM_TOP)
    app.connect("config-inited", default_mode)
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.connect("html-page-context", mathjax_only_with_math, priority=901)
    app.connect("build-finished", drop_fontawesome_script)
    app.connect("build-finished", drop_search_scripts)
    app.connect("build-finished", subset_icon_fonts, priority=900)  # after the pages lost fontawesome.js
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
