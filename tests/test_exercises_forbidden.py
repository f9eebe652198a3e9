"""Forbidden built-ins (``vit_tutorial.exercises._forbidden``): every route to a built-in is seen, hand-written
code is not flagged, and ``run_check`` gives no credit for right values that a forbidden built-in computed."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vit_tutorial.exercises import Case, CheckFailed, run_check
from vit_tutorial.exercises._forbidden import (
    CONVOLUTION,
    CROSS_ENTROPY,
    GELU,
    LAYER_NORM,
    MODEL_MODULES,
    OTHER_NORMS,
    SDPA,
    Recorder,
    report,
)

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only

G = torch.Generator().manual_seed(0)
T = torch.randn(2, 5, 8, generator=G)
PIX = torch.randn(1, 3, 8, 8, generator=G)
W = torch.randn(4, 3, 4, 4, generator=G)


def _conv_module(x):
    return torch.nn.Conv2d(3, 4, 4, stride=4)(x)


ROUTES = [  # (what, call, the rule it breaks)
    ("F.gelu", lambda: F.gelu(T), GELU),
    ("F.gelu, tanh", lambda: F.gelu(T, approximate="tanh"), GELU),
    ("nn.GELU", lambda: torch.nn.GELU()(T), GELU),
    ("torch._C._nn.gelu", lambda: torch._C._nn.gelu(T), GELU),
    ("torch.ops.aten.gelu", lambda: torch.ops.aten.gelu(T), GELU),
    ("F.layer_norm", lambda: F.layer_norm(T, (8,)), LAYER_NORM),
    ("nn.LayerNorm", lambda: torch.nn.LayerNorm(8)(T), LAYER_NORM),
    ("torch.layer_norm", lambda: torch.layer_norm(T, (8,)), LAYER_NORM),
    ("F.group_norm", lambda: F.group_norm(T, 1), OTHER_NORMS),
    ("F.batch_norm", lambda: F.batch_norm(T, None, None, training=True), OTHER_NORMS),
    ("F.conv2d", lambda: F.conv2d(PIX, W, stride=4), CONVOLUTION),
    ("nn.Conv2d", lambda: _conv_module(PIX), CONVOLUTION),
    ("torch.conv2d", lambda: torch.conv2d(PIX, W, stride=4), CONVOLUTION),
    ("F.conv1d", lambda: F.conv1d(T, torch.randn(3, 5, 2)), CONVOLUTION),
    ("SDPA, 3-D (math path)", lambda: F.scaled_dot_product_attention(T, T, T), SDPA),
    ("SDPA, 4-D (fused kernel)", lambda: F.scaled_dot_product_attention(T[None], T[None], T[None]), SDPA),
    ("F.cross_entropy", lambda: F.cross_entropy(T[0], torch.tensor([1, 2, 3, 4, 5])), CROSS_ENTROPY),
    ("F.nll_loss", lambda: F.nll_loss(T[0].log_softmax(-1), torch.tensor([1, 2, 3, 4, 5])), CROSS_ENTROPY),
]

BY_HAND = [  # hand-written code the same rules must not flag
    ("GELU with erf", lambda: 0.5 * T * (1 + torch.erf(T / math.sqrt(2))), GELU),
    ("LayerNorm by hand", lambda: (T - T.mean(-1, keepdim=True)) * torch.rsqrt(T.var(-1, keepdim=True, unbiased=False) + 1e-5), LAYER_NORM),
    ("var_mean", lambda: torch.var_mean(T, -1, correction=0), OTHER_NORMS),
    ("unfold and matmul", lambda: F.unfold(PIX, 4, stride=4).transpose(1, 2) @ W.flatten(1).T, CONVOLUTION),
    ("attention by hand", lambda: (T @ T.mT / math.sqrt(8)).softmax(-1) @ T, SDPA),
    ("log_softmax and indexing", lambda: -T[0].log_softmax(-1)[torch.arange(5), torch.tensor([1, 2, 3, 4, 5])].mean(), CROSS_ENTROPY),
    ("F.linear", lambda: F.linear(T, torch.randn(3, 8)), CONVOLUTION),
]


@pytest.mark.parametrize("what, call, rule", ROUTES, ids=[r[0] for r in ROUTES])
def test_every_route_to_a_built_in_is_seen(what, call, rule):
    for grad in (False, True):
        with torch.set_grad_enabled(grad), Recorder() as recorder:
            call()
        used = recorder.used([rule])
        assert len(used) == 1 and rule.name in used[0], (what, grad, sorted(recorder.ops))


@pytest.mark.parametrize("what, call, rule", BY_HAND, ids=[r[0] for r in BY_HAND])
def test_hand_written_code_is_not_flagged(what, call, rule):
    with Recorder() as recorder:
        call()
    assert recorder.used([rule, GELU, LAYER_NORM, OTHER_NORMS, CONVOLUTION, SDPA, CROSS_ENTROPY]) == [], (what, sorted(recorder.ops))


def test_the_model_modules_called_are_named_and_others_are_not():
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.LayerNorm(8))
    other = torch.nn.Linear(8, 8)
    with Recorder([model]) as recorder:
        other(T)  # not the model's: not counted
        model[1](T)
    (used,) = recorder.used([MODEL_MODULES])
    assert "`1` (LayerNorm)" in used and "Linear" not in used
    with Recorder([model]) as recorder:
        model[0].weight @ T.mT  # its weight tensors are what the exercise wants
    assert recorder.used([MODEL_MODULES]) == []


def test_names_recorded_elsewhere_are_added_to_the_active_recorder_only():
    report(["aten.gelu.default"])  # no recorder active: ignored
    with Recorder() as recorder:
        report(["aten.gelu.default", 3, None], [("vit.layernorm", "LayerNorm"), "junk", ("a", 1)])
    assert recorder.used([GELU]) and recorder.modules == [("vit.layernorm", "LayerNorm")]
    with Recorder() as recorder:
        pass
    assert recorder.used([GELU]) == []


def _check(fn):
    x = torch.linspace(-3, 3, 13)
    want = 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    return run_check("gelu", fn, [Case((x,), want, "13 points")], mistakes={"tanh approximation": lambda t: F.gelu(t, approximate="tanh")},
                     rtol=1e-5, atol=2e-6, quiet=True, forbidden=(GELU,))


def test_right_values_from_a_forbidden_built_in_get_no_credit_and_a_named_verdict():
    assert _check(lambda t: 0.5 * t * (1 + torch.erf(t / math.sqrt(2)))).passed
    with pytest.raises(CheckFailed, match=r"^gelu: your function uses torch\.nn\.functional\.gelu .*gets no credit"):
        _check(F.gelu)
    with pytest.raises(CheckFailed, match=r"uses torch\.nn\.functional\.gelu"):
        _check(lambda t: torch.nn.GELU()(t))


def test_wrong_values_from_a_forbidden_built_in_keep_their_diagnosis_and_add_the_verdict():
    with pytest.raises(CheckFailed, match=r"^gelu: tanh approximation .*Besides: your function uses torch\.nn\.functional\.gelu"):
        _check(lambda t: F.gelu(t, approximate="tanh"))
    with pytest.raises(CheckFailed, match=r"raised ValueError: no .*Besides: your function uses torch\.nn\.functional\.gelu"):
        _check(lambda t: (F.gelu(t), (_ for _ in ()).throw(ValueError("no"))))
