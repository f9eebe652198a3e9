"""The student copy of the notebooks, and the command line of the instructor build (:mod:`.instructor`).

    python -m vit_tutorial.student OUT_DIR                   # notebooks without solutions
    python -m vit_tutorial.student --instructor-build DIR    # the book, solutions hidden entirely

In the book every exercise is a ``{exercise}`` directive, a code stub that raises
``NotImplementedError``, a solution gated by ``{solution-start}`` / ``{solution-end}``
markdown cells around a code cell tagged ``solution``, and a ``check_<name>(fn)`` call.

The **student copy** removes every ``solution`` cell and the markdown that only wraps
a solution, clears all outputs, and records in the notebook's metadata which chapter it
is and which checks it expects (the grader, :mod:`vit_tutorial.course.grade`, reads it).
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
import subprocess
import sys
from pathlib import Path

from .instructor import instructor_build
from .notebooks import METADATA_KEY, RefusedError, notebook_text, project_root, read_notebook, same_folder, shipped_book, student_notebook, write_tracked
from .numbering import describe

MANIFEST = ".vit-tutorial-student-copy.json"  # what the student copy wrote, with checksums


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
    if same_folder(out_dir, book_dir):
        raise RefusedError(f"{out_dir} is the book's own folder: the student copy would replace the book's "
                           "notebooks and delete their solutions. Choose another folder (e.g. student/).")
    for path in notebooks:  # the same file reached another way (a link to the book's folder)
        target = out_dir / path.name
        if target.exists() and target.resolve() == path.resolve():
            raise RefusedError(f"{target} is the book's own {path.name}; choose another folder")
    texts = {path.name: notebook_text(student_notebook(read_notebook(path), chapter=path.stem)) for path in notebooks}
    return write_tracked(out_dir, texts, MANIFEST, "vit_tutorial.student", force)


def _default_book(project: str | None) -> Path:
    """The project's ``book/`` (``--project``, else here or the checkout), else the book installed with the package."""
    try:
        return project_root(Path(project) if project else None) / "book"
    except FileNotFoundError:
        if project is None and shipped_book() is not None:
            return shipped_book()
        raise


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
        book = Path(args.book) if args.book else _default_book(args.project)
        written = write_student_copy(Path(args.out_dir), book, force=args.force)
    except (RefusedError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a read-only folder, a full disk: say where, without a traceback
        if err.filename is None:  # ours ("no notebooks in ..."): the message says it all
            print(f"error: {err}", file=sys.stderr)
        else:
            print(f"error: can't write {err.filename}: {err.strerror or err}. Choose a folder you can write to.", file=sys.stderr)
        return 1
    for path in written:  # exercises as the book numbers its boxes; self-checks: the check_* cells (one exercise may have two)
        stamp = read_notebook(path)["metadata"][METADATA_KEY]
        checks = len(stamp["checks"])
        print(f"wrote {path}: {describe(stamp['exercises'])}, {checks} self-check{'s' if checks != 1 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
