"""Self-checks for chapter 5 (LayerNorm): ``check_layer_norm``, ``check_batch_norm``."""
from __future__ import annotations

import torch

from ._core import Case, OnError, run_check
from ._forbidden import LAYER_NORM, OTHER_NORMS
from ._shared import real_tokens

TOKEN_AXES = ("batch", "tokens", "hidden")


def _norm(x, dims=(-1,), unbiased=False, eps=1e-12, eps_outside=False, center=True):
    """Normalisation with one knob per classic mistake; the defaults are LayerNorm's."""
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, unbiased=unbiased)
    centred = x - mean if center else x
    return centred / (torch.sqrt(var) + eps) if eps_outside else centred / torch.sqrt(var + eps)


def _ln(x, w, b, eps, **mistake):
    return _norm(x, eps=eps, **mistake) * w + b


LN_MISTAKES = {
    "you used the unbiased variance (dividing by D - 1, torch.var's default); LayerNorm divides by D: "
    "use x.var(dim=-1, unbiased=False) or ((x - mean) ** 2).mean(dim=-1)": lambda x, w, b, eps: _ln(x, w, b, eps, unbiased=True),
    "you normalised over the token axis (dim=-2, 1 here): LayerNorm takes the mean and variance of each token's "
    "own hidden vector, over the last axis (dim=-1, keepdim=True)": lambda x, w, b, eps: _ln(x, w, b, eps, dims=(-2,)),
    "you normalised over the batch axis (dim=0): that is BatchNorm's way. LayerNorm uses each token's own hidden "
    "vector, the last axis (dim=-1, keepdim=True)": lambda x, w, b, eps: _ln(x, w, b, eps, dims=(0,)),
    "you normalised over all axes at once: take the statistics per token, over the last axis only (dim=-1)":
        lambda x, w, b, eps: _ln(x, w, b, eps, dims=tuple(range(x.dim()))),
    "gamma and beta are missing: after normalising, multiply by weight (gamma) and add bias (beta)":
        lambda x, w, b, eps: _norm(x, eps=eps),
    "beta is missing: after scaling by weight (gamma), add bias (beta)": lambda x, w, b, eps: _norm(x, eps=eps) * w,
    "gamma is missing: multiply the normalised values by weight (gamma) before adding bias (beta)":
        lambda x, w, b, eps: _norm(x, eps=eps) + b,
    "eps belongs inside the square root: divide by sqrt(var + eps), not by sqrt(var) + eps":
        lambda x, w, b, eps: _ln(x, w, b, eps, eps_outside=True),
    "you forgot to subtract the mean before dividing by the standard deviation":
        lambda x, w, b, eps: _ln(x, w, b, eps, center=False),
    "you divided by the variance instead of its square root (the standard deviation)":
        lambda x, w, b, eps: (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True, unbiased=False) + eps) * w + b,
    "this is RMSNorm (x / sqrt(mean(x²) + eps)): LayerNorm first subtracts the mean and divides by the standard "
    "deviation, sqrt(mean((x - mean)²) + eps)": lambda x, w, b, eps: x / torch.sqrt((x**2).mean(-1, keepdim=True) + eps) * w + b,
    "gamma and beta are swapped: multiply by weight (gamma), then add bias (beta)": lambda x, w, b, eps: _norm(x, eps=eps) * b + w,
    "the shapes don't line up: a mean, var or max taken without keepdim=True drops the reduced axis, so "
    "x - mean subtracts along the wrong axis (or fails). Keep the axis: x.mean(dim=-1, keepdim=True)": OnError(RuntimeError, r"must match the size of tensor"),
}


LN_MISTAKES["your function ignores its eps argument (it behaves as if eps were a small fixed number such as 1e-5 "
            "or 1e-12): use the eps you are given - models differ (ViT's LayerNorms use 1e-12, torch's default is "
            "1e-5)"] = lambda x, w, b, eps: _ln(x, w, b, 1e-5)


def check_layer_norm(fn, model=None):
    """Check ``fn(x (..., D), weight (D,), bias (D,), eps) -> (..., D)``, LayerNorm over the last axis.

    Random inputs come with random gamma/beta and a large eps (so that where eps goes shows);
    given ``model``, also the cat's embeddings through layer 0's ``layernorm_before``.
    """
    g = torch.Generator().manual_seed(51)
    cases = []
    for shape, eps in (((2, 5, 16), 0.5), ((3, 8), 1e-5)):
        x = torch.randn(*shape, generator=g) * 3 + 1
        w, b = 1 + torch.randn(shape[-1], generator=g) * 0.5, torch.randn(shape[-1], generator=g)
        cases.append(Case((x, w, b, eps), _ln(x, w, b, eps), f"a random {shape} input with random gamma/beta, eps={eps}"))
    if model is not None:
        x, norm = real_tokens(model)
        w, b = norm.weight.detach(), norm.bias.detach()
        cases.append(Case((x, w, b, norm.eps), _ln(x, w, b, norm.eps), f"the cat's embeddings {tuple(x.shape)} through layer 0's layernorm_before"))
    return run_check("layer_norm", fn, cases, mistakes=LN_MISTAKES, axes=TOKEN_AXES, rtol=1e-4, atol=1e-5,
                     forbidden=(LAYER_NORM, OTHER_NORMS))


def _bn(x, eps, **mistake):
    return _norm(x, dims=tuple(range(x.dim() - 1)), eps=eps, **mistake)


BN_MISTAKES = {
    "you normalised each token over its hidden axis: that is LayerNorm. BatchNorm normalises each feature "
    "(each of the D columns) over the batch and token axes: mean(dim=(0, 1), keepdim=True)":
        lambda x, eps: _norm(x, dims=(-1,), eps=eps),
    "you normalised over the batch axis only: for (B, N, D) tokens BatchNorm pools every image AND every "
    "token, dim=(0, 1) - as nn.BatchNorm1d does on (B, D, N)": lambda x, eps: _norm(x, dims=(0,), eps=eps),
    "you used the unbiased variance (torch.var's default divides by n - 1); BatchNorm normalises with the "
    "biased one: unbiased=False": lambda x, eps: _bn(x, eps, unbiased=True),
    "eps belongs inside the square root: sqrt(var + eps)": lambda x, eps: _bn(x, eps, eps_outside=True),
    "you normalised over the token axis only (dim=1, each image on its own): BatchNorm pools every image AND every "
    "token, dim=(0, 1)": lambda x, eps: _norm(x, dims=(1,), eps=eps),
    "you forgot to subtract the mean before dividing by the standard deviation": lambda x, eps: _bn(x, eps, center=False),
    "the shapes don't line up: a mean, var or max taken without keepdim=True drops the reduced axis, so "
    "x - mean subtracts along the wrong axis (or fails). Keep the axis: x.mean(dim=(0, 1), keepdim=True)":
        OnError(RuntimeError, r"must match the size of tensor"),
}

BN_MISTAKES["your function ignores its eps argument (it behaves as if eps were a small fixed number such as 1e-5): "
            "use the eps you are given"] = lambda x, eps: _bn(x, 1e-5)


def check_batch_norm(fn):
    """Check ``fn(x (B, N, D), eps) -> (B, N, D)``: each feature normalised over the batch and token axes."""
    g = torch.Generator().manual_seed(52)
    cases = []
    for shape, eps in (((2, 5, 6), 0.3), ((4, 3, 10), 1e-5)):
        x = torch.randn(*shape, generator=g) * 2 + torch.arange(shape[-1]) * 0.5
        cases.append(Case((x, eps), _bn(x, eps), f"a random {shape} batch, eps={eps}"))
    return run_check("batch_norm", fn, cases, mistakes=BN_MISTAKES, axes=TOKEN_AXES, rtol=1e-4, atol=1e-5)
