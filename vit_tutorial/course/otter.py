"""Export the book's exercises as otter-grader assignments, for Gradescope or ``otter run``.

    python -m vit_tutorial.course.otter 06_residual 07_mlp_encoder --out otter/
    python -m vit_tutorial.course.otter --out otter/          # every chapter that has exercises

For each chapter this writes ``OUT/<chapter>/``:

``student/<chapter>.ipynb``
    the notebook to hand out: the student copy (:mod:`.student`: no solutions, stubs that raise
    ``NotImplementedError``), stamped with otter's assignment name.
``student/tests/<exercise>.py``
    the public test cases only, for students who run otter's ``grader.check`` themselves.
``autograder/tests/<exercise>.py``
    one OK-format test file per exercise (per ``check_*`` call of the book, read by
    :mod:`.assignment`), with two cases: a **public** one, the book's own check as the notebook
    calls it (the same inputs the student saw), and a **hidden** one, the same checker on inputs
    drawn at grading time: seeds salted with a secret drawn in the grading kernel
    (:func:`.worker.fresh_seeds`), and a ``model`` built there with random weights from that salt
    (:func:`.worker.provided_names`, no download), never the notebook's own.
``autograder/autograder.zip``
    made by ``otter generate`` from those tests, ``requirements.txt`` and ``otter_config.json``:
    upload it to Gradescope, or grade locally with
    ``otter run -a OUT/<chapter>/autograder/autograder.zip submission.ipynb``.

Both cases call the real checkers of :mod:`vit_tutorial.exercises` (or ``--checks MODULE``), so a
failing case shows the same diagnosis as the book. Otter runs its tests inside the student's
kernel, so unlike ``python -m vit_tutorial.grade`` it cannot stop a submission that
monkeypatches the checkers; the hidden cases stop one that only learned the public answers.

Why otter-grader rather than nbgrader: it grades on Gradescope (where many courses already
collect work), its tests are plain Python files with hidden cases that only the autograder
holds, and ``otter run`` grades locally without Docker.

Nothing here overwrites work: ``--out`` must be new, empty or made by this command, and a file
edited since this command wrote it is kept unless ``--force`` (see :func:`.student.write_tracked`).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pprint
import secrets
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from .assignment import Assignment, book_notebooks, read_assignment
from .notebooks import RefusedError, notebook_text, project_root, read_notebook, student_notebook, write_tracked

MANIFEST = ".vit-tutorial-otter-export.json"
TOOL = "vit_tutorial.course.otter"
DEFAULT_CHECKS = "vit_tutorial.exercises"
PASSED = True  # what a case prints when it passes (doctest compares the printed value)


# --------------------------------------------------------------------------- run by otter, in the grading kernel


def _checker(check: dict, module: str):
    import importlib

    return getattr(importlib.import_module(module), check["name"])


class Missing(Exception):
    """The notebook, once run, lacks the student's function or a name the book's check passes (``model``)."""


def _verdict(run) -> bool | None:
    """``run()`` a check; ``True`` when it passes, else print why (the doctest shows it) and return ``None``."""
    from vit_tutorial.exercises import CheckFailed, ExerciseNotDone

    try:
        run()
    except (ExerciseNotDone, CheckFailed, Missing) as err:
        print(f"✘ {err}")
    except Exception as err:  # noqa: BLE001 - the student's code may raise anything
        print(f"✘ the check could not use your output: {type(err).__name__}: {err}")
    else:
        return PASSED
    return None


def _from_notebook(env: dict, source: str):
    """The value of ``source`` (the book's text: ``patchify``, ``model``) in the notebook's namespace."""
    try:
        return eval(source, env)  # noqa: S307
    except Exception as err:  # noqa: BLE001
        raise Missing(f"`{source}` is not defined once the notebook has run ({type(err).__name__}: {err})") from None


def public_case(env: dict, check: dict, module: str = DEFAULT_CHECKS) -> bool | None:
    """The book's own check call, as the student's notebook makes it: its arguments (``model``) are the notebook's."""
    def run():
        fn = _from_notebook(env, check["function"])
        args = [_from_notebook(env, src) for src in check["args"]]
        kwargs = {k: _from_notebook(env, src) for k, src in check["kwargs"].items()}
        with contextlib.redirect_stdout(io.StringIO()):  # its "✔ ..." line is not the doctest's answer
            _checker(check, module)(fn, *args, **kwargs)

    return _verdict(run)


_GRADING: dict = {}  # the salt of this grading, and the names built from it, shared by its hidden cases


def grading_salt() -> int:
    """A secret drawn once per grading kernel: it salts every seed of the hidden cases."""
    if "salt" not in _GRADING:
        _GRADING["salt"] = secrets.randbits(62)
    return _GRADING["salt"]


@contextlib.contextmanager
def _no_weights_cache():
    """A model drawn for one grading is never used again: don't write its 350 MB to the user's cache."""
    from vit_tutorial.weights.random_weights import CACHE_ENV

    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = "off"
    try:
        yield
    finally:
        if old is None:
            del os.environ[CACHE_ENV]
        else:
            os.environ[CACHE_ENV] = old


def hidden_case(env: dict, check: dict, module: str = DEFAULT_CHECKS) -> bool | None:
    """The same checker on inputs drawn at grading time, with the grader's own ``model``: the grader's
    :func:`.worker.grade_checks`, in the kernel."""
    from .worker import checker_arguments, provided_names, run_checker

    def run():
        fn = _from_notebook(env, check["function"])
        salt = grading_salt()
        if "provided" not in _GRADING:
            _GRADING["provided"] = provided_names(salt)  # its model is built once, when a check first needs it
        provided = _GRADING["provided"]
        with _no_weights_cache():
            args, kwargs = checker_arguments(check, provided)
        run_checker(_checker(check, module), fn, args, kwargs, salt, out=io.StringIO())

    return _verdict(run)


# --------------------------------------------------------------------------- the export


def _case_code(function: str, check: dict, module: str) -> str:
    spec = {k: check[k] for k in ("name", "function", "args", "kwargs")}
    return (">>> from vit_tutorial.course import otter as _vt_otter\n"
            f">>> _vt_otter.{function}(globals(), {spec!r}, {module!r})\n"
            f"{PASSED!r}\n")


def ok_test(check: dict, module: str = DEFAULT_CHECKS, hidden: bool = True, public_points: float = 1,
            hidden_points: float = 1) -> dict:
    """Otter's OK-format test of one exercise: the public case, and (``hidden``) the hidden one.

    Named after the book's exercise number and the check: ``ex4_2_split_heads`` (otter's test and file
    names, so no dot), its cases "Exercise 4.2 (split_heads): ..."."""
    exercise = check["name"].removeprefix("check_")
    number = check.get("number")
    name = f"ex{number.replace('.', '_')}_{exercise}" if number else exercise
    shown = f"Exercise {number} ({exercise})" if number else exercise
    cases = [{"name": f"{shown}: the book's check", "code": _case_code("public_case", check, module),
              "hidden": False, "locked": False, "points": public_points}]
    if hidden:
        cases.append({"name": f"{shown}: hidden, on inputs drawn at grading time",
                      "code": _case_code("hidden_case", check, module), "hidden": True, "locked": False,
                      "points": hidden_points})
    return {"name": name, "points": sum(c["points"] for c in cases),
            "suites": [{"cases": cases, "scored": True, "setup": "", "teardown": "", "type": "doctest"}]}


def ok_test_text(spec: dict, chapter: str) -> str:
    return (f"# The otter-grader test of exercise {spec['name']!r} of chapter {chapter}, written by\n"
            f"# python -m {TOOL}: it calls the book's real checker on the student's function.\n"
            f"OK_FORMAT = True\n\ntest = {pprint.pformat(spec, width=120, sort_dicts=False)}\n")


def requirements_text() -> str:
    """What Gradescope's image installs besides otter: this package, from the repository (``pyproject``'s Source)."""
    from importlib.metadata import PackageNotFoundError, metadata

    url = None
    with contextlib.suppress(PackageNotFoundError):
        for entry in metadata("vit_tutorial").get_all("Project-URL") or []:
            label, _, address = entry.partition(",")
            if label.strip().lower() == "source":
                url = address.strip()
    line = f"vit_tutorial @ git+{url}" if url else "vit_tutorial"
    return ("# Installed into Gradescope's grading image (otter run uses the environment it runs in).\n"
            "# Gradescope has no GPU: to skip the CUDA build of torch (several GB), add a first line\n"
            "#   --extra-index-url https://download.pytorch.org/whl/cpu\n"
            f"{line}\n")


def _generate_zip(tests: dict[str, str], config: dict, requirements: str) -> bytes:
    """``otter generate`` on these tests, config and requirements, in a scratch folder; the zip's bytes."""
    try:
        from otter.generate import main as generate
    except ImportError as err:
        raise RuntimeError("otter-grader is not installed: pip install otter-grader (it comes with the dev extra)") from err
    with tempfile.TemporaryDirectory(prefix="vit-otter-") as scratch:
        scratch = Path(scratch)
        (scratch / "tests").mkdir()
        for name, text in tests.items():
            (scratch / "tests" / name).write_text(text, encoding="utf-8")
        (scratch / "otter_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (scratch / "requirements.txt").write_text(requirements, encoding="utf-8")
        generate(tests_dir=str(scratch / "tests"), output_path=str(scratch / "autograder.zip"),
                 config=str(scratch / "otter_config.json"), requirements=str(scratch / "requirements.txt"),
                 no_environment=True, python_version=f"{sys.version_info.major}.{sys.version_info.minor}")
        return (scratch / "autograder.zip").read_bytes()


def chapter_files(assignment: Assignment, module: str = DEFAULT_CHECKS, requirements: str | None = None,
                  public_points: float = 1, hidden_points: float = 1) -> dict[str, str | bytes]:
    """Every file of one chapter's export, by path below ``OUT/<chapter>/``."""
    chapter = assignment.chapter
    if not assignment.checks:
        raise ValueError(f"{chapter} has no exercises (no check_* call outside its solutions): nothing to grade")
    nb = student_notebook(read_notebook(assignment.path), chapter=chapter)
    nb.setdefault("metadata", {})["otter"] = {"assignment_name": chapter}
    files: dict[str, str | bytes] = {f"student/{chapter}.ipynb": notebook_text(nb)}
    tests = {}
    for check in assignment.checks:
        check = asdict(check)
        spec = ok_test(check, module, public_points=public_points, hidden_points=hidden_points)
        tests[f"{spec['name']}.py"] = ok_test_text(spec, chapter)
        public = ok_test(check, module, hidden=False, public_points=public_points)
        files[f"student/tests/{spec['name']}.py"] = ok_test_text(public, chapter)
    # show_hidden: after you publish the grades, students see each exercise's score and the hidden cases' verdicts
    # (before that, only the public cases'); assignment_name: a notebook of another chapter is refused
    config = {"assignment_name": chapter, "lang": "python", "show_hidden": True}
    requirements = requirements if requirements is not None else requirements_text()
    files.update({f"autograder/tests/{name}": text for name, text in tests.items()})
    files["autograder/otter_config.json"] = json.dumps(config, indent=2) + "\n"
    files["autograder/requirements.txt"] = requirements
    files["autograder/autograder.zip"] = _generate_zip(tests, config, requirements)
    return files


def resolve_chapter(name: str, book: dict[str, Path]) -> str:
    """``06_residual``, ``06``, ``6`` or ``A2`` -> the chapter's notebook name."""
    if name in book:
        return name
    stem = Path(name).stem
    if stem in book:
        return stem
    prefix = stem.zfill(2) if stem.isdigit() else stem
    matches = [c for c in book if c.startswith(prefix + "_")]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(f"no chapter {name!r} in the book; choose from {', '.join(book)}")


def export(chapters: list[str] | None, out_dir: Path, book_dir: Path, module: str = DEFAULT_CHECKS,
           force: bool = False, requirements: str | None = None, public_points: float = 1,
           hidden_points: float = 1) -> list[Path]:
    """Write the otter-grader assignment of each chapter (all with exercises when ``chapters`` is empty) into
    ``out_dir``; return the files written. Refuses, before writing anything, what :func:`.student.write_tracked` refuses."""
    book = book_notebooks(book_dir)
    if not book:
        raise FileNotFoundError(f"no notebooks in {book_dir}")
    if chapters:
        assignments = [read_assignment(book[c]) for c in dict.fromkeys(resolve_chapter(c, book) for c in chapters)]
    else:
        assignments = [a for a in map(read_assignment, book.values()) if a.checks]
    if requirements is None:
        requirements = requirements_text()  # once, not per chapter
    files: dict[str, str | bytes] = {}
    for assignment in assignments:
        for name, data in chapter_files(assignment, module, requirements, public_points, hidden_points).items():
            files[f"{assignment.chapter}/{name}"] = data
    return write_tracked(Path(out_dir), files, MANIFEST, TOOL, force, what="file", whose="your edits?")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {TOOL}",
        description="Export the book's exercises as otter-grader assignments (for Gradescope, or otter run): "
        "per chapter a student notebook, and an autograder whose tests call the book's checkers, with hidden cases.",
    )
    parser.add_argument("chapters", nargs="*", metavar="CHAPTER",
                        help="chapters to export (06_residual, or 06); default: every chapter that has exercises")
    parser.add_argument("--out", required=True, metavar="DIR", help="where to write them: OUT/<chapter>/student and /autograder")
    parser.add_argument("--book", help="the folder of the book's notebooks (default: book/ of the project)")
    parser.add_argument("--checks", metavar="MODULE", default=DEFAULT_CHECKS,
                        help="the module whose check_* functions the tests call; it must be importable where grading runs")
    parser.add_argument("--requirements", metavar="FILE",
                        help="requirements.txt for Gradescope's image (default: vit_tutorial from the repository)")
    parser.add_argument("--public-points", type=float, default=1, help="points of each exercise's public case (default 1)")
    parser.add_argument("--hidden-points", type=float, default=1, help="points of each exercise's hidden case (default 1)")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty folder this command did not make, and overwrite files edited since it wrote them")
    args = parser.parse_args(argv)
    try:
        book = Path(args.book) if args.book else project_root() / "book"
        requirements = Path(args.requirements).read_text(encoding="utf-8") if args.requirements else None
        written = export(args.chapters, Path(args.out), book, args.checks, args.force, requirements,
                         args.public_points, args.hidden_points)
    except (FileNotFoundError, ValueError, RefusedError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in written:
        if path.name == "autograder.zip":
            chapter = path.parents[1]
            tests = len(list((chapter / "autograder" / "tests").glob("*.py")))
            print(f"{chapter.name}: {tests} test{'s' if tests != 1 else ''} (one per self-check) -> hand out {chapter / 'student'}, "
                  f"grade with {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
