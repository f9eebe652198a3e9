"""The grader: good, failing, unfinished, crashing, timing-out, malformed and check-deleted submissions."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from _exercise_notebooks import STUBS, replace_cell, tiny_chapter, write
from vit_tutorial import grade, student

TIMEOUT = 20  # seconds per submission: a good one takes ~5 s here (importing torch), the loop uses all 20


def _student():
    return nbformat.from_dict(student.student_notebook(tiny_chapter(), chapter="tiny"))


def _solved(double="t * 2", square="t * t"):
    nb = _student()
    replace_cell(nb, STUBS["double"], f"def double(t):\n    return {double}")
    replace_cell(nb, STUBS["square"], f"def square(t):\n    return {square}")
    return nb


def _index_of(nb, source: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.source == source)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade one batch of submissions in a single run (each in its own kernel)."""
    tmp = tmp_path_factory.mktemp("grading")
    book = tmp / "book"
    book.mkdir()
    write(tiny_chapter(), book / "tiny.ipynb")
    subs = tmp / "subs"
    subs.mkdir()

    good = _solved(double="torch.mul(t, 2)", square="torch.einsum('ij,ij->ij', t, t)")  # written differently
    failing = _solved(double="t + 2", square="t.T * t.T")
    unfinished = _student()
    crashing = _solved()
    crashing.cells.insert(_index_of(crashing, "check_double(double)") + 1, new_code_cell("import os\nos._exit(3)"))
    looping = _solved()
    looping.cells.insert(_index_of(looping, "check_double(double)") + 1, new_code_cell("while True:\n    pass"))
    deleted = _solved()
    deleted.cells.pop(_index_of(deleted, "check_square(square)"))
    erroring = _solved()
    erroring.cells.insert(2, new_code_cell("1 / 0"))
    del erroring.cells[_index_of(erroring, "def square(t):\n    return t * t")]  # check_square -> NameError
    combined = _solved()  # both checks in one cell; the first one stops it
    replace_cell(combined, "def double(t):\n    return t * 2", STUBS["double"])
    combined.cells.pop(_index_of(combined, "check_square(square)"))
    replace_cell(combined, "check_double(double)", "check_double(double)\ncheck_square(square)")
    renamed = _solved()
    renamed.metadata.pop("vit_tutorial")  # no stamp: the chapter comes from the file name

    files = {}
    for name, nb in [("good", good), ("failing", failing), ("unfinished", unfinished), ("crashing", crashing),
                     ("looping", looping), ("deleted", deleted), ("erroring", erroring),
                     ("combined", combined)]:
        files[name] = subs / f"{name}.ipynb"
        write(nb, files[name])
    raw = json.loads(files["good"].read_text())  # an output another tool wrote oddly must not matter
    next(c for c in raw["cells"] if c["cell_type"] == "code")["outputs"] = [{"output_type": "odd", "x": 1}]
    files["good"].write_text(json.dumps(raw))
    files["renamed"] = subs / "alice_tiny.ipynb"
    write(renamed, files["renamed"])
    files["malformed"] = subs / "tiny_malformed.ipynb"
    files["malformed"].write_text(nbformat.writes(good)[:-40])  # cut short: invalid JSON
    files["not_notebook"] = subs / "tiny_list.ipynb"
    files["not_notebook"].write_text(json.dumps({"cells": "none", "hello": 1}))
    files["missing"] = subs / "nobody.ipynb"

    order = ["malformed", "crashing", "good", "looping", "failing", "not_notebook", "missing", "unfinished",
             "deleted", "erroring", "combined", "renamed"]
    results = grade.grade([files[k] for k in order], book_dir=book, timeout=TIMEOUT)
    return dict(zip(order, results)), results, book, files


def _statuses(result):
    return {e.name: e.status for e in result.exercises}


def test_good_submission_passes_every_exercise(graded):
    r = graded[0]["good"]
    assert (r.status, r.chapter, r.errors) == ("graded", "tiny", [])
    assert _statuses(r) == {"double": "passed", "square": "passed"}
    assert r.passed == 2


def test_failing_submission_gets_the_diagnosis(graded):
    r = graded[0]["failing"]
    assert r.status == "graded" and r.passed == 0
    double, square = r.exercises
    assert double.status == "failed" and "you added 2 instead of multiplying by 2" in double.message
    assert square.status == "failed" and "your output has shape (2, 3), expected (3, 2)" in square.message


def test_unfinished_submission_is_not_done(graded):
    r = graded[0]["unfinished"]
    assert _statuses(r) == {"double": "not done", "square": "not done"}
    assert all("NotImplementedError" in e.message for e in r.exercises)


def test_crashing_submission_keeps_what_it_passed_before_the_crash(graded):
    r = graded[0]["crashing"]
    assert r.status == "crashed" and "kernel died" in r.detail
    assert _statuses(r) == {"double": "passed", "square": "not run"}


def test_endless_loop_times_out_and_keeps_earlier_verdicts(graded):
    r = graded[0]["looping"]
    assert r.status == "timeout" and f"{TIMEOUT:g} s" in r.detail
    assert _statuses(r) == {"double": "passed", "square": "not run"}
    assert r.seconds >= TIMEOUT  # it was stopped by the limit, not by something else


def test_deleted_check_is_reported_missing(graded):
    r = graded[0]["deleted"]
    assert r.status == "graded"
    assert _statuses(r) == {"double": "passed", "square": "check missing"}
    assert "deleted" in r.exercises[1].message


def test_errors_outside_and_inside_check_cells(graded):
    r = graded[0]["erroring"]
    assert r.status == "graded" and r.errors == ["cell 2: ZeroDivisionError: division by zero"]
    assert _statuses(r) == {"double": "passed", "square": "error"}
    assert "NameError" in r.exercises[1].message and "square" in r.exercises[1].message


def test_two_checks_in_one_cell(graded):
    r = graded[0]["combined"]
    assert _statuses(r) == {"double": "not done", "square": "not run"}
    assert "check_double(...) in the same cell raised first" in r.exercises[1].message


def test_chapter_found_from_file_name_without_metadata(graded):
    r = graded[0]["renamed"]
    assert r.chapter == "tiny" and _statuses(r) == {"double": "passed", "square": "passed"}


def test_malformed_files_are_reported_and_do_not_stop_the_others(graded):
    by_name, results, _, _ = graded
    r = by_name["malformed"]
    assert r.status == "invalid" and r.detail.startswith("not valid JSON")
    assert r.chapter == "tiny" and _statuses(r) == {"double": "not run", "square": "not run"}
    r = by_name["not_notebook"]
    assert r.status == "invalid" and r.detail.startswith("not a Jupyter notebook")
    assert by_name["missing"].status == "not found"
    assert len(results) == 12  # everything after them was graded too (see the other tests)


def test_table_and_json(graded):
    by_name, results, _, _ = graded
    text = grade.table(results)
    lines = text.splitlines()
    assert lines[0].split() == ["submission", "exercise", "result", "details"]
    assert any(l.startswith("good.ipynb") and "2/2 passed" in l for l in lines)
    assert any("double" in l and "failed" in l and "you added 2" in l for l in lines)
    assert any(l.startswith("looping.ipynb") and "timeout" in l for l in lines)
    assert any(l.startswith("tiny_malformed.ipynb") and "invalid" in l for l in lines)
    data = json.loads(json.dumps(grade.to_json(results)))
    good = data["submissions"][results.index(by_name["good"])]
    assert good["passed"] == good["total"] == 2 and good["status"] == "graded" and good["chapter"] == "tiny"
    assert [e["name"] for e in good["exercises"]] == ["double", "square"]
    assert {s["status"] for s in data["submissions"]} == {"graded", "crashed", "timeout", "invalid", "not found"}


def test_command_line(graded, tmp_path):
    _, _, book, files = graded
    out = tmp_path / "grades.json"
    run = subprocess.run(
        [sys.executable, "-m", "vit_tutorial.grade", str(files["malformed"]), str(files["unfinished"]),
         "--book", str(book), "--json", str(out), "--timeout", str(TIMEOUT)],
        capture_output=True, text=True, timeout=TIMEOUT + 60)
    assert run.returncode == 0, run.stderr
    assert "unfinished.ipynb" in run.stdout and "0/2 passed" in run.stdout and "not done" in run.stdout
    data = json.loads(out.read_text())
    assert [s["status"] for s in data["submissions"]] == ["invalid", "graded"]
    bad = subprocess.run([sys.executable, "-m", "vit_tutorial.grade", str(files["good"]), "--timeout", "0"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--timeout must be positive" in bad.stderr


def test_chapter_lookup_rules(tmp_path):
    book = {"02_patch_embeddings": Path("b2"), "03_cls_position_dropout": Path("b3")}
    empty = nbformat.v4.new_notebook()
    assert grade.find_chapter(empty, Path("02_patch_embeddings.ipynb"), book) == "02_patch_embeddings"
    assert grade.find_chapter(empty, Path("smith_02_patch_embeddings (1).ipynb"), book) == "02_patch_embeddings"
    assert grade.find_chapter(empty, Path("smith_03_mine.ipynb"), book) == "03_cls_position_dropout"
    assert grade.find_chapter(empty, Path("homework.ipynb"), book) is None
    stamped = nbformat.v4.new_notebook(metadata={"vit_tutorial": {"chapter": "03_cls_position_dropout"}})
    assert grade.find_chapter(stamped, Path("02_patch_embeddings.ipynb"), book) == "03_cls_position_dropout"
