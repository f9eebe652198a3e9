"""Grade submitted notebooks with checks the submissions cannot see, change or forge.

    .venv/bin/python -m vit_tutorial.grade student-a/04_attention.ipynb student-b/*.ipynb --json grades.json

What a submission is graded on comes from the book, never from the submission: its chapter
from its file name (``alice_04_attention.ipynb`` is chapter ``04_attention``; a different
chapter in the notebook's metadata is reported), its exercises from the book's notebook of
that chapter (:mod:`.assignment`). Before any notebook runs, every hand-in is read, hashed and copied
into a private folder of the grader (:mod:`.handins`); then, ``--jobs`` submissions at a time (:mod:`.parallel`),
each alone:

1. Its copy is read and validated (size, encoding, BOM, JSON depth, nbformat 4; :mod:`.submission`)
   and copied, with the book's check cells restored, into a private temporary folder.
2. A worker process (:mod:`.worker`, in a session of its own, started by :mod:`.isolation`) runs it top to bottom in a fresh
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

Results (:mod:`.results`) are written to ``--json`` after every submission (atomically), in the order of the
hand-ins, so a crash, a kill or Ctrl-C keeps everything graded so far, and ``--resume`` grades only the rest.
Workers and kernels die with the grader (:mod:`.lifeline`). No file is overwritten unless it is an earlier result
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
import json
import math
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from .assignment import book_notebooks
from .handins import KEEP, HandIns, earlier_results
from .isolation import Snapshot, hide_command_line, preload, run_worker
from .lifeline import SignalGuard
from .notebooks import book_folder
from .prepare import not_a_file, prepare, settle  # noqa: F401 - not_a_file: the grader's name for it
from .results import (
    GRADER_ERROR,
    INTERRUPTED,
    SubmissionResult,
    check_json_target,
    table,
    to_json,
    write_json,
)

DEFAULT_TIMEOUT = 300
NO_BOOK = ("can't find the book, whose notebooks say what each chapter's exercises are: run the grader in the "
           "vit-tutorial checkout, or pass --book DIR (the checkout's book/ folder)")


# --------------------------------------------------------------------------- one submission


def grade_one(path: Path, book: dict[str, Path], timeout: float = DEFAULT_TIMEOUT, *, checks_module: str | None = None,
              salt: int | None = None, log_dir: Path | None = None, snapshot: Snapshot | None = None,
              chapter: str | None = None, label: str | None = None, data: bytes | None = None) -> SubmissionResult:
    """Grade one submission, and wait for it; never raises (except KeyboardInterrupt)."""
    path = Path(path)
    result = SubmissionResult(file=str(path), status=GRADER_ERROR, label=label or str(path))
    salt = salt if salt is not None else secrets.randbits(62)
    start = time.monotonic()
    try:
        job = prepare(path, book, result, data=data, chapter=chapter, log_dir=log_dir)
        if job is not None:
            run_worker(job.nb, job.assignment, timeout, checks_module, salt, job.log_path, result)
    except KeyboardInterrupt:
        result.status, result.detail = INTERRUPTED, "grading was interrupted (Ctrl-C)"
        raise
    except Exception as err:  # noqa: BLE001 - one broken submission must not stop the others
        result.status, result.detail = GRADER_ERROR, f"{type(err).__name__}: {err}"
    finally:
        settle(result, snapshot, start)
    return result


def labels(paths) -> list[str]:
    """Names for the table that tell students apart: each path below the submissions' common folder."""
    resolved = [Path(os.path.abspath(p)) for p in paths]
    if not resolved:
        return []
    parents = [str(p.parent) for p in resolved]
    common = Path(os.path.commonpath(parents)) if len(set(parents)) > 1 else resolved[0].parent.parent
    return [str(p.relative_to(common)) if p.is_relative_to(common) else str(p) for p in resolved]


def default_jobs() -> int:
    """How many submissions to grade at once by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_book() -> Path:
    """The checkout's ``book/``, else the book installed with the package; ``FileNotFoundError`` naming --book."""
    return book_folder(NO_BOOK)


def grade(paths, book_dir: Path | None = None, timeout: float = DEFAULT_TIMEOUT, progress=None, *,
          checks_module: str | None = None, on_result=None, log_dir: Path | None = None, salt: int | None = None,
          chapter: str | None = None, jobs: int = 1, resume: Path | None = None, guard=None) -> list[SubmissionResult]:
    """Grade every submission, ``jobs`` at a time (:mod:`.parallel`); the results in the order of ``paths``.
    ``book_dir`` defaults to the checkout's ``book/`` (else the book installed with the package).

    ``on_result(results_so_far)`` is called after each submission (the CLI writes the JSON there), with those
    finished so far, in the order of ``paths``. ``resume``: an earlier JSON of this grader, whose results are kept
    for the same files with the same contents (:func:`.handins.earlier_results`). On Ctrl-C the submissions in
    progress are marked interrupted, the rest "not graded", and ``KeyboardInterrupt`` is raised again after a
    last ``on_result``. ``guard``: a :class:`.lifeline.SignalGuard` holding the signals sent to the grader.
    """
    book_dir = Path(book_dir) if book_dir is not None else default_book()
    book = book_notebooks(book_dir)
    if not book:
        raise FileNotFoundError(f"{book_dir}: no chapter notebooks (*.ipynb) there; {NO_BOOK}")
    preload()
    if checks_module:
        __import__(checks_module)
    log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="vit-grade-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    salt = salt if salt is not None else secrets.randbits(62)
    from .parallel import run_batch

    handins = HandIns(list(paths), labels(paths))  # every hand-in read and copied away before any notebook runs
    try:
        kept = earlier_results(Path(resume), handins) if resume else {}
        return run_batch(handins, book, book_dir, jobs=jobs, timeout=timeout, checks_module=checks_module, salt=salt,
                         log_dir=log_dir, chapter=chapter, kept=kept, on_result=on_result, progress=progress, guard=guard)
    finally:
        handins.close()


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"--timeout must be a positive, finite number of seconds, not {text}")
    return value


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--jobs must be a whole number of submissions at once, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"--jobs must be 1 or more, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vit_tutorial.grade",
        description="Run submitted notebooks in fresh, isolated kernels (several at once with --jobs) and grade each "
                    "exercise with the grader's own checks (chapter and exercises from the book, by file name).",
    )
    parser.add_argument("submissions", nargs="+", help="the submitted .ipynb files (e.g. submissions/*/04_attention.ipynb)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON, updated after every submission; '-' for stdout")
    parser.add_argument("--resume", metavar="FILE", help="an earlier --json of this grader (e.g. of a run that was killed): keep its "
                        "results for the same files with the same contents, grade only the rest; writes to FILE unless --json says otherwise")
    parser.add_argument("--jobs", "-j", type=_jobs, default=None,
                        help=f"how many submissions to grade at once, each in its own kernel (default: the cores, here {default_jobs()})")
    parser.add_argument("--timeout", type=_positive_seconds, default=DEFAULT_TIMEOUT,
                        help=f"seconds one notebook may run (default {DEFAULT_TIMEOUT})")
    parser.add_argument("--book", help="the book's notebooks, which say what each chapter's exercises are "
                        "(default: book/ of the checkout, else the book installed with the package)")
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
    if book is None:
        try:
            book = default_book()
        except FileNotFoundError:
            parser.error(NO_BOOK)
    if not book_notebooks(book):
        parser.error(f"{'--book ' if args.book else ''}{book}: no chapter notebooks (*.ipynb) there; {NO_BOOK}")
    if args.resume:
        if not Path(args.resume).is_file():
            parser.error(f"--resume {args.resume}: no such file")
        args.json = args.json or args.resume
        try:
            check_json_target(args.resume, args.submissions, force=False)  # ours: an earlier result of this grader
        except ValueError as err:
            parser.error(str(err).replace("--json", "--resume", 1))
    try:
        json_path = check_json_target(args.json, args.submissions, args.force) if args.json else None
    except ValueError as err:
        parser.error(str(err))
    if args.chapter and not (book / f"{args.chapter}.ipynb").is_file():
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
        with SignalGuard() as guard:  # a kernel's SIGTERM to the grader is ignored and flagged; yours stops it cleanly
            grade(args.submissions, book, args.timeout, progress=lambda m: print(m, file=sys.stderr, flush=True),
                  on_result=keep, log_dir=log_dir, salt=salt, chapter=args.chapter, checks_module=args.checks,
                  jobs=args.jobs or default_jobs(), resume=Path(args.resume) if args.resume else None, guard=guard)
    except KeyboardInterrupt:
        interrupted = True
    except ValueError as err:  # --resume FILE that is not ours after all
        parser.error(str(err))
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
        kept = sum(KEEP in r.notes for r in results)
        if kept:
            print(f"Resumed: {kept} result(s) kept from {args.resume}, {len(results) - kept} graded now")
    if interrupted:
        again = f"; carry on with --resume {json_path}" if json_path is not None else ""
        print(f"Interrupted: the results above are those finished before Ctrl-C (or a signal){again}.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
