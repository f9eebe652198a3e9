"""A release people can install, cite and share: changelog, citation, licences, footer, Open Graph.

- CHANGELOG.md has a section for the package's version (tools/release.py reads it);
- `make dist`, the release workflow's build and smoke test, runs in a copy of the tree (its dry run);
- CITATION.cff validates against the Citation File Format 1.2.0 schema (the format's own
  ``schema.json``, in tests/data, as cffconvert ships it) with jsonschema, as ``cffconvert --validate``
  does (cffconvert itself pins jsonschema<4, which the Jupyter stack cannot take), and agrees with
  .zenodo.json;
- both licences are stated in the README, the book's footer and the package metadata;
- a small book built with the real _config.yml (and so book/_ext/release.py and sphinxext-opengraph)
  has og:title, og:description and og:image pointing inside the book on every page, and a footer
  with version, date and weights; the version switcher makes no request off the published site
  (headless Chromium, from a local server and from file://), and works on a copy of it;
- the built book (``VIT_TUTORIAL_BOOK_HTML``, as tests/test_browser.py finds it) has the same on every
  page of the table of contents.

The tests that drive Chromium and those on a built book (the small one, the whole one) are marked ``browser``:
`make test` runs them after it has built the book, and the small book is built once for them all.
"""

from __future__ import annotations

import copy
import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import yaml
from sphinx.errors import ExtensionError

from test_packaging import COPY_IGNORE, make_recipe

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import release as release_tool  # noqa: E402  (tools/release.py)
import repo_url  # noqa: E402

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only

# book/_ext/release.py, the Sphinx extension, under a name of its own
_spec = importlib.util.spec_from_file_location("book_release_ext", ROOT / "book" / "_ext" / "release.py")
ext = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ext)

VERSION = release_tool.package_version()
BOOK_URL = repo_url.derived(repo_url.source_url())["Book"]
CFF_SCHEMA = ROOT / "tests" / "data" / "cff-1.2.0.schema.json"
EPOCH = 1_780_000_000  # SOURCE_DATE_EPOCH of the small build: 2026-05-28 (UTC)
META = re.compile(r'<meta (?:property|name)="([^"]+)" content="([^"]*)"\s*/?>')


# ----------------------------------------------------------------------------- changelog


def test_changelog_has_a_section_for_the_package_version():
    entry = release_tool.section(VERSION)
    assert entry["body"].strip(), f"CHANGELOG.md's section for {VERSION} says nothing"


def test_changelog_is_newest_first_and_dated():
    sections = release_tool.changelog_sections()
    assert len(sections) >= 2
    versions = [tuple(int(x) for x in re.match(r"\d+\.\d+\.\d+", s["version"]).group(0).split(".")) for s in sections]
    assert versions == sorted(versions, reverse=True) and len(set(versions)) == len(versions), versions
    assert all(s["date"] != "unreleased" for s in sections[1:]), "only the newest section may be unreleased"
    dates = [date.fromisoformat(s["date"]) for s in sections if s["date"] != "unreleased"]
    assert dates == sorted(dates, reverse=True)


def _tree(tmp_path: Path, version: str, changelog: str) -> Path:
    (tmp_path / "vit_tutorial").mkdir()
    (tmp_path / "vit_tutorial" / "__init__.py").write_text(f'"""x"""\n__version__ = "{version}"\n')
    (tmp_path / "CHANGELOG.md").write_text(changelog)
    return tmp_path


def test_check_tag_wants_the_version_and_a_dated_section(tmp_path):
    root = _tree(tmp_path, "0.3.0", "# Changelog\n\n## 0.3.0 (unreleased)\n\n- new\n\n## 0.2.0 (2026-12-01)\n\n- old\n")
    with pytest.raises(release_tool.ReleaseError, match="still says .unreleased."):
        release_tool.check_tag("v0.3.0", root)
    with pytest.raises(release_tool.ReleaseError, match="__version__ = '0.3.0'"):
        release_tool.check_tag("v0.2.0", root)
    (root / "CHANGELOG.md").write_text((root / "CHANGELOG.md").read_text().replace("(unreleased)", "(2026-12-24)"))
    assert release_tool.check_tag("v0.3.0", root) == "0.3.0"
    assert release_tool.section("0.2.0", root)["body"] == "- old"
    (root / "vit_tutorial" / "__init__.py").write_text('__version__ = "0.4.0"\n')
    with pytest.raises(release_tool.ReleaseError, match="no section '## 0.4.0"):
        release_tool.check_tag("v0.4.0", root)


def test_release_notes_command_prints_the_section(capsys):
    assert release_tool.main(["notes", VERSION]) == 0
    assert capsys.readouterr().out.strip() == release_tool.section(VERSION)["body"]
    assert release_tool.main(["notes", "99.0.0"]) == 1
    assert "no section" in capsys.readouterr().err


@pytest.mark.parametrize(
    "ref, expected", [("refs/heads/main", "latest"), ("refs/tags/v0.2.0", "v0.2"), ("refs/tags/v0.2.13", "v0.2"), ("refs/tags/v1.10.0rc1", "v1.10")]
)
def test_book_version_of_a_ref(ref, expected):
    assert release_tool.book_version(ref) == expected


@pytest.mark.parametrize("ref", ["refs/heads/feature", "refs/tags/nightly", "refs/tags/v2"])
def test_book_version_refuses_other_refs(ref):
    with pytest.raises(release_tool.ReleaseError, match="main and for tags"):
        release_tool.book_version(ref)


def test_site_lists_the_versions_and_sends_readers_to_latest(tmp_path):
    for name, version in (("latest", "0.3.0"), ("v0.2", "0.2.1"), ("v0.10", "0.10.0"), ("v0.1", None)):
        (tmp_path / name).mkdir()
        if version:
            (tmp_path / name / "release.json").write_text(json.dumps({"version": version}))
    (tmp_path / "stray").mkdir()  # not a book folder
    release_tool.write_site(tmp_path, "https://example.org/book")
    entries = json.loads((tmp_path / "switcher.json").read_text())
    assert [e["version"] for e in entries] == ["latest", "v0.10", "v0.2", "v0.1"]
    assert [e["name"] for e in entries] == ["latest (0.3.0)", "v0.10 (0.10.0)", "v0.2 (0.2.1)", "v0.1"]
    assert entries[1]["url"] == "https://example.org/book/v0.10/" and entries[1].get("preferred") is True
    assert sum(bool(e.get("preferred")) for e in entries) == 1
    index = (tmp_path / "index.html").read_text()
    assert 'url=latest/"' in index and (tmp_path / ".nojekyll").exists()
    release_tool.write_site(tmp_path, "https://example.org/book/")  # its own index.html: rewritten
    (tmp_path / "index.html").write_text("<html>someone's page</html>")
    with pytest.raises(release_tool.ReleaseError, match="not written by this tool"):
        release_tool.write_site(tmp_path, "https://example.org/book/")
    assert (tmp_path / "index.html").read_text() == "<html>someone's page</html>"


# ----------------------------------------------------------------------------- the release's dry run

@pytest.mark.slow
def test_make_dist_dry_run(tmp_path):
    """What the release workflow runs (`make dist`), recipe line by line, in a copy of the tree: the sdist and the
    wheel are built, and the line that tests them finds them and every test of tests/test_packaging.py. (Those tests
    themselves run in make test, on files made by this same build line: running them here too would be that work twice.)"""
    pytest.importorskip("build", reason="`build` comes with the dev extra")
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=COPY_IGNORE, symlinks=True)
    lines = make_recipe("dist", Path(sys.executable).parent)
    assert [" -m build " in line for line in lines] == [True, False] and "tests/test_packaging.py" in lines[1], lines
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIT_TUTORIAL_DIST", "PYTEST_XDIST_WORKER")}
    env["PYTHONPATH"] = str(src)
    for line in (lines[0], f"{lines[1]} --collect-only -q"):
        result = subprocess.run(line, shell=True, cwd=src, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"`{line}` failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert sorted(p.name for p in (src / "dist").iterdir()) == [f"vit_tutorial-{VERSION}-py3-none-any.whl", f"vit_tutorial-{VERSION}.tar.gz"]
    collected = int(re.search(r"(\d+) tests? collected", result.stdout).group(1))
    assert collected == len(re.findall(r"(?m)^def test_", (ROOT / "tests" / "test_packaging.py").read_text())), result.stdout[-2000:]


# ----------------------------------------------------------------------------- citation


def _cff_errors(data: dict) -> list[str]:
    import jsonschema

    schema = json.loads(CFF_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


def _citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def test_citation_cff_validates():
    schema = json.loads(CFF_SCHEMA.read_text(encoding="utf-8"))
    assert schema["$id"] == "https://citation-file-format.github.io/1.2.0/schema.json"
    citation = _citation()
    assert citation["cff-version"] == "1.2.0"
    assert _cff_errors(citation) == []


@pytest.mark.parametrize("breakage", ["no authors", "unknown key", "licence not SPDX", "bad url"])
def test_cff_validation_catches_a_broken_citation(breakage):
    citation = copy.deepcopy(_citation())
    if breakage == "no authors":
        del citation["authors"]
    elif breakage == "unknown key":
        citation["autors"] = citation["authors"]
    elif breakage == "licence not SPDX":
        citation["license"] = ["MIT", "Creative Commons"]
    else:
        citation["repository-code"] = "github.com/no-scheme"
    assert _cff_errors(citation), breakage


def test_citation_and_zenodo_say_the_same():
    citation = _citation()
    zenodo = json.loads((ROOT / ".zenodo.json").read_text(encoding="utf-8"))
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert citation["title"] == zenodo["title"] == config["title"]
    assert [a["name"] for a in citation["authors"]] == [c["name"] for c in zenodo["creators"]] == [config["author"]]
    assert set(citation["keywords"]) == set(zenodo["keywords"])
    assert sorted(citation["license"]) == ["CC-BY-4.0", "MIT"]
    assert zenodo["upload_type"] == "software" and zenodo["license"] == "cc-by-4.0" and zenodo["access_right"] == "open"
    assert "MIT" in zenodo["description"] and "CC BY 4.0" in zenodo["description"]
    # the version lives in vit_tutorial/__init__.py only: Zenodo takes it from the release's tag
    assert "version" not in citation and "date-released" not in citation and "version" not in zenodo


def test_readme_and_intro_say_how_to_cite():
    readme = (ROOT / "README.md").read_text()
    intro = (ROOT / "book" / "intro.md").read_text()
    for text in (readme, intro):
        assert "CITATION.cff" in text and "@software{vit_tutorial," in text and "Zenodo" in text
    assert "## How to cite" in readme and "## How to cite this book" in intro


# ----------------------------------------------------------------------------- licences


def test_both_licences_are_stated_everywhere():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Licences", 1)[1].split("\n## ", 1)[0]
    assert "[MIT licence](LICENSE)" in section and "CC BY 4.0" in section and "(LICENSE-CC-BY-4.0)" in section
    assert "usual licence of open textbooks" in section, "the README says why CC BY 4.0"
    footer = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["extra_footer"]
    assert "MIT licence" in footer and "CC BY 4.0" in footer
    assert "Sample photos: scikit-image (CC0 / public domain)" in footer, "the sample photos' credit stays in the footer"
    assert "CC BY 4.0" in (ROOT / "book" / "intro.md").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'license = "MIT AND CC-BY-4.0"' in pyproject
    credits_ = (ROOT / "vit_tutorial" / "data" / "CREDITS.md").read_text()
    assert "chelsea.png" in credits_ and "WordNet" in credits_, "the third-party credits stay"


# ----------------------------------------------------------------------------- the footer extension, alone


def test_weights_are_read_from_printed_outputs_only():
    from docutils import nodes

    doc = nodes.section()
    code = nodes.literal_block(text="print('[vit_tutorial] weights: pretrained (a)')", classes=["highlight-ipython3"])
    out = nodes.literal_block(
        text="[vit_tutorial] weights: random (google/vit-base-patch16-224 architecture) - asked for\n[vit_tutorial] These are RANDOM weights",
        classes=["output", "stream"],
    )
    again = nodes.literal_block(text="[vit_tutorial] weights: random (google/vit-base-patch16-224 architecture)", classes=["output"])
    tiny = nodes.literal_block(text="[vit_tutorial] weights: tiny-digits (vit_tutorial/data/weights/x)", classes=["output", "stream"])
    doc += [code, out, again, tiny]
    assert ext.weights_in(doc) == [("random", "google/vit-base-patch16-224 architecture"), ("tiny-digits", "vit_tutorial/data/weights/x")]


def test_footer_words_for_pages_with_and_without_a_model():
    random_ = ("random", "google/vit-base-patch16-224 architecture")
    pretrained = ("pretrained", "google/vit-base-patch16-224")
    tiny = ("tiny-digits", "vit_tutorial/data/weights/tiny")
    book = {"a": [pretrained], "b": [pretrained], "c": [tiny], "intro": []}
    assert ext.describe_weights([pretrained], book) == "weights: pretrained (google/vit-base-patch16-224)"
    assert ext.describe_weights([random_], book) == "weights: random (google/vit-base-patch16-224 architecture, not trained)"
    assert ext.describe_weights([], book) == "weights of the chapters: pretrained (google/vit-base-patch16-224)"
    mixed = {"a": [random_], "b": [random_], "c": [pretrained]}
    assert ext.describe_weights([], mixed) == (
        "weights of the chapters: random (google/vit-base-patch16-224 architecture, not trained) on 2 pages; pretrained (google/vit-base-patch16-224) on 1 page"
    )
    assert ext.describe_weights([], {"c": [tiny]}) == "weights: none loaded in this build"


def test_footer_markup_is_escaped():
    html = ext.footer_html("1.0<b>", "v1.0", "2026-01-01", "weights: a & b", "https://x.org/b/", "p.html")
    assert "1.0&lt;b&gt;" in html and "weights: a &amp; b" in html and 'data-site-root="https://x.org/b/"' in html


def test_book_version_and_date_from_the_environment(monkeypatch):
    monkeypatch.delenv(ext.BOOK_VERSION_ENV, raising=False)
    assert ext.book_version() == "latest"
    monkeypatch.setenv(ext.BOOK_VERSION_ENV, "v0.2")
    assert ext.book_version() == "v0.2"
    monkeypatch.setenv(ext.BOOK_VERSION_ENV, "0.2")
    with pytest.raises(ExtensionError, match="vMAJOR.MINOR"):
        ext.book_version()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    assert ext.build_date() == "2026-05-28"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert ext.build_date() == datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert ext.package_version() == VERSION and ext.book_url() == BOOK_URL


def test_book_config_loads_the_extensions_and_the_card():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "sphinxext.opengraph" in config["sphinx"]["extra_extensions"]
    assert config["sphinx"]["local_extensions"]["release"] == "book/_ext"
    sphinx = config["sphinx"]["config"]
    assert sphinx["ogp_social_cards"] == {"enable": False}, "no card generator: the card is the book's own figure"
    card = ROOT / "book" / "_static" / Path(sphinx["ogp_image"]).name
    assert sphinx["ogp_image"] == "_static/social-card.png" and card.is_file()
    from PIL import Image

    with Image.open(card) as image:
        assert image.size == (1200, 630) and image.info.get("Software", "").startswith("tools/social_card.py")
    for tag in ('og:image:width" content="1200"', 'og:image:height" content="630"'):
        assert any(tag in t for t in sphinx["ogp_custom_meta_tags"])


@pytest.mark.slow
def test_social_card_tool_draws_the_card_and_keeps_other_files(tmp_path):
    out = tmp_path / "card.png"
    run = [sys.executable, str(ROOT / "tools" / "social_card.py"), "--out", str(out)]
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(run, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    from PIL import Image

    with Image.open(out) as image:
        assert image.size == (1200, 630)
    other = tmp_path / "mine.png"
    other.write_bytes(b"not the tool's")
    result = subprocess.run(run[:-1] + [str(other)], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 1 and "--force" in result.stderr and other.read_bytes() == b"not the tool's"


# ----------------------------------------------------------------------------- a small book, built


def _jupyter_book() -> str:
    path = Path(sys.executable).parent / "jupyter-book"
    found = str(path) if path.exists() else shutil.which("jupyter-book")
    if found is None:
        pytest.skip("jupyter-book is not installed (it comes with the dev extra)")
    return found


SMALL_PAGES = ("book/intro", "book/01_chapter", "book/notes")


@pytest.fixture(scope="module")
def small_book(tmp_path_factory) -> Path:
    """The real _config.yml (execution off) over three pages: an introduction, a chapter notebook whose
    stored output names its weights, a page without a model. Built as book version v0.2 on the day of
    EPOCH; returns the HTML folder. Built once in a test run: the first xdist worker to need it builds it under a
    lock, in the folder the workers share, and the others take that build (pytest-xdist's recipe); its tests all
    run in the browser phase."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's, above each worker's own
    html = shared / "small-book-out" / "_build" / "html"
    with FileLock(str(shared / "small-book.lock")):
        if not (shared / "small-book.built").exists():
            shutil.rmtree(shared / "small-book", ignore_errors=True)  # a build that failed half-way
            shutil.rmtree(shared / "small-book-out", ignore_errors=True)
            _build_small_book(shared / "small-book", shared / "small-book-out")
            (shared / "small-book.built").touch()
    return html


def _build_small_book(proj: Path, out: Path) -> None:
    proj.mkdir()
    (proj / "book").mkdir()
    for name in ("_ext", "_static"):  # linked: the extension finds the repository (version, address) from its own file
        (proj / "book" / name).symlink_to(ROOT / "book" / name, target_is_directory=True)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    config["bibtex_bibfiles"] = ["book/refs.bib"]
    (proj / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    (proj / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/01_chapter\n  - file: book/notes\n")
    (proj / "book" / "refs.bib").write_text("@misc{x, title={X}, author={A, B}, year={2020}}\n")
    (proj / "book" / "intro.md").write_text("# A small book\n\nThe first paragraph says what the book is about.\n")
    (proj / "book" / "notes.md").write_text("# Notes\n\nA page without a model names the chapters' weights.\n")
    stream = ["[vit_tutorial] weights: random (google/vit-base-patch16-224 architecture) - asked for\n", "[vit_tutorial] These are RANDOM weights: ...\n"]
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}, "language_info": {"name": "python"}},
        "cells": [
            {"cell_type": "markdown", "id": "a", "metadata": {}, "source": ["# A chapter\n\nIt loads the model first."]},
            {
                "cell_type": "code",
                "id": "b",
                "metadata": {},
                "execution_count": 1,
                "source": ["model, processor, source = vt.load_model()"],
                "outputs": [{"output_type": "stream", "name": "stdout", "text": stream}],
            },
        ],
    }
    # built twice: first with the chapter's output naming pretrained weights, then (only the notebook changed) random
    # ones. The second, incremental build must rewrite every page's footer (release.py's env-updated handler), not
    # only the chapter's, or the other pages keep "weights of the chapters: pretrained".
    # the output outside the project: sphinx-external-toc excludes every file the toc does not list, so an output folder
    # inside would change the config (exclude_patterns) between the two builds and force a full rebuild anyway
    out.mkdir()
    pretrained = ["[vit_tutorial] weights: pretrained (google/vit-base-patch16-224) - found in the local HuggingFace cache\n"]
    for printed in (pretrained, stream):
        notebook["cells"][1]["outputs"][0]["text"] = printed
        (proj / "book" / "01_chapter.ipynb").write_text(json.dumps(notebook, indent=1))
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH), ext.BOOK_VERSION_ENV: "v0.2", "PYTHONPATH": str(ROOT)}
        result = subprocess.run(
            [_jupyter_book(), "build", str(proj), "--path-output", str(out), "-W", "-n", "--keep-going"],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        assert result.returncode == 0, f"the small book did not build:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"


def page_meta(path: Path) -> dict[str, str]:
    return dict(META.findall(path.read_text(encoding="utf-8")))


def check_sharing_and_footer(html: Path, pages, book_version: str, built: str | None = None) -> dict[str, str]:
    """og:title, og:description, og:image (inside the book) and the release footer on every page; returns the weights lines."""
    site = f"{BOOK_URL}{book_version}/"
    weights = {}
    problems = []
    for page in pages:
        path = html / f"{page}.html"
        text = path.read_text(encoding="utf-8")
        meta = page_meta(path)
        for tag in ("og:title", "og:description", "og:image"):
            if not meta.get(tag, "").strip():
                problems.append(f"{page}: no {tag}")
        image = meta.get("og:image", "")
        if not image.startswith(site) or not (html / image[len(site) :]).is_file():
            problems.append(f"{page}: og:image {image!r} does not point at a file inside the book ({site})")
        if meta.get("og:url") != f"{site}{page}.html":
            problems.append(f"{page}: og:url is {meta.get('og:url')!r}")
        footer = re.search(r'<p class="vt-release-line">(.*?)</p>', text, re.S)
        if not footer:
            problems.append(f"{page}: no release line in the footer")
            continue
        line = re.sub(r"<[^>]+>", "", footer.group(1))
        if f"vit-tutorial {VERSION} (book: {book_version})" not in line:
            problems.append(f"{page}: the footer does not name version {VERSION} / book {book_version}: {line!r}")
        found_date = re.search(r"built (\d{4}-\d{2}-\d{2})", line)
        if not found_date or (built and found_date.group(1) != built):
            problems.append(f"{page}: the footer's build date is missing or wrong: {line!r}")
        found_weights = re.search(r"(weights[^·]*)$", line)
        if not found_weights:
            problems.append(f"{page}: the footer does not name the weights: {line!r}")
        else:
            weights[page] = found_weights.group(1).strip()
        if "CC BY 4.0" not in text.split('class="vt-release"', 1)[1] or "MIT licence" not in text.split('class="vt-release"', 1)[1]:
            problems.append(f"{page}: the footer does not state the licences")
    assert not problems, "\n".join(problems)
    return weights


@pytest.mark.slow
@pytest.mark.browser  # no browser, but beside the switcher's tests: the small book is built once, for all three
def test_small_book_shares_and_names_its_release(small_book):
    weights = check_sharing_and_footer(small_book, SMALL_PAGES, "v0.2", built="2026-05-28")
    assert weights["book/01_chapter"] == "weights: random (google/vit-base-patch16-224 architecture, not trained)"
    assert weights["book/notes"] == weights["book/intro"] == "weights of the chapters: random (google/vit-base-patch16-224 architecture, not trained)"
    meta = page_meta(small_book / "book" / "intro.html")
    assert meta["og:title"] == "A small book" and meta["og:description"] == "The first paragraph says what the book is about."
    assert meta["og:site_name"] == yaml.safe_load((ROOT / "_config.yml").read_text())["title"]
    assert meta["twitter:card"] == "summary_large_image"
    release = json.loads((small_book / "release.json").read_text())
    assert release == {"version": VERSION, "book_version": "v0.2", "built": "2026-05-28", "site": BOOK_URL, "weights": weights["book/notes"]}
    assert (small_book / "_static" / "release.js").is_file()
    assert 'src="../_static/release.js' in (small_book / "book" / "notes.html").read_text()


def test_sharing_check_can_fail(tmp_path):
    """The page check above rejects a page whose og:image points off the book, or whose footer lacks the weights."""
    (tmp_path / "book").mkdir()
    site = f"{BOOK_URL}latest/"
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "card.png").write_bytes(b"png")
    good = (
        f'<meta property="og:title" content="T" /><meta property="og:description" content="D" />'
        f'<meta property="og:image" content="{site}_static/card.png" /><meta property="og:url" content="{site}book/p.html" />'
        f'<div class="vt-release"><p class="vt-release-line">vit-tutorial {VERSION} (book: latest) · built 2026-01-01 · '
        "weights: random (x, not trained)</p></div><p>MIT licence. CC BY 4.0</p>"
    )
    (tmp_path / "book" / "p.html").write_text(good)
    assert check_sharing_and_footer(tmp_path, ["book/p"], "latest") == {"book/p": "weights: random (x, not trained)"}
    for bad in (
        good.replace(f"{site}_static/card.png", "https://elsewhere.org/card.png"),
        good.replace("weights: random (x, not trained)", ""),
        good.replace('<meta property="og:description" content="D" />', ""),
    ):
        (tmp_path / "book" / "p.html").write_text(bad)
        with pytest.raises(AssertionError):
            check_sharing_and_footer(tmp_path, ["book/p"], "latest")


# ----------------------------------------------------------------------------- the version switcher, in Chromium


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    servers = []

    def start(folder: Path) -> str:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _open(chromium, url: str):
    """A page opened with every request, console error and page error recorded (off-machine requests aborted)."""
    record = {"requests": [], "errors": [], "failed": []}
    context = chromium.new_context()
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(("http://127.0.0.1", "file:", "data:"))
            else (record["failed"].append(route.request.url), route.abort())
        ),
    )
    page = context.new_page()
    page.on("request", lambda request: record["requests"].append(request.url))
    page.on(
        "console",
        lambda message: record["errors"].append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: record["errors"].append(str(error)))
    page.on("requestfailed", lambda request: record["failed"].append(f"{request.method} {request.url} {request.failure}"))
    page.goto(url, wait_until="load")
    page.wait_for_timeout(500)  # the switcher's script runs at DOMContentLoaded; give any request it made time to show
    return context, page, record


@pytest.mark.slow
@pytest.mark.browser  # headless Chromium: the browser phase of make test
def test_switcher_asks_nothing_off_the_published_site(small_book, chromium, serve):
    root = serve(small_book)
    for url in (f"{root}book/notes.html", (small_book / "book" / "notes.html").as_uri()):
        context, page, record = _open(chromium, url)
        try:
            assert not [u for u in record["requests"] if "switcher.json" in u], record["requests"]
            assert record["errors"] == [] and record["failed"] == [], record
            assert page.locator(".vt-versions").is_hidden()
            assert "vit-tutorial " + VERSION in page.locator(".vt-release-line").inner_text()
        finally:
            context.close()


@pytest.mark.slow
@pytest.mark.browser  # headless Chromium: the browser phase of make test
def test_switcher_lists_the_published_versions_and_switches(small_book, chromium, serve, tmp_path):
    """A copy of the published site on a local server: latest/ and v0.2/ with switcher.json beside them."""
    site = tmp_path / "site"
    site.mkdir()
    root = serve(site)
    for name in ("latest", "v0.2"):
        shutil.copytree(small_book, site / name)
        for page in (site / name).rglob("*.html"):  # as if the book's address were this server's
            page.write_text(page.read_text(encoding="utf-8").replace(f'data-site-root="{BOOK_URL}"', f'data-site-root="{root}"'), encoding="utf-8")
    release_tool.write_site(site, root)
    context, page, record = _open(chromium, f"{root}v0.2/book/notes.html")
    try:
        switcher = page.locator(".vt-versions select")
        switcher.wait_for(state="visible", timeout=15_000)
        assert switcher.locator("option").all_inner_texts() == [f"latest ({VERSION})", f"v0.2 ({VERSION})"]
        assert switcher.input_value() == f"{root}v0.2/"
        with page.expect_navigation(timeout=15_000):
            switcher.select_option(f"{root}latest/")
        assert page.url == f"{root}latest/book/notes.html"
        assert record["errors"] == [] and record["failed"] == [], record
    finally:
        context.close()


# ----------------------------------------------------------------------------- the built book


@pytest.mark.browser
def test_every_built_page_shares_and_names_its_release():
    """On the whole built book (make test builds it before its browser phase): every page of the table of contents."""
    from test_browser import PAGES, html_dir, unavailable

    html = html_dir()
    if not (html / "index.html").is_file():
        unavailable(f"no built book at {html} (set VIT_TUTORIAL_BOOK_HTML, or build it with `jupyter-book build . -W -n --keep-going`)")
    release = json.loads((html / "release.json").read_text())
    weights = check_sharing_and_footer(html, PAGES, release["book_version"], built=release["built"])
    chapters = [p for p in PAGES if re.match(r"book/\d\d_", p) and p != "book/10_training"]  # ch10 trains the shipped tiny model only
    assert all(weights[p].startswith("weights: ") and "google/vit-base-patch16-224" in weights[p] for p in chapters), weights
    assert weights[PAGES[0]] == release["weights"] and release["weights"].startswith("weights of the chapters: ")
