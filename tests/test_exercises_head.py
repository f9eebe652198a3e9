"""The chapter 8-9 self-checks: wrong answers get the right diagnosis, right answers in any style pass."""
import pytest
import torch

import vit_tutorial as vt
from vit_tutorial.exercises import CheckFailed, ExerciseNotDone
from vit_tutorial.exercises import head as ex


@pytest.fixture(scope="module")
def small():
    return vt.random_model(seed=2, config=vt.vit_config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                                         intermediate_size=64, image_size=32, patch_size=8))


def _ln(h, w, b, eps):
    """LayerNorm by hand (the exercise forbids F.layer_norm); ``w``, ``b`` may be None."""
    mean = h.mean(-1, keepdim=True)
    out = (h - mean) / torch.sqrt(((h - mean) ** 2).mean(-1, keepdim=True) + eps)
    return out * (1 if w is None else w) + (0 if b is None else b)


# ---- right answers, written in different ways ----------------------------------------------

RIGHT = {
    "check_image_summary": [
        lambda h, w, b, eps: _ln(h, w, b, eps)[:, 0],
        lambda h, w, b, eps: _ln(h[:, :1], w, b, eps).squeeze(1),  # normalise only the token you need
        lambda h, w, b, eps: ((h[:, 0] - h[:, 0].mean(-1, keepdim=True)) * torch.rsqrt(h[:, 0].var(-1, unbiased=False, keepdim=True) + eps)) * w + b,
    ],
    "check_mean_pool": [
        lambda h: h[:, 1:].mean(1),
        lambda h: (h.sum(1) - h[:, 0]) / (h.shape[1] - 1),
        lambda h: torch.einsum("bnd->bd", h[:, 1:]) / (h.shape[1] - 1),
    ],
    "check_vit_pooler": [
        lambda h, w, b: torch.tanh(h[:, 0] @ w.T + b),
        lambda h, w, b: torch.nn.functional.linear(h[:, 0], w, b).tanh(),
        lambda h, w, b: torch.tanh(torch.einsum("bd,ed->be", h[:, 0], w) + b),
    ],
    "check_classifier": [
        lambda x, w, b: x @ w.T + b,
        lambda x, w, b: torch.addmm(b, x, w.T),
        lambda x, w, b: torch.einsum("bd,cd->bc", x, w) + b,
    ],
    "check_softmax": [
        lambda z: torch.softmax(z, dim=-1),
        lambda z: (z - z.max(-1, keepdim=True).values).exp() / (z - z.max(-1, keepdim=True).values).exp().sum(-1, keepdim=True),
        lambda z: torch.exp(z - torch.logsumexp(z, -1, keepdim=True)),
    ],
}


@pytest.mark.parametrize("check, i", [(c, i) for c, fns in RIGHT.items() for i in range(len(fns))])
def test_right_answers_pass(check, i, small, capsys):
    result = getattr(ex, check)(RIGHT[check][i], model=small)
    assert result.passed
    assert "✔" in capsys.readouterr().out


def test_right_answers_pass_on_vit_b(model):
    for check, fns in RIGHT.items():
        assert getattr(ex, check)(fns[0], model=model, )


# ---- wrong answers, and what the learner is told -------------------------------------------

WRONG = [
    ("check_image_summary", lambda h, w, b, eps: h[:, 0], "skipped the final LayerNorm"),
    ("check_image_summary", lambda h, w, b, eps: _ln(h, w, b, eps)[:, -1], "LAST token"),
    ("check_image_summary", lambda h, w, b, eps: _ln(h, w, b, eps).mean(1), "averaged the tokens"),
    ("check_image_summary", lambda h, w, b, eps: _ln(h, w, b, eps)[0], r"hidden\[0\]"),
    ("check_image_summary", lambda h, w, b, eps: _ln(h, w, b, eps)[:, 0:1], "kept the token axis"),
    ("check_image_summary", lambda h, w, b, eps: _ln(h, None, None, eps)[:, 0], "learned scale and shift"),
    ("check_image_summary",
     lambda h, w, b, eps: ((h - h.mean(-1, keepdim=True)) / (h.std(-1, keepdim=True) ** 2 + eps).sqrt() * w + b)[:, 0], "unbiased variance"),
    ("check_mean_pool", lambda h: h.mean(1), r"included the \[CLS\] token"),
    ("check_mean_pool", lambda h: h[:, 1:].sum(1), "summed"),
    ("check_mean_pool", lambda h: h[:, :-1].mean(1), "left out the last token"),
    ("check_mean_pool", lambda h: h[:, 1:].mean(-1), "over the hidden axis"),
    ("check_mean_pool", lambda h: h[:, 1:].mean(0), "over the batch"),
    ("check_mean_pool", lambda h: h[:, 1:].mean(1, keepdim=True), "keepdim"),
    ("check_vit_pooler", lambda h, w, b: h[:, 0] @ w.T + b, "forgot the tanh"),
    ("check_vit_pooler", lambda h, w, b: torch.tanh(h[:, 0] @ w + b), "W transposed"),
    ("check_vit_pooler", lambda h, w, b: torch.tanh(h[:, 0] @ w.T), "forgot the bias"),
    ("check_vit_pooler", lambda h, w, b: torch.tanh(h @ w.T + b), "every token"),
    ("check_vit_pooler", lambda h, w, b: torch.sigmoid(h[:, 0] @ w.T + b), "sigmoid"),
    ("check_vit_pooler", lambda h, w, b: torch.tanh(h[:, 0]) @ w.T + b, "tanh before the dense layer"),
    ("check_classifier", lambda x, w, b: x @ w.T, "forgot the bias"),
    ("check_classifier", lambda x, w, b: torch.softmax(x @ w.T + b, -1), "returned probabilities"),
    ("check_classifier", lambda x, w, b: x @ w.T - b, "subtracted the bias"),
    ("check_classifier", lambda x, w, b: torch.tanh(x) @ w.T + b, "activation"),
    ("check_classifier", lambda x, w, b: x @ w.T + b * 2, "the values differ"),  # no named mistake: a plain diff
    ("check_softmax", lambda z: torch.softmax(z, 0), "over the batch"),
    ("check_softmax", lambda z: (z - z.max(-1, keepdim=True).values).exp(), "forgot to divide by the sum"),
    ("check_softmax", lambda z: z / z.sum(-1, keepdim=True), "divided the logits by their sum"),
    ("check_softmax", lambda z: torch.log_softmax(z, -1), "LOG"),
    ("check_softmax", lambda z: torch.sigmoid(z), "sigmoid"),
    ("check_softmax", lambda z: z.exp() / z.exp().sum(-1, keepdim=True), "subtract each row's maximum"),  # overflows
]


@pytest.mark.parametrize("check, fn, message", WRONG)
def test_wrong_answers_get_their_diagnosis(check, fn, message, small):
    with pytest.raises(CheckFailed, match=message):
        getattr(ex, check)(fn, model=small)


# ---- broken functions ----------------------------------------------------------------------

CHECKS = ["check_image_summary", "check_mean_pool", "check_vit_pooler", "check_classifier", "check_softmax"]


def _stub(*args):
    raise NotImplementedError("write me")


def _raises(*args):
    return args[0][None].squeeze(5)


def _not_a_tensor(*args):
    return args[0].tolist()


def _nan(*args):
    return RIGHT_FIRST[_current[0]](*args) * float("nan")


_current = [None]
RIGHT_FIRST = {name: fns[0] for name, fns in RIGHT.items()}


@pytest.mark.parametrize("check", CHECKS)
def test_stub_is_not_done(check):
    with pytest.raises(ExerciseNotDone, match="not written yet"):
        getattr(ex, check)(_stub)


@pytest.mark.parametrize("check", CHECKS)
def test_errors_non_tensors_and_nan(check):
    with pytest.raises(CheckFailed, match="your function raised IndexError"):
        getattr(ex, check)(_raises)
    with pytest.raises(CheckFailed, match="returned a list"):
        getattr(ex, check)(_not_a_tensor)
    _current[0] = check
    with pytest.raises(CheckFailed, match="NaN or infinite"):
        getattr(ex, check)(_nan)
    with pytest.raises(CheckFailed, match="pass your function itself"):
        getattr(ex, check)(RIGHT_FIRST[check](*_example_args(check)))


def _example_args(check):
    h = torch.randn(2, 5, 8)
    return {
        "check_image_summary": (h, torch.ones(8), torch.zeros(8), 1e-6),
        "check_mean_pool": (h,),
        "check_vit_pooler": (h, torch.randn(8, 8), torch.randn(8)),
        "check_classifier": (h[:, 0], torch.randn(3, 8), torch.randn(3)),
        "check_softmax": (h[:, 0],),
    }[check]


def test_exported_from_package():
    import vit_tutorial.exercises as exercises

    for check in CHECKS:
        assert getattr(exercises, check) is getattr(ex, check)
