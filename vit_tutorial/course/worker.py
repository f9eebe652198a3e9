"""Grade one submission, in a process of its own: ``python -m vit_tutorial.course.worker`` (job on stdin).

The grader (:mod:`.grade`) starts one worker per submission, in a session of its own, and reads
one line back from its stdout, signed with a secret that only the grader and this worker know
(sent on stdin, never in an argument or the environment).

The worker runs the (restored) notebook top to bottom in a fresh kernel, then grades it with
its **own** checks: for each ``check_<name>(fn, ...)`` of the book it calls the real checker
(``vit_tutorial.exercises``) here, in this process, where no student code ever runs, with a
stand-in for ``fn`` (:class:`.kernel.KernelFunction`) that sends the inputs to the kernel, calls the student's function there and
brings back only its output (a tensor, read with ``torch.load(weights_only=True)``; a config
as JSON). Every comparison, every diagnosis and the verdict itself happen here. Seeds are
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
import sys
import time
from pathlib import Path

from .kernel import GraderCallError, KernelFunction, KernelGone, Runner
from .notebooks import check_calls

RESULT_PREFIX = "VIT-GRADE-RESULT "


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


def _error_of(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()[:500]
    return None


def _exit_of(runner: Runner, cell) -> str | None:
    """How the cell just run ended the notebook, if it did: ``exit()``/``quit()`` (the kernel shuts down after
    it) or ``sys.exit()``/``raise SystemExit`` (an error IPython shows; Jupyter's "Run All" stops there)."""
    if runner.asked_to_exit():
        return "it calls exit() or quit(), which shuts the kernel down"
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error" and out.get("ename") == "SystemExit":
            code = str(out.get("evalue", "")).strip()[:100]
            return f"it raises SystemExit{f' ({code})' if code else ''}: sys.exit() or raise SystemExit stops the notebook"
    return None


def run_notebook(runner: Runner, indices: list[int], timeout: float, result: dict) -> int | None:
    """Run the code cells ``indices``; fill ``result``'s status; return the index of a cell that killed the kernel
    or ended the notebook (``os._exit``, ``exit()``, ``sys.exit()``, ``raise SystemExit``)."""
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
        ended = _exit_of(runner, runner.nb.cells[index])
        if ended:
            result.update(status="crashed", detail=f"the notebook ended in cell {index}: {ended}")
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
                from vit_tutorial.weights.random_weights import random_model

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

        pycache = Path(job["pycache"]) if job.get("pycache") else None
        runner = Runner(nb, work_dir, log, time.monotonic() + timeout, pycache)
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
            how = "the kernel died" if "kernel died" in result["detail"] else "the notebook ended"
            result["notes"].append(f"{how} in cell {crashed_at}: graded the cells before it, run again in a fresh kernel")
            scratch = {"errors": []}
            runner = Runner(nb, work_dir, log, time.monotonic() + left, pycache)
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
    from .nbexec import patch

    patch()
    job = json.loads(sys.stdin.readline())
    sys.stdin.close()
    from .lifeline import die_with_parent, unblock

    unblock()  # the signals the grader holds (SignalGuard), for this worker and its kernel
    if job.get("parent"):
        die_with_parent(int(job["parent"]))  # killed with the grader (see .lifeline)
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
