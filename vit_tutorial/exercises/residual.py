"""Self-checks for chapter 6 (residual connections): ``check_pre_norm_block``, ``check_token_norms``,
``check_post_norm_block``."""
from __future__ import annotations

import torch

from ._core import Case, run_check
from ._shared import real_layer_input, toy_layer_inputs

TOKEN_AXES = ("batch", "tokens", "hidden")
NORM_AXES = ("layers", "batch", "tokens")


def _attention_of(parts):
    from ..attention import self_attention

    return lambda t: self_attention(t, parts)[0]


BLOCK_MISTAKES = {
    "you normalised AFTER the residual (post-norm: norm(x + sublayer(x)), the original Transformer's order); "
    "ViT is pre-norm: x + sublayer(norm(x))": lambda x, norm, sub: norm(x + sub(x)),
    "the residual is added after the norm: you returned norm(x) + sublayer(norm(x)). Add the ORIGINAL x, so "
    "that the residual goes around both the norm and the sub-layer": lambda x, norm, sub: norm(x) + sub(norm(x)),
    "the residual is missing: add the block's input x to the sub-layer's output": lambda x, norm, sub: sub(norm(x)),
    "the norm is missing: the sub-layer reads norm(x), the residual adds x": lambda x, norm, sub: x + sub(x),
    "the norm is applied to the sub-layer's output; it belongs on its input: x + sublayer(norm(x))":
        lambda x, norm, sub: x + norm(sub(x)),
    "the residual is added twice (2·x + sublayer(norm(x))): add x once": lambda x, norm, sub: 2 * x + sub(norm(x)),
    "the norm is applied twice: the sub-layer reads norm(x) once": lambda x, norm, sub: x + sub(norm(norm(x))),
}


def check_pre_norm_block(fn, model=None):
    """Check ``fn(x (B, N, D), norm, sublayer) -> x + sublayer(norm(x))`` (norm and sublayer are callables)."""
    cases = []
    for x, parts in toy_layer_inputs(61):
        args = (x, parts.layernorm_before, _attention_of(parts))
        with torch.no_grad():
            cases.append(Case(args, x + args[2](args[1](x)),
                              f"a random attention block of width {x.shape[-1]}, input {tuple(x.shape)}"))
    if model is not None:
        x, parts = real_layer_input(model)
        args = (x, parts.layernorm_before, _attention_of(parts))
        with torch.no_grad():
            cases.append(Case(args, x + args[2](args[1](x)), f"the model's layer-0 attention on the cat photo {tuple(x.shape)}"))
    with torch.no_grad():
        return run_check("pre_norm_block", fn, cases, mistakes=BLOCK_MISTAKES, axes=TOKEN_AXES, rtol=1e-4, atol=1e-5)


NORM_MISTAKES = {
    "you returned the squared length (the sum of squares); take its square root": lambda s: (s**2).sum(-1),
    "you computed the root-mean-square (dividing by D before the square root); the length is sqrt(sum of squares)":
        lambda s: (s**2).mean(-1).sqrt(),
    "you summed absolute values (the L1 norm); the length is the L2 norm, sqrt(sum of squares)": lambda s: s.abs().sum(-1),
    "you took the norm over the token axis (dim=-2): the length of a token vector is over its own D numbers, "
    "the last axis (dim=-1)": lambda s: s.norm(dim=-2),
    "you took the norm over the batch axis (dim=1): the length of a token vector is over its own D numbers, "
    "the last axis (dim=-1)": lambda s: s.norm(dim=1),
    "you took the norm over the layer axis (dim=0): the length of a token vector is over its own D numbers, "
    "the last axis (dim=-1)": lambda s: s.norm(dim=0),
    "you took the largest absolute entry (the max norm); the length is the L2 norm, sqrt(sum of squares)":
        lambda s: s.abs().amax(-1),
}


def check_token_norms(fn):
    """Check ``fn(states (L, B, N, D)) -> (L, B, N)``: the length of every token vector at every layer."""
    g = torch.Generator().manual_seed(62)
    cases = [
        Case((s,), s.norm(dim=-1), f"random hidden states of shape {tuple(s.shape)}")
        for s in (torch.randn(3, 2, 5, 8, generator=g) * 2, torch.randn(13, 1, 4, 6, generator=g) - 1)
    ]
    return run_check("token_norms", fn, cases, mistakes=NORM_MISTAKES, axes=NORM_AXES, rtol=1e-5, atol=1e-5)


POST_MISTAKES = {
    "this is pre-norm, x + sublayer(norm(x)) (ViT's order); post-norm normalises AFTER the residual: "
    "norm(x + sublayer(x))": lambda x, norm, sub: x + sub(norm(x)),
    "the residual is missing: post-norm is norm(x + sublayer(x)), the input added back before the norm":
        lambda x, norm, sub: norm(sub(x)),
    "the sub-layer reads norm(x): in post-norm it reads x itself, and the norm comes after the sum: "
    "norm(x + sublayer(x))": lambda x, norm, sub: norm(x + sub(norm(x))),
    "the norm is applied to the sub-layer's output only; post-norm normalises the sum: norm(x + sublayer(x))":
        lambda x, norm, sub: x + norm(sub(x)),
    "the norm is missing: post-norm is norm(x + sublayer(x))": lambda x, norm, sub: x + sub(x),
}


def check_post_norm_block(fn, model=None):
    """Check ``fn(x (B, N, D), norm, sublayer) -> norm(x + sublayer(x))``, the original Transformer's post-norm block."""
    cases = []
    for x, parts in toy_layer_inputs(63):
        args = (x, parts.layernorm_before, _attention_of(parts))
        with torch.no_grad():
            cases.append(Case(args, args[1](x + args[2](x)), f"a random attention block of width {x.shape[-1]}, input {tuple(x.shape)}"))
    if model is not None:
        x, parts = real_layer_input(model)
        args = (x, parts.layernorm_before, _attention_of(parts))
        with torch.no_grad():
            cases.append(Case(args, args[1](x + args[2](x)), f"the model's layer-0 attention on the cat photo {tuple(x.shape)}"))
    with torch.no_grad():
        return run_check("post_norm_block", fn, cases, mistakes=POST_MISTAKES, axes=TOKEN_AXES, rtol=1e-4, atol=1e-5)
