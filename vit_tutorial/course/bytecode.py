"""Compiled Python for the kernels that run without a sandbox: made once by the grader, checked before each kernel.

Outside bubblewrap a kernel could rewrite the shared ``__pycache__`` folders of torch or of this package for the
next submission's kernel, so each kernel reads bytecode only from a folder that no other kernel uses at the same
time (``PYTHONPYCACHEPREFIX``, see :func:`.kernel.kernel_env`) and writes none. Left empty, that folder costs every
kernel about 3 s of CPU here: it compiles IPython and torch afresh. So the grader compiles them once
(:func:`prepare`), in a process that runs no student code, and keeps the files in its own memory. Each job of a
batch has one folder for its kernels, one after the other (:func:`ensure`): before each kernel it is checked byte
for byte against those files and written afresh only where the last kernel changed it, so what a kernel does to
it, no other kernel sees. (A fresh copy for every kernel, :func:`copy_to`, is 2,200 new files, 58 MB: 0.1 to 2 s
of CPU here, as the page cache stands; the check reads them in about 60 ms.) Most of those files the grader has
already: the compiled files of what it imported itself (pip wrote them when it installed torch); they go in first
(:func:`_seed`), and the kernel compiles only the rest (ipykernel's debugger, what a call into a kernel reaches):
10.5 s -> 5 s here. A file whose source has changed since is ignored by Python (its header records the source's
time and size) and compiled afresh, as before.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

# what every exercise notebook's kernel runs: torch, the checks' helpers, a first comparison (torch.testing's ~500
# lazy modules), and a function for the grader's call (:mod:`.kernel_call`)
WARM_UP = """
import torch
torch.testing.assert_close(torch.zeros(1), torch.zeros(1))
try:
    import vit_tutorial.exercises
except Exception:
    pass

def warm_up():
    return torch.ones(2) * 2
"""
COMPILE_TIMEOUT_S = 300

_files: dict[str, bytes] = {}  # path below the prefix -> the compiled file


def _seed(prefix: Path) -> int:
    """Copy below ``prefix`` the compiled files of the modules this process runs, where a kernel started with
    ``PYTHONPYCACHEPREFIX=prefix`` would look for them; how many. Python checks each against its source when it
    loads it (time and size in the header), so one that does not match is compiled afresh, as before."""
    count = 0
    for module in list(sys.modules.values()):
        spec = getattr(module, "__spec__", None)
        origin, cached = getattr(spec, "origin", None), getattr(spec, "cached", None)
        if not (origin and cached and os.path.isabs(origin) and os.path.isfile(cached)):
            continue
        folder = os.path.splitdrive(os.path.dirname(origin))[1].lstrip("\\/")  # as Python does: no drive, relative
        target = prefix / folder / os.path.basename(cached)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(Path(cached).read_bytes())
        except OSError:
            continue  # that one is compiled by the kernel
        count += 1
    return count


def _compile_into(folder: Path) -> None:
    """Start a kernel as the grader starts one, with bytecode written below ``folder``, and run :data:`WARM_UP` and
    one grader's call in it. Only the package's own code runs there."""
    import pickle

    from jupyter_client.manager import KernelManager

    work = folder / "kernel"
    work.mkdir()
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(folder / "bytecode")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    inp, out = work / "input.pkl", work / "output.pt"
    inp.write_bytes(pickle.dumps({"args": [], "kwargs": {}}))
    call = Path(__file__).with_name("kernel_call.py").read_text(encoding="utf-8")  # as .kernel.kernel_program sends it
    call += f"\n__vt_grader_call({str(inp)!r}, {str(out)!r}, 'warm_up')\n"
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(work / "k"))
    km.start_kernel(env=env, cwd=str(work), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=COMPILE_TIMEOUT_S)
        kc.execute_interactive(WARM_UP, timeout=COMPILE_TIMEOUT_S, output_hook=lambda msg: None)
        kc.execute_interactive(call, timeout=COMPILE_TIMEOUT_S, output_hook=lambda msg: None)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def prepare() -> int:
    """Compile, once in this process's life, what a kernel imports to run an exercise notebook (see
    :func:`_compile_into`); return how many files there are."""
    if not _files:
        with tempfile.TemporaryDirectory(prefix="vit-grade-bytecode-") as folder:
            _seed(Path(folder) / "bytecode")
            try:  # in a process of its own: jupyter_client's event loop must not be inherited by the forked workers
                subprocess.run([sys.executable, "-m", __name__, folder], stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=COMPILE_TIMEOUT_S, check=False)
            except (OSError, subprocess.SubprocessError):  # what was compiled is kept; kernels compile the rest
                pass
            root = Path(folder) / "bytecode"
            _files.update({str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.pyc") if p.is_file()})
    return len(_files)


def copy_to(prefix: Path) -> int:
    """Write this process's copy of the compiled files (if :func:`prepare` made them) below ``prefix``; how many."""
    for folder in {os.path.dirname(name) for name in _files}:
        os.makedirs(os.path.join(prefix, folder), exist_ok=True)
    for name, data in _files.items():
        fd = os.open(os.path.join(prefix, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    return len(_files)


def _holds_exactly(prefix: Path) -> bool:
    """Whether ``prefix`` holds this process's compiled files and nothing else: every file byte for byte, each a
    plain file of its own (no link, no second name), no file or folder more, none missing."""
    folders = {""} | {os.path.dirname(name) for name in _files}
    for folder in list(folders):
        while folder:
            folder = os.path.dirname(folder)
            folders.add(folder)
    seen = 0
    try:
        if not stat.S_ISDIR(os.lstat(prefix).st_mode):
            return False
        pending = [""]
        while pending:
            folder = pending.pop()
            with os.scandir(os.path.join(prefix, folder)) as entries:
                for entry in entries:
                    name = os.path.join(folder, entry.name) if folder else entry.name
                    if entry.is_dir(follow_symlinks=False) and name in folders:
                        pending.append(name)
                        continue
                    if not entry.is_file(follow_symlinks=False) or name not in _files:
                        return False  # a link, a file or folder of its own, a pipe...
                    fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                    try:
                        info = os.fstat(fd)
                        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_size != len(_files[name]):
                            return False  # (the size first: a file made huge is never read)
                        with open(fd, "rb", closefd=False) as file:
                            if file.read() != _files[name]:
                                return False
                    finally:
                        os.close(fd)
                    seen += 1
    except OSError:  # unreadable, gone...
        return False
    return seen == len(_files)


def ensure(prefix: Path, fallback: Path) -> Path:
    """A folder that holds exactly this process's copy of the compiled files: ``prefix`` itself, checked (see
    :func:`_holds_exactly`; about 60 ms here) and written afresh only where a kernel changed it.

    For kernels that run one after the other (one per job of a batch, see :mod:`.parallel`): what the last kernel
    did to its folder, the next one does not see, as with a copy of its own (:func:`copy_to`, 0.1 to 2 s of CPU
    here: 2,200 files, 58 MB), which is what a changed folder costs. It is moved aside whole (what
    a kernel left there may not be removable), for the batch's clean-up; where that fails, the copy goes to
    ``fallback``, a folder of this kernel's own."""
    if _holds_exactly(prefix):
        return prefix
    if os.path.lexists(prefix):
        try:
            os.rename(prefix, os.path.join(tempfile.mkdtemp(prefix=f"{prefix.name}-changed-", dir=prefix.parent), "x"))
        except OSError:
            prefix = fallback
    copy_to(prefix)
    return prefix


if __name__ == "__main__":
    _compile_into(Path(sys.argv[1]))
