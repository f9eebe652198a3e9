"""The machinery every self-check shares.

A checker builds a few :class:`Case` objects (fresh random inputs and the real model's
tensors, each with the reference answer), lists the classic mistakes as small wrong
implementations, and calls :func:`run_check`. When the learner's output is wrong,
``run_check`` looks for the mistake whose output it matches and reports *that*, in the
learner's terms; otherwise it describes the shape or value difference.
"""
from __future__ import annotations

import contextlib
import inspect
import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from ._describe import _close, describe_shape_difference, describe_value_difference
from ._forbidden import Forbidden, Recorder
from ._forbidden import verdict as forbidden_verdict

GRADE_LOG_ENV = "VIT_TUTORIAL_GRADE_LOG"


class CheckFailed(AssertionError):
    """The learner's function gave a wrong answer; the message says what is wrong."""

    def _render_traceback_(self):  # IPython shows this instead of a traceback
        return [f"\x1b[31m✘ {self}\x1b[0m"]


class ExerciseNotDone(NotImplementedError):
    """The exercise stub still raises NotImplementedError."""

    def _render_traceback_(self):
        return [f"\x1b[33mNotImplementedError: {self}\x1b[0m"]


@dataclass
class Case:
    """One input to try, and the right answer for it."""

    args: tuple
    expected: Any
    label: str  # e.g. "a random batch of shape (2, 3, 8, 8)"
    kwargs: dict = field(default_factory=dict)
    value_names: tuple | None = None  # names of the entries of a 1-D expected vector, for the messages
    # For a check that spans many layers: the float64 result of the same computation (or a function that
    # returns it, called only when needed). An answer as close to it as ``expected`` is passes too
    # (vit_tutorial.tolerance.assert_as_accurate_as, chapter 7).
    truth: Any = None


class Judge:
    """A mistake recognised by a test on the learner's output rather than by an output to match.

    ``test(got, *args, **kwargs) -> bool`` is called with the learner's output and (copies of) the
    case's inputs; put it in ``mistakes`` like a wrong implementation.
    """

    def __init__(self, test: Callable[..., bool]):
        self.test = test


class OnError:
    """A mistake recognised by the error it raises: an exception of ``error_type`` whose text matches
    ``pattern`` (a regular expression). The diagnosis is given together with the error itself."""

    def __init__(self, error_type: type, pattern: str):
        self.error_type, self.pattern = error_type, re.compile(pattern)

    def matches(self, err: BaseException) -> bool:
        return isinstance(err, self.error_type) and bool(self.pattern.search(str(err)))


@dataclass
class CheckResult:
    exercise: str
    passed: bool
    message: str

    def __bool__(self):
        return self.passed

    def __repr__(self):
        return f"CheckResult({self.exercise!r}, passed={self.passed})"

    def _ipython_display_(self):
        """As a cell's last value, show nothing: the check already printed its verdict."""


def _record(exercise: str, passed: bool, message: str, status: str) -> None:
    """Append the verdict to the grader's log (``$VIT_TUTORIAL_GRADE_LOG``), one JSON object a line."""
    path = os.environ.get(GRADE_LOG_ENV)
    if not path:
        return
    line = json.dumps({"exercise": exercise, "passed": passed, "status": status, "message": message, "time": time.time()})
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError:  # a log we can't write must not turn a verdict into a traceback
        pass


def fail(exercise: str, message: str) -> CheckFailed:
    _record(exercise, False, message, "failed")
    return CheckFailed(f"{exercise}: {message}")


def _shape(x) -> str:
    return str(tuple(x.shape))


def _as_accurate_as(got: torch.Tensor, want: torch.Tensor, case: Case, rtol: float, atol: float) -> bool:
    """Is ``got`` as close to the case's float64 ``truth`` as ``want`` is (the float64 referee)?

    Only asked of near misses (within 100 times the tolerance), so a plain mistake costs no float64 run.
    """
    if case.truth is None or got.shape != want.shape or not got.is_floating_point():
        return False
    if not _close(got, want, 100 * rtol, 100 * atol):
        return False
    from ..tolerance import referee_margin

    if callable(case.truth):
        case.truth = case.truth()
    return referee_margin(got, want, case.truth) <= 1


COMMON_ERRORS = {
    "a matrix product's shapes don't fit (in A @ B the last size of A must equal the second-to-last of B): a weight "
    "stored like nn.Linear's, (out, in), multiplies as x @ weight.T; a batch of matrices transposes its last two axes, "
    ".transpose(-2, -1) or .mT (.T reverses ALL the axes of a tensor with more than two)":
        OnError(RuntimeError, r"mat1 and mat2 shapes cannot be multiplied|Expected size for first two dimensions of batch2"),
    "after a transpose or permute a tensor is no longer contiguous in memory, so .view can't regroup its axes: "
    "use .reshape(...) (or .contiguous().view(...))": OnError(RuntimeError, r"view size is not compatible with input tensor"),
    "torch.cat joins tensors along ONE axis and needs every other size to agree: check the axis (dim=...) and "
    "expand the smaller tensor first (e.g. .expand(B, -1, -1))": OnError(RuntimeError, r"Sizes of tensors must match except in dimension"),
}


def run_check(
    exercise: str,
    fn: Callable,
    cases: list[Case],
    mistakes: dict[str, Callable] | None = None,
    axes: tuple[str, ...] | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    quiet: bool = False,
    forbidden: tuple[Forbidden, ...] = (),
) -> CheckResult:
    """Run ``fn`` on every case and compare with the reference.

    Args:
        exercise: the exercise's name, as the learner sees it (e.g. ``"patchify"``).
        fn: the learner's function.
        cases: inputs with their right answers (tensors).
        mistakes: ``{explanation: wrong_fn}``; when the learner's output matches ``wrong_fn``'s
            on a case (and on every other case where both ran), the explanation is the diagnosis.
        axes: names of the output's axes, for shape messages (e.g. ``("batch", "patches", "dim")``).
        rtol, atol: tolerances of ``torch.testing.assert_close``.
        forbidden: built-ins the exercise asks the learner to write themselves (see ``_forbidden``):
            a function that reaches one gets no credit, even with the right values.

    Raises:
        ExerciseNotDone: the stub still raises ``NotImplementedError``.
        CheckFailed: anything else wrong, with an explanation.
    """
    if not callable(fn):
        raise fail(exercise, f"pass your function itself (check_{exercise}(my_function)), not a {type(fn).__name__}")
    outputs: dict[int, Any] = {}  # the learner's output on each case run so far
    for index, case in enumerate(cases):
        args, kwargs = _clone(case.args), _clone_kwargs(case.kwargs)
        recorder = Recorder([a for a in (*case.args, *case.kwargs.values()) if isinstance(a, torch.nn.Module)])
        try:
            with recorder if forbidden else contextlib.nullcontext():
                got = fn(*args, **kwargs)
        except NotImplementedError:
            message = f"{exercise} is not written yet: replace the `raise NotImplementedError` in its stub with your code, run that cell, then this one."
            _record(exercise, False, message, "not_done")
            raise ExerciseNotDone(message) from None
        except Exception as err:  # noqa: BLE001 - we report any error in the learner's terms
            also = _also(recorder.used(forbidden))
            for explanation, wrong in {**(mistakes or {}), **COMMON_ERRORS}.items():
                if isinstance(wrong, OnError) and wrong.matches(err):
                    raise fail(exercise, f"{explanation}  (your function raised {type(err).__name__}: {err}; on {case.label}){also}") from None
            raise fail(exercise, f"your function raised {type(err).__name__}: {err}  (on {case.label}){also}") from None
        used = recorder.used(forbidden)
        outputs[index] = got
        changed = _changed_inputs(fn, case, args, kwargs)
        if changed:
            raise fail(exercise, f"your function changed its input {changed} in place (an in-place operation such as "
                       f"`x -= ...`, `x /= ...`, `x[...] = ...` or a method ending in `_` like `.sub_()`): the caller's "
                       f"tensors must stay as they were, so write the result into a new tensor (`x = x - mean`, not "
                       f"`x -= mean`)  (on {case.label}){_also(used)}")
        want = case.expected
        if not isinstance(got, torch.Tensor):
            raise fail(exercise, f"your function returned a {type(got).__name__}; it should return a torch.Tensor of shape "
                       f"{_shape(want)}  (on {case.label}){_also(used)}")
        devices = {a.device for a in (*case.args, *case.kwargs.values()) if isinstance(a, torch.Tensor)}
        if devices and got.device not in devices:
            raise fail(exercise, f"your output is on {got.device} but the inputs were on {', '.join(map(str, devices))}: create new "
                       f"tensors with device=x.device (or torch.*_like(x)) so your function works wherever its inputs are  (on {case.label}){_also(used)}")
        if isinstance(want, torch.Tensor):
            want = want.to(got.device)
            dtype_problem = _dtype_problem(got, want)
            if dtype_problem:
                raise fail(exercise, f"{dtype_problem}  (on {case.label}){_also(used)}")
        if _close(got, want, rtol, atol) or _as_accurate_as(got, want, case, rtol, atol):
            if used:
                raise fail(exercise, f"{forbidden_verdict(used)}  (on {case.label})")
            continue
        message = _diagnose(fn, cases, index, got, want, outputs, mistakes, axes, rtol, atol)
        raise fail(exercise, message + _also(used))
    message = f"correct on {len(cases)} inputs ({', '.join(c.label for c in cases)})"
    _record(exercise, True, message, "passed")
    if not quiet:
        print(f"✔ {exercise}: {message}.")
    return CheckResult(exercise, True, message)


def _also(used: list[str]) -> str:
    return f". Besides: {forbidden_verdict(used)}" if used else ""


def _matches(wrong, got: torch.Tensor, case: Case, rtol: float, atol: float) -> bool | None:
    """Whether the learner's ``got`` is what ``wrong`` (a wrong implementation or a Judge) gives on ``case``;
    None when ``wrong`` can't run there."""
    finite = not got.is_floating_point() or bool(torch.isfinite(got).all())
    try:
        if isinstance(wrong, Judge):
            return bool(wrong.test(got.detach(), *_clone(case.args), **_clone_kwargs(case.kwargs))) if finite else None
        wrong_out = wrong(*_clone(case.args), **_clone_kwargs(case.kwargs))
        return isinstance(wrong_out, torch.Tensor) and _close(got, wrong_out.to(got.device), rtol, atol, equal_nan=not finite)
    except Exception:  # noqa: BLE001 - a mistake that can't run on this case can't be the diagnosis
        return None


def _consistent(fn, cases, index, wrong, outputs, rtol, atol) -> bool:
    """Whether ``wrong`` also agrees with the learner on the other cases (where both run): a mistake that
    matches one input by coincidence (two configs' counts, a symmetric input) is not the diagnosis."""
    if isinstance(wrong, Judge):
        return True
    for j, case in enumerate(cases):
        if j == index:
            continue
        if j not in outputs:
            try:
                outputs[j] = fn(*_clone(case.args), **_clone_kwargs(case.kwargs))
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:  # noqa: BLE001 - failing elsewhere (even the grader's call timing out) says nothing here
                outputs[j] = None
        got = outputs[j]
        if isinstance(got, torch.Tensor) and _matches(wrong, got, case, rtol, atol) is False:
            return False
    return True


def _diagnose(fn, cases, index, got, want, outputs, mistakes, axes, rtol, atol) -> str:
    """The message for a wrong output ``got`` on ``cases[index]``: the mistake it matches, else what differs."""
    case = cases[index]
    finite = not got.is_floating_point() or bool(torch.isfinite(got).all())
    for explanation, wrong in (mistakes or {}).items():
        if isinstance(wrong, OnError) or (isinstance(wrong, Judge) and not finite):
            continue
        if _matches(wrong, got, case, rtol, atol) and _consistent(fn, cases, index, wrong, outputs, rtol, atol):
            return f"{explanation}  (on {case.label})"
    if not finite:
        return (f"your output contains NaN or infinite values (on {case.label}) where the right answer has "
                f"none. Common causes: exp() of large numbers overflows to inf (in float32 already exp(89) does), "
                f"and inf - inf or inf / inf gives NaN; a division by zero; a sqrt or log of a negative number")
    if tuple(got.shape) != tuple(want.shape):
        return describe_shape_difference(tuple(got.shape), tuple(want.shape), axes) + f"  (on {case.label})"
    diff = (got.detach().to(want.dtype) - want).abs()
    if case.value_names and want.dim() == 1 and len(case.value_names) == want.numel():
        wrong_fields = [f"{n} is {got[i].item():g}, expected {want[i].item():g}"
                        for i, n in enumerate(case.value_names) if diff[i] > atol + rtol * want[i].abs()]
        return f"{'; '.join(wrong_fields)}  (on {case.label})"
    worst = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    pattern = describe_value_difference(got.detach().to(want.dtype), want, rtol, atol, axes)
    return (f"the shape is right but the values differ (on {case.label}){pattern}: the largest difference is "
            f"{diff.max().item():.3g} at index {worst} (you: {got.flatten()[diff.argmax()].item():.5g}, "
            f"expected: {want.flatten()[diff.argmax()].item():.5g}); allowed: rtol={rtol:g}, atol={atol:g}")


def _clone(args: tuple) -> tuple:
    """Copies of tensor arguments, so a learner's in-place edit can't change the next check."""
    return tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)


def _clone_kwargs(kwargs: dict) -> dict:
    return dict(zip(kwargs, _clone(tuple(kwargs.values()))))


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and bool(
        torch.equal(a, b) or (a.is_floating_point() and torch.allclose(a, b, rtol=0, atol=0, equal_nan=True)))


def _changed_inputs(fn: Callable, case: Case, args: tuple, kwargs: dict) -> str:
    """Names (as the learner's function calls them) of the tensor inputs ``fn`` modified in place, or ''."""
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []
    changed = []
    for i, (original, given) in enumerate(zip(case.args, args)):
        if isinstance(original, torch.Tensor) and isinstance(given, torch.Tensor) and not _same(original, given):
            changed.append(f"`{names[i]}`" if i < len(names) else f"number {i + 1}")
    changed += [f"`{k}`" for k, v in case.kwargs.items()
                if isinstance(v, torch.Tensor) and isinstance(kwargs.get(k), torch.Tensor) and not _same(v, kwargs[k])]
    return ", ".join(changed)


def _dtype_problem(got: torch.Tensor, want: torch.Tensor) -> str:
    """Why ``got``'s dtype can't be right for a ``want`` (a lowered or integer dtype), or ''."""
    if not want.is_floating_point() or got.dtype == want.dtype:
        return ""
    if not got.is_floating_point():
        if got.dtype != torch.bool and got.dim() == want.dim() - 1 and got.shape == want.shape[:-1]:
            return (f"your output holds integers ({got.dtype}) with one axis less than expected: it looks like class "
                    f"indices (argmax), but the answer is the {want.dtype} values over the last axis, shape {_shape(want)}")
        return f"your output has the integer dtype {got.dtype}; the answer is floating point ({want.dtype})"
    if torch.finfo(got.dtype).bits < torch.finfo(want.dtype).bits:
        return (f"your output is {got.dtype}, a lower precision than the {want.dtype} inputs: remove the "
                f".half()/.bfloat16()/.to(...) that lowered it, so the result keeps the inputs' dtype")
    return ""
