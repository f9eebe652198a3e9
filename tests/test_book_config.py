"""The book's configuration: strict cached execution, reader features, citations, Binder/Colab.

Fast checks on the source files (no build, no browser); the browser test checks the result.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from test_browser import toc_pages

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
PAGES = toc_pages()
NOTEBOOKS = [p for p in PAGES if (ROOT / f"{p}.ipynb").is_file()]
# Papers the issue asks the bibliography to hold (cited where the text uses them).
REQUIRED_KEYS = [
    "dosovitskiy2021vit",
    "vaswani2017attention",
    "ba2016layernorm",
    "hendrycks2016gelu",
    "he2016resnet",
    "abnar2020rollout",
    "kumar2022lpft",  # chapter 10: random-head gradients distort features; LP-FT
    "touvron2021deit",  # chapter 10's counterpoint
    "steiner2022howtotrain",
]
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


def bib_keys() -> set[str]:
    keys = set()
    for bib in CONFIG["bibtex_bibfiles"]:
        keys |= set(re.findall(r"^@\w+\{\s*([^,\s]+)\s*,", (ROOT / bib).read_text(), flags=re.M))
    return keys


def page_text(page: str) -> str:
    md = ROOT / f"{page}.md"
    if md.is_file():
        return md.read_text()
    nb = json.loads((ROOT / f"{page}.ipynb").read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_execution_is_strict_and_cached():
    execute = CONFIG["execute"]
    assert execute["execute_notebooks"] == "cache", "notebooks must be cached (a no-op rebuild runs nothing)"
    assert execute["raise_on_error"] is True and execute["allow_errors"] is False, "a notebook error must fail the build"
    # nbmake leaves .pytest_cache/README.md behind, which a strict build would reject as an orphan page
    assert ".pytest_cache" in CONFIG["exclude_patterns"]
    assert CONFIG.get("only_build_toc_files") is True


def test_reader_buttons():
    launch = CONFIG["launch_buttons"]
    assert launch["binderhub_url"].startswith("https://") and launch["colab_url"].startswith("https://")
    html = CONFIG["html"]
    assert html["use_repository_button"] and html["use_download_button"]
    assert CONFIG["repository"]["url"].startswith("https://github.com/")


def test_local_extensions_exist():
    for name, path in CONFIG["sphinx"].get("local_extensions", {}).items():
        assert (ROOT / path / f"{name}.py").is_file(), f"local extension {name} not found in {path}"


def test_every_toc_page_exists():
    missing = [p for p in PAGES if not any((ROOT / f"{p}{ext}").is_file() for ext in (".md", ".ipynb"))]
    assert not missing, f"_toc.yml lists pages that do not exist: {missing}"


def test_bibliography_holds_the_papers():
    missing = [k for k in REQUIRED_KEYS if k not in bib_keys()]
    assert not missing, f"references.bib lacks {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_citations_resolve(page):
    keys = bib_keys()
    cited = {k.strip() for group in CITE.findall(page_text(page)) for k in group.split(",")}
    unknown = sorted(cited - keys)
    assert not unknown, f"{page} cites keys missing from references.bib: {unknown}"


@pytest.mark.parametrize("page", NOTEBOOKS)
def test_notebook_first_cell_installs_the_package(page):
    """On Colab (or anywhere vit_tutorial is missing) the first code cell installs it; the book hides it."""
    nb = json.loads((ROOT / f"{page}.ipynb").read_text())
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    source = "".join(first["source"])
    assert "remove-cell" in first["metadata"].get("tags", []), f"{page}: install cell must be tagged remove-cell"
    assert "import vit_tutorial" in source and "pip install" in source, f"{page}: first code cell must install vit_tutorial"
    assert "except ImportError" in source, f"{page}: install only when the package is missing"


def test_binder_installs_the_package():
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post and " -e ." in post, "binder/postBuild must install vit_tutorial"
    assert os.access(ROOT / "binder" / "postBuild", os.X_OK), "binder/postBuild must be executable"
    reqs = (ROOT / "binder" / "requirements.txt").read_text()
    assert "download.pytorch.org/whl/cpu" in reqs, "Binder should get torch's CPU build"


def test_install_browser_script():
    script = ROOT / ".ci" / "install-browser"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert "chromium-driver" in text and "apt-get update" in text


def _title(page: str) -> str:
    """The first `# ` heading of a page of the table of contents (a notebook's or a Markdown file's)."""
    path = ROOT / f"{page}.ipynb"
    if path.is_file():
        text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                         if c["cell_type"] == "markdown")
    else:
        text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
    return next(line[2:].strip() for line in text.splitlines() if line.startswith("# "))


def test_chapters_and_appendices_are_numbered_in_the_order_of_the_table_of_contents():
    """Each page's number (1., 2., ... A1., A2., ...) is its place in the table of contents: a new appendix
    renumbers the ones after it (once A4 became the JavaScript ViT, notation and the glossary kept A4 and A5)."""
    numbers = [m.group(1) for m in (re.match(r"(A?\d+)\. ", _title(p)) for p in PAGES) if m]
    chapters = [n for n in numbers if not n.startswith("A")]
    appendices = [n for n in numbers if n.startswith("A")]
    assert chapters == [str(i) for i in range(1, len(chapters) + 1)], numbers
    assert appendices == [f"A{i}" for i in range(1, len(appendices) + 1)], numbers
    assert len(chapters) >= 10 and len(appendices) >= 6, numbers
