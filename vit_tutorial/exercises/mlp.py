"""Self-checks for chapter 7 (GELU, the MLP, one encoder layer): ``check_gelu``, ``check_mlp``,
``check_encoder_layer``."""
from __future__ import annotations

import math
from functools import lru_cache

import torch

from ._core import Case, run_check
from ._forbidden import GELU

TOKEN_AXES = ("batch", "tokens", "hidden")


def _gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def _gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


GELU_MISTAKES = {
    "this is the tanh approximation of GELU; the exercise asks for the exact form x·Φ(x), with "
    "Φ(x) = 0.5·(1 + erf(x / √2)) (torch.erf)": _gelu_tanh,
    "this is ReLU, max(x, 0); GELU is x·Φ(x), smooth and slightly negative for negative x": torch.relu,
    "this is the sigmoid approximation x·σ(1.702·x) ('quick GELU'); write the exact x·Φ(x) with torch.erf":
        lambda x: x * torch.sigmoid(1.702 * x),
    "you returned Φ(x), the normal CDF, alone: GELU multiplies it by x": lambda x: 0.5 * (1 + torch.erf(x / math.sqrt(2))),
    "the √2 is missing: Φ(x) = 0.5·(1 + erf(x / √2)), not 0.5·(1 + erf(x))": lambda x: 0.5 * x * (1 + torch.erf(x)),
    "you divided by 2 inside erf; divide by √2: Φ(x) = 0.5·(1 + erf(x / √2))": lambda x: 0.5 * x * (1 + torch.erf(x / 2)),
    "you multiplied by √2 inside erf; divide: Φ(x) = 0.5·(1 + erf(x / √2))": lambda x: 0.5 * x * (1 + torch.erf(x * math.sqrt(2))),
    "the factor 0.5 is missing, so your values are twice GELU's: Φ(x) = 0.5·(1 + erf(x / √2))":
        lambda x: x * (1 + torch.erf(x / math.sqrt(2))),
    "this is SiLU (swish), x·σ(x); GELU is x·Φ(x) with the normal CDF Φ(x) = 0.5·(1 + erf(x / √2))": lambda x: x * torch.sigmoid(x),
}


@lru_cache(maxsize=4)
def _toy_layer(width: int, heads: int, seed: int):
    """``bridge.layer_parts`` of a one-layer random ViT of width ``width`` with weights large enough
    (and gamma/beta far enough from 1/0) that every classic mistake changes the output visibly."""
    from ..bridge import layer_parts
    from ..model import random_model, vit_config

    config = vit_config(hidden_size=width, num_hidden_layers=1, num_attention_heads=heads, intermediate_size=4 * width,
                        image_size=16, patch_size=8, num_labels=2, id2label={0: "a", 1: "b"}, label2id={"a": 0, "b": 1})
    model = random_model(seed, config)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layernorm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.4 * torch.randn(p.shape, generator=g))
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return layer_parts(model.requires_grad_(False), 0)


def _toy_layer_inputs(seed: int) -> list:
    """``(x, parts)`` for two small random layers (widths 16 and 32), with inputs of mean 0.5 and
    scale 2 drawn from ``seed``: the random cases of the layer and residual-block checks."""
    g = torch.Generator().manual_seed(seed)
    inputs = []
    for (b, n, d), heads in (((2, 5, 16), 2), ((1, 7, 32), 4)):
        parts = _toy_layer(d, heads, seed=d)
        inputs.append((torch.randn(b, n, d, generator=g) * 2 + 0.5, parts))
    return inputs


def _real_layer_input(model):
    """The cat photo's embeddings (the input of layer 0) and layer 0's parts."""
    from ..bridge import layer_parts
    from .layernorm import _real_tokens

    x, _ = _real_tokens(model)
    return x, layer_parts(model, 0)


def check_gelu(fn, model=None):
    """Check ``fn(x) -> x·Φ(x)``, the exact GELU, elementwise on any shape."""
    g = torch.Generator().manual_seed(71)
    grid = torch.linspace(-5, 5, 1001)
    cases = [Case((grid,), _gelu(grid), "1001 points from -5 to 5"),
             Case((x := torch.randn(3, 7, 9, generator=g) * 3,), _gelu(x), "a random (3, 7, 9) tensor")]
    if model is not None:
        from ..attention import linear

        x, parts = _real_layer_input(model)
        with torch.no_grad():
            pre = linear(parts.layernorm_after(x), parts.mlp_in)
        cases.append(Case((pre,), _gelu(pre), f"the cat's layer-0 MLP pre-activations {tuple(pre.shape)}"))
    return run_check("gelu", fn, cases, mistakes=GELU_MISTAKES, rtol=1e-5, atol=2e-6, forbidden=(GELU,))


def _mlp(x, parts, act=_gelu, residual=False, act_out=False, act_missing=False, bias=True):
    h = x @ parts.mlp_in.weight.T + (parts.mlp_in.bias if bias else 0)
    h = h if act_missing else act(h)
    out = h @ parts.mlp_out.weight.T + (parts.mlp_out.bias if bias else 0)
    out = act(out) if act_out else out
    return x + out if residual else out


MLP_MISTAKES = {
    "the activation is ReLU; this model's MLP uses the exact GELU (hidden_act='gelu')": lambda x, p: _mlp(x, p, act=torch.relu),
    "you used the tanh approximation of GELU; this model's hidden_act is 'gelu', the exact erf form":
        lambda x, p: _mlp(x, p, act=_gelu_tanh),
    "the activation is missing: apply GELU between the two linear layers (after mlp_in, before mlp_out)":
        lambda x, p: _mlp(x, p, act_missing=True),
    "you added the residual inside the MLP: return just mlp_out(GELU(mlp_in(x))); the layer adds x around it":
        lambda x, p: _mlp(x, p, residual=True),
    "GELU is applied after mlp_out as well: the activation goes only between the two linear layers":
        lambda x, p: _mlp(x, p, act_out=True),
    "you used the sigmoid approximation x·σ(1.702·x) ('quick GELU'); this model's hidden_act is 'gelu', the exact erf form":
        lambda x, p: _mlp(x, p, act=lambda t: t * torch.sigmoid(1.702 * t)),
    "the biases are missing: each nn.Linear computes x @ weight.T + bias": lambda x, p: _mlp(x, p, bias=False),
    "you used mlp_out's weight in the first layer and mlp_in's in the second (without .T those are the ones whose "
    "shapes fit): nn.Linear computes x @ weight.T + bias, so the first layer is x @ mlp_in.weight.T + mlp_in.bias":
        lambda x, p: _gelu(x @ p.mlp_out.weight + p.mlp_in.bias) @ p.mlp_in.weight + p.mlp_out.bias,
    "you applied a LayerNorm first: this function is the MLP alone; layernorm_after is applied before it, in the layer":
        lambda x, p: _mlp(p.layernorm_after(x), p),
}


def check_mlp(fn, model=None):
    """Check ``fn(x (B, N, D), parts) -> (B, N, D)``: ``mlp_out(GELU(mlp_in(x)))``, no residual.

    ``parts`` is :func:`vit_tutorial.bridge.layer_parts` (``mlp_in``, ``mlp_out``, ...). Runs on two small
    random layers and, given ``model``, on the model's layer 0 with the cat photo.
    """
    g = torch.Generator().manual_seed(72)
    cases = []
    for (b, n, d), heads in (((2, 5, 16), 2), ((1, 9, 32), 4)):
        parts = _toy_layer(d, heads, seed=d)
        x = torch.randn(b, n, d, generator=g)
        cases.append(Case((x, parts), _mlp(x, parts), f"a random layer of width {d}, input {(b, n, d)}"))
    if model is not None:
        x, parts = _real_layer_input(model)
        with torch.no_grad():
            x = parts.layernorm_after(x)
            cases.append(Case((x, parts), _mlp(x, parts), f"the model's layer-0 MLP on the cat photo {tuple(x.shape)}"))
    with torch.no_grad():
        return run_check("mlp", fn, cases, mistakes=MLP_MISTAKES, axes=TOKEN_AXES, rtol=1e-4, atol=1e-5, forbidden=(GELU,))


def _layer(x, parts, order="pre", first=True, second=True, norm2="after", norms=True, norm1="before", act=_gelu):
    """One encoder layer with one knob per classic mistake; the defaults are ViT's pre-norm layer."""
    from ..attention import self_attention
    from ..layernorm import layer_norm_module

    ln1 = (lambda t: layer_norm_module(t, getattr(parts, f"layernorm_{norm1}"))) if norms else (lambda t: t)  # noqa: E731
    ln2 = (lambda t: layer_norm_module(t, getattr(parts, f"layernorm_{norm2}"))) if norms else (lambda t: t)  # noqa: E731
    attn = lambda t: self_attention(t, parts)[0]  # noqa: E731
    if order == "post":  # the original Transformer / BERT
        h = ln1(x + attn(x))
        return ln2(h + _mlp(h, parts, act=act))
    if order == "second_from_x":  # the second residual adds the layer's input x, not h
        h = x + attn(ln1(x))
        return x + _mlp(ln2(h), parts)
    if order == "mlp_reads_x":  # the MLP reads the normalised layer input instead of h
        h = x + attn(ln1(x))
        return h + _mlp(ln2(x), parts)
    if order == "mlp_first":
        h = x + _mlp(ln1(x), parts)
        return h + attn(ln2(h))
    if order == "after_norm":  # the residual taken from the normalised input
        n1 = ln1(x)
        h = n1 + attn(n1)
        n2 = ln2(h)
        return n2 + _mlp(n2, parts)
    a = attn(ln1(x))
    h = x + a if first else a
    if order == "no_mlp":
        return h
    m = _mlp(ln2(h), parts, act=act)
    return h + m if second else m


LAYER_MISTAKES = {
    "you normalised AFTER adding the residual (post-norm: LN(x + attn(x)), as in the original Transformer and "
    "BERT); ViT is pre-norm: h = x + attn(LN(x)), then h + mlp(LN(h))": lambda x, p: _layer(x, p, order="post"),
    "the residual is added after the norm: you returned LN(x) + attn(LN(x)). The residual must go around the "
    "norm AND the sub-layer: x + attn(LN(x)), with the un-normalised x": lambda x, p: _layer(x, p, order="after_norm"),
    "the first residual is missing: h = x + attention(layernorm_before(x)), not just the attention output":
        lambda x, p: _layer(x, p, first=False),
    "the second residual is missing: return h + mlp(layernorm_after(h))": lambda x, p: _layer(x, p, second=False),
    "both residuals are missing: each sub-layer's output is ADDED to its input": lambda x, p: _layer(x, p, first=False, second=False),
    "you used layernorm_before twice; the MLP's input is normalised with parts.layernorm_after":
        lambda x, p: _layer(x, p, norm2="before"),
    "the LayerNorms are missing: normalise before attention (layernorm_before) and before the MLP (layernorm_after)":
        lambda x, p: _layer(x, p, norms=False),
    "the second residual adds x, the layer's input; it must add h = x + attention(...), the input of the MLP "
    "block: return h + mlp(layernorm_after(h))": lambda x, p: _layer(x, p, order="second_from_x"),
    "the MLP reads layernorm_after(x), the layer's input, as if attention and the MLP ran in parallel; it must "
    "read layernorm_after(h) with h = x + attention(...): the two blocks run one after the other": lambda x, p: _layer(x, p, order="mlp_reads_x"),
    "the two LayerNorms are swapped: layernorm_before goes in front of attention, layernorm_after in front of the MLP":
        lambda x, p: _layer(x, p, norm1="after", norm2="before"),
    "you returned after the attention block: the MLP block is missing - return h + my_mlp(layernorm_after(h), parts) "
    "with h = x + attention(layernorm_before(x))": lambda x, p: _layer(x, p, order="no_mlp"),
    "you ran the MLP before attention: the order is attention first, then the MLP":
        lambda x, p: _layer(x, p, order="mlp_first"),
}


def check_encoder_layer(fn, model=None):
    """Check ``fn(x (B, N, D), parts) -> (B, N, D)``: one pre-norm encoder layer with both residuals."""
    cases = []
    for x, parts in _toy_layer_inputs(73):
        with torch.no_grad():
            cases.append(Case((x, parts), _layer(x, parts),
                              f"a random layer of width {x.shape[-1]} with {parts.num_heads} heads, input {tuple(x.shape)}"))
    if model is not None:
        x, parts = _real_layer_input(model)
        with torch.no_grad():
            cases.append(Case((x, parts), _layer(x, parts), f"the model's layer 0 on the cat photo {tuple(x.shape)}"))
    with torch.no_grad():
        return run_check("encoder_layer", fn, cases, mistakes=LAYER_MISTAKES, axes=TOKEN_AXES, rtol=1e-4, atol=1e-4)
