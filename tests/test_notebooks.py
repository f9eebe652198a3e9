"""The notebooks as files: committed without outputs, all in the table of contents, Colab-ready.

(Executing them is the strict book build of the README's test command, and `make check` runs the ones you changed.)
"""
import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def _toc_files() -> list[str]:
    text = (ROOT / "_toc.yml").read_text()
    root = re.search(r"^root:\s*(\S+)", text, re.M).group(1)
    return [root] + re.findall(r"^\s*-\s*file:\s*(\S+)", text, re.M)  # commented lines don't match


def test_there_are_notebooks():
    assert NOTEBOOKS, "book/ holds no notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing (the book build executes notebooks)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_in_the_table_of_contents(path):
    assert f"book/{path.stem}" in _toc_files(), f"{path.name} is not listed in _toc.yml"


def test_every_toc_entry_exists():
    for entry in _toc_files():
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".ipynb", ".md")), f"_toc.yml lists {entry}, which does not exist"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_the_package_on_colab(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert "remove-cell" in first.get("metadata", {}).get("tags", []), f"{path.name}: the install cell should be hidden in the book"
    assert "pip install" in "".join(first["source"]) and "import vit_tutorial" in "".join(first["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solutions_live_in_tagged_cells(path):
    """Each {solution-start} is followed by a code cell tagged `solution` (so the student copy can remove it)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "markdown" and "{solution-start}" in "".join(cell["source"]):
            nxt = cells[i + 1]
            assert nxt["cell_type"] == "code" and "solution" in nxt.get("metadata", {}).get("tags", []), (
                f"{path.name}: cell {i + 1} after a solution-start must be a code cell tagged 'solution'"
            )


CHAPTERS = [p for p in NOTEBOOKS if re.match(r"\d\d_", p.name)]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_a_captioned_figure(path):
    """Static figures carry `mystnb.figure` metadata, so the book numbers and captions them."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    figures = [c["metadata"]["mystnb"]["figure"] for c in nb["cells"]
               if c["cell_type"] == "code" and c.get("metadata", {}).get("mystnb", {}).get("figure")]
    assert any(f.get("caption", "").strip() for f in figures), f"{path.name}: no code cell has a mystnb.figure.caption"
    for f in figures:
        assert f.get("name", "").startswith("fig-"), f"{path.name}: figure {f} needs a name 'fig-...'"


def test_figure_names_are_unique():
    names = [c["metadata"]["mystnb"]["figure"].get("name") for p in NOTEBOOKS
             for c in json.loads(p.read_text(encoding="utf-8"))["cells"]
             if c.get("metadata", {}).get("mystnb", {}).get("figure")]
    assert len(names) == len(set(names)), f"duplicate figure names: {sorted(n for n in set(names) if names.count(n) > 1)}"


FIGURE_CELLS = [
    (p, c) for p in NOTEBOOKS for c in json.loads(p.read_text(encoding="utf-8"))["cells"]
    if c["cell_type"] == "code" and c.get("metadata", {}).get("mystnb", {}).get("figure")
]


@pytest.mark.parametrize("path,cell", FIGURE_CELLS, ids=lambda x: x.name if isinstance(x, Path) else x["metadata"]["mystnb"]["figure"]["name"])
def test_every_figure_has_alt_text_saying_what_it_shows(path, cell):
    """`mystnb.image.alt` (myst-nb puts it on the <img>): what a screen reader says instead of the picture.
    It describes the picture, so it is more than a few words and neither a figure number nor the caption again."""
    mystnb = cell["metadata"]["mystnb"]
    alt = mystnb.get("image", {}).get("alt", "").strip()
    name = mystnb["figure"]["name"]
    assert alt, f"{path.name}: figure {name} has no mystnb.image.alt"
    assert len(alt.split()) >= 8, f"{path.name}: figure {name}'s alt text is too short to say what it shows: {alt!r}"
    assert not re.match(r"(?i)^(fig(ure)?\.?\s*\d|image|plot|chart)\W*$", alt), f"{path.name}: {name}: {alt!r} says nothing"
    assert alt != mystnb["figure"].get("caption", "").strip(), f"{path.name}: {name}'s alt text repeats its caption"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_that_draws_has_alt_text(path):
    """A picture outside a captioned figure (A3's run-time chart) needs its alt text too."""
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "plt.show()" in source:
            alt = cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt", "").strip()
            assert len(alt.split()) >= 8, f"{path.name}: the cell drawing {source.splitlines()[0]!r} has no alt text"


def test_there_are_figure_cells():
    assert FIGURE_CELLS, "no code cell carries mystnb.figure: the alt-text test above would check nothing"
