"""Exercise numbers per chapter (Exercise 4.2), the same in the notebooks, the student copy, the grader and otter."""

import json
from pathlib import Path

import pytest

from vit_tutorial.course import numbering, otter, results
from vit_tutorial.course.assignment import read_assignment

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only

ROOT = Path(__file__).resolve().parents[1]
BOOK = sorted((ROOT / "book").glob("*.ipynb"))


def _nb(*markdown: str) -> dict:
    return {"cells": [{"cell_type": "markdown", "source": m} for m in markdown]}


def test_chapter_numbers_come_from_the_notebook_name():
    assert numbering.chapter_number("04_attention") == "4"
    assert numbering.chapter_number("book/10_training") == "10"
    assert numbering.chapter_number("A2_tiny_vit_digits.ipynb") == "A2"
    assert numbering.chapter_number("intro") is None and numbering.chapter_number("tiny") is None


def test_declared_numbers_win_and_the_rest_count_in_order():
    nb = _nb(
        "```{exercise} One\n:label: ex-one\nText.\n```",
        "Prose.\n\n````{exercise} Two\n:label: ex-two\n:enumerator: 4.7\nText.\n````\n\n:::{exercise}\nThree\n:::",
    )
    assert numbering.exercise_numbers(nb, "04_attention") == ["4.1", "4.7", "4.3"]
    assert numbering.exercise_numbers(nb, "tiny") == [None, "4.7", None]
    assert numbering.cell_exercise_numbers(_nb("no exercise", *nb["cells"][0]["source"].split("\0")), "05_x") == [None, "5.1"]


def test_describe():
    assert numbering.describe(["4.1", "4.2", "4.3"]) == "3 exercises (4.1–4.3)"
    assert numbering.describe(["2.1"]) == "1 exercise (2.1)"
    assert numbering.describe([]) == "0 exercises" and numbering.describe([None, None]) == "2 exercises"


@pytest.mark.parametrize("path", BOOK, ids=lambda p: p.name)
def test_every_exercise_of_the_book_declares_its_number_in_order(path):
    """`:enumerator: 4.2` on the second {exercise} of chapter 4: what the book, JupyterLab and the course tools show."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    blocks = [b for c in nb["cells"] if c["cell_type"] == "markdown" for b in numbering.exercise_blocks("".join(c["source"]))]
    declared = [numbering.declared_number(b) for b in blocks]
    assert declared == numbering.expected_numbers(len(blocks), path.stem), f"{path.name}: {declared}"


def test_two_checks_of_one_exercise_share_its_number():
    checks = read_assignment(ROOT / "book" / "04_attention.ipynb").checks
    numbers = {c.exercise: c.number for c in checks}
    assert numbers == {"attention_head": "4.1", "split_heads": "4.2", "merge_heads": "4.2", "multi_head_attention": "4.3"}


def test_the_graders_table_shows_the_number():
    result = results.SubmissionResult(
        "alice/04_attention.ipynb",
        results.GRADED,
        chapter="04_attention",
        exercises=[results.ExerciseResult("check_split_heads", results.PASSED, "", "4.2"),
                   results.ExerciseResult("check_patchify", results.FAILED, "wrong shape")],
    )
    table = results.table([result])
    assert "4.2 split_heads" in table and "  patchify " in table
    assert result.to_dict()["exercises"][0]["number"] == "4.2"


def test_otter_names_its_tests_by_the_number():
    check = {"name": "check_split_heads", "function": "split_heads", "args": [], "kwargs": {}, "number": "4.2"}
    spec = otter.ok_test(check)
    assert spec["name"] == "ex4_2_split_heads"
    assert [c["name"] for c in spec["suites"][0]["cases"]] == [
        "Exercise 4.2 (split_heads): the book's check",
        "Exercise 4.2 (split_heads): hidden, on inputs drawn at grading time",
    ]
    assert otter.ok_test({**check, "number": None})["name"] == "split_heads"
