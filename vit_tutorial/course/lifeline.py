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


class SignalGuard:
    """While grading from the command line: SIGINT, SIGTERM and SIGHUP sent to the grader are held (blocked) and
    read by :meth:`poll` in the grading loop. One sent by a submission's kernel or a program it started (its
    environment holds that submission's private HOME) is ignored and reported against it; any other (Ctrl-C at
    the terminal, ``kill`` from a shell) stops the grading cleanly, resumable with ``--resume``. Children unblock
    them (:func:`unblock`). ``SIGKILL`` can't be held: ``--resume`` is the answer to it. Linux only (``/proc``);
    elsewhere a no-op."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self):
        self.active = sys.platform.startswith("linux") and hasattr(signal, "sigtimedwait")
        self.old = None

    def __enter__(self):
        if self.active:
            self.old = signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.old)
        return False

    def poll(self, markers: dict) -> tuple[list[tuple[object, str]], str | None]:
        """The signals held so far: ``([(key of the submission that sent it, its name), ...], name of a genuine
        one or None)``; ``markers`` maps a key to the ``HOME=...`` of a running submission's kernel."""
        sent, genuine = [], None
        while self.active:
            info = signal.sigtimedwait(self.SIGNALS, 0)
            if info is None:
                break
            name = signal.Signals(info.si_signo).name
            who = _sender(info.si_pid, markers) if info.si_pid > 0 else None
            if who is None:
                genuine = genuine or name
            else:
                sent.append((who, name))
        return sent, genuine


def _sender(pid: int, markers: dict):
    try:
        environ = open(f"/proc/{pid}/environ", "rb").read()
    except OSError:
        return None
    return next((key for key, marker in markers.items() if marker.encode() + b"\0" in environ), None)


def unblock() -> None:
    """In a child of the grader: the signals :class:`SignalGuard` holds are delivered again."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SignalGuard.SIGNALS)
