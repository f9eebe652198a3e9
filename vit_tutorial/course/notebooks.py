"""The book's notebooks as the course tools read and write them.

Which cells are solutions, which calls are self-checks, the student and instructor versions of a
notebook (see :mod:`.student` and :mod:`.instructor`), reading and writing notebooks, and
:func:`write_tracked`, the one way the course tools write files: never over work they did not make.
"""
from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

from .numbering import exercise_numbers

SOLUTION_TAG = "solution"
METADATA_KEY = "vit_tutorial"
SOLUTION_DIRECTIVES = ("solution", "solution-start", "solution-end")
_FENCE_OPEN = re.compile(r"^\s*(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z-]+)\}")
_CHECK_NAME = re.compile(r"^check_\w+$")
_TIMING_MAGIC = re.compile(r"^(\s*)%{1,2}(?:time|timeit|prun|capture)\b(?:\s+-\S+(?:\s+\d+)?)*[ \t]*", re.M)


# --------------------------------------------------------------------------- cells


def is_solution(cell: dict) -> bool:
    """True for a code cell tagged ``solution``."""
    return SOLUTION_TAG in (cell.get("metadata", {}).get("tags") or [])


def cell_text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def strip_solution_directives(markdown: str) -> str:
    """Remove ``{solution}``, ``{solution-start}`` and ``{solution-end}`` blocks from MyST markdown.

    Works for backtick and colon fences of any length; the rest of the text is kept.
    """
    out, lines, i = [], markdown.splitlines(keepends=True), 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not (m and m.group("name") in SOLUTION_DIRECTIVES):
            out.append(lines[i])
            i += 1
            continue
        fence = m.group("fence")
        closing = re.compile(r"^\s*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
        i += 1
        while i < len(lines) and not closing.match(lines[i]):
            i += 1
        i += 1  # the closing fence
    return "".join(out)


def check_calls(source: str) -> list[str]:
    """Names of the ``check_*`` functions called in a code cell, in order (comments ignored).

    Calls behind a timing magic (``%time check_x(f)``, ``%%time``) count too.
    """
    source = _TIMING_MAGIC.sub(r"\1", source)
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)  # %magics -> Python
    except Exception:  # noqa: BLE001 - IPython missing or odd input: parse what we have
        pass
    try:
        tree = ast.parse(source)
    except SyntaxError:
        code = "\n".join(line.split("#", 1)[0] for line in source.splitlines())
        return re.findall(r"\b(check_\w+)\s*\(", code)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name and _CHECK_NAME.match(name) and name not in names:
                names.append(name)
    return names


def expected_checks(nb: dict) -> list[str]:
    """The self-checks a chapter expects: ``check_*`` calls outside its solution cells, in order."""
    names: list[str] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and not is_solution(cell):
            names += [n for n in check_calls(cell_text(cell)) if n not in names]
    return names


def _drop_solution_markdown(cells: list[dict]) -> list[dict]:
    kept = []
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            text = cell_text(cell)
            stripped = strip_solution_directives(text)
            if stripped != text:
                if not stripped.strip():
                    continue
                cell["source"] = stripped
        kept.append(cell)
    return kept


def student_notebook(nb: dict, chapter: str) -> dict:
    """A copy of ``nb`` without solutions or outputs, stamped with the chapter and its checks."""
    nb = copy.deepcopy(nb)
    checks = expected_checks(nb)
    cells = [c for c in nb.get("cells", []) if not is_solution(c)]
    for cell in cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    nb["cells"] = _drop_solution_markdown(cells)
    nb.setdefault("metadata", {})[METADATA_KEY] = {"chapter": chapter, "checks": checks, "student_copy": True,
                                                  "exercises": exercise_numbers(nb, chapter)}
    return nb


def instructor_notebook(nb: dict) -> dict:
    """A copy of ``nb`` whose solution cells run but are not shown, and whose solution markdown is gone.

    The check cells run too, but their output is removed: under a stub that raises
    ``NotImplementedError`` a "✔ correct" (earned by the hidden solution) would mislead.
    """
    nb = copy.deepcopy(nb)
    for cell in nb.get("cells", []):
        hide = "remove-cell" if is_solution(cell) else "remove-output" if (
            cell.get("cell_type") == "code" and check_calls(cell_text(cell))) else None
        if hide:
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if hide not in tags:
                tags.append(hide)
    nb["cells"] = _drop_solution_markdown(nb.get("cells", []))
    return nb


def read_notebook(path: Path) -> dict:
    """The notebook at ``path`` as a dict (its JSON)."""
    return json.loads(path.read_text(encoding="utf-8"))


def notebook_text(nb: dict) -> str:
    """A notebook as the book writes it: JSON with an indent of 1, UTF-8 as is, a final newline."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def write_notebook(nb: dict, path: Path) -> None:
    path.write_text(notebook_text(nb), encoding="utf-8")


# --------------------------------------------------------------------------- files


def project_root(start: Path | None = None) -> Path:
    """The book's project folder: ``start`` (default: the current folder) if it holds ``_config.yml``,
    else the checkout this package was installed from."""
    for candidate in (Path(start or Path.cwd()), Path(__file__).resolve().parents[2]):
        if (candidate / "_config.yml").is_file() and (candidate / "book").is_dir():
            return candidate
    raise FileNotFoundError(
        "can't find the book: run this from the vit-tutorial checkout (the folder with _config.yml and book/), "
        "or pass --book / --project"
    )


def shipped_book() -> Path | None:
    """The book's chapter notebooks installed with the package (``vit_tutorial/book/``, in the wheel), or ``None``
    (a checkout: the book is its ``book/`` folder)."""
    folder = Path(__file__).resolve().parents[1] / "book"
    return folder if any(folder.glob("*.ipynb")) else None


def book_folder(missing: str) -> Path:
    """The checkout's ``book/``, else the book installed with the package; ``FileNotFoundError(missing)`` if neither."""
    try:
        return project_root() / "book"
    except FileNotFoundError:
        shipped = shipped_book()
        if shipped is None:
            raise FileNotFoundError(missing) from None
        return shipped


class RefusedError(Exception):
    """Writing would overwrite or delete someone's work; nothing was changed."""


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def same_folder(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.resolve().samefile(b.resolve())
    except OSError:
        return False


def _holds(target: Path, data: str | bytes) -> bool:
    """Whether the file ``target`` already holds ``data``."""
    if isinstance(data, bytes):
        return target.read_bytes() == data
    return target.read_text(encoding="utf-8", errors="replace") == data


def write_tracked(out_dir: Path, files: dict[str, str | bytes], manifest_name: str, tool: str, force: bool = False,
                  what: str = "notebook", whose: str = "a student's work?") -> list[Path]:
    """Write ``files`` (path relative to ``out_dir`` -> text or bytes) into ``out_dir``; return the paths written.

    Never destroys work: it refuses a non-empty folder it did not create, and any file that was edited since it
    wrote it (``force`` overrides both). The manifest ``out_dir/manifest_name`` remembers what it wrote, with
    checksums. Nothing is written when anything is refused.
    """
    out_dir = Path(out_dir)
    manifest_path = out_dir / manifest_name
    manifest: dict = {}
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8")).get("files", {})
        except (ValueError, AttributeError):
            manifest = {}
    elif out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise RefusedError(f"{out_dir} is not empty and was not made by this command; choose an empty or new "
                           f"folder, or add --force to write into it anyway (edited {what}s are still kept unless "
                           "--force)")
    elif out_dir.exists() and not out_dir.is_dir():
        raise RefusedError(f"{out_dir} exists and is not a folder")
    edited = []
    for name, data in files.items():
        target = out_dir / name
        if target.exists() and not force:
            current = _sha256(target)
            if current != manifest.get(name) and not _holds(target, data):
                edited.append(name)
    if edited:
        raise RefusedError(
            f"{len(edited)} {what}(s) in {out_dir} differ from the copy this command wrote ({whose}): "
            f"{', '.join(edited)}. Nothing was written. Move them away, choose another folder, or add --force "
            "to overwrite them.")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data) if isinstance(data, bytes) else target.write_text(data, encoding="utf-8")
        manifest[name] = _sha256(target)
        written.append(target)
    manifest_path.write_text(json.dumps({"tool": tool, "files": manifest}, indent=1) + "\n", encoding="utf-8")
    return written
