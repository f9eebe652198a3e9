"""``vit-tutorial``: one command for what comes with the installed package.

    vit-tutorial notebooks DIR               # the chapters' notebooks, exercises open (no solutions), to work through
    vit-tutorial notebooks DIR --solutions   # the book's notebooks as they are, solutions included
    vit-tutorial grade ...                   # = vit-tutorial-grade / python -m vit_tutorial.grade
    vit-tutorial student ...                 # = vit-tutorial-student / python -m vit_tutorial.student

The notebooks come from the book installed with the package (``vit_tutorial/book/``, see
:func:`.notebooks.shipped_book`), or the checkout's ``book/`` when run in one. Like every course tool it
never writes over work it did not make: it refuses a non-empty folder it did not create, and any notebook
edited since it wrote it (``--force`` overrides both), and remembers what it wrote in a manifest.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .notebooks import RefusedError, book_folder, write_tracked

MANIFEST = ".vit-tutorial-notebooks.json"  # what `notebooks --solutions` wrote (the student copy keeps its own)
NO_BOOK = ("can't find the book's notebooks: this vit_tutorial was installed without them (an editable install "
           "outside its checkout?); run this in the vit-tutorial checkout, or pass --book DIR")


def chosen_book(book: str | None = None) -> Path:
    """``book``, else the checkout's ``book/`` (run in a checkout), else the book installed with the package."""
    return Path(book) if book else book_folder(NO_BOOK)


def write_notebooks(out_dir: Path, book: Path, solutions: bool = False, force: bool = False) -> list[Path]:
    """Write the learner's copy of ``book/*.ipynb`` into ``out_dir`` (the student copy, or with ``solutions`` the
    notebooks as they are); return the files written. Refuses what :func:`.notebooks.write_tracked` refuses."""
    from .student import write_student_copy

    if not solutions:
        return write_student_copy(out_dir, book, force=force)
    notebooks = sorted(Path(book).glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no notebooks in {book}")
    return write_tracked(out_dir, {p.name: p.read_bytes() for p in notebooks}, MANIFEST, "vit_tutorial notebooks", force)


def notebooks_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="vit-tutorial notebooks",
                                     description="Write the book's chapter notebooks into DIR, to open in Jupyter.")
    parser.add_argument("out_dir", metavar="DIR", help="a new or empty folder (e.g. vit-notebooks)")
    parser.add_argument("--solutions", action="store_true", help="the notebooks as the book has them, solutions included "
                        "(default: the exercises open, without solutions, each with its self-check)")
    parser.add_argument("--book", help="the folder of the book's notebooks (default: the book installed with the package)")
    parser.add_argument("--force", action="store_true", help="write into a non-empty folder this command did not make, and "
                        "overwrite notebooks edited since it wrote them")
    args = parser.parse_args(argv)
    try:
        book = chosen_book(args.book)
        if not book.is_dir():
            parser.error(f"--book {book}: no such folder")
        written = write_notebooks(Path(args.out_dir), book, args.solutions, args.force)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RefusedError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a read-only folder, a full disk: say where, without a traceback
        print(f"error: can't write {err.filename or args.out_dir}: {err.strerror or err}. Choose a folder you can write to.",
              file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} notebook(s) in {args.out_dir}: open them with `jupyter lab {args.out_dir}`"
          + ("" if args.solutions else "; each exercise is checked by the cell under it"))
    return 0


COMMANDS = {"notebooks": "write the book's notebooks into a folder, to work through",
            "grade": "grade submitted notebooks (the same as vit-tutorial-grade)",
            "student": "the student copy, or the instructor build (the same as vit-tutorial-student)"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        asked = bool(argv) and argv[0] in ("-h", "--help")
        usage = "usage: vit-tutorial {notebooks,grade,student} ...\n\n" + "\n".join(f"  {k:<10} {v}" for k, v in COMMANDS.items())
        if argv and not asked:
            usage = f"vit-tutorial: unknown command {argv[0]!r}\n{usage}"
        print(usage, file=sys.stdout if asked else sys.stderr)
        return 0 if asked else 2
    command, rest = argv[0], argv[1:]
    if command == "notebooks":
        return notebooks_main(rest)
    if command == "grade":
        from .grade import main as grade_main
        from .isolation import hide_command_line

        hide_command_line()  # the submissions' paths, out of the kernels' sight (as vit-tutorial-grade does)
        return grade_main(rest)
    from .student import main as student_main

    return student_main(rest)


if __name__ == "__main__":
    sys.exit(main())
