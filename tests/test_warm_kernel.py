"""tools/warm_kernel.py: nbmake's notebook kernels, forked from a warm process (the Makefile's NOTEBOOK_RUNS).

A forked kernel must behave as a fresh one does where a notebook can tell: its working folder, its environment, its
share of the cores, an interrupt; it must end with its launcher; and with no server it must still start.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # kernels of their own (make test runs them, make check does not)

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "warm_kernel.py"
PROBE = ("import os, sys, torch; print(os.getcwd(), os.environ.get('WARM_PROBE'), torch.get_num_threads(), "
         "sys.path[0], os.getppid())")


def _kernel(tmp_path, monkeypatch, **env):
    from jupyter_client.manager import KernelManager

    subprocess.run([sys.executable, str(TOOL), "spec", str(tmp_path / "spec")], check=True)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "spec"))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # tests/conftest.py's Agg: a kernel picks its own (inline)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(work))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    return km, kc, work


def _run(kc, code: str, timeout: float = 60) -> str:
    out = []
    kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: out.append(m["content"].get("text", "")))
    return "".join(out).strip()


def _displayed(kc, code: str, timeout: float = 60) -> list[str]:
    """The MIME types of what ``code`` displays (a figure: image/png from the inline backend)."""
    shown = []
    kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: shown.extend(m["content"].get("data", {})))
    return shown


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"


def test_a_forked_kernel_has_the_launchers_folder_environment_and_threads_and_ends_with_it(tmp_path, monkeypatch):
    km, kc, work = _kernel(tmp_path, monkeypatch, WARM_PROBE=f"probe-{os.getpid()}", OMP_NUM_THREADS="1")
    try:
        cwd, probe, threads, path0, parent = _run(kc, PROBE).split()
        assert (cwd, probe, threads, path0) == (str(work), f"probe-{os.getpid()}", "1", str(work))
        launcher = km.provisioner.process.pid
        assert int(parent) not in (launcher, os.getpid()), "a plain kernel, not a fork of the warm server"
        figure = _displayed(kc, "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()")
        assert "image/png" in figure, f"a figure must reach the notebook, as in a fresh kernel: {figure}"
        kernel = int(_run(kc, "import os; print(os.getpid())"))
        kc.execute("import time; time.sleep(60)")
        time.sleep(1)
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=30)
        assert reply["content"].get("ename") == "KeyboardInterrupt", reply["content"]
        os.kill(launcher, signal.SIGKILL)  # what jupyter_client does last: the kernel must not outlive it
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _alive(kernel):
            time.sleep(0.1)
        assert not _alive(kernel), "the forked kernel outlived its launcher"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_without_a_server_the_launcher_starts_a_plain_kernel(tmp_path, monkeypatch):
    # no server answers (here: none may be started): the launcher runs the kernel itself
    km, kc, work = _kernel(tmp_path, monkeypatch, WARM_KERNEL_START_S="0", WARM_PROBE="plain")
    try:
        cwd, probe, _, _, parent = _run(kc, PROBE).split()
        assert (cwd, probe) == (str(work), "plain")
        assert int(parent) == os.getpid(), "the plain kernel is the launcher itself, a child of this process"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


NOISY = "import os, warnings\nwarnings.warn('this API is old', FutureWarning)\nos.write(2, b'from C\\n')\n"


def test_a_server_whose_imports_print_anything_serves_no_kernel(tmp_path):
    """A fresh kernel shows what its imports print in the cell that imports them; a fork of a server that did the
    imports would not. So the server serves only if its imports printed nothing, from Python or from C."""
    (tmp_path / "noisy_module.py").write_text(NOISY)
    sock = tmp_path / "server.sock"
    setup = f"import sys; sys.path[:0] = [{str(TOOL.parent)!r}, {str(tmp_path)!r}]; import warm_kernel as w; "

    def python(code):
        run = subprocess.run([sys.executable, "-c", setup + code], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        return run

    quiet = python("print(repr(w.warm_up(w.WARM_IMPORTS)))")
    assert quiet.stdout.strip() == "''", ("importing the warm modules prints something on this transformers major, "
                                          "so every kernel would start plain: " + quiet.stdout)
    caught = python("print(repr(w.warm_up(('json', 'noisy_module'))))")
    assert "this API is old" in caught.stdout and "from C" in caught.stdout and not caught.stderr, caught
    # the server's own imports stood in for by two small ones (what matters is that they print), and its socket by
    # one that ends the process: a server that went on to serve would fail here at once, not idle for a minute
    noisy = python("import types; w.WARM_IMPORTS = ('json', 'noisy_module'); "
                   "w.socket = types.SimpleNamespace(socket=lambda *a: sys.exit('it went on to serve')); "
                   f"w.serve({str(sock)!r}); print('returned')")
    assert noisy.stdout.strip() == "returned" and not sock.exists(), "the server must not serve after its imports printed"


def test_nbmake_and_the_test_builds_kernels_are_warm_and_the_graders_are_not():
    """The Makefile puts the warm kernelspec on JUPYTER_PATH for the nbmake runs and make test's strict book build
    (a forked kernel shows what a fresh one shows: see the test above); the grader's tests start plain kernels (in
    its sandbox), and so does a reader's own make book."""
    dry = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lines = [line for line in dry.splitlines() if " -m pytest " in line or "jupyter-book build" in line]
    warm = [line for line in lines if "-p tests._notebook_runs" in line or "jupyter-book build" in line]
    assert len(warm) >= 2 and all("JUPYTER_PATH=" in line and "warm-kernels" in line for line in warm), warm
    assert not [line for line in lines if line not in warm and "JUPYTER_PATH=" in line], lines
    book = subprocess.run(["make", "-n", "book"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "jupyter-book build" in book and "JUPYTER_PATH=" not in book
