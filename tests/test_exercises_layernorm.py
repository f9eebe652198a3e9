"""Chapters 5-7 self-checks: right answers written differently pass, classic mistakes get their diagnosis."""
import math
import re

import pytest
import torch

from vit_tutorial import encoder as E
from vit_tutorial import layernorm as L
from vit_tutorial import mlp as M
from vit_tutorial import residual as R
from vit_tutorial.attention import self_attention
from vit_tutorial.exercises import (
    CheckFailed,
    ExerciseNotDone,
    check_batch_norm,
    check_encoder_layer,
    check_gelu,
    check_layer_norm,
    check_mlp,
    check_pre_norm_block,
    check_token_norms,
)
from vit_tutorial.exercises import layernorm as XL
from vit_tutorial.exercises import mlp as XM
from vit_tutorial.exercises import residual as XR

CHECKS = {  # check, the book's right answer, the checker's mistakes, needs model
    "layer_norm": (check_layer_norm, L.layer_norm, XL.LN_MISTAKES, True),
    "batch_norm": (check_batch_norm, L.batch_norm, XL.BN_MISTAKES, False),
    "gelu": (check_gelu, M.gelu, XM.GELU_MISTAKES, True),
    "mlp": (check_mlp, M.mlp, XM.MLP_MISTAKES, True),
    "encoder_layer": (check_encoder_layer, lambda x, p: E.encoder_layer(x, p)[0], XM.LAYER_MISTAKES, True),
    "pre_norm_block": (check_pre_norm_block, R.pre_norm_residual, XR.BLOCK_MISTAKES, True),
    "token_norms": (check_token_norms, R.token_norms, XR.NORM_MISTAKES, False),
}


def _run(name, fn, model):
    check, _, _, needs_model = CHECKS[name]
    return check(fn, model) if needs_model else check(fn)


# --- right answers, written in other ways -------------------------------------------------------------


def ln_functional(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def ln_var_mean(x, w, b, eps):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    return (x - mean) * torch.rsqrt(var + eps) * w + b


def bn_module(x, eps):
    bn = torch.nn.BatchNorm1d(x.shape[-1], eps=eps, affine=False).train()
    return bn(x.transpose(1, 2)).transpose(1, 2)


def bn_flatten(x, eps):
    flat = x.reshape(-1, x.shape[-1])
    return ((flat - flat.mean(0)) / (flat.var(0, unbiased=False) + eps).sqrt()).reshape(x.shape)


def gelu_cdf(x):
    return x * torch.distributions.Normal(0.0, 1.0).cdf(x)


def mlp_modules(x, parts):
    return parts.mlp_out(torch.nn.functional.gelu(parts.mlp_in(x)))


def mlp_einsum(x, parts):
    h = torch.einsum("bnd,hd->bnh", x, parts.mlp_in.weight) + parts.mlp_in.bias
    return torch.einsum("bnh,dh->bnd", gelu_cdf(h), parts.mlp_out.weight) + parts.mlp_out.bias


def layer_modules(x, parts):
    h = x + self_attention(parts.layernorm_before(x), parts)[0]
    return h + mlp_modules(parts.layernorm_after(h), parts)


def layer_blocks(x, parts):
    h = R.pre_norm_residual(x, parts.layernorm_before, lambda t: self_attention(t, parts)[0])
    return R.pre_norm_residual(h, parts.layernorm_after, lambda t: M.mlp(t, parts))


def block_residual_last(x, norm, sub):
    out = sub(norm(x))
    out += x
    return out


def norms_sqrt(states):
    return torch.sqrt((states * states).sum(dim=3))


def norms_linalg(states):
    return torch.linalg.vector_norm(states, dim=-1)


RIGHT = {
    "layer_norm": [L.layer_norm, ln_var_mean],
    "batch_norm": [L.batch_norm, bn_module, bn_flatten],
    "gelu": [M.gelu, gelu_cdf],
    "mlp": [M.mlp, mlp_einsum],
    "encoder_layer": [CHECKS["encoder_layer"][1], layer_modules, layer_blocks],
    "pre_norm_block": [R.pre_norm_residual, block_residual_last],
    "token_norms": [R.token_norms, norms_sqrt, norms_linalg],
}


@pytest.mark.parametrize("name,fn", [(n, f) for n, fns in RIGHT.items() for f in fns])
def test_right_answers_pass(name, fn, model):
    assert _run(name, fn, model)


# --- every listed mistake is recognised as itself -------------------------------------------------------


@pytest.mark.parametrize("name,explanation", [(n, e) for n, c in CHECKS.items() for e, f in c[2].items() if callable(f)])
def test_each_mistake_gets_its_own_diagnosis(name, explanation, model):
    wrong = CHECKS[name][2][explanation]
    with pytest.raises(CheckFailed, match=re.escape(explanation[:60])):
        _run(name, wrong, model)


# --- realistic wrong answers written independently ---------------------------------------------------------


def ln_torch_var(x, w, b, eps):  # torch.var is unbiased by default
    return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps) * w + b


def ln_std_eps(x, w, b, eps):
    return (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True, unbiased=False) + eps) * w + b


def ln_tokens_axis(x, w, b, eps):
    if x.dim() == 3:
        return torch.nn.functional.layer_norm(x.transpose(-1, -2), (x.shape[-2],), eps=eps).transpose(-1, -2) * w + b
    return (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + eps) * w + b


def ln_no_affine(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), eps=eps)


def bn_is_layernorm(x, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), eps=eps)


def gelu_approx(x):
    return torch.nn.functional.gelu(x, approximate="tanh")


def mlp_relu(x, parts):
    return parts.mlp_out(torch.relu(parts.mlp_in(x)))


def mlp_with_residual(x, parts):
    return x + parts.mlp_out(torch.nn.functional.gelu(parts.mlp_in(x)))


def layer_post_norm(x, parts):
    h = parts.layernorm_before(x + self_attention(x, parts)[0])
    return parts.layernorm_after(h + M.mlp(h, parts))


def layer_residual_after_norm(x, parts):
    x = parts.layernorm_before(x)
    h = x + self_attention(x, parts)[0]
    h = parts.layernorm_after(h)
    return h + M.mlp(h, parts)


def block_after_norm(x, norm, sub):
    x = norm(x)
    return x + sub(x)


WRONG = [
    ("layer_norm", ln_torch_var, "unbiased variance"),
    ("layer_norm", ln_std_eps, "eps belongs inside the square root"),
    ("layer_norm", ln_tokens_axis, "token axis"),
    ("layer_norm", ln_no_affine, "gamma and beta are missing"),
    ("batch_norm", bn_is_layernorm, "that is LayerNorm"),
    ("gelu", gelu_approx, "tanh approximation"),
    ("gelu", torch.relu, "this is ReLU"),
    ("mlp", mlp_relu, "the activation is ReLU"),
    ("mlp", mlp_with_residual, "you added the residual inside the MLP"),
    ("encoder_layer", layer_post_norm, "post-norm"),
    ("encoder_layer", layer_residual_after_norm, "the residual is added after the norm"),
    ("pre_norm_block", block_after_norm, "the residual is added after the norm"),
    ("token_norms", lambda s: s.pow(2).sum(-1), "squared length"),
]


@pytest.mark.parametrize("name,fn,diagnosis", WRONG)
def test_realistic_mistakes_are_diagnosed(name, fn, diagnosis, model):
    with pytest.raises(CheckFailed, match=diagnosis):
        _run(name, fn, model)


# Right values from a built-in the exercise asks the learner to write: no credit, and the verdict names it.
FORBIDDEN = [
    ("layer_norm", ln_functional, r"uses torch\.nn\.functional\.layer_norm"),
    ("gelu", torch.nn.functional.gelu, r"uses torch\.nn\.functional\.gelu"),
    ("mlp", mlp_modules, r"uses torch\.nn\.functional\.gelu"),
]


@pytest.mark.parametrize("name,fn,verdict", FORBIDDEN)
def test_forbidden_built_ins_get_no_credit(name, fn, verdict, model):
    with pytest.raises(CheckFailed, match=verdict + r".*no credit"):
        _run(name, fn, model)


def test_wrong_values_without_a_known_mistake_say_so(model):
    with pytest.raises(CheckFailed, match="the shape is right but the values differ"):
        check_gelu(lambda x: M.gelu(x) * 1.01)
    with pytest.raises(CheckFailed, match=r"axis 2 \(tokens\) is 4, should be 5"):
        check_token_norms(lambda s: s.norm(dim=-1)[..., :-1])


# --- broken functions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_broken_functions_fail_clearly(name, model):
    def raises(*args):
        raise RuntimeError("boom")

    def stub(*args):
        raise NotImplementedError("write me")

    with pytest.raises(CheckFailed, match="your function raised RuntimeError: boom"):
        _run(name, raises, model)
    with pytest.raises(CheckFailed, match="returned a list; it should return a torch.Tensor"):
        _run(name, lambda *a: [1.0], model)
    with pytest.raises(CheckFailed, match="NaN or infinite"):
        _run(name, lambda *a: CHECKS[name][1](*a) * math.nan, model)
    with pytest.raises(ExerciseNotDone, match="not written yet"):
        _run(name, stub, model)
