"""The package's layout, read with ``ast``: no import circle, chapters import only earlier chapters, small modules.

The top level of ``vit_tutorial`` reads like the book's table of contents: one module per chapter
(:data:`CHAPTER_OF`, in the order of ``_toc.yml``), a few shared modules, two command-line entry
points, and rooms (sub-packages) for everything else. Every import counts, also one written inside
a function: a circle hidden in a function is still a circle.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vit_tutorial"
MAX_LINES = 400

# chapter module -> the notebook of the chapter that introduces it (DESIGN.md's table)
CHAPTER_OF = {
    "model": "01_meet_the_model",
    "images": "01_meet_the_model",
    "patches": "02_patch_embeddings",
    "embeddings": "03_cls_position_dropout",
    "attention": "04_attention",
    "layernorm": "05_layernorm",
    "residual": "06_residual",
    "mlp": "07_mlp_encoder",
    "encoder": "07_mlp_encoder",
    "head": "08_pooler",
    "scratch": "09_classifier",
    "training": "10_training",
    "tiny": "10_training",  # the tiny digits ViT: trained in appendix A2, first used in chapter 10
    "insights": "A1_what_the_model_learned",
    "javascript": "A4_vit_in_javascript",  # the browser's ViT (explorers/js/vit.js), read from the shipped file
}
SHARED = {"primitives", "bridge", "tolerance", "listing"}  # any chapter may import these (they import no chapter)
ENTRY_POINTS = {"grade", "student"}  # ``python -m vit_tutorial.grade`` / ``.student``
ROOMS_FOR_CHAPTERS = {"weights", "inputs"}  # the rooms a chapter module may use (they import no chapter)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def _resolve(importer: str, node: ast.ImportFrom) -> list[str]:
    """The package modules an ``from ... import ...`` statement loads (a submodule named in the list counts)."""
    if node.level:
        package = importer if MODULES[importer].name == "__init__.py" else importer.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    found = []
    for alias in node.names:
        if f"{base}.{alias.name}" in MODULES:
            found.append(f"{base}.{alias.name}")
        elif base in MODULES:
            found.append(base)
    return found


def _imports(name: str) -> set[str]:
    """Every module of the package that module ``name`` imports, wherever the import is written."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            found.update(_resolve(name, node))
    found.discard(name)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _toc_order() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [Path(c["file"]).name for part in toc["parts"] for c in part["chapters"]]


def _top(name: str) -> str:
    return name.split(".")[1] if name.count(".") else ""


def test_the_graph_sees_imports_inside_functions():
    """The reader of the graph can fail: a function-level import is an edge (head reads its labels lazily in no way
    hidden from it), and a relative import inside a room resolves to the room's module."""
    assert "vit_tutorial.weights.checkpoint" in GRAPH["vit_tutorial.head"]
    assert "vit_tutorial.weights.random_weights" in GRAPH["vit_tutorial.weights.trained_like"]  # inside a function
    assert "vit_tutorial.exercises._shared" in GRAPH["vit_tutorial.exercises.mlp"]


def test_no_import_circle():
    """No module reaches itself through the imports of others (Tarjan's strongly connected components)."""
    index, low, stack, on_stack, circles, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    assert not circles, f"import circles: {circles}"


def test_the_top_level_reads_like_the_table_of_contents():
    """Every top-level module is a chapter's, a shared one or an entry point; everything else lives in a room."""
    top_level = {name.split(".")[1] for name, path in MODULES.items() if name.count(".") == 1 and path.name != "__init__.py"}
    unplaced = top_level - set(CHAPTER_OF) - SHARED - ENTRY_POINTS
    assert not unplaced, f"top-level modules that are no chapter's: {sorted(unplaced)} (put them in a room, or in CHAPTER_OF)"
    assert set(CHAPTER_OF) <= top_level, f"chapter modules missing: {sorted(set(CHAPTER_OF) - top_level)}"
    toc = _toc_order()
    assert {f"{nb}" for nb in CHAPTER_OF.values()} <= set(toc), "every chapter of CHAPTER_OF is in _toc.yml"


def test_chapters_import_only_earlier_chapters_shared_modules_and_the_infrastructure_rooms():
    toc = _toc_order()
    position = {module: toc.index(nb) for module, nb in CHAPTER_OF.items()}
    wrong = []
    for module, chapter in position.items():
        for imported in GRAPH[f"vit_tutorial.{module}"]:
            top = _top(imported)
            if top in position and position[top] > chapter:
                wrong.append(f"{module} ({CHAPTER_OF[module]}) imports {top} ({CHAPTER_OF[top]}), a later chapter")
            elif top not in position and top not in SHARED and top not in ROOMS_FOR_CHAPTERS:
                wrong.append(f"{module} imports {imported}, which is not a chapter's, a shared module or {sorted(ROOMS_FOR_CHAPTERS)}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("room", sorted(SHARED | ROOMS_FOR_CHAPTERS))
def test_shared_modules_and_infrastructure_rooms_import_no_chapter(room):
    """What every chapter may use must not lean on a chapter (that would be a circle waiting to happen)."""
    members = [name for name in MODULES if _top(name) == room]
    assert members, room
    leaning = sorted(f"{name} -> {imported}" for name in members for imported in GRAPH[name] if _top(imported) in CHAPTER_OF)
    assert not leaning, leaning


def _parse_cell(source: str) -> ast.Module:
    """A code cell as Python (each IPython magic or shell line read as ``pass``)."""
    lines = [line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
             for line in source.splitlines()]
    return ast.parse("\n".join(lines))


def test_no_notebook_uses_a_chapter_module_before_its_chapter():
    """The book's order is the package's: a notebook imports no chapter module that a later chapter introduces."""
    toc = _toc_order()
    early = []
    for notebook in sorted((ROOT / "book").glob("*.ipynb")):
        if notebook.stem not in toc:
            continue
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        nodes = [node for c in cells if c["cell_type"] == "code" for node in ast.walk(_parse_cell("".join(c["source"])))]
        for node in nodes:
            names = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vit_tutorial"):
                names = [node.module.split(".")[1]] if node.module.count(".") else [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name.split(".")[1] for a in node.names if a.name.startswith("vit_tutorial.")]
            for name in names:
                if name in CHAPTER_OF and toc.index(CHAPTER_OF[name]) > toc.index(notebook.stem):
                    early.append(f"{notebook.name} imports {name}, introduced in {CHAPTER_OF[name]}")
    assert not early, "\n".join(early)


@pytest.mark.parametrize("suffix", [".py", ".js"])
def test_no_module_over_400_lines(suffix):
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob(f"*{suffix}")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by what they do): {long}"
