"""What keeps each submission apart from the grader and from the others.

:func:`run_worker` grades one submission in a worker process (:mod:`.worker`) of its own session,
forked from the grader or started afresh, with none of the grader's descriptors, and reads back
only its signed answer; :func:`kill_leftovers` ends whatever the submission left running;
:class:`Snapshot` puts back any file of the package or the book that a submission changed;
:func:`hide_command_line` keeps the other submissions' paths out of sight.
"""
from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from . import bytecode
from .assignment import Assignment
from .lifeline import die_with_parent, unblock
from .results import CRASHED, GRADED, NOT_RUN, TIMEOUT, ExerciseResult, SubmissionResult
from .sandbox import sandbox
from .worker import RESULT_PREFIX

CALL_TIMEOUT = 60  # seconds one call of a student's function may take during the grader's checks


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


# --------------------------------------------------------------------------- the worker process


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


def preload() -> None:
    """Import what every worker needs once, here, so that forked workers start at once. A forked worker reads
    no bytecode (see :func:`_start_worker`): a module it imported on its way would be compiled afresh, every time.
    So this also imports what the first ``torch.testing.assert_close`` imports (about 500 modules, sympy and
    torch.distributed: 2.4 s of CPU per submission here), the kernel's spec and :func:`.kernel.kernel_env`'s."""
    from .nbexec import patch

    patch()  # no lost wake-ups while waiting for a kernel's reply (see vit_tutorial.course.nbexec)
    import cloudpickle  # noqa: F401
    import huggingface_hub.constants  # noqa: F401
    import ipykernel.kernelspec  # noqa: F401
    import jupyter_client.manager  # noqa: F401
    import nbclient  # noqa: F401
    import torch

    import vit_tutorial.exercises  # noqa: F401
    import vit_tutorial.weights.random_weights  # noqa: F401 - the checks' model

    torch.testing.assert_close(torch.zeros(1), torch.zeros(1))
    with tempfile.TemporaryDirectory(prefix="vit-grade-probe-") as probe:
        try:
            wrapped = bool(sandbox(Path(probe))[0])
        except RuntimeError:  # VIT_TUTORIAL_SANDBOX=bwrap where it does not run: each worker says so
            wrapped = True
    if not wrapped:  # each kernel gets a copy of the grader's compiled files (see .bytecode)
        bytecode.prepare()


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

    On POSIX the worker is forked from this process (whose imports are done, see :func:`preload`),
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
    grader = os.getpid()
    pid = os.fork()
    if pid == 0:  # the worker
        code = 1
        try:
            die_with_parent(grader)  # killed with the grader, whatever kills it (see .lifeline)
            unblock()  # the signals the grader holds (SignalGuard), for the worker and its kernel
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
            # An event loop the grader made (jupyter_client's sync calls) holds descriptors that are /dev/null here:
            # with none set and in a fresh context (jupyter_core keeps its loop in a context variable), the worker
            # gets a loop of its own.
            asyncio.set_event_loop(None)
            with open(write, "w", closefd=True) as answer:
                answer.write(contextvars.Context().run(worker.answer, job) + "\n")
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


class WorkerRun:
    """One submission's worker, started at once; the caller waits on :meth:`fileno` (``select``), calls :meth:`feed`
    when it is readable, and :meth:`finish` once it is done (:attr:`done`) or past its :attr:`end`: that kills what is
    left of it and fills ``result`` from its signed answer. Several may run at once (``--jobs``), each alone in its
    own session, private folder, HOME and kernel. ``pycache``: a folder of compiled files that this job's kernels
    use one after the other, checked before each (:func:`.bytecode.ensure`); without it, a copy in the private folder."""

    def __init__(self, nb, assignment: Assignment, timeout: float, checks_module: str | None, salt: int,
                 log_path: Path, result: SubmissionResult, pycache: Path | None = None):
        self.assignment, self.result, self.done = assignment, result, False
        self.secret = secrets.token_bytes(32)
        self.limit = timeout * 2 + CALL_TIMEOUT * max(1, len(assignment.checks)) + 120
        self.folder = tempfile.TemporaryDirectory(prefix="vit-grade-")
        private = Path(self.folder.name)
        self.work = private / "w"
        self.work.mkdir()
        job = {"secret": self.secret.hex(), "work": str(self.work), "notebook": nb, "timeout": timeout,
               "call_timeout": min(CALL_TIMEOUT, timeout), "checks_module": checks_module, "salt": salt,
               "log": str(log_path), "checks": [asdict(c) for c in assignment.checks], "parent": os.getpid(),
               "pycache": str(pycache) if pycache else None}
        try:
            self.pid, self.fd, self.proc = _start_worker(job, log_path, private)
        except BaseException:
            self.folder.cleanup()
            raise
        self.chunks: list[bytes] = []
        self.end = time.monotonic() + self.limit

    def fileno(self) -> int:
        return self.fd

    def feed(self) -> None:
        """Read what the worker wrote (call when :meth:`fileno` is readable); :attr:`done` at its end."""
        chunk = os.read(self.fd, 1 << 16)
        if chunk:
            self.chunks.append(chunk)
        else:
            self.done = True

    def finish(self, interrupted: bool = False) -> None:
        """Kill the worker and all it left; fill the result (a time-out if it is not :attr:`done`)."""
        result = self.result
        if not self.done and not interrupted:
            result.status, result.detail = TIMEOUT, f"the grader's worker did not finish within {self.limit:g} s"
        try:
            _kill_group(self.pid)  # the worker and whatever stayed in its session's group
            if self.proc is None:
                os.close(self.fd)
                try:
                    _, status = os.waitpid(self.pid, 0)
                except ChildProcessError:
                    status = 0
                returncode = os.waitstatus_to_exitcode(status)
            else:
                self.proc.kill()
                returncode = self.proc.wait()
            left = kill_leftovers(f"HOME={self.work / 'home'}")
            if left:
                result.flags.append(f"left {left} process(es) running after its notebook (killed)")
        finally:
            self.folder.cleanup()
        if not interrupted:
            _read_answer(b"".join(self.chunks), self.secret, self.assignment, result, returncode)


def run_worker(nb, assignment: Assignment, timeout: float, checks_module: str | None, salt: int,
               log_path: Path, result: SubmissionResult) -> None:
    """Grade ``nb`` in a worker process, and wait for it; fill ``result`` from its signed answer."""
    import select

    run = WorkerRun(nb, assignment, timeout, checks_module, salt, log_path, result)
    interrupted = True
    try:
        while not run.done and time.monotonic() < run.end:
            if select.select([run], [], [], min(max(run.end - time.monotonic(), 0), 1.0))[0]:
                run.feed()
        interrupted = False
    finally:
        run.finish(interrupted)


def _read_answer(out: bytes, secret: bytes, assignment: Assignment, result: SubmissionResult, returncode: int) -> None:
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
    result.exercises = [ExerciseResult(e["check"], e["status"], e["message"], numbers.get(e["check"], ""))
                        for e in answer["exercises"]]
    result.seconds = answer.get("seconds", 0.0)
    result.sandbox = str(answer.get("sandbox", ""))
    if result.status == GRADED and result.errors:
        result.detail = f"{len(result.errors)} cell(s) raised an error; first: {result.errors[0]}"


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
