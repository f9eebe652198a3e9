"""The grader's processes die with the grader: a parent-death signal (Linux), a documented no-op elsewhere.

A worker (:mod:`.worker`) and its kernel (:mod:`.kernel`) each ask the operating system for ``SIGKILL``
the moment their parent dies (``prctl(PR_SET_PDEATHSIG)``, through ``ctypes``), so that a grader killed
by ``kill -9``, by an out-of-memory killer or by a submission takes its worker, and the worker its kernel, with it.
The request is made in the child before it runs anything else (for the kernel: between ``fork`` and
``exec``, which keeps it), then the parent is checked to still be there: had it died in between, the
child exits at once. On other systems (macOS, Windows) there is no such signal: :func:`die_with_parent`
does nothing and returns ``False``; there, as before, a worker whose grader is gone finishes its one
submission and exits, and ipykernel ends a kernel whose parent is gone (it polls it).
"""
from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_prctl = None


def _load() -> object | None:
    """libc's ``prctl`` (loaded once, before any fork: a child between fork and exec must not load libraries)."""
    global _prctl
    if _prctl is None and sys.platform.startswith("linux"):
        try:
            import ctypes

            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _prctl = False
    return _prctl or None


def die_with_parent(parent: int | None = None) -> bool:
    """Ask for ``SIGKILL`` when this process's parent dies; ``True`` if armed. If ``parent`` (the expected
    parent's pid) is no longer this process's parent, it already died: exit at once."""
    prctl = _load()
    if prctl is None:
        return False
    armed = prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    if parent is not None and os.getppid() != parent:
        os._exit(1)
    return armed


_load()  # at import, in the grader: forked children then only call it
