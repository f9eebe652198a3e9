"""The grader on honest submissions and accidents: good, failing, unfinished, crashing, timing-out,
malformed, edited or deleted check cells, %time, several checks in one cell; and its command line.

The grader's own checks for the tiny chapter are in ``_exercise_checks`` (its seeded inputs are
salted at grading time); the attacks are in ``test_grade_attacks.py``.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from _exercise_notebooks import STUBS, replace_cell, tiny_chapter, write
from vit_tutorial.course import assignment, grade, isolation, kernel, notebooks, sandbox, worker

pytestmark = [pytest.mark.slow, pytest.mark.transformers_free]  # every test grades in kernels of its own: make test runs them, make check does not
# transformers_free: nothing here can depend on the transformers major (make test runs it with transformers blocked; CI on 5.x only)

# The endless loop spins through the whole TIMEOUT, as a student's would, but at the lowest priority: it takes only
# the CPU that the other tests running beside it leave idle (at normal priority it took a core for 40 s). The kernel
# runs in a session of its own, which Linux schedules as one group (autogroup): that group's priority is lowered too.
LOWEST_PRIORITY = ("import os\nos.nice(19)\ntry:\n    with open('/proc/self/autogroup', 'w') as f:\n"
                   "        f.write('19')\nexcept OSError:\n    pass\n")
TIMEOUT = 40  # seconds per submission: a good one takes 5-20 s here (importing torch, on a busy machine); the loop uses all of it
TESTS = str(Path(__file__).resolve().parent)
CHECKS = "_exercise_checks"


def _student():
    return nbformat.from_dict(notebooks.student_notebook(tiny_chapter(), chapter="tiny"))


def _solved(double="t * 2", square="t * t"):
    nb = _student()
    replace_cell(nb, STUBS["double"], f"def double(t):\n    return {double}")
    replace_cell(nb, STUBS["square"], f"def square(t):\n    return {square}")
    return nb


def _index_of(nb, source: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.source == source)


@pytest.fixture(scope="module")
def env():
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([TESTS, *([old] if old else [])])  # the workers import _exercise_checks
    yield
    if old is None:
        os.environ.pop("PYTHONPATH")
    else:
        os.environ["PYTHONPATH"] = old


@pytest.fixture(scope="module")
def graded(tmp_path_factory, env):
    """Grade one batch of submissions in a single run (each in its own worker and kernel)."""
    tmp = tmp_path_factory.mktemp("grading")
    book = tmp / "book"
    book.mkdir()
    write(tiny_chapter(), book / "tiny.ipynb")
    subs = tmp / "subs"
    subs.mkdir()

    good = _solved(double="torch.mul(t, 2)", square="torch.einsum('ij,ij->ij', t, t)")  # written differently
    good.cells.insert(2, new_code_cell("1 / 0"))  # an error outside the checks
    replace_cell(good, "check_double(double)", "%time check_double(double)")  # restored from the book
    good.cells.pop(_index_of(good, "check_square(square)"))  # deleted: put back
    failing = _solved(double="t + 2", square="t.T * t.T")
    unfinished = _student()
    crashing = _solved()
    crashing.cells.insert(_index_of(crashing, "check_double(double)") + 1, new_code_cell("import os\nos._exit(3)"))
    looping = _solved()
    looping.cells.insert(_index_of(looping, "check_double(double)") + 1, new_code_cell(LOWEST_PRIORITY + "while True:\n    pass"))
    combined = _solved()  # both checks in one cell; the first fails, the second is still credited
    replace_cell(combined, "def double(t):\n    return t * 2", STUBS["double"])
    combined.cells.pop(_index_of(combined, "check_square(square)"))
    replace_cell(combined, "check_double(double)", "check_double(double)\ncheck_square(square)")
    renamed = _solved()
    renamed.metadata["vit_tutorial"]["chapter"] = "02_patch_embeddings"  # the file name decides

    files = {}
    for name, nb in [("good", good), ("failing", failing), ("unfinished", unfinished), ("crashing", crashing),
                     ("looping", looping), ("combined", combined)]:
        (subs / name).mkdir()
        files[name] = subs / name / "tiny.ipynb"  # every student hands in the same file name
        write(nb, files[name])
    raw = json.loads(files["good"].read_text())  # an output another tool wrote oddly must not matter
    next(c for c in raw["cells"] if c["cell_type"] == "code")["outputs"] = [{"output_type": "odd", "x": 1}]
    files["good"].write_text(json.dumps(raw))
    files["renamed"] = subs / "alice_tiny.ipynb"
    write(renamed, files["renamed"])
    bad = subs / "bad"
    bad.mkdir()
    files["malformed"] = bad / "tiny_malformed.ipynb"
    files["malformed"].write_text(nbformat.writes(good)[:-40])  # cut short: invalid JSON
    files["not_notebook"] = bad / "tiny_list.ipynb"
    files["not_notebook"].write_text(json.dumps({"cells": "none", "hello": 1}))
    files["bom"] = bad / "tiny_bom.ipynb"
    files["bom"].write_bytes(b"\xef\xbb\xbf" + nbformat.writes(good).encode())
    files["v2"] = bad / "tiny_v2.ipynb"
    files["v2"].write_text(json.dumps({"nbformat": 2, "nbformat_minor": 0, "metadata": {}, "worksheets": []}))
    files["deep"] = bad / "tiny_deep.ipynb"
    files["deep"].write_text("[" * 100000 + "]" * 100000)
    files["missing"] = bad / "tiny_nobody.ipynb"
    files["unknown"] = bad / "homework.ipynb"
    write(good, files["unknown"])

    order = ["malformed", "crashing", "good", "looping", "failing", "not_notebook", "bom", "v2", "deep", "missing",
             "unknown", "unfinished", "combined", "renamed"]
    def run():
        seen = []
        start = time.monotonic()
        # two at a time: the endless loop spins out its TIMEOUT beside the others, not before them (one at a time,
        # with the same results in the same order: test_grade_scale.test_two_jobs_grade_as_one_job_does_in_the_same_order)
        results = grade.grade([files[k] for k in order], book_dir=book, timeout=TIMEOUT, checks_module=CHECKS,
                              on_result=lambda so_far: seen.append(len(so_far)), jobs=2)
        print(f"graded {len(order)} submissions in {time.monotonic() - start:.1f} s")
        return results, seen

    results, seen = run()
    return dict(zip(order, results)), results, book, files, seen


def _statuses(result):
    return {e.name: e.status for e in result.exercises}


def test_good_submission_passes_every_exercise_even_with_edited_and_deleted_check_cells(graded):
    r = graded[0]["good"]
    assert (r.status, r.chapter) == ("graded", "tiny")
    assert _statuses(r) == {"double": "passed", "square": "passed"}
    assert r.passed == 2
    assert r.errors == ["cell 2: ZeroDivisionError: division by zero"]
    assert any("check_double was edited; restored" in n for n in r.notes)  # the %time cell
    assert any("check_square was deleted; put back" in n for n in r.notes)
    assert r.flags == []  # nothing suspicious in honest work


def test_failing_submission_gets_the_diagnosis(graded):
    r = graded[0]["failing"]
    assert r.status == "graded" and r.passed == 0
    double, square = r.exercises
    assert double.status == "failed" and "you added 2 instead of multiplying by 2" in double.message
    assert square.status == "failed" and "your output has shape (2, 3), expected (3, 2)" in square.message


def test_unfinished_submission_is_not_done(graded):
    r = graded[0]["unfinished"]
    assert _statuses(r) == {"double": "not done", "square": "not done"}
    assert all("not written yet" in e.message for e in r.exercises)


def test_crashing_submission_is_graded_on_the_cells_before_the_crash(graded):
    r = graded[0]["crashing"]
    assert r.status == "crashed" and "kernel died" in r.detail
    assert _statuses(r) == {"double": "passed", "square": "error"}
    assert "`square` is not defined" in r.exercises[1].message


@pytest.mark.parametrize("ending", ["exit()", "import sys\nsys.exit(2)"])
def test_a_notebook_that_exits_is_graded_like_a_crash_on_the_cells_before_it(env, tmp_path, ending):
    """``exit()``/``quit()`` shut the kernel down; ``sys.exit()``/``raise SystemExit`` stop a "Run All": either way
    the cell and the cause are named, what came before is run again and credited, what came after is not."""
    write(tiny_chapter(), tmp_path / "tiny.ipynb")
    nb = _solved()
    at = _index_of(nb, "check_double(double)") + 1
    nb.cells.insert(at, new_code_cell(ending))
    (tmp_path / "alice").mkdir()
    write(nb, tmp_path / "alice" / "tiny.ipynb")
    [r] = grade.grade([tmp_path / "alice" / "tiny.ipynb"], book_dir=tmp_path, timeout=TIMEOUT, checks_module=CHECKS)
    assert r.status == "crashed" and f"ended in cell {at}" in r.detail, r.detail
    assert ("exit()" if ending == "exit()" else "SystemExit (2)") in r.detail
    assert any(f"cell {at}: graded the cells before it, run again" in n for n in r.notes), r.notes
    assert _statuses(r) == {"double": "passed", "square": "error"}
    assert "`square` is not defined" in r.exercises[1].message


def test_endless_loop_times_out_and_what_was_written_before_it_counts(graded):
    r = graded[0]["looping"]
    assert r.status == "timeout" and f"{TIMEOUT:g} s" in r.detail
    assert _statuses(r) == {"double": "passed", "square": "error"}
    assert r.seconds >= TIMEOUT  # it was stopped by the limit, not by something else


def test_each_check_of_a_multi_check_cell_is_credited_on_its_own(graded):
    r = graded[0]["combined"]
    assert _statuses(r) == {"double": "not done", "square": "passed"}


def test_chapter_comes_from_the_file_name_and_a_metadata_mismatch_is_reported(graded):
    r = graded[0]["renamed"]
    assert r.chapter == "tiny" and _statuses(r) == {"double": "passed", "square": "passed"}
    assert any("metadata says chapter '02_patch_embeddings'" in f for f in r.flags)


def test_invalid_files_get_a_reason_and_do_not_stop_the_others(graded):
    by_name, results, _, _, _ = graded
    expect = {"malformed": "not valid JSON", "not_notebook": "not a Jupyter notebook", "bom": "byte-order mark",
              "v2": "nbformat 2", "deep": "nested more than"}
    for name, reason in expect.items():
        r = by_name[name]
        assert r.status == "invalid" and reason in r.detail, (name, r.detail)
        assert r.chapter == "tiny" and set(_statuses(r).values()) == {"not run"}
    assert by_name["missing"].status == "not found"
    assert by_name["unknown"].status == "unknown chapter" and "names no chapter" in by_name["unknown"].detail
    assert len(results) == 14  # everything after them was graded too (see the other tests)


def test_results_arrive_one_by_one(graded):
    assert graded[4] == list(range(1, 15))


def test_table_tells_students_apart_and_json_has_everything(graded):
    by_name, results, _, _, _ = graded
    text = grade.table(results)
    lines = text.splitlines()
    assert lines[0].split() == ["submission", "exercise", "result", "details"]
    assert any(l.startswith("good/tiny.ipynb") and "2/2 passed" in l for l in lines)
    assert any(l.startswith("failing/tiny.ipynb") and "0/2 passed" in l for l in lines)
    assert any("double" in l and "failed" in l and "you added 2" in l for l in lines)
    assert any(l.startswith("looping/tiny.ipynb") and "timeout" in l for l in lines)
    assert any(l.startswith("alice_tiny.ipynb") and "⚑" in l for l in lines)
    data = json.loads(json.dumps(grade.to_json(results)))
    assert data["tool"] == "vit_tutorial.grade" and data["complete"] is True
    good = data["submissions"][results.index(by_name["good"])]
    assert good["passed"] == good["total"] == 2 and good["status"] == "graded" and good["chapter"] == "tiny"
    assert good["label"] == "good/tiny.ipynb" and Path(good["log"]).is_file()
    assert [e["name"] for e in good["exercises"]] == ["double", "square"]
    assert {"graded", "crashed", "timeout", "invalid", "not found", "unknown chapter"} <= {s["status"] for s in data["submissions"]}


def test_the_table_shows_every_detail_in_full_wrapped_under_its_column():
    from vit_tutorial.course.results import ExerciseResult, SubmissionResult

    long = "the output has the right shape but differs from the reference " * 4 + "(max abs diff 0.25 at [0, 3])."
    r = SubmissionResult("a/tiny.ipynb", "graded", chapter="tiny", label="a/tiny.ipynb",
                         exercises=[ExerciseResult("check_double", "failed", long)], flags=["cell 3: " + long])
    text = grade.table([r])
    assert "…" not in text
    assert " ".join(text.split()).count(long.strip()) == 2  # both in full, every word
    column = text.splitlines()[0].index("details")
    wrapped = [line for line in text.splitlines() if not line[:column].strip()]
    assert len(wrapped) >= 4 and all(line[column] != " " for line in wrapped)  # continued right under "details"
    assert all(len(line) <= column + 80 for line in text.splitlines())


def test_kernel_output_goes_to_the_log_not_the_grader(graded, capfd):
    r = graded[0]["good"]
    log = Path(r.log).read_text()
    assert "✔ double" in log  # the notebook's own self-check printed there
    assert "without encryption" not in log  # the kernel talks over a private socket (ipc), not TCP


def _cli(*args, timeout=TIMEOUT + 120, **kw):
    return subprocess.run([sys.executable, "-m", "vit_tutorial.grade", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)


def test_command_line_validates_json_before_grading_and_never_overwrites_a_notebook(graded, tmp_path):
    _, _, book, files, _ = graded
    nb_text = files["unfinished"].read_text()
    run = _cli(files["unfinished"], files["failing"], "--book", book, "--json", files["unfinished"])
    assert run.returncode == 2 and "notebook" in run.stderr and files["unfinished"].read_text() == nb_text
    other = tmp_path / "notes.json"
    other.write_text('{"mine": 1}')
    run = _cli(files["unfinished"], "--book", book, "--json", other)
    assert run.returncode == 2 and "not an earlier result" in run.stderr and other.read_text() == '{"mine": 1}'
    run = _cli(files["unfinished"], "--book", book, "--json", tmp_path / "nowhere" / "grades.json")
    assert run.returncode == 2 and "does not exist" in run.stderr
    for bad in ("0", "inf", "nan", "-3", "soon"):
        run = _cli(files["unfinished"], "--timeout", bad)
        assert run.returncode == 2 and "--timeout" in run.stderr, bad


def test_command_line_writes_the_table_and_json(graded, tmp_path):
    _, _, book, files, _ = graded
    out = tmp_path / "grades.json"
    run = _cli(files["malformed"], files["unfinished"], "--book", book, "--json", out, "--timeout", TIMEOUT,
               "--logs", tmp_path / "logs", "--checks", CHECKS)
    assert run.returncode == 0, run.stderr
    assert "unfinished/tiny.ipynb" in run.stdout and "0/2 passed" in run.stdout and "not done" in run.stdout
    data = json.loads(out.read_text())
    assert data["complete"] is True and [s["status"] for s in data["submissions"]] == ["invalid", "graded"]
    sandbox = data["submissions"][1]["sandbox"]  # whether the kernel ran in bubblewrap, and if not why
    assert sandbox.startswith(("bubblewrap", "none (")) and f"Sandbox: {sandbox}" in run.stdout
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["unfinished_tiny.ipynb.log"]
    again = _cli(files["malformed"], "--book", book, "--json", out, "--checks", CHECKS)  # an earlier result may be replaced
    assert again.returncode == 0 and json.loads(out.read_text())["submissions"][0]["status"] == "invalid"


def test_ctrl_c_keeps_what_is_done(graded, tmp_path):
    _, _, book, files, _ = graded
    out = tmp_path / "grades.json"
    proc = subprocess.Popen([sys.executable, "-m", "vit_tutorial.grade", str(files["malformed"]), str(files["looping"]),
                             str(files["good"]), "--book", str(book), "--json", str(out), "--timeout", "60",
                             "--checks", CHECKS],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180  # a loaded 2-core machine: generous
    while time.monotonic() < deadline and not (out.exists() and json.loads(out.read_text())["submissions"]):
        time.sleep(0.2)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 130, stderr
    data = json.loads(out.read_text())
    assert data["complete"] is False
    assert [s["status"] for s in data["submissions"]] == ["invalid", "interrupted", "interrupted"]
    assert "Interrupted" in stderr and "tiny_malformed.ipynb" in stdout


NOWHERE = ("import sys\nfrom vit_tutorial.course import grade, notebooks\n"
           "def nowhere(start=None):\n    raise FileNotFoundError('no checkout')\n"  # as from an installed wheel
           "notebooks.project_root = nowhere\nsys.exit(grade.main(sys.argv[1:]))")


@pytest.mark.parametrize("book", [None, "empty"])
def test_without_a_book_the_grader_says_to_pass_book_and_fails(tmp_path, book):
    """From outside a checkout, no hand-in is blamed for its name: the grader stops before grading, naming --book."""
    (tmp_path / "alice").mkdir()
    write(_solved(), tmp_path / "alice" / "04_attention.ipynb")
    (tmp_path / "empty").mkdir()
    args = ["alice/04_attention.ipynb", *(["--book", book] if book else [])]
    run = subprocess.run([sys.executable, "-c", NOWHERE, *args], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    assert "--book" in run.stderr and "can't find the book" in run.stderr, run.stderr
    assert "unknown chapter" not in run.stdout + run.stderr and "grading" not in run.stderr
    with pytest.raises(FileNotFoundError, match="--book"):
        grade.grade([tmp_path / "alice" / "04_attention.ipynb"], book_dir=tmp_path / "empty")


def test_a_folder_pipe_device_or_dangling_link_handed_in_is_named_for_what_it_is(tmp_path):
    write(tiny_chapter(), tmp_path / "tiny.ipynb")
    book = {"tiny": tmp_path / "tiny.ipynb"}
    (tmp_path / "dir_tiny.ipynb").mkdir()
    os.mkfifo(tmp_path / "fifo_tiny.ipynb")  # opening it would block: it must not be opened
    (tmp_path / "zero_tiny.ipynb").symlink_to("/dev/zero")
    (tmp_path / "gone_tiny.ipynb").symlink_to(tmp_path / "nobody.ipynb")
    expect = {"dir": ("invalid", "a folder, not a notebook file"), "fifo": ("invalid", "a named pipe (FIFO)"),
              "zero": ("invalid", "a symbolic link to /dev/zero, which is a character device"),
              "gone": ("not found", "a symbolic link to"), "nobody": ("not found", "no such file")}
    for name, (status, detail) in expect.items():
        r = grade.grade_one(tmp_path / f"{name}_tiny.ipynb", book)
        assert (r.status, r.chapter) == (status, "tiny") and detail in r.detail, (name, r.status, r.detail)


def test_chapter_lookup_rules():
    book = {"02_patch_embeddings": Path("b2"), "03_cls_position_dropout": Path("b3")}
    find = assignment.chapter_from_file_name
    assert find(Path("02_patch_embeddings.ipynb"), book) == "02_patch_embeddings"
    assert find(Path("smith_02_patch_embeddings (1).ipynb"), book) == "02_patch_embeddings"
    assert find(Path("smith_03_mine.ipynb"), book) == "03_cls_position_dropout"
    assert find(Path("homework.ipynb"), book) is None


def test_assignments_come_from_the_real_book():
    root = Path(__file__).resolve().parents[1] / "book"
    total = 0
    for path in sorted(root.glob("*.ipynb")):
        a = assignment.read_assignment(path)
        book_nb = json.loads(path.read_text())
        assert [c.name for c in a.checks] == notebooks.expected_checks(book_nb)  # the same count as the student copy
        for check in a.checks:
            assert check.function.isidentifier() and set(check.args) <= {"model"}, check
        total += len(a.checks)
    assert total >= 20


def test_the_grader_hides_the_submissions_paths_from_other_processes():
    code = ("import sys; from vit_tutorial.course.grade import hide_command_line; ok = hide_command_line(); "
            "print(ok, sys.argv[1], open('/proc/self/cmdline', 'rb').read())")
    run = subprocess.run([sys.executable, "-c", code, "alice/secret_04_attention.ipynb"], capture_output=True, text=True)
    ok, arg, seen = run.stdout.split(" ", 2)
    assert arg == "alice/secret_04_attention.ipynb"  # the grader itself still has it
    if ok == "True":
        assert "secret_04" not in seen


FORGE_EVERY_PIPE = (  # what the attack catalogue's forge_the_channel does: write into every pipe of the kernel's parent
    "import os\nline = 'VIT-GRADE-RESULT {\"result\": \"{}\", \"mac\": \"' + '0' * 64 + '\"}\\n'\n"
    "ppid = os.getppid()\nfor fd in os.listdir(f'/proc/{ppid}/fd'):\n"
    "    try:\n        if os.readlink(f'/proc/{ppid}/fd/{fd}').startswith('pipe:'):\n"
    "            with open(f'/proc/{ppid}/fd/{fd}', 'w') as f:\n                f.write(line)\n"
    "    except OSError:\n        pass")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="the attack walks /proc (Linux)")
@pytest.mark.parametrize("threaded", [False, True], ids=["forked-worker", "subprocess-worker"])
def test_a_kernel_reaches_no_pipe_of_the_grader(env, tmp_path, monkeypatch, threaded):
    """A kernel can open its worker's descriptors through /proc/PID/fd. A forked worker used to keep all of the
    grader's: under pytest-xdist, execnet's channel to the controller, which the forged line corrupted (the
    run hung). Now the worker holds no pipe of the grader's; only its answer pipe, where a forgery is flagged."""
    monkeypatch.setattr(isolation, "_threaded", lambda: threaded)
    monkeypatch.setenv("VIT_TUTORIAL_SANDBOX", "off")  # in bubblewrap the kernel's parent is bwrap, not the worker
    book = tmp_path / "book"
    book.mkdir()
    write(tiny_chapter(), book / "tiny.ipynb")
    nb = _student()
    nb.cells.insert(3, new_code_cell(FORGE_EVERY_PIPE))
    write(nb, tmp_path / "tiny.ipynb")
    read, write_end = os.pipe()  # the grader's own channel (not inheritable, like execnet's)
    os.set_blocking(read, False)
    try:
        [r] = grade.grade([tmp_path / "tiny.ipynb"], book_dir=book, timeout=TIMEOUT, checks_module=CHECKS)
        with pytest.raises(BlockingIOError):
            got = os.read(read, 1 << 16)
            pytest.fail(f"the kernel wrote into the grader's pipe: {got!r}")
    finally:
        os.close(read), os.close(write_end)
    assert r.status == "graded" and r.passed == 0, r.to_dict()
    assert any("forged result" in f for f in r.flags), r.flags  # it did reach the worker's pipes


ROOT = Path(__file__).resolve().parents[1]


def _needs_sandbox(tmp_path):
    wrapper, note = sandbox.sandbox(tmp_path)
    if not wrapper:
        if os.environ.get("VIT_TUTORIAL_REQUIRE_SANDBOX") == "1":
            pytest.fail(f"no sandbox: {note} (and VIT_TUTORIAL_REQUIRE_SANDBOX=1)", pytrace=False)
        pytest.skip(f"no sandbox here: {note}")


def test_in_bubblewrap_the_kernel_writes_only_in_its_own_folder(env, tmp_path):
    _needs_sandbox(tmp_path)
    book = tmp_path / "book"
    book.mkdir()
    write(tiny_chapter(), book / "tiny.ipynb")
    package = ROOT / "vit_tutorial" / "course" / "__init__.py"
    outside = ROOT / "tests" / f"_sandbox_escape_{os.getpid()}.txt"
    private_tmp = Path("/tmp") / f"vt-sandbox-escape-{os.getpid()}"
    targets = [package, book / "tiny.ipynb", outside, private_tmp, "~/mine.txt"]
    nb = _solved()
    nb.cells.insert(3, new_code_cell(
        f"import errno, os\ngot = []\nfor target in {[str(t) for t in targets]!r}:\n    try:\n"
        "        with open(os.path.expanduser(target), 'a') as f:\n            f.write('x')\n        got.append('wrote')\n"
        "    except OSError as err:\n        got.append(errno.errorcode.get(err.errno, str(err.errno)))\n"
        "raise RuntimeError('writes: ' + ' '.join(got))"))
    nb.cells.insert(4, new_code_cell(  # its own process namespace: the grader (this process) is out of sight
        f"import os\npids = [int(p) for p in os.listdir('/proc') if p.isdigit()]\n"
        f"raise RuntimeError(f'processes: {{len(pids)}} grader_visible={{{os.getpid()} in pids}} parent={{os.getppid()}}')"))
    nb.cells.insert(5, new_code_cell(  # reads the bytecode pip installed (read-only here), writes none
        "import sys\nraise RuntimeError(f'bytecode: {sys.pycache_prefix} {sys.dont_write_bytecode}')"))
    write(nb, tmp_path / "tiny.ipynb")
    before = package.read_bytes(), (book / "tiny.ipynb").read_bytes()
    [r] = grade.grade([tmp_path / "tiny.ipynb"], book_dir=book, timeout=TIMEOUT, checks_module=CHECKS)
    assert r.sandbox.startswith("bubblewrap"), r.sandbox
    [error] = [e for e in r.errors if "writes:" in e]
    package_err, book_err, outside_err, tmp_result, home_result = error.split("writes: ")[1].split()
    assert package_err == outside_err == "EROFS", error  # the package, the checkout: read-only
    assert book_err in ("EROFS", "ENOENT"), error  # the book is read-only, or not there at all (under /tmp)
    assert tmp_result == home_result == "wrote", error  # its private /tmp and its own folder
    [seen] = [e for e in r.errors if "processes:" in e]
    count, visible, parent = seen.split("processes: ")[1].split()
    assert int(count) < 10 and visible == "grader_visible=False" and parent == "parent=1", seen
    assert [e.split("bytecode: ")[1] for e in r.errors if "bytecode:" in e] == ["None True"], r.errors
    assert (package.read_bytes(), (book / "tiny.ipynb").read_bytes()) == before
    assert not outside.exists() and not private_tmp.exists()
    assert not any("changed the checkout" in f for f in r.flags), r.flags
    assert (r.status, r.passed) == ("graded", 2), r.to_dict()  # an honest submission is graded as usual


def test_outside_a_sandbox_a_kernel_reads_its_own_copy_of_the_graders_bytecode(env, tmp_path, monkeypatch):
    """Unsandboxed, a kernel could rewrite the ``__pycache__`` of the packages for the next submission's kernel:
    there each kernel reads bytecode from a folder that no other kernel uses at the same time, which the grader fills
    with a copy of what it compiled and checks before the next kernel of the job uses it (the attack on it is in
    test_grade_attacks.py). In bubblewrap (read-only) the installed bytecode is used."""
    alone = kernel.kernel_env(tmp_path, sandboxed=False)
    assert alone["PYTHONPYCACHEPREFIX"] == str(tmp_path / "pycache") and alone["PYTHONDONTWRITEBYTECODE"] == "1"
    wrapped = kernel.kernel_env(tmp_path, sandboxed=True)
    assert "PYTHONPYCACHEPREFIX" not in wrapped and wrapped["PYTHONDONTWRITEBYTECODE"] == "1"

    monkeypatch.setenv("VIT_TUTORIAL_SANDBOX", "off")
    book = tmp_path / "book"
    book.mkdir()
    write(tiny_chapter(), book / "tiny.ipynb")
    nb = _solved()
    nb.cells.insert(3, new_code_cell(  # a kernel writes no bytecode: what is there, the grader put there
        "import os, sys, torch\ncached = torch.__spec__.cached\n"
        "raise RuntimeError(f'bytecode: {cached.startswith(sys.pycache_prefix)} {os.path.isfile(cached)} "
        "{sys.pycache_prefix.startswith(os.environ[\"HOME\"].removesuffix(\"home\"))} {sys.pycache_prefix}')"))
    for who in ("ana", "ben"):
        (tmp_path / who).mkdir()
        write(nb, tmp_path / who / "tiny.ipynb")
    results = grade.grade([tmp_path / who / "tiny.ipynb" for who in ("ana", "ben")], book_dir=book, timeout=TIMEOUT,
                          checks_module=CHECKS)
    said = [e.split("bytecode: ")[1].split() for r in results for e in r.errors if "bytecode:" in e]
    assert [s[:3] for s in said] == [["True", "True", "False"]] * 2, said  # its own copy, outside its private folder:
    assert said[0][3] == said[1][3], said  # the one its job's kernels share, checked before each (bytecode.ensure)
    for r in results:
        assert r.sandbox.startswith("none"), r.sandbox
        assert (r.status, r.passed) == ("graded", 2), r.to_dict()


def test_the_graders_own_compiled_files_go_where_a_kernel_looks_for_them(tmp_path):
    """bytecode.prepare starts from the compiled files of what the grader imported (pip wrote them): each lands where
    Python, started with PYTHONPYCACHEPREFIX, looks for it, byte for byte, so the kernel compiles only the rest."""
    import email.mime.text  # noqa: F401 - a module of the standard library with compiled files

    from vit_tutorial.course import bytecode

    assert bytecode._seed(tmp_path) > 50
    where = subprocess.run([sys.executable, "-c", "import email.mime.text as m; print(m.__spec__.cached)"],
                           env={**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path)}, capture_output=True, text=True, timeout=120)
    looked = Path(where.stdout.strip())
    assert looked.is_relative_to(tmp_path), where
    assert looked.read_bytes() == Path(email.mime.text.__spec__.cached).read_bytes()


def test_a_place_keeps_its_compiled_files_and_what_a_kernel_changed_there_is_undone(tmp_path, monkeypatch):
    """The kernels of one job of a batch use one folder of compiled files after each other (bytecode.ensure): checked
    before each kernel and left as it is when it holds exactly the grader's files; anything a kernel changed there
    (a file rewritten, one added or removed, a link, a second name) is moved aside and a fresh copy written."""
    from vit_tutorial.course import bytecode

    files = {os.path.join("usr", "lib", "a.cpython-311.pyc"): b"A" * 100, os.path.join("usr", "b.cpython-311.pyc"): b"B"}
    monkeypatch.setattr(bytecode, "_files", files)
    place, own = tmp_path / "places" / "0", tmp_path / "own"
    place.parent.mkdir()
    a = place / "usr" / "lib" / "a.cpython-311.pyc"

    def holds(folder):
        return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == files

    assert bytecode.ensure(place, own) == place and holds(place)
    written = a.stat().st_mtime_ns
    assert bytecode.ensure(place, own) == place and holds(place) and a.stat().st_mtime_ns == written  # checked only

    elsewhere = tmp_path / "same bytes elsewhere"
    elsewhere.write_bytes(files[os.path.join("usr", "lib", "a.cpython-311.pyc")])
    changes = {
        "rewritten": lambda: a.write_bytes(b"poisoned"),
        "added": lambda: (place / "usr" / "c.cpython-311.pyc").write_bytes(b"C"),
        "added folder": lambda: (place / "opt").mkdir(),
        "removed": lambda: a.unlink(),
        "a link": lambda: (a.unlink(), a.symlink_to(elsewhere)),
        "a second name": lambda: os.link(a, tmp_path / "second name"),
    }
    for what, change in changes.items():
        change()
        assert bytecode.ensure(place, own) == place and holds(place), what
        assert not a.is_symlink() and a.stat().st_nlink == 1, what
        (tmp_path / "second name").unlink(missing_ok=True)
    assert not own.exists()
    assert len(list(place.parent.glob("0-changed-*"))) == len(changes)  # moved aside, for the batch's clean-up

    a.write_bytes(b"poisoned")
    monkeypatch.setattr(bytecode.os, "rename", lambda *args: (_ for _ in ()).throw(PermissionError("no")))
    assert bytecode.ensure(place, own) == own and holds(own)  # where it cannot be moved: a copy of the kernel's own


def test_a_forked_worker_finds_its_imports_done(env, tmp_path, monkeypatch):
    """A forked worker compiles every module it imports afresh (it reads no bytecode a kernel could have written):
    the grader imports beforehand what grading needs, torch.testing's lazy ~500 modules included."""
    book = tmp_path / "book"
    book.mkdir()
    write(tiny_chapter(), book / "tiny.ipynb")
    write(_solved(), tmp_path / "tiny.ipynb")
    answer = worker.answer

    def counted(job):  # runs in the forked worker: what it imported while grading goes to its log
        before = set(sys.modules)
        line = answer(job)
        print(f"worker imported: {sorted(set(sys.modules) - before)}", file=sys.stderr)
        return line

    monkeypatch.setattr(worker, "answer", counted)
    logs = tmp_path / "logs"
    [r] = grade.grade([tmp_path / "tiny.ipynb"], book_dir=book, timeout=TIMEOUT, checks_module=CHECKS, log_dir=logs)
    assert (r.status, r.passed) == ("graded", 2), r.to_dict()
    [line] = [l for f in logs.iterdir() for l in f.read_text().splitlines() if l.startswith("worker imported: ")]
    imported = eval(line.split(": ", 1)[1])  # noqa: S307 - our own print of a list of names
    assert len(imported) < 25, f"{len(imported)} modules imported in the worker: {imported[:40]}"


def test_a_forked_worker_runs_its_own_event_loop(env, tmp_path):
    """Whatever ran jupyter_client or nbclient here before (test_student's notebooks, an instructor's script), the
    forked worker must not use this process's event loop: its descriptors are the grader's, closed in the worker."""
    import asyncio

    from jupyter_core.utils import ensure_event_loop, run_sync

    run_sync(asyncio.sleep)(0)  # as nbclient's synchronous calls do: this thread now has jupyter_core's loop
    assert not ensure_event_loop().is_closed()
    book = tmp_path / "book"
    book.mkdir()
    write(tiny_chapter(), book / "tiny.ipynb")
    write(_solved(), tmp_path / "tiny.ipynb")
    [r] = grade.grade([tmp_path / "tiny.ipynb"], book_dir=book, timeout=TIMEOUT, checks_module=CHECKS)
    assert (r.status, r.passed) == ("graded", 2), (r.detail, Path(r.log).read_text()[-800:])


def test_without_bubblewrap_the_grade_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap here
    monkeypatch.delenv("VIT_TUTORIAL_SANDBOX", raising=False)
    assert sandbox.sandbox(tmp_path) == ([], "none (bwrap not found)")
    monkeypatch.setenv("VIT_TUTORIAL_SANDBOX", "bwrap")
    with pytest.raises(RuntimeError, match="bwrap not found"):
        sandbox.sandbox(tmp_path)
    broken = tmp_path / "bwrap"  # installed, but no user namespaces (a container without the rights)
    broken.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("VIT_TUTORIAL_SANDBOX", "auto")
    assert sandbox.sandbox(tmp_path) == ([], "none (bwrap does not run here: bwrap: No permissions to creating new namespace)")
    monkeypatch.setenv("VIT_TUTORIAL_SANDBOX", "off")
    assert sandbox.sandbox(tmp_path) == ([], "none (VIT_TUTORIAL_SANDBOX=off)")
    monkeypatch.setenv("VIT_TUTORIAL_SANDBOX", "maybe")
    with pytest.raises(ValueError, match="auto, off or bwrap"):
        sandbox.sandbox(tmp_path)


def test_the_sandbox_brings_back_python_and_the_package_when_they_live_in_tmp(tmp_path, monkeypatch):
    """The sandbox gives the kernel an empty /tmp; a checkout or a venv under /tmp must stay visible (read-only),
    or the kernel cannot start (CI from a clone in /tmp: 'bwrap: execvp /tmp/.../python: No such file')."""
    venv = tmp_path / "clone" / ".venv"
    (venv / "lib").mkdir(parents=True)
    monkeypatch.setattr(sys, "prefix", str(venv))
    monkeypatch.setattr(sys, "path", [*sys.path, str(venv / "lib"), str(tmp_path / "gone")])
    args = sandbox._needed_in_tmp()
    kept = str(venv.resolve())
    if Path(kept).is_relative_to(Path("/tmp").resolve()):
        i = args.index(kept)
        assert args[i - 1:i + 2] == ["--ro-bind", kept, kept]
        assert str((venv / "lib").resolve()) not in args  # inside one already kept
        assert str(tmp_path / "gone") not in args  # not there
    assert all(Path(a).resolve().is_relative_to(Path("/tmp").resolve()) for a in args if a != "--ro-bind")
    wrapper, _ = sandbox.sandbox(tmp_path) if shutil.which("bwrap") else ([], "")
    if wrapper:  # in the command, after the empty /tmp and before the kernel's own folder
        assert wrapper.index("--tmpfs") < wrapper.index(kept) < wrapper.index("--bind")
