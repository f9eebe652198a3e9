"""Running notebooks headlessly without stalls: a guard against a lost wake-up in jupyter_client.

nbclient (inside nbmake, jupyter-book's myst-nb and :mod:`vit_tutorial.course.grade`) waits for a
cell's ``execute_reply`` with ``await shell_channel.get_msg(timeout=<cell timeout>)``. While
it waits, its stand-in for the ipywidgets ``Output`` widget (used by every
``widgets.interact``) sends ``comm_msg`` updates on that same shell socket
(jupyter/nbclient#312). ZeroMQ announces a readable socket through an *edge-triggered* file
descriptor, and that send can swallow the edge that announced the reply. The wait then
sleeps until the cell timeout (300 s in this book) and only then finds the reply, which had
arrived long before. In this book it struck about one run in three of a notebook with
``widgets.interact`` (appendix A1, chapter 8), and cost CI five minutes each time.

Who still needs it: the book's own notebooks no longer hold any ``Output`` widget (their
``widgets.interact`` cells became :mod:`vit_tutorial.explorers`, which send nothing on the
shell socket), so the book's Sphinx build no longer installs it. The grader
(:mod:`vit_tutorial.course.grade`) does: it runs students' notebooks, which may hold a
``widgets.interact`` of their own. The pytest plugin keeps it too, as a free safety net for
any notebook nbmake runs.

The guard: :func:`patch` makes the async channels wait in short slices. Each new slice asks
ZeroMQ for the socket's state afresh, so a lost edge costs at most :data:`SLICE_S` seconds.
Timeouts keep their meaning; nothing else changes.

    >>> from vit_tutorial.course import nbexec
    >>> nbexec.patch()          # in the process that runs nbclient (done for you by the
    ...                         # project's pytest settings and the grader)

It is also a pytest plugin: ``pytest -p vit_tutorial.course.nbexec --nbmake ...``. As a plugin it
also shares the cores out when pytest-xdist runs several workers (``-n 2``): each worker,
and each notebook kernel it starts, gets ``cores // workers`` threads (``OMP_NUM_THREADS``)
instead of every kernel using all cores and fighting the others for them. On two cores that
took the book's notebooks under ``-n 2`` from 75 s to 54 s. An ``OMP_NUM_THREADS`` you set
yourself is left alone.
"""
from __future__ import annotations

import os
import sys
import time
from queue import Empty

SLICE_S = 0.1  # longest a lost wake-up can delay a message


async def _sliced_get_msg(self, timeout: float | None = None) -> dict:
    """``AsyncZMQSocketChannel.get_msg``, polling in slices of at most :data:`SLICE_S`."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        step = SLICE_S if remaining is None else min(SLICE_S, remaining)
        if await self.socket.poll(int(step * 1000)):
            return await self._recv()
        if remaining is not None and remaining <= step:
            raise Empty


_sliced_get_msg._vit_tutorial_sliced = True


def patched() -> bool:
    """Whether :func:`patch` is in effect in this process."""
    from jupyter_client.channels import AsyncZMQSocketChannel

    return getattr(AsyncZMQSocketChannel.get_msg, "_vit_tutorial_sliced", False)


def patch() -> bool:
    """Install the sliced wait on ``jupyter_client``'s async channels. Idempotent.

    Returns ``True`` if this call installed it, ``False`` if it was already in place or
    ``jupyter_client`` is not installed (then there is no nbclient to protect).
    """
    try:
        from jupyter_client.channels import AsyncZMQSocketChannel
    except ImportError:
        return False
    if patched():
        return False
    AsyncZMQSocketChannel.get_msg = _sliced_get_msg
    return True


def share_cores(workers: int, cores: int | None = None) -> int | None:
    """Set ``OMP_NUM_THREADS`` to this process's share of the cores when ``workers`` run at once.

    Kernels started from here inherit it; torch, if already imported, follows too. Returns
    the thread count set, or ``None`` when nothing was changed (one worker, or the variable
    was already set by the user).
    """
    if workers <= 1 or os.environ.get("OMP_NUM_THREADS"):
        return None
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = max(1, cores // workers)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    return threads


def pytest_configure(config) -> None:  # pragma: no cover - exercised by every nbmake run
    """pytest plugin hook: ``pytest -p vit_tutorial.course.nbexec``."""
    patch()
    share_cores(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))  # set in each xdist worker
