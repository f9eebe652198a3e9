"""What several chapters' checks share: the cat photo's inputs, small random layers, and reference layers.

The checkers of one chapter never reach into another's module; what they have in common is here.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch


def gelu(x):
    """The exact GELU, ``x·Φ(x)``, written out (the checks' reference)."""
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def gelu_tanh(x):
    """GELU's tanh approximation (``gelu_pytorch_tanh``), the checks' picture of that mistake."""
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


@lru_cache(maxsize=1)
def cat_pixels() -> torch.Tensor:
    from ..images import load_image, preprocess

    return preprocess(load_image("cat"))


def real_tokens(model):
    """The cat photo's embeddings, the input of layer 0's ``layernorm_before``, and that LayerNorm."""
    from ..bridge import layer_parts, vit_model

    pixels = cat_pixels().to(next(model.parameters()).device)
    with torch.no_grad():
        return vit_model(model).embeddings(pixels), layer_parts(model, 0).layernorm_before


@lru_cache(maxsize=4)
def toy_layer(width: int, heads: int, seed: int):
    """``bridge.layer_parts`` of a one-layer random ViT of width ``width`` with weights large enough
    (and gamma/beta far enough from 1/0) that every classic mistake changes the output visibly."""
    from ..bridge import layer_parts
    from ..weights.checkpoint import vit_config
    from ..weights.random_weights import random_model

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


def toy_layer_inputs(seed: int) -> list:
    """``(x, parts)`` for two small random layers (widths 16 and 32), with inputs of mean 0.5 and
    scale 2 drawn from ``seed``: the random cases of the layer and residual-block checks."""
    g = torch.Generator().manual_seed(seed)
    inputs = []
    for (b, n, d), heads in (((2, 5, 16), 2), ((1, 7, 32), 4)):
        parts = toy_layer(d, heads, seed=d)
        inputs.append((torch.randn(b, n, d, generator=g) * 2 + 0.5, parts))
    return inputs


def real_layer_input(model):
    """The cat photo's embeddings (the input of layer 0) and layer 0's parts."""
    from ..bridge import layer_parts

    x, _ = real_tokens(model)
    return x, layer_parts(model, 0)


def mlp_reference(x, parts, act=gelu, residual=False, act_out=False, act_missing=False, bias=True):
    """The MLP with one knob per classic mistake; the defaults are ViT's: ``mlp_out(GELU(mlp_in(x)))``."""
    h = x @ parts.mlp_in.weight.T + (parts.mlp_in.bias if bias else 0)
    h = h if act_missing else act(h)
    out = h @ parts.mlp_out.weight.T + (parts.mlp_out.bias if bias else 0)
    out = act(out) if act_out else out
    return x + out if residual else out


def layer_reference(x, parts, order="pre", first=True, second=True, norm2="after", norms=True, norm1="before", act=gelu):
    """One encoder layer with one knob per classic mistake; the defaults are ViT's pre-norm layer."""
    from ..attention import self_attention
    from ..layernorm import layer_norm_module

    ln1 = (lambda t: layer_norm_module(t, getattr(parts, f"layernorm_{norm1}"))) if norms else (lambda t: t)  # noqa: E731
    ln2 = (lambda t: layer_norm_module(t, getattr(parts, f"layernorm_{norm2}"))) if norms else (lambda t: t)  # noqa: E731
    attn = lambda t: self_attention(t, parts)[0]  # noqa: E731
    if order == "post":  # the original Transformer / BERT
        h = ln1(x + attn(x))
        return ln2(h + mlp_reference(h, parts, act=act))
    if order == "second_from_x":  # the second residual adds the layer's input x, not h
        h = x + attn(ln1(x))
        return x + mlp_reference(ln2(h), parts)
    if order == "mlp_reads_x":  # the MLP reads the normalised layer input instead of h
        h = x + attn(ln1(x))
        return h + mlp_reference(ln2(x), parts)
    if order == "mlp_first":
        h = x + mlp_reference(ln1(x), parts)
        return h + attn(ln2(h))
    if order == "after_norm":  # the residual taken from the normalised input
        n1 = ln1(x)
        h = n1 + attn(n1)
        n2 = ln2(h)
        return n2 + mlp_reference(n2, parts)
    a = attn(ln1(x))
    h = x + a if first else a
    if order == "no_mlp":
        return h
    m = mlp_reference(ln2(h), parts, act=act)
    return h + m if second else m
