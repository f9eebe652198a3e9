"""The kernel's sandbox: bubblewrap (``bwrap``) where it is installed and runs, else none, and the grade says which.

``VIT_TUTORIAL_SANDBOX``: ``auto`` (default), ``off``, or ``bwrap`` (required).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

SANDBOX_VARIABLE = "VIT_TUTORIAL_SANDBOX"  # "auto" (default): bubblewrap where it runs; "off"; "bwrap": required
_probed: dict[str, str | None] = {}


def _probe(argv: list[str]) -> str | None:
    """``None`` if ``argv`` (a bwrap command line) runs ``true``; else why not. Once per process."""
    if argv[0] not in _probed:
        import subprocess

        try:
            run = subprocess.run([*argv, "true"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
            _probed[argv[0]] = None if run.returncode == 0 else " ".join(
                (run.stderr.strip() or f"exit status {run.returncode}").split())[:300]
        except (OSError, subprocess.SubprocessError) as err:
            _probed[argv[0]] = f"{type(err).__name__}: {err}"[:300]
    return _probed[argv[0]]


def _needed_in_tmp() -> list[str]:
    """bwrap arguments that bring back, read-only, what the kernel needs from ``/tmp`` (which the sandbox
    replaces with an empty one): Python, its packages and this package, when they live there (a
    checkout or a virtual environment under ``/tmp``). Only the outermost such folders."""
    tmp = Path("/tmp").resolve()
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(__file__).resolve().parents[2]),
                  *sys.path, *os.environ.get("PYTHONPATH", "").split(os.pathsep)}
    found = set()
    for candidate in filter(None, candidates):
        path = Path(candidate).resolve()
        if tmp in path.parents and path.exists():
            found.add(path)
    outermost = sorted(p for p in found if not any(q in p.parents for q in found))
    return [arg for p in outermost for arg in ("--ro-bind", str(p), str(p))]


def sandbox(work: Path) -> tuple[list[str], str]:
    """The command that wraps the kernel's, and what the grade says about it.

    Where bubblewrap (``bwrap``) is installed and runs, the kernel sees the whole file system
    read-only (the package, the book, the grader's folders), writes only in ``work``, and gets a
    private, empty ``/tmp``, its own ``/dev`` and ``/proc``. Elsewhere it runs as before: optional,
    detected at run time. ``VIT_TUTORIAL_SANDBOX=off`` turns it off, ``=bwrap`` makes it required.
    """
    import shutil

    mode = os.environ.get(SANDBOX_VARIABLE, "auto").strip().lower() or "auto"
    if mode not in ("auto", "off", "bwrap"):
        raise ValueError(f"{SANDBOX_VARIABLE}={mode!r}: use auto, off or bwrap")
    if mode == "off":
        return [], f"none ({SANDBOX_VARIABLE}=off)"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        note = "none (bwrap not found)"
    else:
        # --unshare-pid: the kernel sees only its own processes in /proc, never the worker's or the
        # grader's descriptors, and whatever it leaves running dies with the namespace. ipykernel would
        # poll for a parent it cannot see there (JPY_PARENT_PID) and exit: bwrap's --die-with-parent
        # does that job instead.
        argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", *_needed_in_tmp(),
                "--bind", str(work), str(work), "--unshare-pid", "--unsetenv", "JPY_PARENT_PID", "--die-with-parent", "--"]
        error = _probe(argv)
        if error is None:
            return argv, "bubblewrap (the kernel writes only in its own folder, sees only its own processes; private /tmp)"
        note = f"none (bwrap does not run here: {error})"
    if mode == "bwrap":
        raise RuntimeError(f"{SANDBOX_VARIABLE}=bwrap but no sandbox: {note}")
    return [], note
