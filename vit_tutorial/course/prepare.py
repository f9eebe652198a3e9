"""One hand-in made ready for its worker (:func:`prepare`), and settled after it (:func:`settle`).

Used by :func:`.grade.grade_one` (one submission, waited for) and :mod:`.parallel` (several at once).
"""
from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .assignment import Assignment, chapter_from_file_name, metadata_mismatch, read_assignment, restore_check_cells, stamped_chapter
from .isolation import Snapshot
from .results import INVALID, NOT_FOUND, NOT_RUN, UNKNOWN_CHAPTER, ExerciseResult, SubmissionResult
from .review import review
from .submission import Invalid, read_submission


@dataclass
class Job:
    """A submission ready for its worker: the notebook (check cells restored), its exercises, its log."""
    nb: dict
    assignment: Assignment
    log_path: Path


def prepare(path: Path, book: dict[str, Path], result: SubmissionResult, *, data: bytes | None = None,
            chapter: str | None = None, log_dir: Path | None = None) -> Job | None:
    """Read and review one hand-in (its bytes ``data`` as read before grading, else the file at ``path``); fill
    ``result`` and return ``None`` when it can't be run (invalid, unknown chapter), else what its worker needs."""
    name = chapter or chapter_from_file_name(path, book)
    assignment = read_assignment(book[name], name) if name in book else None
    result.chapter = name if assignment else None
    if data is None and not path.is_file():
        result.status, result.detail = not_a_file(path)
        return None
    try:
        nb = read_submission(path, data)
    except Invalid as err:
        result.status, result.detail = INVALID, str(err)
        if assignment:
            result.exercises = [ExerciseResult(c.name, NOT_RUN, "the file could not be read", c.number or "") for c in assignment.checks]
        return None
    if assignment is None:
        stamp = stamped_chapter(nb)
        result.status = UNKNOWN_CHAPTER
        result.detail = ("its file name names no chapter of the book" + (
            f" (its metadata says {stamp!r}; rename the file, or pass --chapter)" if stamp else
            "; rename it like the book's notebook (e.g. 04_attention.ipynb), or pass --chapter"))
        return None
    mismatch = metadata_mismatch(nb, assignment)
    if mismatch:
        result.notes.append(mismatch)
        result.flags.append(f"metadata: {mismatch}")
    result.flags += review(nb, assignment)
    result.notes += restore_check_cells(nb, assignment)
    log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="vit-grade-logs-"))
    log_path = log_dir.resolve() / (re.sub(r"[^\w.-]+", "_", result.label).strip("_") + ".log")
    result.log = str(log_path)
    return Job(nb, assignment, log_path)


def settle(result: SubmissionResult, snapshot: Snapshot | None, start: float, others: list[str] = ()) -> None:
    """After a submission: put back any file of the checkout it changed (flagged), and its time."""
    if snapshot is not None:  # taken just before this submission ran: only its window is compared
        changed = snapshot.restore()
        if changed:
            also = f" (while {len(others)} other(s) ran too: {', '.join(others[:5])})" if others else ""
            result.flags.append(f"changed the checkout's files (put back){also}: {', '.join(changed[:5])}")
    if not result.seconds:
        result.seconds = time.monotonic() - start


def not_a_file(path: Path) -> tuple[str, str]:
    """The status and detail for a hand-in that is not a regular file: what it is instead (never opened)."""
    kinds = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")]
    link = f"a symbolic link to {os.readlink(path)}, which is " if path.is_symlink() else ""
    try:
        mode = path.stat().st_mode
    except OSError as err:
        if link:
            return NOT_FOUND, f"{link}missing ({err.strerror})"
        return NOT_FOUND, "no such file" if not os.path.lexists(path) else f"can't be read ({err.strerror})"
    kind = next((name for test, name in kinds if test(mode)), "not a regular file")
    return INVALID, f"{link}{kind}, not a notebook file: hand in the .ipynb file itself"
