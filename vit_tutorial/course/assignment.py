"""What a chapter asks of a student, read from the book's own notebook, never from a submission.

An :class:`Assignment` lists the chapter's checks in the book's order: every ``check_*(...)``
call in a code cell that is not a solution, with the source of its arguments (the first one
names the student's function, e.g. ``patchify``; the others, e.g. ``model``, are things the
grader provides itself). It also keeps the book's check cells (to restore them in a
submission) and what the book's student-visible cells import (a submission importing more
from ``vit_tutorial`` is flagged, see :mod:`.review`).

Nothing here is hard-coded per chapter: a chapter that gains an exercise gains a check here.
"""
from __future__ import annotations

import ast
import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .notebooks import METADATA_KEY, cell_text, check_calls, is_solution
from .numbering import cell_exercise_numbers

_CHECK_NAME = re.compile(r"^check_\w+$")


def python_source(source: str) -> str:
    """A cell's source with IPython syntax (``%time``, ``!ls``) turned into Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - IPython missing or odd input
        return source


@dataclass
class Check:
    """One ``check_<name>(fn, *args, **kwargs)`` call of the book."""

    name: str  # "check_patchify"
    function: str  # source of the first argument: "patchify"
    args: list[str] = field(default_factory=list)  # sources of the other positional arguments: ["model"]
    kwargs: dict[str, str] = field(default_factory=dict)
    cell_id: str | None = None
    number: str | None = None  # the exercise it checks, as the book numbers it: "4.2" (see .numbering)

    @property
    def exercise(self) -> str:
        return self.name.removeprefix("check_")


@dataclass
class Assignment:
    chapter: str
    path: Path
    checks: list[Check]
    check_cells: list[dict]  # the book's code cells that call a check, as the book has them
    book_sources: set[str]  # the sources of the book's student-visible code cells
    book_names: dict[str, set[str]]  # function -> dotted vit_tutorial names the book uses in it (solutions too)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)


def _calls(source: str) -> list[ast.Call]:
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name and _CHECK_NAME.match(name):
                out.append(node)
    return sorted(out, key=lambda n: (n.lineno, n.col_offset))


def vit_tutorial_aliases(source: str) -> dict[str, str]:
    """Names a cell binds to something under ``vit_tutorial``: ``{"vt": "vit_tutorial", "ah": "vit_tutorial.attention.f"}``."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return {}
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "vit_tutorial":
                    aliases[(a.asname or a.name).split(".")[0]] = a.name if a.asname else "vit_tutorial"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "vit_tutorial":
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def vit_tutorial_names(source: str, aliases: dict[str, str] | None = None) -> dict[str, set[str]]:
    """Dotted ``vit_tutorial`` names a cell uses, by the function they are used in (``""``: top level).

    ``aliases`` are the notebook's imports (see :func:`vit_tutorial_aliases`); the cell's own are added.
    """
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return {}
    aliases = {**(aliases or {}), **vit_tutorial_aliases(source)}
    used: dict[str, set[str]] = {}

    def visit(node, where):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and where == "":
            where = node.name
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for name in vit_tutorial_aliases(ast.unparse(node)).values():
                used.setdefault(where, set()).add(name)
        if isinstance(node, ast.Attribute):
            parts, inner = [], node
            while isinstance(inner, ast.Attribute):
                parts.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id in aliases:
                used.setdefault(where, set()).add(".".join([aliases[inner.id], *reversed(parts)]))
                return
        if isinstance(node, ast.Name) and node.id in aliases:
            used.setdefault(where, set()).add(aliases[node.id])
        for child in ast.iter_child_nodes(node):
            visit(child, where)

    visit(tree, "")
    return used


def notebook_aliases(cells) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for cell in cells:
        if cell.get("cell_type") == "code":
            aliases.update(vit_tutorial_aliases(cell_text(cell)))
    return aliases


def read_assignment(path: Path, chapter: str | None = None) -> Assignment:
    """The assignment of the book notebook at ``path``."""
    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    checks: list[Check] = []
    check_cells: list[dict] = []
    sources: set[str] = set()
    names: dict[str, set[str]] = {}
    aliases = notebook_aliases(nb.get("cells", []))
    numbers = cell_exercise_numbers(nb, chapter or path.stem)
    for cell, number in zip(nb.get("cells", []), numbers):
        if cell.get("cell_type") != "code":
            continue
        source = cell_text(cell)
        for where, used in vit_tutorial_names(source, aliases).items():
            names.setdefault(where, set()).update(used)
        if is_solution(cell):
            continue
        sources.add(source.strip())
        calls = _calls(source)
        if calls:
            check_cells.append({**copy.deepcopy(cell), "source": source})
        for call in calls:
            name = call.func.id if isinstance(call.func, ast.Name) else call.func.attr
            if any(c.name == name for c in checks) or not call.args:
                continue
            checks.append(Check(name, ast.unparse(call.args[0]), [ast.unparse(a) for a in call.args[1:]],
                                {k.arg: ast.unparse(k.value) for k in call.keywords if k.arg}, cell.get("id"), number))
    return Assignment(chapter or path.stem, path, checks, check_cells, sources, names)


def book_notebooks(book_dir: Path | None) -> dict[str, Path]:
    if book_dir is None or not Path(book_dir).is_dir():
        return {}
    return {p.stem: p for p in sorted(Path(book_dir).glob("*.ipynb"))}


def chapter_from_file_name(path: Path, book: dict[str, Path]) -> str | None:
    """The book chapter a submission's file name names: ``alice_04_attention (2).ipynb`` -> ``04_attention``."""
    stem = Path(path).stem
    if stem in book:
        return stem
    inside = [name for name in book if name in stem]
    if inside:
        return max(inside, key=len)
    number = re.match(r"(?:.*[^0-9A-Za-z])?([0-9]{2}|A[0-9])_", stem)
    if number:
        same = [name for name in book if name.startswith(number.group(1) + "_")]
        if len(same) == 1:
            return same[0]
    return None


def stamped_chapter(nb) -> str | None:
    stamp = (nb.get("metadata") or {}).get(METADATA_KEY)
    chapter = stamp.get("chapter") if isinstance(stamp, dict) else None
    return chapter if isinstance(chapter, str) and chapter else None


def metadata_mismatch(nb, assignment: Assignment) -> str | None:
    """What the submission's metadata claims that differs from the assignment (``None``: nothing)."""
    stamp = (nb.get("metadata") or {}).get(METADATA_KEY)
    if stamp is None:
        return None
    if not isinstance(stamp, dict):
        return f"its metadata '{METADATA_KEY}' is not what the student copy wrote"
    problems = []
    chapter = stamp.get("chapter")
    if chapter != assignment.chapter:
        problems.append(f"chapter {chapter!r}")
    checks = stamp.get("checks")
    if checks != [c.name for c in assignment.checks]:
        problems.append(f"checks {checks!r}")
    if problems:
        return (f"the notebook's metadata says {' and '.join(problems)}, but its file name makes it "
                f"{assignment.chapter} with {len(assignment.checks)} check(s); graded as {assignment.chapter}")
    return None


def restore_check_cells(nb, assignment: Assignment) -> list[str]:
    """Put the book's check cells back into ``nb`` (in place); return notes on what was changed.

    A check cell is matched by cell id, else by the checks it calls. Edited ones get the book's
    source back, deleted ones are inserted after the cell that precedes them in the book (or at
    the end). Other cells that call a check are left alone: the grader runs its own checks.
    """
    notes: list[str] = []
    cells = nb["cells"]
    by_id = {c.get("id"): i for i, c in enumerate(cells) if c.get("id")}
    used: set[int] = set()
    book_cells = [c for c in json.loads(assignment.path.read_text(encoding="utf-8")).get("cells", [])]
    for book_cell in assignment.check_cells:
        source = cell_text(book_cell)
        names = check_calls(source)
        index = by_id.get(book_cell.get("id")) if book_cell.get("id") else None
        if index is not None and cells[index].get("cell_type") != "code":
            index = None
        if index is None:  # no id match: a code cell calling the same checks
            index = next((i for i, c in enumerate(cells) if i not in used and c.get("cell_type") == "code"
                          and set(check_calls(cell_text(c))) == set(names)), None)
        if index is not None:
            used.add(index)
            if cell_text(cells[index]).strip() != source.strip():
                notes.append(f"check cell of {', '.join(names)} was edited; restored from the book")
                cells[index]["source"] = source
            continue
        notes.append(f"check cell of {', '.join(names)} was deleted; put back from the book")
        import nbformat

        new = nbformat.from_dict(copy.deepcopy(book_cell))
        new["outputs"], new["execution_count"] = [], None
        new.pop("id", None) if nb.get("nbformat_minor", 5) < 5 else None
        position = len(cells)
        book_index = next((i for i, c in enumerate(book_cells) if c.get("id") == book_cell.get("id")), None)
        for earlier in reversed(book_cells[:book_index or 0]):  # after the nearest earlier cell it still has
            if earlier.get("id") in by_id:
                position = by_id[earlier.get("id")] + 1
                break
        cells.insert(position, new)
        used = {i + (i >= position) for i in used} | {position}
        by_id = {c.get("id"): i for i, c in enumerate(cells) if c.get("id")}
    for i, cell in enumerate(cells):
        if i in used or cell.get("cell_type") != "code":
            continue
        names = [n for n in check_calls(cell_text(cell)) if n in {c.name for c in assignment.checks}]
        if names:  # left as it is: it may define the student's function too, and only the grader's checks count
            notes.append(f"another cell also calls {', '.join(names)} (harmless: only the grader's own checks count)")
    return notes
