"""No exercise's answer is printed outside a solution: not above the exercise in the book, and nowhere
in the student copy.

"Printed" means a code cell shows the source of a function that answers an exercise: with
``inspect.getsource`` (or ``getsourcelines`` / ``findsource``), with IPython's ``obj??``, ``%psource``
or ``%pfile``, of the function itself or of anything that contains it (its module, a class). Which
package functions answer which exercise is listed in ``vit_tutorial/exercises/_answers.py``; the
tests below check that the list covers every exercise of the book and that its functions really
pass their exercise's self-check.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from vit_tutorial.course import notebooks as student
from vit_tutorial.exercises._answers import ANSWERS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
SOURCE_FUNCTIONS = {"getsource", "getsourcelines", "findsource"}
SOURCE_MAGICS = {"pinfo2", "psource", "pfile"}  # obj??, %psource obj, %pfile obj
LABEL = re.compile(r"^:label:\s*(\S+)", re.M)


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _python(code: str) -> str:
    """A cell's code with IPython's syntax (``obj??``, ``%magic``) turned into Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(code)


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(_python(code))
    except SyntaxError:
        return None


def shown_sources(code: str) -> list[str]:
    """The expressions whose source code this cell shows, as written (``"patches.patchify"``)."""
    tree = _parse(code)
    if tree is None:
        return []
    shown = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name in SOURCE_FUNCTIONS:
            shown.append(ast.unparse(node.args[0]))
        elif (
            name == "run_line_magic"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in SOURCE_MAGICS
            and isinstance(node.args[1], ast.Constant)
        ):
            shown.append(str(node.args[1].value).strip())
    return shown


def import_namespace(cells: list[dict]) -> dict:
    """What the notebook's top-level imports bind (``training`` -> the module), run for real."""
    namespace: dict = {}
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        tree = _parse(student.cell_text(cell))
        for node in tree.body if tree else []:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                exec(compile(ast.Module([node], type_ignores=[]), "<notebook imports>", "exec"), namespace)
    return namespace


def _resolve(expression: str, namespace: dict):
    """The object a dotted name stands for, or None when it is anything else or unknown."""
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError:
        return None
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in namespace:
        return None
    obj = namespace[node.id]
    for part in reversed(parts):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _source(obj) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return ""


def answer_functions(labels=None) -> dict[str, object]:
    """Dotted name -> function, for the answers of ``labels`` (default: every exercise)."""
    names = {name for label, listed in ANSWERS.items() if labels is None or label in labels for name in listed}
    out = {}
    for name in sorted(names):
        module, attr = name.rsplit(".", 1)
        out[name] = getattr(importlib.import_module(module), attr)
    return out


def revealed(code: str, namespace: dict, answers: dict[str, object]) -> list[str]:
    """The answers (dotted names) whose source this cell shows."""
    found = []
    for expression in shown_sources(code):
        obj = _resolve(expression, namespace)
        for name, function in answers.items():
            if obj is None:  # can't tell what it is: flag it if it names an answer
                hit = re.search(rf"\b{re.escape(function.__name__)}\b", expression) is not None
            else:
                hit = obj is function or (_source(function).strip() != "" and _source(function).strip() in _source(obj))
            if hit and name not in found:
                found.append(name)
    return found


def exercises(nb: dict) -> list[tuple[int, str]]:
    """(cell index, label) of every ``{exercise}`` of a notebook."""
    out = []
    for i, cell in enumerate(nb["cells"]):
        text = student.cell_text(cell)
        if cell["cell_type"] == "markdown" and "{exercise}" in text:
            match = LABEL.search(text)
            assert match, f"an exercise without a :label: in cell {i}"
            out.append((i, match.group(1)))
    return out


# --------------------------------------------------------------------------- the detector itself


def test_the_detector_sees_every_way_of_printing_source():
    namespace = import_namespace([{"cell_type": "code", "source": "import inspect as i\nfrom vit_tutorial import patches, head as h"}])
    answers = answer_functions({"ex-patchify", "ex-softmax"})
    printing = {
        "print(i.getsource(patches.patchify))": ["vit_tutorial.patches.patchify"],
        "lines, _ = i.getsourcelines(h.softmax)": ["vit_tutorial.head.softmax"],
        "patches.patchify??": ["vit_tutorial.patches.patchify"],
        "??h.softmax": ["vit_tutorial.head.softmax"],
        "%psource patches.patchify": ["vit_tutorial.patches.patchify"],
        "print(i.getsource(h))": ["vit_tutorial.head.softmax"],  # the whole module holds the answer
        "print(inspect.getsource(somewhere.softmax))": ["vit_tutorial.head.softmax"],  # unknown: named, so flagged
    }
    for code, expected in printing.items():
        assert revealed(code, namespace, answers) == expected, code
    harmless = [
        "print(patches.patchify.__doc__)",
        "patches.patchify?",
        "help(h.softmax)",
        "print(i.signature(patches.patchify))",
        "print(i.getsource(patches.patch_grid))",
        "x = h.softmax(y)",
    ]
    for code in harmless:
        assert revealed(code, namespace, answers) == [], code


# --------------------------------------------------------------------------- the table of answers


def test_every_exercise_of_the_book_has_an_entry():
    labels = {label for path in NOTEBOOKS for _, label in exercises(_read(path))}
    assert labels, "no exercises found in book/"
    missing, stale = sorted(labels - set(ANSWERS)), sorted(set(ANSWERS) - labels)
    assert not missing, f"exercises without an entry in vit_tutorial/exercises/_answers.py: {missing}"
    assert not stale, f"_answers.py lists exercises the book doesn't have: {stale}"


def _adapted(function, shape):
    return (
        {
            "first": lambda *args: function(*args)[0],
            "layer": lambda x, weight, bias: function(x, SimpleNamespace(weight=weight, bias=bias)),
            "model": lambda model: (function(model), model)[1],
        }[shape]
        if shape
        else function
    )


# The self-check each listed answer must pass; how to call the package function the exercise's way.
CHECKED = {
    "ex-patchify": ("check_patchify", None),
    "ex-patch-embed": ("check_patch_embed", None),
    "ex-embed": ("check_embed", None),
    "ex-position-similarity": ("check_position_similarity", None),
    "ex-dropout": ("check_dropout", None),
    "ex-attention-head": ("check_attention_head", "first"),
    "ex-multi-head": ("check_multi_head_attention", "first"),
    "ex-layer-norm": ("check_layer_norm", None),
    "ex-batch-norm": ("check_batch_norm", None),
    "ex-pre-norm-block": ("check_pre_norm_block", None),
    "ex-token-norms": ("check_token_norms", None),
    "ex-post-norm-block": ("check_post_norm_block", None),
    "ex-gelu": ("check_gelu", None),
    "ex-mlp": ("check_mlp", None),
    "ex-encoder-layer": ("check_encoder_layer", "first"),
    "ex-mean-pool": ("check_mean_pool", None),
    "ex-vit-pooler": ("check_vit_pooler", "layer"),
    "ex-classifier": ("check_classifier", "layer"),
    "ex-softmax": ("check_softmax", None),
    "ex-vit-forward": ("check_vit_forward", None),
    "ex-cross-entropy": ("check_cross_entropy", None),
    "ex-freeze-for-probe": ("check_freeze_for_probe", "model"),
    "ex-digits-to-pixels": ("check_digits_to_pixels", None),
}


@pytest.mark.parametrize("label", sorted(CHECKED))
def test_the_listed_function_is_the_answer(label, capsys):
    """The table is not a guess: each listed function passes its exercise's own self-check."""
    import vit_tutorial.exercises as checks

    ((name, function),) = answer_functions({label}).items()
    check, shape = CHECKED[label]
    assert getattr(checks, check)(_adapted(function, shape)), f"{name} does not pass {check}"


def test_split_and_merge_are_the_answers():
    import vit_tutorial.exercises as checks

    functions = answer_functions({"ex-split-merge"})
    assert checks.check_split_heads(functions["vit_tutorial.attention.split_heads"])
    assert checks.check_merge_heads(functions["vit_tutorial.attention.merge_heads"])


# --------------------------------------------------------------------------- the book and the student copy


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_answer_is_printed_above_its_exercise(path):
    nb = _read(path)
    namespace = import_namespace(nb["cells"])
    leaks = []
    for index, label in exercises(nb):
        answers = answer_functions({label})
        for i, cell in enumerate(nb["cells"][:index]):
            if cell["cell_type"] == "code" and not student.is_solution(cell):
                leaks += [f"cell {i} prints {name} above {label}" for name in revealed(student.cell_text(cell), namespace, answers)]
    assert not leaks, f"{path.name}: " + "; ".join(leaks)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_student_copy_prints_no_answer_anywhere(path):
    """The student copy (made by vit_tutorial.course.student) shows no exercise's answer, of any chapter."""
    copy = student.student_notebook(_read(path), chapter=path.stem)
    namespace = import_namespace(copy["cells"])
    answers = answer_functions()
    leaks = [
        f"cell {i} prints {name}"
        for i, cell in enumerate(copy["cells"])
        if cell["cell_type"] == "code"
        for name in revealed(student.cell_text(cell), namespace, answers)
    ]
    assert not leaks, f"student copy of {path.name}: " + "; ".join(leaks)
