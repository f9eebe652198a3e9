"""Small synthetic chapters for the student-copy and grader tests (no dependence on the real book).

``tiny_chapter()`` is laid out like a book chapter: a setup cell defining two tiny
self-checks with ``run_check``, then two exercises, each with its ``{exercise}`` prompt,
a stub raising ``NotImplementedError``, a gated solution tagged ``solution`` and a check
cell. Every solution line carries a marker so a test can prove it is gone.
"""
from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SECRET = "SOLUTION_SECRET_7f3a"

SETUP = '''\
import torch
from vit_tutorial.exercises import Case, run_check

def check_double(fn):
    x = torch.arange(6.0).reshape(2, 3)
    return run_check("double", fn, [Case((x,), 2 * x, "a (2, 3) tensor")],
                     mistakes={"you added 2 instead of multiplying by 2": lambda t: t + 2})

def check_square(fn):
    x = torch.arange(1.0, 7.0).reshape(3, 2)
    return run_check("square", fn, [Case((x,), x * x, "a (3, 2) tensor")],
                     mistakes={"you doubled instead of squaring": lambda t: 2 * t})'''

STUBS = {
    "double": 'def double(t):\n    raise NotImplementedError("return twice t")',
    "square": 'def square(t):\n    raise NotImplementedError("return t squared")',
}
SOLUTIONS = {
    "double": f"def double(t):\n    return t * 2  # {SECRET}",
    "square": f"def square(t):\n    return t ** 2  # {SECRET}",
}


def exercise_cells(name: str) -> list:
    return [
        new_markdown_cell(f"```{{exercise}} Write {name}\n:label: ex-{name}\nWrite `{name}(t)`.\n```"),
        new_code_cell(STUBS[name]),
        new_markdown_cell(f"```{{solution-start}} ex-{name}\n:class: dropdown\n```"),
        new_code_cell(SOLUTIONS[name], metadata={"tags": ["solution"]}),
        new_markdown_cell("```{solution-end}\n```"),
        new_code_cell(f"check_{name}({name})"),
    ]


def tiny_chapter() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell("# Tiny chapter\n\nTwo small exercises."),
        new_code_cell("# On Colab install the package first.\ntry:\n    import vit_tutorial\nexcept ImportError:\n    %pip install vit_tutorial",
                      metadata={"tags": ["remove-cell"]}),
        new_code_cell(SETUP),
        *exercise_cells("double"),
        *exercise_cells("square"),
        new_markdown_cell("## After the exercises\n\nThe end."),
        new_code_cell('print("the end")'),
    ]
    for i, cell in enumerate(cells):  # fixed ids, so that the book and a student copy made later agree, as they do
        cell.id = f"c{i:03d}"
    nb = new_notebook(cells=cells)
    nb.metadata.update({"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                        "language_info": {"name": "python"}})
    return nb


def write(nb, path) -> None:
    nbformat.write(nb, str(path))


def replace_cell(nb, old: str, new: str) -> None:
    """Replace the source of the (first) code cell whose source is ``old``."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source == old:
            cell.source = new
            return
    raise KeyError(old)
