"""run_check itself: what any self-check does with odd learner functions, and the grader's log."""
import json

import pytest
import torch

from vit_tutorial.exercises import Case, CheckFailed, ExerciseNotDone, run_check
from vit_tutorial.exercises._core import GRADE_LOG_ENV

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only

X = torch.arange(6.0).reshape(2, 3)
CASES = [Case((X,), 2 * X, "a (2, 3) tensor")]
MISTAKES = {"you added 2 instead of multiplying by 2": lambda t: t + 2}


def check(fn):
    return run_check("double", fn, CASES, mistakes=MISTAKES, axes=("rows", "cols"), quiet=True)


@pytest.mark.parametrize("fn", [lambda t: 2 * t, lambda t: t + t, lambda t: torch.mul(t, 2).double(), lambda t: t.clone().mul_(2)])
def test_correct_functions_pass(fn):
    assert check(fn).passed


@pytest.mark.parametrize("fn, message", [
    (lambda t: t + 2, "you added 2 instead of multiplying by 2"),
    (lambda t: (2 * t).T, r"shape \(3, 2\), expected \(2, 3\) = \(rows, cols\): the same sizes in another order"),
    (lambda t: (2 * t)[:1], r"axis 0 \(rows\) is 1, should be 2"),
    (lambda t: 2 * t + 0.5, r"the shape is right but the values differ .* largest difference is 0.5"),
    (lambda t: 1 / 0, r"your function raised ZeroDivisionError: division by zero"),
    (lambda t: [2 * t], r"returned a list; it should return a torch.Tensor of shape \(2, 3\)"),
    (lambda t: t / (t - t), r"NaN or infinite values"),
    (lambda t: (2 * t).to("meta"), r"your output is on meta but the inputs were on cpu"),
    ("double", r"pass your function itself"),
    (lambda t: t.mul_(2), r"changed its input `t` in place"),
    (lambda t: (2 * t).half(), r"float16, a lower precision than the torch.float32 inputs"),
    (lambda t: (2 * t).long(), r"integer dtype torch.int64"),
    (lambda t: (2 * t).argmax(-1), r"class indices \(argmax\)"),
    (lambda t: (2 * t).T.reshape(2, 3), r"the shape is right but the values differ"),
])
def test_wrong_functions_get_a_clear_message(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check(fn)


def test_stub_is_not_done():
    def double(t):
        raise NotImplementedError("write me")

    with pytest.raises(ExerciseNotDone, match="double is not written yet"):
        check(double)


def test_in_place_edits_are_reported_and_do_not_leak_into_the_caller():
    x = torch.ones(3)
    cases = [Case((), 2 * x, "kwargs", kwargs={"t": x}), Case((), 2 * x, "again", kwargs={"t": x})]
    with pytest.raises(CheckFailed, match="changed its input `t` in place"):
        run_check("double", lambda t: t.mul_(2), cases, quiet=True)
    assert torch.equal(x, torch.ones(3))


def test_judges_and_error_patterns_name_mistakes():
    from vit_tutorial.exercises import Judge, OnError

    mistakes = {"negative entries": Judge(lambda got, t: bool((got < 0).any())),
                "no keepdim": OnError(RuntimeError, "must match the size")}
    with pytest.raises(CheckFailed, match="negative entries"):
        run_check("double", lambda t: -t, CASES, mistakes=mistakes, quiet=True)
    with pytest.raises(CheckFailed, match=r"no keepdim  \(your function raised RuntimeError"):
        run_check("double", lambda t: t - t.sum(-1), CASES, mistakes=mistakes, quiet=True)
    with pytest.raises(CheckFailed, match=r"your function raised ZeroDivisionError"):
        run_check("double", lambda t: 1 / 0, CASES, mistakes=mistakes, quiet=True)


def test_nan_output_is_matched_against_the_mistakes_and_the_fallback_names_overflow():
    big = torch.tensor([[1000.0, 1001.0]])
    cases = [Case((big,), big.softmax(-1), "big logits")]
    naive = lambda z: z.exp() / z.exp().sum(-1, keepdim=True)  # noqa: E731
    with pytest.raises(CheckFailed, match="naive"):
        run_check("softmax", naive, cases, mistakes={"naive": naive}, quiet=True)
    with pytest.raises(CheckFailed, match="exp\\(\\) of large numbers overflows"):
        run_check("softmax", naive, cases, quiet=True)


def test_named_values_are_reported_by_name():
    want = torch.tensor([1.0, 2.0, 3.0])
    cases = [Case((), want, "a config", value_names=("width", "depth", "heads"))]
    with pytest.raises(CheckFailed, match=r"depth is 5, expected 2  \(on a config\)"):
        run_check("config", lambda: torch.tensor([1.0, 5.0, 3.0]), cases, quiet=True)


def test_verdicts_go_to_the_grade_log(tmp_path, monkeypatch):
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv(GRADE_LOG_ENV, str(log))
    check(lambda t: 2 * t)
    with pytest.raises(CheckFailed):
        check(lambda t: t + 2)

    def stub(t):
        raise NotImplementedError

    with pytest.raises(ExerciseNotDone):
        check(stub)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["exercise"], r["status"], r["passed"]) for r in records] == [
        ("double", "passed", True), ("double", "failed", False), ("double", "not_done", False)]
    assert "you added 2" in records[1]["message"] and "not written yet" in records[2]["message"]


def test_an_unwritable_log_does_not_break_a_check(tmp_path, monkeypatch):
    monkeypatch.setenv(GRADE_LOG_ENV, str(tmp_path / "no" / "such" / "folder" / "log.jsonl"))
    assert check(lambda t: 2 * t).passed
    with pytest.raises(CheckFailed, match="you added 2"):
        check(lambda t: t + 2)


@pytest.mark.parametrize("fn, message", [
    (lambda t: (2 * t).flip(-1), r"every value of the right answer is in your output, but in other places"),
    (lambda t: 6 * t, r"3 times the right answer everywhere"),
    (lambda t: 2 * t + 0.25, r"the right answer plus 0.25 everywhere"),
])
def test_values_of_the_right_shape_get_a_neutral_pattern(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check(fn)


def test_differences_confined_to_one_index_are_located():
    x = torch.arange(24.0).reshape(2, 12)
    cases = [Case((x,), 2 * x, "a (2, 12) tensor")]

    def wrong(t):
        out = 2 * t
        out[:, 0] = 0
        return out

    with pytest.raises(CheckFailed, match=r"only index 0 of axis 1 \(cols\) \(of 12\) differ"):
        run_check("double", wrong, cases, axes=("rows", "cols"), quiet=True)


def test_no_pattern_is_claimed_when_none_fits():
    from vit_tutorial.exercises._core import describe_value_difference

    g = torch.Generator().manual_seed(0)
    want, got = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g)
    assert describe_value_difference(got, want, 1e-4, 1e-5) == ""


def test_a_term_or_factor_per_index_of_one_axis_is_located():
    x = torch.arange(1.0, 13.0).reshape(3, 4)
    cases = [Case((x,), 2 * x, "a (3, 4) tensor")]
    with pytest.raises(CheckFailed, match=r"depends only on the index along axis 1 \(cols\): a term added"):
        run_check("double", lambda t: 2 * t + torch.arange(4.0), cases, axes=("rows", "cols"), quiet=True)
    with pytest.raises(CheckFailed, match=r"times a factor that depends only on the index along axis 0 \(rows\)"):
        run_check("double", lambda t: 2 * t * torch.tensor([[1.0], [2.0], [3.0]]), cases, axes=("rows", "cols"), quiet=True)


def test_no_per_axis_pattern_when_each_index_has_one_entry():
    from vit_tutorial.exercises._core import describe_value_difference

    want, got = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[1.5, 2.0, 7.0]])
    assert "depends only" not in describe_value_difference(got, want, 1e-4, 1e-5)
