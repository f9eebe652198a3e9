"""The otter-grader export, end to end: export a chapter, hand in a correct and a wrong notebook, grade both with
``otter run`` (otter-grader from PyPI, the dev extra) and read every exercise's score and every case's verdict.

The tiny test chapter (``_exercise_notebooks``, checked by ``_exercise_checks``) grades in seconds; chapter 6 of the
book shows the same for checks that get a ``model`` (the hidden case builds its own, with random weights).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import dill  # otter-grader's (the dev extra installs it): a missing one fails here, it is not skipped
import nbformat
import otter  # noqa: F401
import pytest
from nbformat.v4 import new_code_cell

from _exercise_notebooks import SECRET, tiny_chapter, write
from vit_tutorial.course import otter as export
from vit_tutorial.course.notebooks import RefusedError, is_solution

pytestmark = [pytest.mark.slow, pytest.mark.transformers_free]  # otter-grader runs the exported autograder: make test runs them, make check does not
# transformers_free: nothing here can depend on the transformers major (make test runs it with transformers blocked; CI on 5.x only)

ROOT = Path(__file__).resolve().parents[1]
TESTS = str(Path(__file__).resolve().parent)


def _env() -> dict[str, str]:
    """For ``otter run`` and its kernel: the tiny chapter's checks importable, random weights, no network."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([TESTS, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    env.update(VIT_TUTORIAL_WEIGHTS="random", HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def solved(student_nb: dict, book_nb: dict, instead: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The student notebook as a student hands it in: under each stub, the book's solution (or ``instead[name]``)."""
    book_cells, solutions = book_nb["cells"], {}
    for i, cell in enumerate(book_cells):
        if cell["cell_type"] == "code" and is_solution(cell):
            stub = next(c for c in reversed(book_cells[:i]) if c["cell_type"] == "code" and not is_solution(c))
            name = re.search(r"^def (\w+)", "".join(cell["source"]), re.M).group(1)
            solutions[stub["id"]] = (instead or {}).get(name, "".join(cell["source"]))
    nb = nbformat.reads(json.dumps(student_nb), as_version=4)
    for cell in list(nb.cells):
        if cell.get("id") in solutions:
            nb.cells.insert(nb.cells.index(cell) + 1, new_code_cell(solutions.pop(cell.id)))
    assert not solutions, f"stubs not found in the student copy: {solutions}"
    return nb


def otter_run(autograder: Path, nb, folder: Path) -> tuple[dict, object]:
    """Grade ``nb`` with ``otter run``: (results.json as Gradescope reads it, otter's GradingResults)."""
    folder.mkdir()
    write(nb, folder / "submission.ipynb")
    done = subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(autograder), "submission.ipynb", "-o", ".",
                           "-p", "--no-logo"], cwd=folder, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    with open(folder / "results.pkl", "rb") as f:
        return results, dill.load(f)


def scores(results: dict) -> dict[str, tuple[float, float]]:
    return {t["name"]: (t["score"], t["max_score"]) for t in results["tests"] if "score" in t}


def cases(grading) -> dict[str, dict[str, bool]]:
    """Each exercise's cases, public or hidden, and whether each passed."""
    return {name: {("hidden" if r.test_case.hidden else "public"): r.passed for r in test.test_case_results}
            for name, test in grading.results.items()}


def output_of(results: dict, name: str) -> str:
    return next(t["output"] for t in results["tests"] if t.get("name") == name)


# --------------------------------------------------------------------------- the tiny chapter


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("otter")
    (tmp / "book").mkdir()
    write(tiny_chapter(), tmp / "book" / "tiny.ipynb")
    start = time.monotonic()
    export.export(["tiny"], tmp / "out", tmp / "book", module="_exercise_checks")
    exported = tmp / "out" / "tiny"
    book = json.loads((tmp / "book" / "tiny.ipynb").read_text(encoding="utf-8"))
    student = json.loads((exported / "student" / "tiny.ipynb").read_text(encoding="utf-8"))
    zip_path = exported / "autograder" / "autograder.zip"
    correct = solved(student, book)
    # a wrong double that learned the public answer by heart (it passes the book's check), and a wrong square
    memorised = ("_public = torch.randn(2, 3, generator=torch.Generator().manual_seed(1))  # the public case's input\n\n"
                 "def double(t):\n    return 2 * t if torch.equal(t, _public) else t + 2")
    wrong = solved(student, book, {"double": memorised, "square": "def square(t):\n    return t + t"})
    graded = {"correct": otter_run(zip_path, correct, tmp / "correct"), "wrong": otter_run(zip_path, wrong, tmp / "wrong")}
    print(f"tiny chapter: exported and graded 2 submissions with otter run in {time.monotonic() - start:.1f} s")
    return exported, graded


def test_correct_submission_gets_every_point_of_every_exercise(tiny):
    _, graded = tiny
    results, grading = graded["correct"]
    assert scores(results) == {"double": (2, 2), "square": (2, 2)}
    assert cases(grading) == {"double": {"public": True, "hidden": True}, "square": {"public": True, "hidden": True}}


def test_wrong_submission_loses_the_points_of_its_wrong_cases_with_the_books_diagnosis(tiny):
    _, graded = tiny
    results, grading = graded["wrong"]
    assert scores(results) == {"double": (1, 2), "square": (0, 2)}
    # the memorised answer passes the book's own check, and fails the hidden one, drawn at grading time
    assert cases(grading) == {"double": {"public": True, "hidden": False}, "square": {"public": False, "hidden": False}}
    assert "you added 2 instead of multiplying by 2" in output_of(results, "double")
    assert "you doubled instead of squaring" in output_of(results, "square")
    public = output_of(results, "Public Tests")  # what students see before grades are published
    assert "you doubled instead of squaring" in public and "you added 2" not in public


def test_hidden_cases_are_in_the_autograder_and_not_in_the_students_copy(tiny):
    exported, _ = tiny
    with zipfile.ZipFile(exported / "autograder" / "autograder.zip") as zf:
        in_zip = {name: zf.read(name).decode() for name in zf.namelist()}
    assert sorted(n for n in in_zip if n.startswith("tests/")) == ["tests/double.py", "tests/square.py"]
    config = json.loads(in_zip["otter_config.json"])
    assert config["assignment_name"] == "tiny" and config["show_hidden"] is True
    assert "vit_tutorial" in in_zip["environment.yml"]  # Gradescope's image installs the package
    for name in ("double", "square"):
        spec = _spec(in_zip[f"tests/{name}.py"])
        assert [(c["hidden"], "hidden_case" in c["code"]) for c in spec["suites"][0]["cases"]] == [(False, False), (True, True)]
        assert spec["points"] == 2
        public = _spec((exported / "student" / "tests" / f"{name}.py").read_text(encoding="utf-8"))
        assert [c["hidden"] for c in public["suites"][0]["cases"]] == [False]
    student_files = "".join(p.read_text(encoding="utf-8") for p in (exported / "student").rglob("*") if p.is_file())
    assert "hidden_case" not in student_files and SECRET not in student_files  # no hidden case, no solution
    nb = json.loads((exported / "student" / "tiny.ipynb").read_text(encoding="utf-8"))
    assert nb["metadata"]["otter"] == {"assignment_name": "tiny"}
    assert sum("raise NotImplementedError" in "".join(c["source"]) for c in nb["cells"]) == 2


def test_the_autograder_refuses_a_notebook_of_another_chapter(tiny, tmp_path):
    exported, _ = tiny
    nb = json.loads((exported / "student" / "tiny.ipynb").read_text(encoding="utf-8"))
    nb["metadata"]["otter"]["assignment_name"] = "04_attention"
    write(nbformat.from_dict(nb), tmp_path / "tiny.ipynb")
    done = subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(exported / "autograder" / "autograder.zip"),
                           "tiny.ipynb", "-o", ".", "--no-logo"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode != 0
    assert "Received submission for assignment '04_attention' (this is assignment 'tiny')" in done.stdout + done.stderr


def _spec(text: str) -> dict:
    scope: dict = {}
    exec(text, scope)  # noqa: S102 - the file this test's export wrote
    assert scope["OK_FORMAT"] is True
    return scope["test"]


# --------------------------------------------------------------------------- never overwrite work


def test_export_refuses_a_folder_it_did_not_make_and_files_edited_since(tmp_path, capsys):
    book = tmp_path / "book"
    book.mkdir()
    write(tiny_chapter(), book / "tiny.ipynb")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    with pytest.raises(RefusedError, match="not empty"):
        export.export(["tiny"], mine, book, module="_exercise_checks")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    assert export.main(["tiny", "--book", str(book), "--out", str(mine)]) == 1
    assert "--force" in capsys.readouterr().err

    out = tmp_path / "out"
    export.export(["tiny"], out, book, module="_exercise_checks")
    export.export(["tiny"], out, book, module="_exercise_checks")  # its own files: written again
    test_file = out / "tiny" / "autograder" / "tests" / "double.py"
    edited = test_file.read_text().replace("'points': 1", "'points': 5")
    test_file.write_text(edited)
    with pytest.raises(RefusedError, match=r"tiny/autograder/tests/double\.py"):
        export.export(["tiny"], out, book, module="_exercise_checks")
    assert test_file.read_text() == edited
    export.export(["tiny"], out, book, module="_exercise_checks", force=True)
    assert test_file.read_text() != edited


def test_command_line_chapters_and_errors(tmp_path, capsys):
    book = export.book_notebooks(ROOT / "book")
    assert export.resolve_chapter("6", book) == export.resolve_chapter("06", book) == "06_residual"
    assert export.resolve_chapter("A2", book) == "A2_tiny_vit_digits"
    assert export.main(["99", "--book", str(ROOT / "book"), "--out", str(tmp_path / "o")]) == 1
    assert "no chapter '99'" in capsys.readouterr().err
    assert export.main(["A1", "--book", str(ROOT / "book"), "--out", str(tmp_path / "o")]) == 1
    assert "has no exercises" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written when refused


# --------------------------------------------------------------------------- a chapter of the book


@pytest.mark.slow
def test_book_chapter_with_model_checks_grades_correct_and_wrong_exercises(tmp_path):
    """One hand-in of chapter 6 with one exercise wrong (the others solved as the book does): one otter run, to keep
    it quick; the checks of two of its three exercises get a ``model``, which the hidden case builds itself."""
    chapter = "06_residual"
    export.export([chapter], tmp_path / "out", ROOT / "book")
    exported = tmp_path / "out" / chapter
    book = json.loads((ROOT / "book" / f"{chapter}.ipynb").read_text(encoding="utf-8"))
    student = json.loads((exported / "student" / f"{chapter}.ipynb").read_text(encoding="utf-8"))
    no_residual = "def pre_norm_block(x, norm, sublayer):\n    return sublayer(norm(x))"
    results, grading = otter_run(exported / "autograder" / "autograder.zip",
                                 solved(student, book, {"pre_norm_block": no_residual}), tmp_path / "graded")
    # each test is named by the book's exercise number (Exercise 6.1, ...) and its check
    assert scores(results) == {"ex6_1_pre_norm_block": (0, 2), "ex6_2_token_norms": (2, 2), "ex6_3_post_norm_block": (2, 2)}
    both = {"public": True, "hidden": True}
    assert cases(grading) == {"ex6_1_pre_norm_block": {"public": False, "hidden": False}, "ex6_2_token_norms": both,
                              "ex6_3_post_norm_block": both}
    assert "the residual is missing" in output_of(results, "ex6_1_pre_norm_block")  # the book's diagnosis, in both cases
    assert output_of(results, "ex6_1_pre_norm_block").count("the residual is missing") == 2
    assert sorted(p.name for p in (exported / "student" / "tests").iterdir()) == [
        "ex6_1_pre_norm_block.py", "ex6_2_token_norms.py", "ex6_3_post_norm_block.py"]
