"""The grader gives no credit for a built-in the exercise forbids (issue 26, item 1).

The student's function runs in the notebook's kernel, not in the grader's worker where the check
runs: the kernel records what the function reached and the worker's check reads it. One small
chapter with the book's own GELU exercise and its real ``check_gelu``; two hand-ins graded in one
run: the exact GELU written with ``torch.erf`` (credit) and one that returns ``F.gelu(x)`` (right
values, no credit, the verdict names it).
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from vit_tutorial.course import grade
from vit_tutorial.course import notebooks as student

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only

TIMEOUT = 60  # seconds per submission (importing torch in a fresh kernel on a busy machine)
STUB = 'def gelu(x):\n    raise NotImplementedError("x times the standard normal CDF of x")'


def _chapter() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell("# GELU\n\nOne exercise, checked by the book's own `check_gelu`."),
        new_code_cell("import math\n\nimport torch\n\nfrom vit_tutorial.exercises import check_gelu"),
        new_markdown_cell("```{exercise} Write the exact GELU\n:label: ex-gelu\nWrite `gelu(x)`, the exact GELU `x·Φ(x)`, "
                          "using `torch.erf` (not `torch.nn.functional.gelu`).\n```"),
        new_code_cell(STUB),
        new_markdown_cell("```{solution-start} ex-gelu\n:class: dropdown\n```"),
        new_code_cell("def gelu(x):\n    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))", metadata={"tags": ["solution"]}),
        new_markdown_cell("```{solution-end}\n```"),
        new_code_cell("check_gelu(gelu)"),
    ]
    for i, cell in enumerate(cells):
        cell.id = f"g{i:03d}"
    nb = new_notebook(cells=cells)
    nb.metadata.update({"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                        "language_info": {"name": "python"}})
    return nb


def _handed_in(body: str) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(student.student_notebook(_chapter(), chapter="gelu_chapter"))
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source == STUB)
    cell.source = f"def gelu(x):\n    return {body}"
    return nb


def test_the_grader_gives_no_credit_for_f_gelu(tmp_path, monkeypatch):
    book = tmp_path / "book"
    book.mkdir()
    nbformat.write(_chapter(), str(book / "gelu_chapter.ipynb"))
    files = []
    for name, body in [("honest", "0.5 * x * (1 + torch.erf(x / math.sqrt(2)))"), ("builtin", "torch.nn.functional.gelu(x)")]:
        (tmp_path / name).mkdir()
        files.append(tmp_path / name / "gelu_chapter.ipynb")
        nbformat.write(_handed_in(body), str(files[-1]))
    monkeypatch.setenv("VIT_TUTORIAL_WEIGHTS", "random")
    honest, builtin = grade.grade(files, book_dir=book, timeout=TIMEOUT)
    assert (honest.status, honest.passed, honest.exercises[0].status) == ("graded", 1, "passed"), honest
    assert (builtin.status, builtin.passed, builtin.exercises[0].status) == ("graded", 0, "failed"), builtin
    message = builtin.exercises[0].message
    assert "uses torch.nn.functional.gelu" in message and "no credit" in message, message
    assert "values differ" not in message  # right values: the built-in alone is the reason
    assert Path(files[1]).is_file()  # the hand-in is left as it was
