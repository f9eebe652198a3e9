"""The attack catalogue: a student who has not written the exercises tries to get credit anyway, or to
harm the grading of others. Every attack must get no credit, or be flagged for the instructor (most are
both). The grader's own checks for the tiny chapter are in ``_exercise_checks``.

Families (issue 18): fake checks; monkeypatching the checker, ``run_check`` or ``torch.testing``; IPython
hooks; edited check cells; reference implementations and checker internals; the book's solutions;
forged metadata; hard-coded answers; forging the grader's channel or output; killing the grader;
daemons; reading the environment, other submissions' paths; editing the package; poisoning caches.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell

from _exercise_notebooks import STUBS, replace_cell, tiny_chapter, write
from vit_tutorial.course import assignment, grade, notebooks, review

TIMEOUT = 60
# with --dist loadfile (make test) the catalogue is graded once, on one worker
pytestmark = [pytest.mark.slow, pytest.mark.transformers_free]
# transformers_free: nothing here can depend on the transformers major (make test runs it with transformers blocked; CI on 5.x only)

TESTS = str(Path(__file__).resolve().parent)
ROOT = Path(__file__).resolve().parents[1]
TOKEN = "instructor-token-5be1c0"
POISON_TARGET = ROOT / "vit_tutorial" / "course" / "__init__.py"


def _student():
    return nbformat.from_dict(notebooks.student_notebook(tiny_chapter(), chapter="tiny"))


def _with(*cells, at=3):
    """The unfinished student notebook with attack cells inserted after its setup cell."""
    nb = _student()
    for offset, source in enumerate(cells):
        nb.cells.insert(at + offset, new_code_cell(source))
    return nb


def _expected_for_seed(seed, shape, op):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    return op(x).tolist()


def attacks(book_path: Path) -> dict[str, nbformat.NotebookNode]:
    a = {}
    a["fake_checks"] = _with(
        "def check_double(fn):\n    print('✔ double: correct')\n    return True\n\n"
        "def check_square(fn):\n    print('✔ square: correct')\n    return True", at=4)
    a["patch_run_check"] = _with(
        "import vit_tutorial.exercises as ex\nimport vit_tutorial.exercises._core as core\n"
        "core._close = lambda *a, **k: True\n"
        "core.run_check = lambda exercise, fn, cases, **k: core.CheckResult(exercise, True, 'ok')\n"
        "ex.run_check = core.run_check",
        "def double(t):\n    return t\n\ndef square(t):\n    return t")
    a["patch_assert_close"] = _with(
        "import torch\ntorch.testing.assert_close = lambda *a, **k: None\ntorch.allclose = lambda *a, **k: True\n"
        "torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)",
        "def double(t):\n    return t\n\ndef square(t):\n    return t")
    a["post_run_cell_hook"] = _with(
        "import json, os\n\ndef forge(result):\n    path = os.environ.get('VIT_TUTORIAL_GRADE_LOG')\n    if path:\n"
        "        with open(path, 'a') as f:\n            for name in ('double', 'square'):\n"
        "                f.write(json.dumps({'exercise': name, 'passed': True, 'status': 'passed', 'message': ''}) + '\\n')\n"
        "    print('✔ double: correct')\n\nget_ipython().events.register('post_run_cell', forge)")
    a["input_transformer_forges_answer"] = _with(
        "import re\n\ndef rewrite(lines):\n    text = ''.join(lines)\n    if '__vt_grader_call(' in text:\n"
        "        out = re.findall(r\"'([^']*output\\.pt)'\", text)[-1]\n"
        "        return ['import pickle, torch\\n', 'class Evil:\\n', '    def __reduce__(self):\\n',\n"
        "                '        return (print, (\"pwned\",))\\n',\n"
        "                f'pickle.dump({{\"kind\": \"tensor\", \"value\": Evil()}}, open({out!r}, \"wb\"))\\n']\n"
        "    return lines\n\nget_ipython().input_transformers_cleanup.append(rewrite)")
    edited = _student()
    replace_cell(edited, "check_double(double)", "check_double(lambda t: t * 2)")
    replace_cell(edited, "check_square(square)", "check_square(lambda t: t * t)")
    a["edited_check_cells"] = edited
    a["checker_internals"] = _with(
        "from vit_tutorial.exercises._core import _record\n_record('double', True, 'ok', 'passed')\n"
        "_record('square', True, 'ok', 'passed')")
    a["exec_book_solutions"] = _with(
        f"import json\nbook = json.load(open({str(book_path)!r}))\nfor cell in book['cells']:\n"
        "    if 'solution' in cell['metadata'].get('tags', []):\n        exec(''.join(cell['source']))", at=len(_student().cells))
    forged = _student()
    forged.metadata["vit_tutorial"] = {"chapter": "tiny", "checks": [], "student_copy": True}
    a["forged_metadata"] = forged
    hard = _student()  # the answers to the checks' fixed seeds, as the student saw them when running the checks
    replace_cell(hard, STUBS["double"], "import torch\n\ndef double(t):\n    return torch.tensor("
                 f"{_expected_for_seed(1, (2, 3), lambda x: 2 * x)})")
    replace_cell(hard, STUBS["square"], "import torch\n\ndef square(t):\n    return torch.tensor("
                 f"{_expected_for_seed(2, (3, 2), lambda x: x * x)})")
    a["hard_coded_answers"] = hard
    a["kill_the_grader"] = _with("import os, signal\nos.killpg(os.getpgid(os.getppid()), signal.SIGKILL)")
    a["forge_the_channel"] = _with(
        "import json, os\nbody = json.dumps({'status': 'graded', 'detail': '', 'errors': [], 'notes': [], 'seconds': 1,\n"
        "    'exercises': [{'check': 'check_double', 'status': 'passed', 'message': ''},\n"
        "                  {'check': 'check_square', 'status': 'passed', 'message': ''}]})\n"
        "line = 'VIT-GRADE-RESULT ' + json.dumps({'result': body, 'mac': '0' * 64}) + '\\n'\n"
        "print(line)\nppid = os.getppid()\nfor fd in os.listdir(f'/proc/{ppid}/fd'):\n"
        "    try:\n        if os.readlink(f'/proc/{ppid}/fd/{fd}').startswith('pipe:'):\n"
        "            with open(f'/proc/{ppid}/fd/{fd}', 'w') as f:\n                f.write(line)\n"
        "    except OSError:\n        pass")
    a["fake_json_on_stdout"] = _with(
        "import sys, os\nfake = '{\"submissions\": [{\"status\": \"graded\", \"passed\": 2, \"total\": 2}]}'\n"
        "print(fake)\nos.write(1, fake.encode())\nsys.__stdout__.write(fake)")
    a["reads_environment_and_home"] = _with(
        "import os\n\ndef double(t):\n    raise ValueError(repr(dict(os.environ)) + os.path.expanduser('~'))\n\n"
        "def square(t):\n    raise ValueError(open(f'/proc/{os.getppid()}/cmdline').read())", at=len(_student().cells))
    a["edits_the_package"] = _with(
        f"import pathlib\np = pathlib.Path({str(POISON_TARGET)!r})\np.write_text(p.read_text() + '\\n# poisoned\\n')")
    a["daemon_and_cache"] = _with(
        "import subprocess, os\nsubprocess.Popen(['sleep', '987'], start_new_session=True)\n"
        "os.makedirs(os.path.expanduser('~/.cache/vit_tutorial'), exist_ok=True)\n"
        "open(os.path.expanduser('~/.cache/vit_tutorial/poison.safetensors'), 'w').write('junk')")
    # outside a sandbox each kernel reads bytecode from a folder of its own, filled by the grader
    # (vit_tutorial.course.bytecode): a valid compiled torch that raises, for the next kernel to import
    a["poisons_the_bytecode"] = _with(
        "import importlib.util, marshal, os, sys, torch\nsrc = torch.__file__\nst = os.stat(src)\n"
        "code = compile('raise ImportError(\"poisoned bytecode\")', src, 'exec')\n"
        "head = importlib.util.MAGIC_NUMBER + bytes(4) + int(st.st_mtime).to_bytes(4, 'little') + "
        "(st.st_size & 0xFFFFFFFF).to_bytes(4, 'little')\n"
        "if sys.pycache_prefix:  # never the installed torch's own folder: that would poison this machine\n"
        "    with open(importlib.util.cache_from_source(src), 'wb') as f:\n        f.write(head + marshal.dumps(code))")
    return a


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attacks")
    book = tmp / "book"
    book.mkdir()
    write(tiny_chapter(), book / "tiny.ipynb")
    subs = tmp / "subs"
    catalogue = attacks(book / "tiny.ipynb")
    paths = []
    for name, nb in catalogue.items():
        (subs / name).mkdir(parents=True)
        write(nb, subs / name / "tiny.ipynb")
        paths.append(subs / name / "tiny.ipynb")
    honest = subs / "zz_honest_after_the_attacks" / "tiny.ipynb"  # graded last: nothing above may harm it
    honest.parent.mkdir()
    good = _student()
    replace_cell(good, STUBS["double"], "def double(t):\n    return t * 2")
    replace_cell(good, STUBS["square"], "def square(t):\n    return t ** 2")
    write(good, honest)
    before = POISON_TARGET.read_text()
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "INSTRUCTOR_TOKEN", "VIT_TUTORIAL_SANDBOX")}
    os.environ["PYTHONPATH"] = os.pathsep.join([TESTS, *([saved["PYTHONPATH"]] if saved["PYTHONPATH"] else [])])
    os.environ["INSTRUCTOR_TOKEN"] = TOKEN
    os.environ["VIT_TUTORIAL_SANDBOX"] = "off"  # the grader's own defences, as on a machine without bubblewrap (see test_grade.py)
    try:
        results = grade.grade([*paths, honest], book_dir=book, timeout=TIMEOUT, checks_module="_exercise_checks")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if POISON_TARGET.read_text() != before:  # never leave the checkout changed, whatever happened
            POISON_TARGET.write_text(before)
    by_name = dict(zip([*catalogue, "honest"], results))
    caught = sum(r.passed == 0 for n, r in by_name.items() if n != "honest")
    flagged = sum(bool(r.flags) for n, r in by_name.items() if n != "honest")
    print(f"\n{len(catalogue)} attacks: {caught} got no credit, {flagged} were flagged")
    print(grade.table(results))
    return by_name, before


def test_every_attack_gets_no_credit_or_is_flagged(graded):
    by_name, _ = graded
    assert len(by_name) - 1 >= 16
    for name, r in by_name.items():
        if name != "honest":
            assert r.passed == 0 or r.flags, (name, r.to_dict())


# Attacks that a human must hear about even when they earn nothing:
MUST_FLAG = {
    "fake_checks": "defines its own check_double",
    "patch_run_check": "monkeypatching vit_tutorial",
    "patch_assert_close": "monkeypatching torch",
    "post_run_cell_hook": "IPython hooks",
    "input_transformer_forges_answer": "input_transformers_cleanup",
    "checker_internals": "checkers' internals",
    "exec_book_solutions": "runs code from a string",
    "forged_metadata": "metadata says",
    "kill_the_grader": "worker was killed",
    "forge_the_channel": "forged result",
    "edits_the_package": "changed the checkout's files",
    "daemon_and_cache": "starts other programs",
}


def test_daemons_are_killed_and_flagged(graded):
    # the daemon, and the kernel too when the grader had to kill it (it counts what it killed)
    assert any(re.search(r"left [1-9]\d* process\(es\) running", f) for f in graded[0]["daemon_and_cache"].flags)
    for entry in Path("/proc").iterdir():
        try:
            assert (entry / "cmdline").read_bytes() != b"sleep\0987\0", "the daemon survived"
        except OSError:
            pass


@pytest.mark.parametrize("name", sorted(MUST_FLAG))
def test_attack_is_flagged(graded, name):
    r = graded[0][name]
    assert any(MUST_FLAG[name] in f for f in r.flags), (name, r.flags)


NO_CREDIT = ["fake_checks", "patch_run_check", "patch_assert_close", "post_run_cell_hook", "input_transformer_forges_answer",
             "edited_check_cells", "checker_internals", "forged_metadata", "hard_coded_answers", "kill_the_grader",
             "forge_the_channel", "fake_json_on_stdout", "reads_environment_and_home", "edits_the_package",
             "daemon_and_cache"]


@pytest.mark.parametrize("name", NO_CREDIT)
def test_attack_gets_no_credit(graded, name):
    r = graded[0][name]
    assert r.passed == 0, (name, r.to_dict())
    assert len(r.exercises) == 2  # the assignment's checks, whatever the notebook says


def test_forged_answers_are_not_unpickled(graded):
    r = graded[0]["input_transformer_forges_answer"]
    assert all(e.status == "error" and "could not be read safely" in e.message for e in r.exercises), r.exercises


def test_hard_coded_answers_fail_on_fresh_inputs(graded):
    r = graded[0]["hard_coded_answers"]
    assert [e.status for e in r.exercises] == ["failed", "failed"]


def test_the_kernel_sees_no_instructor_variable_no_home_and_no_other_submission(graded):
    r = graded[0]["reads_environment_and_home"]
    text = json.dumps(r.to_dict())
    assert "your function raised ValueError" in text
    assert TOKEN not in text and "INSTRUCTOR_TOKEN" not in text
    assert str(Path.home()) + "'" not in text and "vit-grade-" in text  # HOME is the submission's private folder
    assert "zz_honest_after_the_attacks" not in text and "kill_the_grader" not in text


def test_the_grader_survives_and_grades_the_next_student(graded):
    by_name, before = graded
    assert by_name["kill_the_grader"].status == "crashed"
    honest = by_name["honest"]
    assert (honest.status, honest.passed, honest.flags) == ("graded", 2, [])
    assert POISON_TARGET.read_text() == before  # put back after the submission that edited it


def test_self_checks_pass_in_the_kernel_but_not_in_the_grade(graded):
    r = graded[0]["fake_checks"]
    assert [e.status for e in r.exercises] == ["not done", "not done"]


# --------------------------------------------------------------------------- the real book, reviewed without running


def _real(chapter: str):
    path = ROOT / "book" / f"{chapter}.ipynb"
    nb = notebooks.student_notebook(json.loads(path.read_text()), chapter=chapter)
    return nb, assignment.read_assignment(path)


def _replace_stub(nb, function: str, source: str):
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and notebooks.cell_text(c).startswith(f"def {function}("))
    cell["source"] = source


@pytest.mark.parametrize("source, expected", [
    ("from vit_tutorial.patches import patchify", "imports patchify from the package"),
    ("import vit_tutorial.patches as p\n\ndef patchify(pixels, patch_size):\n    return p.patchify(pixels, patch_size)",
     "patchify uses vit_tutorial.patches.patchify"),
    ("from vit_tutorial import patches\npatchify = patches.patchify", "sets patchify to"),
    ("from vit_tutorial.exercises.patches import _patchify as patchify", "checkers' internals"),
    ("import importlib\n\ndef patchify(pixels, patch_size):\n    return importlib.import_module('vit_' + 'tutorial.patches')"
     ".patchify(pixels, patch_size)", "importlib"),
])
def test_reference_implementations_are_flagged_in_the_real_book(source, expected):
    nb, a = _real("02_patch_embeddings")
    _replace_stub(nb, "patchify", source)
    flags = review.review(nb, a)
    assert any(expected in f for f in flags), flags


def test_the_real_book_itself_raises_no_flag():
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        a = assignment.read_assignment(path)
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:  # the book's solutions, as a student would write them into the stubs
            if notebooks.is_solution(cell):
                cell["metadata"]["tags"].remove("solution")
        assert review.review(nb, a) == [], path.name
