"""Grading a class: up to ``jobs`` submissions at once, each still alone in its own worker, kernel, folder and HOME.

One loop in the grader's main thread (workers are forked from it, see :mod:`.isolation`) starts a worker
whenever fewer than ``jobs`` run, waits on their answer pipes with ``select``, and settles each submission as
its worker ends or runs out of time: the checkout's files put back (:class:`.isolation.Snapshot`), the hand-ins
on disk compared with what was read before grading (:mod:`.handins`), then ``on_result`` with every result
finished so far, in the order of the hand-ins (the CLI writes ``grades.json`` there, atomically). Ctrl-C kills
the workers running, marks their submissions interrupted and the rest "not graded", and is raised again.

Each of the ``jobs`` places has a folder of compiled files (outside a sandbox: see :mod:`.bytecode`) that its
kernels use one after the other, each checked before it starts, instead of a fresh copy for every kernel.
"""
from __future__ import annotations

import itertools
import select
import tempfile
import time
from collections import deque
from pathlib import Path

from .handins import HARMED, HandInChanged, HandIns, suspect
from .isolation import Snapshot, WorkerRun
from .lifeline import SignalGuard
from .prepare import prepare, settle
from .results import GRADER_ERROR, INTERRUPTED, SubmissionResult


def run_batch(handins: HandIns, book: dict, book_dir, *, jobs: int, timeout: float, checks_module: str | None, salt: int,
              log_dir, chapter: str | None, kept: dict[int, SubmissionResult], on_result=None, progress=None,
              guard: SignalGuard | None = None) -> list[SubmissionResult]:
    """Grade every hand-in of ``handins`` not in ``kept`` (index -> result of an earlier run), ``jobs`` at a time.
    ``guard``: the signals sent to the grader, held (the command line's; see :class:`.lifeline.SignalGuard`)."""
    items = handins.items
    done: dict[int, SubmissionResult] = dict(kept)
    pending = deque(i for i in range(len(items)) if i not in done)
    running: dict[int, tuple[WorkerRun, Snapshot | None, float]] = {}
    overlap: dict[int, set[int]] = {}  # who ran at the same time as whom (for the flags of a change made meanwhile)
    harmed: set[int] = set()
    jobs = max(1, int(jobs))
    places = tempfile.TemporaryDirectory(prefix="vit-grade-places-", ignore_cleanup_errors=True)  # compiled files, per job
    made = itertools.count()
    free: list[int] = []  # places whose last worker and kernel are gone
    place: dict[int, int] = {}  # hand-in running -> its place

    def publish():
        if on_result:
            on_result([done[i] for i in sorted(done)])

    def watch(i: int) -> None:
        """The hand-ins changed on disk since the last look: flag them, and ``i``, which ran meanwhile."""
        changed = handins.check()
        if not changed:
            return
        harmed.update(changed)
        for v in changed:
            if v in done:
                done[v].flags.append(HARMED)
        others = [items[j].label for j in running]
        done[i].flags.append(suspect([items[v].label for v in changed], others))

    def finished(i: int, result: SubmissionResult, snapshot, start: float) -> None:
        settle(result, snapshot, start, [items[j].label for j in sorted(overlap.pop(i, ()))])
        result.label, result.sha256, result.seed = items[i].label, items[i].sha256, salt
        if i in harmed:
            result.flags.append(HARMED)
        done[i] = result
        watch(i)
        publish()

    def start(i: int) -> None:
        item = items[i]
        if progress:
            progress(f"grading {item.label} ...")
        result = SubmissionResult(file=str(item.path), status=GRADER_ERROR, label=item.label)
        snapshot = Snapshot(book_dir)  # anew for each submission, so that your own edits between them are kept
        began = time.monotonic()
        try:
            job = prepare(item.path, book, result, data=handins.data(i), chapter=chapter, log_dir=log_dir)
            if job is not None:
                k = free.pop() if free else next(made)
                try:
                    run = WorkerRun(job.nb, job.assignment, timeout, checks_module, salt, job.log_path, result,
                                    pycache=Path(places.name) / str(k))
                except BaseException:
                    free.append(k)
                    raise
                place[i] = k
                overlap[i] = set(running)
                for j in running:
                    overlap[j].add(i)
                running[i] = (run, snapshot, began)
                return
        except HandInChanged as err:
            result.detail = str(err)
            result.flags.append(str(err))
        except Exception as err:  # noqa: BLE001 - one broken submission must not stop the others
            result.status, result.detail = GRADER_ERROR, f"{type(err).__name__}: {err}"
        finished(i, result, snapshot, began)

    try:
        while pending or running:
            while pending and len(running) < jobs:
                start(pending.popleft())
            if not running:
                continue
            runs = [run for run, _, _ in running.values()]
            wait = min(run.end for run in runs) - time.monotonic()
            for run in select.select(runs, [], [], min(max(wait, 0.0), 1.0))[0]:
                run.feed()
            if guard is not None:
                sent, genuine = guard.poll({i: f"HOME={run.work / 'home'}" for i, (run, _, _) in running.items()})
                for i, name in sent:
                    flags = running[i][0].result.flags
                    if f"sent {name} to the grader (ignored)" not in flags:
                        flags.append(f"sent {name} to the grader (ignored)")
                if genuine:
                    raise KeyboardInterrupt(genuine)
            for i in [i for i, (run, _, _) in running.items() if run.done or time.monotonic() >= run.end]:
                run, snapshot, began = running.pop(i)
                k = place.pop(i)
                try:
                    run.finish()
                    free.append(k)  # its worker and kernel are gone: the next job may use its place
                except Exception as err:  # noqa: BLE001 - (and its place is not used again)
                    run.result.status, run.result.detail = GRADER_ERROR, f"{type(err).__name__}: {err}"
                finished(i, run.result, snapshot, began)
    except KeyboardInterrupt:
        for i, (run, snapshot, _) in list(running.items()):
            try:
                run.finish(interrupted=True)
            except Exception:  # noqa: BLE001
                pass
            if snapshot is not None:
                snapshot.restore()
            done[i] = SubmissionResult(str(items[i].path), INTERRUPTED, "grading was interrupted (Ctrl-C)", label=items[i].label)
        for i in range(len(items)):
            if i not in done:
                done[i] = SubmissionResult(str(items[i].path), INTERRUPTED, "not graded: grading was interrupted", label=items[i].label)
        publish()
        raise
    finally:
        places.cleanup()
    changed = handins.check(everything=True)  # at the end, every hand-in hashed again
    for v in changed:
        done[v].flags.append(HARMED)
    if changed:
        publish()
    return [done[i] for i in range(len(items))]
