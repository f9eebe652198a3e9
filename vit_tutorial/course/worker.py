"""Grade one submission, in a process of its own: ``python -m vit_tutorial.course.worker`` (job on stdin).

The grader (:mod:`.grade`) starts one worker per submission, in a session of its own, and reads
one line back from its stdout, signed with a secret that only the grader and this worker know
(sent on stdin, never in an argument or the environment).

The worker runs the (restored) notebook top to bottom in a fresh kernel, then grades it with
its **own** checks: for each ``check_<name>(fn, ...)`` of the book it calls the real checker
(``vit_tutorial.exercises``) here, in this process, where no student code ever runs, with a
stand-in for ``fn`` that sends the inputs to the kernel, calls the student's function there and
brings back only its output (a tensor, read with ``torch.load(weights_only=True)``; a config
as JSON) and the names of the torch functions, ATen operators and model modules it reached, for
the checks that forbid a built-in (``vit_tutorial.exercises._forbidden``). Every comparison, every diagnosis and the verdict itself happen here. Seeds are
salted with a secret drawn per run, so the inputs are new at every grading, and the ``model``
the checks use is built here with random weights from that salt (no file a kernel could have
changed is read). So a kernel can only answer the questions it is asked: monkeypatching the
checkers, ``torch.testing``, IPython's hooks or the log changes nothing here.
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import sys
import time
from pathlib import Path

from .student import check_calls

RESULT_PREFIX = "VIT-GRADE-RESULT "
MAX_OUTPUT_BYTES = 512 * 2**20

_CALL = r'''
def __vt_grader_call(inp, out, expr):
    import json, pickle, torch
    calls = {"ops": [], "modules": []}  # what the function reached: the checks name forbidden built-ins from it
    def save(d):
        torch.save({**d, "calls": calls}, out)
    try:
        fn = eval(expr, get_ipython().user_ns)
    except BaseException as err:
        return save({"kind": "undefined", "ename": type(err).__name__, "evalue": str(err)[:2000]})
    with open(inp, "rb") as f:
        payload = pickle.load(f)

    def model_of(a):  # a model the grader sent as class name, config and weights
        if isinstance(a, dict) and a.get("__vt_model__"):
            import transformers
            config = transformers.ViTConfig.from_dict(a["config"])
            config._attn_implementation = "eager"
            model = getattr(transformers, a["cls"])(config)
            model.load_state_dict(a["state"])
            return model.eval()
        return a
    payload["args"] = [model_of(a) for a in payload["args"]]
    payload["kwargs"] = {k: model_of(v) for k, v in payload["kwargs"].items()}
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode
    def seen(name):
        calls["ops"].append(name) if name not in calls["ops"] else None
    class Ops(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen(str(func))
            return func(*args, **(kwargs or {}))
    class Functions(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            seen("fn:" + getattr(func, "__name__", ""))
            return func(*args, **(kwargs or {}))
    names = {id(m): [n or type(a).__name__, type(m).__name__] for a in (*payload["args"], *payload["kwargs"].values())
             if isinstance(a, torch.nn.Module) for n, m in a.named_modules()}
    hook = torch.nn.modules.module.register_module_forward_pre_hook(
        lambda m, _: calls["modules"].append(names[id(m)]) if id(m) in names and names[id(m)] not in calls["modules"] else None)
    try:
        with Functions(), Ops():
            got = fn(*payload["args"], **payload["kwargs"])
    except NotImplementedError as err:
        return save({"kind": "not_done", "evalue": str(err)[:2000]})
    except BaseException as err:
        return save({"kind": "raised", "ename": type(err).__name__, "evalue": str(err)[:2000]})
    finally:
        hook.remove()
    name = type(got).__name__
    if isinstance(got, torch.Tensor):
        return save({"kind": "tensor", "value": got.detach().as_subclass(torch.Tensor).clone()})
    if hasattr(got, "to_dict") and name.endswith("Config"):
        try:
            return save({"kind": "config", "type": name, "value": json.dumps(got.to_dict(), default=str)})
        except BaseException:
            pass
    try:
        return save({"kind": "json", "type": name, "value": json.dumps(got)})
    except BaseException:
        return save({"kind": "other", "type": name})
__vt_grader_call(%r, %r, %r)
del __vt_grader_call
'''


class GraderCallError(BaseException):
    """The student's function could not be called (not defined, no answer, too slow). A BaseException, so
    that the checker's ``except Exception`` does not turn it into a diagnosis."""


class KernelGone(GraderCallError):
    """The kernel died: no further check can run."""


def _mix(seed: int, salt: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{salt}".encode()).digest()[:7], "big")


@contextlib.contextmanager
def fresh_seeds(salt: int):
    """While active, every ``torch.Generator().manual_seed(s)`` and ``torch.manual_seed(s)`` here is salted."""
    import torch

    generator, manual_seed = torch.Generator, torch.manual_seed

    class SaltedGenerator(generator):
        def manual_seed(self, seed):
            return super().manual_seed(_mix(int(seed), salt))

    torch.Generator = SaltedGenerator
    torch.manual_seed = lambda seed: manual_seed(_mix(int(seed), salt))
    manual_seed(_mix(0, salt))
    try:
        yield
    finally:
        torch.Generator, torch.manual_seed = generator, manual_seed


def _opaque(type_name: str):
    name = "".join(ch for ch in type_name if ch.isalnum() or ch == "_") or "object"
    return type(name, (), {"__repr__": lambda self: f"<{name}>"})()


def _portable(value):
    """A HuggingFace ViT can't be pickled (transformers 5 holds context variables): send its
    class name, config and weights instead; the kernel rebuilds it (see ``_CALL``)."""
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
        self.runner.call(_CALL % (str(inp), str(out), self.expr), self.call_timeout)
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


def kernel_env(work: Path) -> dict[str, str]:
    """A minimal environment for the kernel: nothing of the instructor's but what Python and the book need."""
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
               VIT_TUTORIAL_CACHE=str(work / "cache"), PYTHONPYCACHEPREFIX=str(work / "pycache"),
               PYTHONDONTWRITEBYTECODE="1", JUPYTER_RUNTIME_DIR=str(work / "runtime"), IPYTHONDIR=str(home / ".ipython"),
               MPLCONFIGDIR=str(home / ".matplotlib"), JUPYTER_PLATFORM_DIRS="1", PYTHONNOUSERSITE="1")
    return env


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


def _ignore_sigint():  # bwrap would die of the SIGINT that interrupts the kernel (its process group's), and the kernel with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Runner:
    """One kernel in ``work``: run notebook cells, and the grader's calls."""

    def __init__(self, nb, work: Path, log, deadline: float):
        from jupyter_client.manager import AsyncKernelManager
        from nbclient import NotebookClient

        self.nb, self.work, self.log, self.deadline = nb, work, log, [deadline]
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
        )
        self.pgid = None

    def __enter__(self):
        launch = {"preexec_fn": _ignore_sigint} if self.wrapper else {}  # the kernel itself sets its own handler
        self._ctx = self.client.setup_kernel(env=kernel_env(self.work), stdout=self.log, stderr=self.log, **launch)
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


def _error_of(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()[:500]
    return None


def run_notebook(runner: Runner, indices: list[int], timeout: float, result: dict) -> int | None:
    """Run the code cells ``indices``; fill ``result``'s status; return the index of a cell that killed the kernel."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    runner.deadline[0] = time.monotonic() + timeout
    for index in indices:
        if time.monotonic() >= runner.deadline[0]:
            result.update(status="timeout", detail=f"did not finish within {timeout:g} s (an endless loop, or too slow)")
            return None
        try:
            runner.run_cell(index)
        except CellTimeoutError:
            result.update(status="timeout", detail=f"did not finish within {timeout:g} s (an endless loop, or too "
                          f"slow; stopped in cell {index})")
            runner.interrupt()
            return None
        except (DeadKernelError, RuntimeError) as err:
            if isinstance(err, RuntimeError) and "kernel" not in str(err).lower():
                raise
            result.update(status="crashed", detail=f"the kernel died in cell {index} ({str(err).strip()[:200] or 'DeadKernelError'})")
            return index
        error = _error_of(runner.nb.cells[index])
        if error and not check_calls(runner.nb.cells[index].source):  # a self-check's error is the grader's business
            result["errors"].append(f"cell {index}: {error}")
    return None


def provided_names(salt: int):
    """What the book's check calls pass besides the student's function (``model``), built here."""

    class Provided(dict):
        def __missing__(self, key):
            if key == "model":
                from vit_tutorial.model import random_model

                self[key] = random_model(seed=_mix(1, salt) % 2**31)
                return self[key]
            raise KeyError(key)

    import torch

    return Provided(torch=torch)


def checker_arguments(check: dict, provided) -> tuple[list, dict]:
    """The arguments a book's check call passes after the student's function (``check["args"]``, sources such
    as ``"model"``), evaluated among the grader's ``provided`` names, never the notebook's."""
    args = [eval(src, {"__builtins__": __builtins__}, provided) for src in check["args"]]  # noqa: S307 - the book's text
    kwargs = {k: eval(src, {"__builtins__": __builtins__}, provided) for k, src in check["kwargs"].items()}  # noqa: S307
    return args, kwargs


def run_checker(checker, fn, args, kwargs, salt: int, out=None) -> None:
    """``checker(fn, *args, **kwargs)`` on inputs salted with ``salt`` (see :func:`fresh_seeds`); what it prints goes to
    ``out`` (default: stderr). Raises what the checker raises."""
    with fresh_seeds(salt), contextlib.redirect_stdout(out if out is not None else sys.stderr):
        checker(fn, *args, **kwargs)


def grade_checks(runner: Runner | None, checks: list[dict], module, salt: int, call_timeout: float) -> list[dict]:
    from vit_tutorial.exercises import CheckFailed, ExerciseNotDone

    provided = provided_names(salt)
    out, gone = [], None
    for check in checks:
        name = check["name"]
        if runner is None or gone:
            out.append({"check": name, "status": "not run", "message": gone or "the notebook could not be run"})
            continue
        checker = getattr(module, name, None)
        if checker is None:
            out.append({"check": name, "status": "grader error", "message": f"the grader has no {name}"})
            continue
        try:
            args, kwargs = checker_arguments(check, provided)
        except Exception as err:  # noqa: BLE001
            out.append({"check": name, "status": "grader error", "message": f"can't provide the arguments {check['args']}: {err}"})
            continue
        fn = KernelFunction(runner, check["function"], call_timeout)
        try:
            run_checker(checker, fn, args, kwargs, salt)
            out.append({"check": name, "status": "passed", "message": ""})
        except ExerciseNotDone as err:
            out.append({"check": name, "status": "not done", "message": str(err)})
        except CheckFailed as err:
            out.append({"check": name, "status": "failed", "message": str(err).removeprefix(f"{check['name'][6:]}: ")})
        except KernelGone as err:
            gone = f"not run: {err}"
            out.append({"check": name, "status": "error", "message": str(err)})
        except GraderCallError as err:
            out.append({"check": name, "status": "error", "message": str(err)})
        except Exception as err:  # noqa: BLE001 - a checker that breaks on odd output is the submission's fault only if...
            out.append({"check": name, "status": "failed", "message": f"the check could not use your output: {type(err).__name__}: {err}"})
    return out


def work(job: dict) -> dict:
    import importlib

    import nbformat

    work_dir = Path(job["work"])
    (work_dir / "notebook").mkdir(exist_ok=True)
    nb = nbformat.from_dict(job["notebook"])
    result = {"status": "graded", "detail": "", "errors": [], "exercises": [], "notes": []}
    timeout, call_timeout = float(job["timeout"]), float(job["call_timeout"])
    module = importlib.import_module(job.get("checks_module") or "vit_tutorial.exercises")
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    start = time.monotonic()
    with open(job["log"], "ab", buffering=0) as log:
        def mark(what):
            log.write(f"[grader] {time.monotonic() - start:6.1f} s  {what}\n".encode())

        runner = Runner(nb, work_dir, log, time.monotonic() + timeout)
        result["sandbox"] = runner.sandbox
        with runner:
            mark(f"kernel started (sandbox: {runner.sandbox})")
            crashed_at = run_notebook(runner, code, timeout, result)
            mark(f"notebook run: {result['status']}")
            if crashed_at is None:
                result["exercises"] = grade_checks(runner, job["checks"], module, job["salt"], call_timeout)
                mark("grader's checks done")
        if crashed_at is not None:  # grade what was there before the crash, in a fresh kernel
            before = [i for i in code if i < crashed_at]
            left = max(call_timeout, timeout - (time.monotonic() - start))
            result["notes"].append(f"the kernel died in cell {crashed_at}: graded the cells before it, run again in a fresh kernel")
            scratch = {"errors": []}
            runner = Runner(nb, work_dir, log, time.monotonic() + left)
            with runner:
                again = run_notebook(runner, before, left, scratch)
                result["exercises"] = grade_checks(runner if again is None else None, job["checks"], module, job["salt"], call_timeout)
    result["seconds"] = time.monotonic() - start
    return result


def answer(job: dict) -> str:
    """Grade ``job``; return the signed answer line."""
    secret = bytes.fromhex(job.pop("secret"))
    try:
        result = work(job)
    except Exception as err:  # noqa: BLE001
        import traceback

        traceback.print_exc()  # into the submission's log
        result = {"status": "grader error", "detail": f"{type(err).__name__}: {err}", "errors": [], "exercises": [], "notes": []}
    for stream in (sys.stdout, sys.stderr):  # into the log before the answer: once the grader has the
        with contextlib.suppress(Exception):  # answer it kills this process, buffers and all
            stream.flush()
    body = json.dumps(result, ensure_ascii=True, sort_keys=True)
    mac = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    return RESULT_PREFIX + json.dumps({"result": body, "mac": mac})


def main() -> int:
    from vit_tutorial.nbexec import patch

    patch()
    job = json.loads(sys.stdin.readline())
    sys.stdin.close()
    # stdout is the answer pipe: keep it for the one signed line. Everything else printed here
    # (the checks' own messages, a kernel's output) goes to the log (stderr), as in a forked
    # worker; a full pipe that nobody reads until the end would otherwise block the worker.
    sys.stdout.flush()
    answer_fd = os.dup(1)
    os.dup2(2, 1)
    line = answer(job)
    sys.stdout.flush()
    os.write(answer_fd, (line + "\n").encode())
    os.close(answer_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
