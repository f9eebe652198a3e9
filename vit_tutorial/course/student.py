"""The student copy of the notebooks, and the instructor build of the book.

    python -m vit_tutorial.student OUT_DIR                   # notebooks without solutions
    python -m vit_tutorial.student --instructor-build DIR    # the book, solutions hidden entirely

In the book every exercise is a ``{exercise}`` directive, a code stub that raises
``NotImplementedError``, a solution gated by ``{solution-start}`` / ``{solution-end}``
markdown cells around a code cell tagged ``solution``, and a ``check_<name>(fn)`` call.

The **student copy** removes every ``solution`` cell and the markdown that only wraps
a solution, clears all outputs, and records in the notebook's metadata which chapter it
is and which checks it expects (the grader, :mod:`vit_tutorial.grade`, reads it).
Run top to bottom, a student notebook stops only at the self-checks, with
``ExerciseNotDone`` (a ``NotImplementedError``), until the stubs are written.

The **instructor build** builds the book from a temporary copy in which the solution
cells still run (so the self-checks pass) but are removed from the pages, with
sphinx-exercise's ``hide_solutions`` on, and without the buttons that would hand out
the notebooks with their solutions (download, Binder, Colab). Your ``_config.yml`` is
not touched. (sphinx-exercise 1.2 cannot hide *gated* solutions by itself: it drops
``solution-start`` but not ``solution-end`` and the build fails, hence the copy.)
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .numbering import describe, exercise_numbers

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


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(nb: dict, path: Path) -> None:
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- commands


def project_root(start: Path | None = None) -> Path:
    """The book's project folder: ``start`` (default: the current folder) if it holds ``_config.yml``,
    else the checkout this package was installed from."""
    for candidate in (Path(start or Path.cwd()), Path(__file__).resolve().parents[1]):
        if (candidate / "_config.yml").is_file() and (candidate / "book").is_dir():
            return candidate
    raise FileNotFoundError(
        "can't find the book: run this from the vit-tutorial checkout (the folder with _config.yml and book/), "
        "or pass --book / --project"
    )


MANIFEST = ".vit-tutorial-student-copy.json"  # what the student copy wrote, with checksums


class RefusedError(Exception):
    """Writing would overwrite or delete someone's work; nothing was changed."""


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _notebook_text(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.resolve().samefile(b.resolve())
    except OSError:
        return False


def write_student_copy(out_dir: Path, book_dir: Path, force: bool = False) -> list[Path]:
    """Write the student copy of every ``book_dir/*.ipynb`` into ``out_dir``; return the files written.

    Never destroys work: it refuses the book's own folder (even with ``force``), a non-empty folder
    it did not create, and any notebook that was edited since it wrote it (``force`` overrides the
    last two). A manifest (``.vit-tutorial-student-copy.json``) remembers what it wrote.
    """
    notebooks = sorted(Path(book_dir).glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no notebooks in {book_dir}")
    out_dir = Path(out_dir)
    book_dir = Path(book_dir)
    if _same_folder(out_dir, book_dir):
        raise RefusedError(f"{out_dir} is the book's own folder: the student copy would replace the book's "
                           "notebooks and delete their solutions. Choose another folder (e.g. student/).")
    for path in notebooks:  # the same file reached another way (a link to the book's folder)
        target = out_dir / path.name
        if target.exists() and target.resolve() == path.resolve():
            raise RefusedError(f"{target} is the book's own {path.name}; choose another folder")
    texts = {path.name: _notebook_text(student_notebook(_read(path), chapter=path.stem)) for path in notebooks}
    return write_tracked(out_dir, texts, MANIFEST, "vit_tutorial.student", force)


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


def _instructor_config(config_text: str) -> str:
    import yaml

    config = yaml.safe_load(config_text) or {}
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["hide_solutions"] = True
    sphinx_config["html_copy_source"] = False  # no _sources/*.ipynb with the solutions in them
    config.setdefault("html", {})["use_download_button"] = False
    # jupyter-book 1.x does not pass html.use_download_button on to the theme, whose button would link to
    # the _sources/ that html_copy_source=False leaves out: turn it off in the theme's own options
    config["sphinx"]["recursive_update"] = True
    sphinx_config.setdefault("html_theme_options", {})["use_download_button"] = False
    launch = config.setdefault("launch_buttons", {})
    for key in ("binderhub_url", "colab_url", "jupyterhub_url", "thebe"):
        launch.pop(key, None)  # these open the repository's notebooks, solutions included
    launch["notebook_interface"] = launch.get("notebook_interface", "classic")
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


INSTRUCTOR_MARKER = ".vit-tutorial-instructor-build"  # marks a folder this command made
_MADE = ("source", "_build", "html")  # what it makes inside that folder, and the only things it deletes


def prepare_instructor_source(project: Path, source: Path) -> Path:
    """Copy the book's sources into ``source`` (a folder that must not exist yet), transformed for the instructor build."""
    project, source = Path(project), Path(source)
    source.mkdir(parents=True)
    shutil.copy2(project / "_toc.yml", source / "_toc.yml")
    (source / "_config.yml").write_text(_instructor_config((project / "_config.yml").read_text(encoding="utf-8")), encoding="utf-8")
    shutil.copytree(project / "book", source / "book", ignore=shutil.ignore_patterns(".ipynb_checkpoints", ".pytest_cache", "__pycache__"))
    for path in (source / "book").rglob("*.ipynb"):
        _write(instructor_notebook(_read(path)), path)
    return source


def _claim_build_folder(dest: Path, project: Path, force: bool) -> None:
    """Make sure ``dest`` is ours to write (and to clear ``_MADE`` in); raise :class:`RefusedError` if not."""
    project = project.resolve()
    if dest == project or dest in project.parents:
        raise RefusedError(f"{dest} holds the project itself; give the instructor build a folder of its own")
    marker = dest / INSTRUCTOR_MARKER
    if dest.exists() and not dest.is_dir():
        raise RefusedError(f"{dest} exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not marker.is_file():
        if not force:
            raise RefusedError(f"{dest} is not empty and was not made by the instructor build; choose a new or "
                               "empty folder, or add --force to build into it")
        ours_missing = [name for name in _MADE if (dest / name).exists()]
        if ours_missing:
            raise RefusedError(f"{dest} already has {', '.join(ours_missing)}, which the instructor build did not "
                               "make and would have to replace; choose another folder")
    dest.mkdir(parents=True, exist_ok=True)
    marker.write_text("made by python -m vit_tutorial.student --instructor-build; it deletes only "
                      + ", ".join(_MADE) + " in here\n", encoding="utf-8")


def _main_build_cache(project: Path) -> Path | None:
    """The execution cache of the main book build (``make book``), if there is one."""
    for build in (project / "_build", project / "_build-tf4" / "_build"):
        cache = build / ".jupyter_cache"
        if (cache / "global.db").is_file():
            return cache
    return None


def instructor_build(dest: Path, project: Path | None = None, strict: bool = True, force: bool = False,
                     cache_from: Path | None = None) -> Path:
    """Build the book with the solutions hidden entirely; return the HTML folder (``dest/html``).

    Deletes only what it made (``dest/source``, ``dest/_build``, ``dest/html``), and only in a folder it
    made (see :func:`_claim_build_folder`). The main build's execution cache (``_build/.jupyter_cache``,
    or ``cache_from``) is copied in first, so that unchanged notebooks are not executed again.
    """
    project = project_root(project)
    dest = Path(dest).resolve()
    _claim_build_folder(dest, project, force)
    for name in ("source", "html"):
        if (dest / name).is_dir():
            shutil.rmtree(dest / name)
    for path in (dest / "_build").glob("*"):  # its own earlier build, but not its execution cache
        if path.name != ".jupyter_cache":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    source = prepare_instructor_source(project, dest / "source")
    cache = Path(cache_from) if cache_from else _main_build_cache(project)
    if cache is not None and (cache / "global.db").is_file() and not (dest / "_build" / ".jupyter_cache").exists():
        shutil.copytree(cache, dest / "_build" / ".jupyter_cache")
    command = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
               "build", str(source), "--path-output", str(dest)]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    subprocess.run(command, check=True, cwd=project)
    html = dest / "html"
    shutil.move(str(dest / "_build" / "html"), html)
    return html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vit_tutorial.student",
        description="Write the student copy of the book's notebooks (no solutions, no outputs), "
        "or build the book with its solutions hidden (--instructor-build).",
    )
    parser.add_argument("out_dir", nargs="?", help="where to write the student notebooks (e.g. student/)")
    parser.add_argument("--book", help="the folder of the book's notebooks (default: book/ of the project)")
    parser.add_argument("--instructor-build", metavar="DIR", help="build the book with solutions hidden into DIR (HTML in DIR/html)")
    parser.add_argument("--project", help="the project folder with _config.yml, _toc.yml and book/ (default: here)")
    parser.add_argument("--no-strict", action="store_true", help="instructor build: don't turn Sphinx warnings into errors")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty folder this command did not make, and overwrite notebooks that were "
                        "edited since the student copy wrote them (the book's own folder is refused even so)")
    args = parser.parse_args(argv)
    if bool(args.out_dir) == bool(args.instructor_build):
        parser.error("give either OUT_DIR or --instructor-build DIR")
    try:
        if args.instructor_build:
            html = instructor_build(Path(args.instructor_build), Path(args.project) if args.project else None, strict=not args.no_strict, force=args.force)
            print(f"The instructor build (solutions hidden) is at {html / 'index.html'}")
            return 0
        book = Path(args.book) if args.book else project_root(Path(args.project) if args.project else None) / "book"
        written = write_student_copy(Path(args.out_dir), book, force=args.force)
    except (FileNotFoundError, RefusedError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in written:  # exercises as the book numbers its boxes; self-checks: the check_* cells (one exercise may have two)
        stamp = _read(path)["metadata"][METADATA_KEY]
        checks = len(stamp["checks"])
        print(f"wrote {path}: {describe(stamp['exercises'])}, {checks} self-check{'s' if checks != 1 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
