"""Self-checks for chapter 7 (GELU, the MLP, one encoder layer): ``check_gelu``, ``check_mlp``,
``check_encoder_layer``."""
from __future__ import annotations

import math

import torch

from ._core import Case, run_check
from ._forbidden import GELU
from ._shared import gelu as _gelu
from ._shared import gelu_tanh as _gelu_tanh
from ._shared import layer_reference as _layer
from ._shared import mlp_reference as _mlp
from ._shared import real_layer_input, toy_layer, toy_layer_inputs

TOKEN_AXES = ("batch", "tokens", "hidden")


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


def check_gelu(fn, model=None):
    """Check ``fn(x) -> x·Φ(x)``, the exact GELU, elementwise on any shape."""
    g = torch.Generator().manual_seed(71)
    grid = torch.linspace(-5, 5, 1001)
    cases = [Case((grid,), _gelu(grid), "1001 points from -5 to 5"),
             Case((x := torch.randn(3, 7, 9, generator=g) * 3,), _gelu(x), "a random (3, 7, 9) tensor")]
    if model is not None:
        from ..primitives import linear

        x, parts = real_layer_input(model)
        with torch.no_grad():
            pre = linear(parts.layernorm_after(x), parts.mlp_in)
        cases.append(Case((pre,), _gelu(pre), f"the cat's layer-0 MLP pre-activations {tuple(pre.shape)}"))
    return run_check("gelu", fn, cases, mistakes=GELU_MISTAKES, rtol=1e-5, atol=2e-6, forbidden=(GELU,))


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
        parts = toy_layer(d, heads, seed=d)
        x = torch.randn(b, n, d, generator=g)
        cases.append(Case((x, parts), _mlp(x, parts), f"a random layer of width {d}, input {(b, n, d)}"))
    if model is not None:
        x, parts = real_layer_input(model)
        with torch.no_grad():
            x = parts.layernorm_after(x)
            cases.append(Case((x, parts), _mlp(x, parts), f"the model's layer-0 MLP on the cat photo {tuple(x.shape)}"))
    with torch.no_grad():
        return run_check("mlp", fn, cases, mistakes=MLP_MISTAKES, axes=TOKEN_AXES, rtol=1e-4, atol=1e-5, forbidden=(GELU,))


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
    for x, parts in toy_layer_inputs(73):
        with torch.no_grad():
            cases.append(Case((x, parts), _layer(x, parts),
                              f"a random layer of width {x.shape[-1]} with {parts.num_heads} heads, input {tuple(x.shape)}"))
    if model is not None:
        x, parts = real_layer_input(model)
        with torch.no_grad():
            cases.append(Case((x, parts), _layer(x, parts), f"the model's layer 0 on the cat photo {tuple(x.shape)}"))
    with torch.no_grad():
        return run_check("encoder_layer", fn, cases, mistakes=LAYER_MISTAKES, axes=TOKEN_AXES, rtol=1e-4, atol=1e-4)
