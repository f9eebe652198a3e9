"""Grade submitted notebooks with checks the submissions cannot see, change or forge.

    .venv/bin/python -m vit_tutorial.grade student-a/04_attention.ipynb student-b/*.ipynb --json grades.json

What a submission is graded on comes from the book, never from the submission: its chapter
from its file name (``alice_04_attention.ipynb`` is chapter ``04_attention``; a different
chapter in the notebook's metadata is reported), its exercises from the book's notebook of
that chapter (:mod:`.assignment`). Then, one submission at a time:

1. The file is read and validated (size, encoding, BOM, JSON depth, nbformat 4) and copied,
   with the book's check cells restored, into a private temporary folder.
2. A worker process (:mod:`.worker`, in a session of its own) runs it top to bottom in a fresh
   kernel with a minimal environment (no instructor variables, a private HOME, cache and
   temp folder; the kernel's stdout/stderr go to the submission's log), with a time limit.
3. The worker then calls the real checkers *in its own process*, on inputs drawn with a
   secret per-run seed, and only asks the kernel to run the student's function on them: the
   verdict never passes through the kernel. The worker's answer is signed with a secret
   only the grader and the worker know, so nothing the kernel prints or writes can pass for it.
4. The submission's source is reviewed for what looks like cheating or harm (:mod:`.review`):
   fake checks, monkeypatching, IPython hooks, reference implementations, paths outside its
   folder, shell commands. Flags do not change the grade; they tell you what to read.
5. The package's and the book's files are compared with a snapshot taken before grading;
   anything a submission changed is put back and flagged.

Results are written to ``--json`` after every submission (atomically), so a crash, a kill or
Ctrl-C keeps everything graded so far. No file is overwritten unless it is an earlier result
of this grader (or ``--force``), and never a notebook.

Where bubblewrap (``bwrap``) is installed and runs, each kernel runs in it: the file system read-only
(the package, the book, the grader's files) but for the submission's own folder, with a private
``/tmp`` and a process namespace of its own. It is optional, detected at run time, and each result says whether it was used
(``sandbox`` in the JSON, a ``Sandbox:`` line under the table); ``VIT_TUTORIAL_SANDBOX=off`` turns it off,
``=bwrap`` makes it required. Without it a determined submission can still reach outside its
folder (it runs with your permissions); the review flags the usual ways, and the grading of the
others is not affected. For stronger isolation, run the grader in a container or a throw-away account.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .assignment import Assignment, book_notebooks, chapter_from_file_name, metadata_mismatch, read_assignment, restore_check_cells, stamped_chapter
from .review import review
from .student import check_calls, project_root  # noqa: F401 - check_calls: kept for older callers
from .worker import RESULT_PREFIX

DEFAULT_TIMEOUT = 300
CALL_TIMEOUT = 60  # seconds one call of a student's function may take during the grader's checks
MAX_BYTES = 20 * 2**20
MAX_DEPTH = 64
TOOL = "vit_tutorial.grade"

# Exercise results
PASSED, FAILED, NOT_DONE, ERROR, NOT_RUN = "passed", "failed", "not done", "error", "not run"
# Submission results
GRADED, CRASHED, TIMEOUT, INVALID, NOT_FOUND, GRADER_ERROR, INTERRUPTED, UNKNOWN_CHAPTER = (
    "graded", "crashed", "timeout", "invalid", "not found", "grader error", "interrupted", "unknown chapter")


@dataclass
class ExerciseResult:
    check: str  # e.g. "check_patchify"
    status: str
    message: str = ""
    number: str = ""  # the exercise, as the book numbers it: "4.2" (two checks may share one)

    @property
    def name(self) -> str:
        return self.check.removeprefix("check_")

    @property
    def label(self) -> str:
        """How the table names it: ``4.2 split_heads``."""
        return f"{self.number} {self.name}" if self.number else self.name


@dataclass
class SubmissionResult:
    file: str
    status: str
    detail: str = ""
    chapter: str | None = None
    seconds: float = 0.0
    label: str = ""  # how the table names it: the path below the submissions' common folder
    exercises: list[ExerciseResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # errors in cells that are not checks
    notes: list[str] = field(default_factory=list)  # what the grader changed or noticed (restored cells, metadata)
    flags: list[str] = field(default_factory=list)  # for the instructor to review
    log: str | None = None
    sandbox: str = ""  # how the kernel was isolated: "bubblewrap (...)" or "none (why)"

    @property
    def passed(self) -> int:
        return sum(e.status == PASSED for e in self.exercises)

    def to_dict(self) -> dict:
        d = asdict(self)
        for e in d["exercises"]:
            e["name"] = e["check"].removeprefix("check_")
        d.update(passed=self.passed, total=len(self.exercises), seconds=round(self.seconds, 2))
        return d


# --------------------------------------------------------------------------- reading


class Invalid(Exception):
    """The file can't be graded as a notebook."""


def _depth(value, limit: int) -> int:
    stack, deepest = [(value, 1)], 1
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def read_submission(path: Path):
    """The notebook at ``path``, outputs cleared; :class:`Invalid` with a reason if it can't be graded."""
    import nbformat

    size = path.stat().st_size
    if size > MAX_BYTES:
        raise Invalid(f"too large ({size / 2**20:.0f} MiB; a notebook without outputs is well under {MAX_BYTES >> 20} MiB)")
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        raise Invalid("starts with a byte-order mark (BOM): save it again as plain UTF-8 (Jupyter does)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Invalid(f"not a text file ({err.reason} at byte {err.start})") from None
    try:
        raw = json.loads(text)
    except RecursionError:
        raise Invalid(f"nested more than {MAX_DEPTH} levels deep: not a notebook") from None
    except json.JSONDecodeError as err:
        raise Invalid(f"not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
    if _depth(raw, MAX_DEPTH) > MAX_DEPTH:
        raise Invalid(f"nested more than {MAX_DEPTH} levels deep: not a notebook")
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise Invalid("not a Jupyter notebook (no cells)")
    major = raw.get("nbformat")
    if major is None:
        raise Invalid("not a Jupyter notebook (it has no 'nbformat' version)")
    if major != 4:
        raise Invalid(f"nbformat {major!r}: only version 4 notebooks (Jupyter 4 and later) are graded; "
                      "open it in a current Jupyter and save it again")
    try:
        nb = nbformat.reads(text, as_version=4)  # joins list-of-lines sources
        for cell in nb.get("cells", []):  # the grader runs it afresh; old outputs (often odd, from other tools) don't matter
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
        nbformat.validate(nb)
    except Exception as err:  # noqa: BLE001 - nbformat raises many kinds
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise Invalid(f"not a Jupyter notebook ({first[:200]})") from None
    return nb


# --------------------------------------------------------------------------- the checkout, watched


def _watched_files(book_dir: Path | None) -> list[Path]:
    package = Path(__file__).resolve().parents[1]
    files = [p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.stat().st_size < 2**24]
    if book_dir is not None and Path(book_dir).is_dir():
        files += [p for p in Path(book_dir).glob("*.ipynb")]
    return files


class Snapshot:
    """The package's and the book's files as they were; :meth:`restore` puts back any a submission changed."""

    def __init__(self, book_dir: Path | None):
        self.files = {p: p.read_bytes() for p in _watched_files(book_dir)}
        self.book_dir = book_dir

    def restore(self) -> list[str]:
        changed = []
        for path, data in self.files.items():
            try:
                same = path.read_bytes() == data
            except OSError:
                same = False
            if not same:
                changed.append(str(path))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        for path in _watched_files(self.book_dir):
            if path not in self.files and path.suffix in (".py", ".ipynb", ".pth"):
                changed.append(f"{path} (new)")
                path.unlink()
        return changed


# --------------------------------------------------------------------------- one submission


def _worker_env(private: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPYCACHEPREFIX=str(private / "worker-pycache"), PYTHONDONTWRITEBYTECODE="1",
               VIT_TUTORIAL_CACHE="off", HF_HUB_OFFLINE="1", MPLBACKEND="Agg", PYTHONNOUSERSITE="1")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


LEFTOVER_EXIT_S = 5.0  # how long kill_leftovers waits for the processes it killed to be gone


def kill_leftovers(marker: str) -> int:
    """Kill the processes a submission left behind (daemons, a kernel whose worker it killed), found by the
    private folder in their environment (``HOME=...``); return how many. Linux only (``/proc``)."""
    needle = marker.encode() + b"\0"
    proc = Path("/proc")

    def alive() -> list[int]:
        found = []
        for entry in proc.iterdir() if proc.is_dir() else ():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if needle in (entry / "environ").read_bytes() and \
                        (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X"):
                    found.append(int(entry.name))
            except (OSError, IndexError):
                continue
        return found

    if alive():
        time.sleep(0.5)  # the worker's own kernel may still be on its way out
    # Kill, look again, until nothing is left: a kernel killed in the middle of starting a program
    # leaves that program behind (CI saw a daemon started just after the first look), and SIGKILL
    # takes a moment to land on a busy machine. "Killed" then means gone.
    killed: set[int] = set()
    deadline = time.monotonic() + LEFTOVER_EXIT_S
    while (found := alive()) and time.monotonic() < deadline:
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except OSError:
                pass
        time.sleep(0.05)
    return len(killed)


def _preload() -> None:
    """Import what every worker needs once, here, so that forked workers start at once."""
    from vit_tutorial.nbexec import patch

    patch()  # no lost wake-ups while waiting for a kernel's reply (see vit_tutorial.nbexec)
    import cloudpickle  # noqa: F401
    import jupyter_client.manager  # noqa: F401
    import nbclient  # noqa: F401

    import vit_tutorial.exercises  # noqa: F401 - torch too
    import vit_tutorial.model  # noqa: F401


def _threaded() -> bool:
    """Whether this process runs Python threads (``threading``'s). Threads started with ``_thread`` or
    from C are not counted: pytest-xdist's execnet thread, torch's OpenMP pool (there whenever
    OMP_NUM_THREADS is not 1). Counting them (``/proc/self/task``) would start every worker as a
    subprocess, about 4 s more per submission here; forking past them has not deadlocked, and the
    forked worker keeps none of this process's descriptors (:func:`_only_own_descriptors`)."""
    import threading

    return threading.active_count() > 1


def _only_own_descriptors(keep: set[int]) -> None:
    """In a forked worker: every descriptor inherited from the grader (beyond 0-2 and ``keep``) now
    points to ``/dev/null``. A kernel can open its worker's descriptors through ``/proc/PID/fd``:
    inherited pipes (a test runner's channel, a terminal) would let it write into the grader's.
    Replaced rather than closed, so that an inherited Python file object closed later closes
    ``/dev/null`` and never a descriptor the worker opened since under the same number."""
    folder = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    try:
        fds = [int(name) for name in os.listdir(folder)]
    except (OSError, ValueError):
        fds = range(3, 1024)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in fds:
        if fd > 2 and fd != null and fd not in keep:
            try:
                os.fstat(fd)  # the folder's own descriptor, listed but closed since
                os.dup2(null, fd, inheritable=False)
            except OSError:
                pass
    os.close(null)


def _start_worker(job: dict, log_path: Path, private: Path):
    """Start the worker for ``job``: returns ``(pid, read end of its answer pipe)``.

    On POSIX the worker is forked from this process (whose imports are done, see :func:`_preload`),
    then starts a session of its own and keeps none of this process's descriptors; elsewhere, or when
    this process runs threads (forking it could deadlock), it is ``python -m vit_tutorial.course.worker``
    in a session of its own.
    """
    from . import worker

    if not hasattr(os, "fork") or _threaded():  # forking a threaded process can deadlock
        with open(log_path, "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "vit_tutorial.course.worker"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=log, env=_worker_env(private), cwd=str(private),
                                    start_new_session=True)
        proc.stdin.write(json.dumps(job).encode() + b"\n")
        proc.stdin.close()
        return proc.pid, proc.stdout.fileno(), proc
    read, write = os.pipe()
    sys.stdout.flush(), sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the worker
        code = 1
        try:
            os.close(read)
            os.setsid()
            os.chdir(private)
            log = os.open(str(log_path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.dup2(log, 1), os.dup2(log, 2)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.close(log), os.close(devnull)
            _only_own_descriptors(keep={write})
            env = _worker_env(private)  # read before clearing: the worker's environment is the grader's, as in a subprocess
            os.environ.clear()
            os.environ.update(env)
            sys.pycache_prefix = str(private / "worker-pycache")  # never a .pyc a kernel could have written
            sys.stdout = open(1, "w", buffering=1, closefd=False)  # line by line: the grader kills this process
            sys.stderr = open(2, "w", buffering=1, closefd=False)  # group as soon as the answer arrives
            with open(write, "w", closefd=True) as answer:
                answer.write(worker.answer(job) + "\n")
            code = 0
        except BaseException:  # noqa: BLE001
            import traceback

            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # noqa: BLE001
                    pass
            os._exit(code)
    os.close(write)
    return pid, read, None


def run_worker(nb, assignment: Assignment, timeout: float, checks_module: str | None, salt: int,
               log_path: Path, result: SubmissionResult) -> None:
    """Grade ``nb`` in a worker process; fill ``result`` from its signed answer."""
    import select

    secret = secrets.token_bytes(32)
    limit = timeout * 2 + CALL_TIMEOUT * max(1, len(assignment.checks)) + 120
    with tempfile.TemporaryDirectory(prefix="vit-grade-") as private:
        private = Path(private)
        work = private / "w"
        work.mkdir()
        job = {"secret": secret.hex(), "work": str(work), "notebook": nb, "timeout": timeout,
               "call_timeout": min(CALL_TIMEOUT, timeout), "checks_module": checks_module, "salt": salt,
               "log": str(log_path), "checks": [asdict(c) for c in assignment.checks]}
        pid, fd, proc = _start_worker(job, log_path, private)
        chunks, end = [], time.monotonic() + limit
        try:
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    result.status, result.detail = TIMEOUT, f"the grader's worker did not finish within {limit:g} s"
                    break
                ready, _, _ = select.select([fd], [], [], min(left, 1.0))
                if ready:
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        break
                    chunks.append(chunk)
        finally:
            _kill_group(pid)  # the worker and whatever stayed in its session's group
            if proc is None:
                os.close(fd)
                try:
                    _, status = os.waitpid(pid, 0)
                except ChildProcessError:
                    status = 0
                returncode = os.waitstatus_to_exitcode(status)
            else:
                proc.kill()
                returncode = proc.wait()
            left = kill_leftovers(f"HOME={work / 'home'}")
            if left:
                result.flags.append(f"left {left} process(es) running after its notebook (killed)")
    out = b"".join(chunks)
    answer = None
    for line in out.decode("utf-8", "replace").splitlines():
        if not line.startswith(RESULT_PREFIX):
            continue
        try:
            message = json.loads(line[len(RESULT_PREFIX):])
            body, mac = message["result"], message["mac"]
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(body, str) and isinstance(mac, str) and hmac.compare_digest(
                hmac.new(secret, body.encode(), hashlib.sha256).hexdigest(), mac):
            answer = json.loads(body)
        else:
            result.flags.append("something wrote a forged result on the grader's channel (ignored)")
    if answer is None:
        if result.status != TIMEOUT:
            result.status = CRASHED
            result.detail = (f"the grader's worker died (exit status {returncode}): did the notebook kill "
                             "its parent processes?")
            result.flags.append("the grader's worker was killed while running this notebook")
        result.exercises = [ExerciseResult(c.name, NOT_RUN, "the grader's worker died", c.number or "") for c in assignment.checks]
        return
    result.status, result.detail = answer["status"], answer["detail"]
    result.errors, result.notes = answer["errors"], result.notes + answer["notes"]
    numbers = {c.name: c.number or "" for c in assignment.checks}
    result.exercises = [ExerciseResult(e["check"], e["status"], e["message"], numbers.get(e["check"], "")) for e in answer["exercises"]]
    result.seconds = answer.get("seconds", 0.0)
    result.sandbox = str(answer.get("sandbox", ""))
    if result.status == GRADED and result.errors:
        result.detail = f"{len(result.errors)} cell(s) raised an error; first: {result.errors[0]}"


def grade_one(path: Path, book: dict[str, Path], timeout: float = DEFAULT_TIMEOUT, *, checks_module: str | None = None,
              salt: int | None = None, log_dir: Path | None = None, snapshot: Snapshot | None = None,
              chapter: str | None = None, label: str | None = None) -> SubmissionResult:
    """Grade one submission; never raises (except KeyboardInterrupt)."""
    path = Path(path)
    result = SubmissionResult(file=str(path), status=GRADER_ERROR, label=label or str(path))
    salt = salt if salt is not None else secrets.randbits(62)
    start = time.monotonic()
    try:
        name = chapter or chapter_from_file_name(path, book)
        assignment = read_assignment(book[name], name) if name in book else None
        result.chapter = name if assignment else None
        if not path.is_file():
            result.status, result.detail = NOT_FOUND, "no such file"
            return result
        try:
            nb = read_submission(path)
        except Invalid as err:
            result.status, result.detail = INVALID, str(err)
            if assignment:
                result.exercises = [ExerciseResult(c.name, NOT_RUN, "the file could not be read", c.number or "") for c in assignment.checks]
            return result
        if assignment is None:
            stamp = stamped_chapter(nb)
            result.status = UNKNOWN_CHAPTER
            result.detail = ("its file name names no chapter of the book" + (
                f" (its metadata says {stamp!r}; rename the file, or pass --chapter)" if stamp else
                "; rename it like the book's notebook (e.g. 04_attention.ipynb), or pass --chapter"))
            return result
        mismatch = metadata_mismatch(nb, assignment)
        if mismatch:
            result.notes.append(mismatch)
            result.flags.append(f"metadata: {mismatch}")
        result.flags += review(nb, assignment)
        result.notes += restore_check_cells(nb, assignment)
        log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="vit-grade-logs-"))
        log_path = log_dir.resolve() / (re.sub(r"[^\w.-]+", "_", result.label).strip("_") + ".log")
        result.log = str(log_path)
        run_worker(nb, assignment, timeout, checks_module, salt, log_path, result)
    except KeyboardInterrupt:
        result.status, result.detail = INTERRUPTED, "grading was interrupted (Ctrl-C)"
        raise
    except Exception as err:  # noqa: BLE001 - one broken submission must not stop the others
        result.status, result.detail = GRADER_ERROR, f"{type(err).__name__}: {err}"
    finally:
        if snapshot is not None:  # taken just before this submission ran: only its window is compared
            changed = snapshot.restore()
            if changed:
                result.flags.append(f"changed the checkout's files (put back): {', '.join(changed[:5])}")
        if not result.seconds:
            result.seconds = time.monotonic() - start
    return result


def labels(paths) -> list[str]:
    """Names for the table that tell students apart: each path below the submissions' common folder."""
    resolved = [Path(os.path.abspath(p)) for p in paths]
    if not resolved:
        return []
    parents = [str(p.parent) for p in resolved]
    common = Path(os.path.commonpath(parents)) if len(set(parents)) > 1 else resolved[0].parent.parent
    return [str(p.relative_to(common)) if p.is_relative_to(common) else str(p) for p in resolved]


def grade(paths, book_dir: Path | None = None, timeout: float = DEFAULT_TIMEOUT, progress=None, *,
          checks_module: str | None = None, on_result=None, log_dir: Path | None = None, salt: int | None = None,
          chapter: str | None = None) -> list[SubmissionResult]:
    """Grade every submission in turn. ``book_dir`` defaults to the checkout's ``book/``.

    ``on_result(results_so_far)`` is called after each submission (the CLI writes the JSON there).
    On Ctrl-C the submission in progress is marked interrupted, the rest "not graded", and
    ``KeyboardInterrupt`` is raised again after a last ``on_result``.
    """
    if book_dir is None:
        try:
            book_dir = project_root() / "book"
        except FileNotFoundError:
            book_dir = None
    book = book_notebooks(book_dir)
    _preload()
    if checks_module:
        __import__(checks_module)
    log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="vit-grade-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    salt = salt if salt is not None else secrets.randbits(62)
    results: list[SubmissionResult] = []
    names = labels(paths)
    for path, label in zip(paths, names):
        if progress:
            progress(f"grading {label} ...")
        try:
            snapshot = Snapshot(book_dir)  # anew for each submission, so that your own edits between them are kept
            r = grade_one(Path(path), book, timeout, checks_module=checks_module, salt=salt, log_dir=log_dir,
                          snapshot=snapshot, chapter=chapter, label=label)
        except KeyboardInterrupt:
            results.append(SubmissionResult(str(path), INTERRUPTED, "grading was interrupted (Ctrl-C)", label=label))
            results += [SubmissionResult(str(p), INTERRUPTED, "not graded: grading was interrupted", label=n)
                        for p, n in zip(paths[len(results):], names[len(results):])]
            if on_result:
                on_result(results)
            raise
        r.label = label
        results.append(r)
        if on_result:
            on_result(results)
    return results


# --------------------------------------------------------------------------- reporting


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(results: list[SubmissionResult], width: int = 80) -> str:
    """A plain-text table: one summary row per submission, one row per exercise, then its flags."""
    rows = [("submission", "exercise", "result", "details")]
    for r in results:
        name = r.label or Path(r.file).name
        summary = r.status if r.status != GRADED else f"{r.passed}/{len(r.exercises)} passed"
        if r.flags:
            summary += f" ⚑{len(r.flags)}"
        rows.append((name, f"[{r.chapter or '?'}]", summary, r.detail if r.status != GRADED or r.detail else f"{r.seconds:.1f} s"))
        for e in r.exercises:
            rows.append(("", e.label, e.status, e.message if e.status != PASSED else ""))
        for flag in r.flags:
            rows.append(("", "⚑ review", "", flag))
    widths = [max(len(_short(row[i], 40)) for row in rows) for i in range(3)]
    lines = []
    for i, row in enumerate(rows):
        cols = [_short(row[j], 40).ljust(widths[j]) for j in range(3)]
        lines.append("  ".join(cols) + "  " + _short(row[3], width))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 7)
    return "\n".join(line.rstrip() for line in lines)


def to_json(results: list[SubmissionResult], complete: bool = True, salt: int | None = None) -> dict:
    data = {"tool": TOOL, "complete": complete, "submissions": [r.to_dict() for r in results]}
    if salt is not None:
        data["seed"] = salt
    return data


def check_json_target(target: str, submissions, force: bool) -> Path | None:
    """Where ``--json`` may write, validated before any grading; raise ``ValueError`` with the reason."""
    if target == "-":
        return None
    path = Path(target)
    if path.suffix.lower() == ".ipynb":
        raise ValueError(f"--json {target}: that is a notebook's name; give a .json file (e.g. grades.json)")
    if any(Path(s).exists() and path.exists() and path.resolve() == Path(s).resolve() for s in submissions) or \
            any(os.path.abspath(s) == os.path.abspath(target) for s in submissions):
        raise ValueError(f"--json {target}: that is one of the submissions")
    if not path.parent.is_dir():
        raise ValueError(f"--json {target}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise ValueError(f"--json {target}: that is a folder")
    if path.exists() and not force:
        try:
            ours = json.loads(path.read_text(encoding="utf-8")).get("tool") == TOOL
        except (ValueError, OSError, AttributeError, UnicodeDecodeError):
            ours = False
        if not ours:
            raise ValueError(f"--json {target}: the file exists and is not an earlier result of this grader; "
                             "choose another name or add --force")
    if not os.access(path.parent, os.W_OK):
        raise ValueError(f"--json {target}: can't write in {path.parent}")
    return path


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` atomically (a half-written file is never left behind)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def hide_command_line() -> bool:
    """Blank this process's arguments (the submissions' paths) as other processes see them in
    ``/proc/PID/cmdline``, so that a kernel looking at its parents finds no classmate's file.
    Linux only; best effort (``False`` when it can't)."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (fields 48 and 49 of proc(5))
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            args = mem.read(end - start)
            first = args.index(b"\0") + 1  # keep argv[0]
            mem.seek(start + first)
            mem.write(b"\0" * (len(args) - first))
        return True
    except (OSError, ValueError, IndexError):
        return False


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"--timeout must be a positive, finite number of seconds, not {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vit_tutorial.grade",
        description="Run submitted notebooks one at a time in fresh, isolated kernels and grade each exercise with "
                    "the grader's own checks (chapter and exercises from the book, by file name).",
    )
    parser.add_argument("submissions", nargs="+", help="the submitted .ipynb files (e.g. submissions/*/04_attention.ipynb)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON, updated after every submission; '-' for stdout")
    parser.add_argument("--timeout", type=_positive_seconds, default=DEFAULT_TIMEOUT,
                        help=f"seconds one notebook may run (default {DEFAULT_TIMEOUT})")
    parser.add_argument("--book", help="the book's notebooks, which say what each chapter's exercises are (default: book/ of the checkout)")
    parser.add_argument("--chapter", help="grade every submission as this chapter of the book (e.g. 04_attention), whatever its file name")
    parser.add_argument("--logs", metavar="DIR", help="where to keep each submission's kernel log (default: a new temporary folder)")
    parser.add_argument("--force", action="store_true", help="let --json replace a file that is not an earlier result of this grader")
    parser.add_argument("--checks", metavar="MODULE", default="vit_tutorial.exercises",
                        help="the Python module whose check_* functions grade (default: vit_tutorial.exercises)")
    args = parser.parse_args(argv)
    if argv is None:
        hide_command_line()
    book = Path(args.book) if args.book else None
    if book is not None and not book.is_dir():
        parser.error(f"--book {book}: no such folder")
    try:
        json_path = check_json_target(args.json, args.submissions, args.force) if args.json else None
    except ValueError as err:
        parser.error(str(err))
    if args.chapter and book is not None and not (book / f"{args.chapter}.ipynb").is_file():
        parser.error(f"--chapter {args.chapter}: the book has no {args.chapter}.ipynb")
    log_dir = Path(args.logs) if args.logs else Path(tempfile.mkdtemp(prefix="vit-grade-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    salt = secrets.randbits(62)

    def save(results, complete=False):
        if json_path is not None:
            write_json(json_path, to_json(results, complete, salt))

    results: list[SubmissionResult] = []

    def keep(so_far):
        results[:] = so_far
        save(so_far)

    interrupted = False
    try:
        grade(args.submissions, book, args.timeout, progress=lambda m: print(m, file=sys.stderr, flush=True),
              on_result=keep, log_dir=log_dir, salt=salt, chapter=args.chapter, checks_module=args.checks)
    except KeyboardInterrupt:
        interrupted = True
    if args.json == "-":
        print(json.dumps(to_json(results, not interrupted, salt), indent=1, ensure_ascii=False))
    else:
        print(table(results))
        save(results, complete=not interrupted)
        if json_path is not None:
            digest = hashlib.sha256(json_path.read_bytes()).hexdigest()[:16]
            print(f"\nJSON written to {json_path} (sha256 {digest}…)")
        print(f"Kernel logs: {log_dir}")
        for note in dict.fromkeys(r.sandbox for r in results if r.sandbox):
            print(f"Sandbox: {note}")
    if interrupted:
        print("Interrupted: the results above are those finished before Ctrl-C.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
