"""The grader for a whole class (issue 26): several submissions at once (--jobs), a killed grader that takes its
worker and kernel with it and resumes (--resume), and hand-ins that no submission can harm without a sandbox.

All on the tiny synthetic chapter of ``_exercise_notebooks`` with the checks of ``_exercise_checks`` (quick).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from _exercise_notebooks import STUBS, replace_cell, tiny_chapter, write
from vit_tutorial.course import grade, notebooks
from vit_tutorial.course.handins import HARMED, KEEP

pytestmark = [pytest.mark.slow, pytest.mark.transformers_free]  # every test grades in kernels of its own
# transformers_free: nothing here can depend on the transformers major (make test runs it with transformers blocked; CI on 5.x only)

TIMEOUT = 60  # seconds per submission, on a loaded 2-core machine
TESTS = str(Path(__file__).resolve().parent)
CHECKS = "_exercise_checks"
DEADLINE = 60  # seconds to wait for anything a test waits on


def _solved(double="t * 2", square="t * t"):
    nb = nbformat.from_dict(notebooks.student_notebook(tiny_chapter(), chapter="tiny"))
    replace_cell(nb, STUBS["double"], f"def double(t):\n    return {double}")
    replace_cell(nb, STUBS["square"], f"def square(t):\n    return {square}")
    return nb


def _with_cell(nb, source: str, after: str | None = None):
    """``nb`` with a code cell ``source`` before the exercises, or just after the cell ``after``."""
    at = 3 if after is None else next(i for i, c in enumerate(nb.cells) if c.source == after) + 1
    nb.cells.insert(at, new_code_cell(source))
    return nb


@pytest.fixture
def env(monkeypatch):
    old = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([TESTS, *([old] if old else [])]))  # the workers import _exercise_checks
    monkeypatch.setenv("VIT_TUTORIAL_SANDBOX", "off")  # what these tests are about: no bubblewrap


@pytest.fixture
def book(tmp_path):
    folder = tmp_path / "book"
    folder.mkdir()
    write(tiny_chapter(), folder / "tiny.ipynb")
    return folder


def _hand_in(tmp_path, name: str, nb) -> Path:
    (tmp_path / "subs" / name).mkdir(parents=True, exist_ok=True)
    path = tmp_path / "subs" / name / "tiny.ipynb"
    write(nb, path)
    return path


def _summary(results):
    return [(r.label, r.status, r.passed, [(e.check, e.status, e.message) for e in r.exercises]) for r in results]


def _cli(*args, **kw):
    return [sys.executable, "-m", "vit_tutorial.grade", *map(str, args)]


def test_two_jobs_grade_as_one_job_does_in_the_same_order(env, book, tmp_path):
    files = [_hand_in(tmp_path, "good", _solved()), _hand_in(tmp_path, "failing", _solved(double="t + 2", square="t.T * t.T")),
             _hand_in(tmp_path, "unfinished", nbformat.from_dict(notebooks.student_notebook(tiny_chapter(), chapter="tiny"))),
             _hand_in(tmp_path, "crashing", _with_cell(_solved(), "import os\nos._exit(3)", after="check_double(double)"))]
    seen = []
    one = grade.grade(files, book_dir=book, timeout=TIMEOUT, checks_module=CHECKS, jobs=1)
    two = grade.grade(files, book_dir=book, timeout=TIMEOUT, checks_module=CHECKS, jobs=2,
                      on_result=lambda so_far: seen.append([r.label for r in so_far]))
    assert _summary(one) == _summary(two)
    assert [r.label for r in two] == ["good/tiny.ipynb", "failing/tiny.ipynb", "unfinished/tiny.ipynb", "crashing/tiny.ipynb"]
    assert [(r.status, r.passed) for r in two] == [("graded", 2), ("graded", 0), ("graded", 0), ("crashed", 1)]
    assert [len(s) for s in seen] == [1, 2, 3, 4]  # after every finished submission, those finished, in hand-in order
    assert all(s == sorted(s, key=[r.label for r in two].index) for s in seen)
    assert len({r.log for r in two}) == 4 and all(r.sha256 and r.seed is not None for r in two)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_killed_grader_takes_its_worker_and_kernel_with_it_and_resumes(env, book, tmp_path):
    pids, gate = tmp_path / "pids.txt", tmp_path / "first-run"
    gate.write_text("sleep")
    stall = (f"import os, time\nfrom pathlib import Path\nif Path({str(gate)!r}).exists():\n"
             f"    Path({str(pids)!r}).write_text(f'{{os.getpid()}} {{os.getppid()}}')\n    time.sleep(600)")
    good = _hand_in(tmp_path, "a_good", _solved())
    stalled = _hand_in(tmp_path, "b_stalled", _with_cell(_solved(), stall))
    other = _hand_in(tmp_path, "c_other", _solved(double="t + 2"))
    out = tmp_path / "grades.json"
    args = [good, stalled, other, "--book", book, "--timeout", 300, "--checks", CHECKS, "--jobs", 1, "--logs", tmp_path / "logs"]
    proc = subprocess.Popen(_cli(*args, "--json", out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 4 * DEADLINE
        while time.monotonic() < deadline and not pids.exists() and proc.poll() is None:
            time.sleep(0.2)
        assert pids.exists(), proc.communicate(timeout=DEADLINE) if proc.poll() is not None else "the kernel never started"
        time.sleep(0.5)
        kernel, worker = map(int, pids.read_text().split())
        assert _alive(kernel) and _alive(worker)
    finally:
        proc.kill()  # SIGKILL: nothing of the grader runs after it
        proc.communicate(timeout=DEADLINE)
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline and (_alive(kernel) or _alive(worker)):
        time.sleep(0.2)
    assert not _alive(worker), "the worker outlived the grader"
    assert not _alive(kernel), "the kernel outlived the grader"
    data = json.loads(out.read_text())
    assert data["complete"] is False and [s["label"] for s in data["submissions"]] == ["a_good/tiny.ipynb"]

    gate.unlink()  # the stalled one now runs through
    run = subprocess.run(_cli(*args, "--resume", out), capture_output=True, text=True, timeout=4 * TIMEOUT + 120)
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text())
    assert data["complete"] is True
    subs = data["submissions"]
    assert [(s["label"], s["status"], s["passed"]) for s in subs] == [
        ("a_good/tiny.ipynb", "graded", 2), ("b_stalled/tiny.ipynb", "graded", 2), ("c_other/tiny.ipynb", "graded", 1)]
    assert KEEP in subs[0]["notes"] and KEEP not in subs[1]["notes"] and KEEP not in subs[2]["notes"]
    assert "grading a_good" not in run.stderr and "grading b_stalled" in run.stderr
    assert "Resumed: 1 result(s) kept" in run.stdout

    write(_solved(square="t + t"), good)  # a changed hand-in is graded again; the others are kept
    run = subprocess.run(_cli(*args, "--resume", out), capture_output=True, text=True, timeout=2 * TIMEOUT + 120)
    assert run.returncode == 0, run.stderr
    subs = json.loads(out.read_text())["submissions"]
    assert [(s["status"], s["passed"]) for s in subs] == [("graded", 1), ("graded", 2), ("graded", 1)]
    assert [KEEP in s["notes"] for s in subs] == [False, True, True]
    assert "grading a_good" in run.stderr and "grading b_stalled" not in run.stderr


def test_resume_refuses_a_file_that_is_not_the_graders(env, book, tmp_path):
    mine = tmp_path / "notes.json"
    mine.write_text('{"mine": 1}')
    run = subprocess.run(_cli(_hand_in(tmp_path, "a", _solved()), "--book", book, "--resume", mine),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "--resume" in run.stderr and "not an earlier result" in run.stderr
    assert mine.read_text() == '{"mine": 1}'


def test_without_a_sandbox_a_submission_that_rewrites_a_classmates_hand_in_harms_nobody(env, book, tmp_path):
    found = tmp_path / "found.json"
    victim = tmp_path / "subs" / "b_victim" / "tiny.ipynb"
    attack = (  # looks for hand-ins below its working folder and HOME, then rewrites the one it knows of
        "import json, os\nfrom pathlib import Path\n"
        "seen = [str(p) for top in {Path.cwd(), Path.home()} for p in top.rglob('*.ipynb')]\n"
        f"Path({str(found)!r}).write_text(json.dumps({{'cwd': os.getcwd(), 'home': str(Path.home()), 'seen': seen}}))\n"
        f"Path({str(victim)!r}).write_text('{{}}')")
    files = [_hand_in(tmp_path, "a_attacker", _with_cell(_solved(), attack)), _hand_in(tmp_path, "b_victim", _solved()),
             _hand_in(tmp_path, "c_bystander", _solved())]
    attacker, harmed, bystander = grade.grade(files, book_dir=book, timeout=TIMEOUT, checks_module=CHECKS, jobs=1)
    assert victim.read_text() == "{}"  # it did rewrite the file on disk ...
    assert (harmed.status, harmed.passed) == ("graded", 2), harmed  # ... but the grade is of the hand-in as handed in
    assert HARMED in harmed.flags
    assert any("b_victim/tiny.ipynb" in f and "changed on disk while this submission ran" in f for f in attacker.flags), attacker.flags
    assert (bystander.status, bystander.passed, bystander.flags) == ("graded", 2, [])
    seen = json.loads(found.read_text())
    assert seen["seen"] == [], seen  # no hand-in (nor a copy of one) in or below the kernel's folder and HOME
    assert not any(Path(seen[k]) in Path(f).parents for k in ("cwd", "home") for f in files)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the grader tells who sent a signal from /proc (Linux)")
def test_without_a_sandbox_a_submission_that_signals_the_grader_harms_nobody(env, book, tmp_path):
    attack = (  # the kernel's parent is the worker, whose parent is the grader
        "import os, signal, time\n"
        "grader = int(open(f'/proc/{os.getppid()}/stat').read().rsplit(')', 1)[1].split()[1])\n"
        "for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):\n"
        "    os.kill(grader, sig)\n"
        "time.sleep(3)")
    files = [_hand_in(tmp_path, "a_attacker", _with_cell(_solved(), attack)), _hand_in(tmp_path, "b_next", _solved())]
    out = tmp_path / "grades.json"
    run = subprocess.run(_cli(*files, "--book", book, "--json", out, "--timeout", TIMEOUT, "--checks", CHECKS, "--jobs", 1),
                         capture_output=True, text=True, timeout=4 * TIMEOUT + 120)
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text())
    assert data["complete"] is True
    attacker, following = data["submissions"]
    assert (attacker["status"], attacker["passed"]) == ("graded", 2) and (following["status"], following["passed"]) == ("graded", 2)
    for name in ("SIGTERM", "SIGHUP", "SIGINT"):
        assert f"sent {name} to the grader (ignored)" in attacker["flags"], attacker["flags"]
    assert not any("sent" in f for f in following["flags"])
