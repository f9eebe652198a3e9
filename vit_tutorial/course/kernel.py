"""The submission's kernel, as the worker sees it: run its cells, and call the student's function in it.

:class:`Runner` starts one kernel (in the sandbox of :mod:`.sandbox` where there is one, with the
minimal environment of :func:`kernel_env`) and runs the notebook's cells and the grader's calls.
:class:`KernelFunction` stands for the student's function: it sends the grader's inputs to the
kernel, runs :mod:`.kernel_call` there, and reads back only the output, with
``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from functools import lru_cache
from pathlib import Path

from . import bytecode
from .lifeline import die_with_parent
from .sandbox import sandbox

MAX_OUTPUT_BYTES = 512 * 2**20


@lru_cache(maxsize=1)
def _kernel_call_source() -> str:
    return (Path(__file__).resolve().parent / "kernel_call.py").read_text(encoding="utf-8")


def kernel_program(inp, out, expr: str) -> str:
    """The cell the grader runs in the kernel: :mod:`.kernel_call`'s text, its call on ``(inp, out, expr)``, and a ``del``."""
    return f"{_kernel_call_source()}\n__vt_grader_call({str(inp)!r}, {str(out)!r}, {expr!r})\ndel __vt_grader_call\n"


class GraderCallError(BaseException):
    """The student's function could not be called (not defined, no answer, too slow). A BaseException, so
    that the checker's ``except Exception`` does not turn it into a diagnosis."""


class KernelGone(GraderCallError):
    """The kernel died: no further check can run."""


def _opaque(type_name: str):
    name = "".join(ch for ch in type_name if ch.isalnum() or ch == "_") or "object"
    return type(name, (), {"__repr__": lambda self: f"<{name}>"})()


def _portable(value):
    """A HuggingFace ViT can't be pickled (transformers 5 holds context variables): send its
    class name, config and weights instead; the kernel rebuilds it (see :mod:`.kernel_call`)."""
    import torch

    if isinstance(value, torch.nn.Module) and hasattr(value, "config") and type(value).__module__.startswith("transformers"):
        state = {k: v.detach().cpu().clone() for k, v in value.state_dict().items()}
        return {"__vt_model__": True, "cls": type(value).__name__, "config": value.config.to_dict(), "state": state}
    return value


class KernelFunction:
    """Stands for the student's function ``expr`` in the kernel: call it with the grader's inputs, get its output."""

    def __init__(self, runner, expr: str, call_timeout: float):
        self.runner, self.expr, self.call_timeout = runner, expr, call_timeout
        self.__name__ = expr

    def __call__(self, *args, **kwargs):
        import cloudpickle
        import torch

        folder = self.runner.exchange
        inp, out = folder / "input.pkl", folder / "output.pt"
        for path in (inp, out):
            path.unlink(missing_ok=True)
        args = [_portable(a) for a in args]
        kwargs = {k: _portable(v) for k, v in kwargs.items()}
        inp.write_bytes(cloudpickle.dumps({"args": args, "kwargs": kwargs}))
        self.runner.call(kernel_program(inp, out, self.expr), self.call_timeout)
        if not out.is_file():
            raise GraderCallError(f"calling {self.expr}(...) in the notebook's kernel gave no answer")
        if out.stat().st_size > MAX_OUTPUT_BYTES:
            raise GraderCallError(f"{self.expr}(...) returned more than {MAX_OUTPUT_BYTES >> 20} MiB")
        try:
            reply = torch.load(out, weights_only=True, map_location="cpu")
        except Exception as err:  # noqa: BLE001 - anything the kernel wrote that isn't plain tensors/containers
            raise GraderCallError(f"the answer of {self.expr}(...) could not be read safely ({type(err).__name__})") from None
        if not isinstance(reply, dict) or not isinstance(reply.get("kind"), str):
            raise GraderCallError(f"the answer of {self.expr}(...) is not in the grader's format")
        if isinstance(reply.get("calls"), dict):  # the built-ins it reached, for the checks that forbid some
            from vit_tutorial.exercises._forbidden import report

            report(reply["calls"].get("ops") or (), reply["calls"].get("modules") or ())
        kind = reply["kind"]
        if kind == "tensor" and type(reply.get("value")) is torch.Tensor:
            return reply["value"]
        if kind == "not_done":
            raise NotImplementedError(str(reply.get("evalue", "")))
        if kind == "raised":
            ename = "".join(ch for ch in str(reply.get("ename", "Exception")) if ch.isalnum() or ch == "_") or "Exception"
            raise type(ename, (Exception,), {})(str(reply.get("evalue", "")))
        if kind == "undefined":
            raise GraderCallError(f"`{self.expr}` is not defined once the notebook has run "
                                  f"({reply.get('ename')}: {reply.get('evalue')})")
        if kind == "config" and reply.get("type") == "ViTConfig":
            from transformers import ViTConfig

            try:
                return ViTConfig.from_dict(json.loads(str(reply.get("value"))))
            except Exception:  # noqa: BLE001
                return _opaque("ViTConfig")
        if kind == "json":
            try:
                return json.loads(str(reply.get("value")))
            except ValueError:
                pass
        return _opaque(str(reply.get("type", "object")))


def kernel_env(work: Path, sandboxed: bool = False, pycache: Path | None = None) -> dict[str, str]:
    """A minimal environment for the kernel: nothing of the instructor's but what Python and the book need.

    Bytecode: never written. Outside a sandbox the kernel also reads none from the shared ``__pycache__``
    folders, which it could have rewritten for the next submission's kernel, but only from ``pycache`` (default
    ``work/pycache``), which :class:`Runner` fills with a copy of the grader's own (:mod:`.bytecode`). In
    bubblewrap those folders are read-only to every kernel, so the compiled files pip installed are used as they are."""
    keep = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "VIT_TUTORIAL_WEIGHTS", "VIT_TUTORIAL_DEVICE", "CUDA_VISIBLE_DEVICES", "SYSTEMROOT")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    try:
        from huggingface_hub import constants

        hf_home = constants.HF_HOME
    except Exception:  # noqa: BLE001
        hf_home = os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    home = work / "home"
    for sub in ("home", "tmp", "cache", "pycache", "runtime"):
        (work / sub).mkdir(exist_ok=True)
    env.update(HOME=str(home), TMPDIR=str(work / "tmp"), MPLBACKEND="Agg", HF_HUB_OFFLINE="1", HF_HOME=hf_home,
               VIT_TUTORIAL_CACHE=str(work / "cache"), PYTHONDONTWRITEBYTECODE="1",
               JUPYTER_RUNTIME_DIR=str(work / "runtime"), IPYTHONDIR=str(home / ".ipython"),
               MPLCONFIGDIR=str(home / ".matplotlib"), JUPYTER_PLATFORM_DIRS="1", PYTHONNOUSERSITE="1")
    if not sandboxed:
        env["PYTHONPYCACHEPREFIX"] = str(pycache or work / "pycache")
    return env


def _ignore_sigint():  # bwrap would die of the SIGINT that interrupts the kernel (its process group's), and the kernel with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _child_setup(parent: int, wrapped: bool):
    """What the kernel's process does between fork and exec: die with the worker (see :mod:`.lifeline`;
    ``exec`` keeps the request), and in bubblewrap ignore SIGINT (see :func:`_ignore_sigint`)."""

    def setup():
        die_with_parent(parent)
        if wrapped:
            _ignore_sigint()

    return setup


class Runner:
    """One kernel in ``work``: run notebook cells, and the grader's calls."""

    def __init__(self, nb, work: Path, log, deadline: float, pycache: Path | None = None):
        from jupyter_client.manager import AsyncKernelManager
        from nbclient import NotebookClient

        self.nb, self.work, self.log, self.deadline = nb, work, log, [deadline]
        self.pycache = pycache  # the batch's folder of compiled files for this job (checked before use), or a copy in work
        self.exchange = work / "grader"
        self.exchange.mkdir(exist_ok=True)
        (work / "sockets").mkdir(exist_ok=True)
        self.wrapper, self.sandbox = sandbox(work)
        wrapper = self.wrapper

        class Manager(AsyncKernelManager):
            def format_kernel_cmd(self, extra_arguments=None):
                return [*wrapper, *super().format_kernel_cmd(extra_arguments)]

        self.km = Manager(kernel_name="python3", transport="ipc", ip=str(work / "sockets" / "k"),
                          connection_file=str(work / "runtime" / "kernel.json"))
        self.client = NotebookClient(
            nb, km=self.km, allow_errors=True, timeout=None, record_timing=False,
            timeout_func=lambda cell: max(1, int(self.deadline[0] - time.monotonic() + 0.999)),
            shutdown_kernel="immediate", resources={"metadata": {"path": str(work / "notebook")}},
            on_cell_executed=self._executed,
        )
        self.pgid = None
        self.payloads: list[dict] = []  # the last cell's reply payloads (``exit()`` asks the kernel to end in one)

    def _executed(self, cell=None, cell_index=None, execute_reply=None):
        content = (execute_reply or {}).get("content") or {}
        self.payloads = [p for p in content.get("payload") or [] if isinstance(p, dict)]

    def asked_to_exit(self) -> bool:
        """Whether the last cell run called ``exit()`` or ``quit()`` (the kernel ends after it)."""
        return any(p.get("source") == "ask_exit" and not p.get("keepkernel") for p in self.payloads)

    def __enter__(self):
        # the kernel itself sets its own SIGINT handler; no preexec_fn on Windows (nor a parent-death signal)
        launch = {"preexec_fn": _child_setup(os.getpid(), bool(self.wrapper))} if os.name == "posix" else {}
        own = self.work / "pycache"
        pycache = None
        if not self.wrapper:
            if self.pycache is not None:
                pycache = bytecode.ensure(self.pycache, fallback=own)
            else:
                bytecode.copy_to(own)
        env = kernel_env(self.work, sandboxed=bool(self.wrapper), pycache=pycache)
        self._ctx = self.client.setup_kernel(env=env, stdout=self.log, stderr=self.log, **launch)
        self._ctx.__enter__()
        try:
            self.pgid = os.getpgid(self.km.provisioner.process.pid)
        except Exception:  # noqa: BLE001
            self.pgid = None
        return self

    def __exit__(self, *exc):
        try:
            self._ctx.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 - a dead kernel may not shut down cleanly
            pass
        if self.pgid and self.pgid != os.getpgid(0):
            with contextlib.suppress(OSError):
                os.killpg(self.pgid, signal.SIGKILL)  # and whatever it started in its session's group
        return False

    def run_cell(self, index: int):
        self.payloads = []
        self.client.execute_cell(self.nb.cells[index], index)

    def call(self, code: str, timeout: float):
        from nbclient.exceptions import CellTimeoutError, DeadKernelError
        from nbformat.v4 import new_code_cell

        self.deadline[0] = time.monotonic() + timeout
        self.nb.cells.append(new_code_cell(code))  # nbclient keeps each cell's outputs in the notebook
        try:
            self.client.execute_cell(self.nb.cells[-1], len(self.nb.cells) - 1)
        except CellTimeoutError:
            self.interrupt()
            raise GraderCallError(f"the function did not return within {timeout:g} s") from None
        except (DeadKernelError, RuntimeError) as err:
            raise KernelGone(f"the kernel died ({err})") from None
        finally:
            self.nb.cells.pop()

    def interrupt(self):
        from jupyter_core.utils import run_sync

        with contextlib.suppress(Exception):
            run_sync(self.km.interrupt_kernel)()
        time.sleep(1)
