"""The machinery every self-check shares.

A checker builds a few :class:`Case` objects (fresh random inputs and the real model's
tensors, each with the reference answer), lists the classic mistakes as small wrong
implementations, and calls :func:`run_check`. When the learner's output is wrong,
``run_check`` looks for the mistake whose output it matches and reports *that*, in the
learner's terms; otherwise it describes the shape or value difference.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

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


def _close(got: torch.Tensor, want: torch.Tensor, rtol: float, atol: float) -> bool:
    if got.shape != want.shape:
        return False
    try:
        torch.testing.assert_close(got.to(want.dtype), want, rtol=rtol, atol=atol)
    except AssertionError:
        return False
    return True


def describe_shape_difference(got: tuple, want: tuple, axes: tuple[str, ...] | None) -> str:
    """Explain how shape ``got`` differs from ``want``, naming axes when we know their names."""
    name = (lambda i: f"axis {i} ({axes[i]})") if axes and len(axes) == len(want) else (lambda i: f"axis {i}")
    text = f"your output has shape {got}, expected {want}"
    if axes and len(axes) == len(want):
        text += " = (" + ", ".join(axes) + ")"
    if len(got) != len(want):
        return text + f": it has {len(got)} dimensions instead of {len(want)}"
    if sorted(got) == sorted(want):
        return text + ": the same sizes in another order - a transpose or permute is missing or wrong"
    diffs = [f"{name(i)} is {g}, should be {w}" for i, (g, w) in enumerate(zip(got, want)) if g != w]
    return text + ": " + "; ".join(diffs)


def run_check(
    exercise: str,
    fn: Callable,
    cases: list[Case],
    mistakes: dict[str, Callable] | None = None,
    axes: tuple[str, ...] | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    quiet: bool = False,
) -> CheckResult:
    """Run ``fn`` on every case and compare with the reference.

    Args:
        exercise: the exercise's name, as the learner sees it (e.g. ``"patchify"``).
        fn: the learner's function.
        cases: inputs with their right answers (tensors).
        mistakes: ``{explanation: wrong_fn}``; when the learner's output matches ``wrong_fn``'s
            on a case, the explanation is the diagnosis.
        axes: names of the output's axes, for shape messages (e.g. ``("batch", "patches", "dim")``).
        rtol, atol: tolerances of ``torch.testing.assert_close``.

    Raises:
        ExerciseNotDone: the stub still raises ``NotImplementedError``.
        CheckFailed: anything else wrong, with an explanation.
    """
    if not callable(fn):
        raise fail(exercise, f"pass your function itself (check_{exercise}(my_function)), not a {type(fn).__name__}")
    for case in cases:
        try:
            got = fn(*_clone(case.args), **_clone_kwargs(case.kwargs))
        except NotImplementedError:
            message = f"{exercise} is not written yet: replace the `raise NotImplementedError` in its stub with your code, run that cell, then this one."
            _record(exercise, False, message, "not_done")
            raise ExerciseNotDone(message) from None
        except Exception as err:  # noqa: BLE001 - we report any error in the learner's terms
            raise fail(exercise, f"your function raised {type(err).__name__}: {err}  (on {case.label})") from None
        want = case.expected
        if not isinstance(got, torch.Tensor):
            raise fail(exercise, f"your function returned a {type(got).__name__}; it should return a torch.Tensor of shape {_shape(want)}  (on {case.label})")
        devices = {a.device for a in (*case.args, *case.kwargs.values()) if isinstance(a, torch.Tensor)}
        if devices and got.device not in devices:
            raise fail(exercise, f"your output is on {got.device} but the inputs were on {', '.join(map(str, devices))}: create new "
                       f"tensors with device=x.device (or torch.*_like(x)) so your function works wherever its inputs are  (on {case.label})")
        if isinstance(want, torch.Tensor):
            want = want.to(got.device)
        if got.is_floating_point() and not torch.isfinite(got).all():
            raise fail(exercise, f"your output contains NaN or infinite values (on {case.label}); "
                                 "look for a division by zero or a log/sqrt of a negative number")
        if _close(got, want, rtol, atol):
            continue
        for explanation, wrong in (mistakes or {}).items():
            try:
                wrong_out = wrong(*_clone(case.args), **_clone_kwargs(case.kwargs))
            except Exception:  # noqa: BLE001 - a mistake that can't run on this case can't be the diagnosis
                continue
            if isinstance(wrong_out, torch.Tensor) and _close(got, wrong_out.to(got.device), rtol, atol):
                raise fail(exercise, f"{explanation}  (on {case.label})")
        if tuple(got.shape) != tuple(want.shape):
            raise fail(exercise, describe_shape_difference(tuple(got.shape), tuple(want.shape), axes) + f"  (on {case.label})")
        diff = (got.detach().to(want.dtype) - want).abs()
        worst = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
        raise fail(
            exercise,
            f"the shape is right but the values differ (on {case.label}): the largest difference is "
            f"{diff.max().item():.3g} at index {worst} (you: {got.flatten()[diff.argmax()].item():.5g}, "
            f"expected: {want.flatten()[diff.argmax()].item():.5g}); allowed: rtol={rtol:g}, atol={atol:g}",
        )
    message = f"correct on {len(cases)} inputs ({', '.join(c.label for c in cases)})"
    _record(exercise, True, message, "passed")
    if not quiet:
        print(f"✔ {exercise}: {message}.")
    return CheckResult(exercise, True, message)


def _clone(args: tuple) -> tuple:
    """Copies of tensor arguments, so a learner's in-place edit can't change the next check."""
    return tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)


def _clone_kwargs(kwargs: dict) -> dict:
    return dict(zip(kwargs, _clone(tuple(kwargs.values()))))
