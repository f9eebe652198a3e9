"""Chapter 4: self-attention and its heads, by hand.

    >>> parts = layer_parts(model, 0)
    >>> x = parts.layernorm_before(embeddings)          # (B, N, D); LayerNorm comes first
    >>> out, weights = self_attention(x, parts)          # (B, N, D), (B, heads, N, N)
    >>> ctx, w0 = single_head(x, parts, head=0)          # head 0 alone: (B, N, 64), (B, N, N)
    >>> out2 = self_attention_sdpa(x, parts)             # the fused PyTorch kernel, same output
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .primitives import each_layer, linear


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(B, N, D)`` -> ``(B, heads, N, D / heads)``.

    Head ``h`` gets the columns ``h * head_dim ... (h + 1) * head_dim - 1`` of every token.
    """
    if x.dim() != 3:
        raise ValueError(f"split_heads expects (batch, tokens, width), got a tensor of shape {tuple(x.shape)}")
    b, n, d = x.shape
    if num_heads < 1 or d % num_heads:
        raise ValueError(f"the hidden size {d} does not divide into {num_heads} heads")
    return x.reshape(b, n, num_heads, d // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, heads, N, head_dim)`` -> ``(B, N, heads * head_dim)`` (the inverse of :func:`split_heads`)."""
    if x.dim() != 4:
        raise ValueError(f"merge_heads expects (batch, heads, tokens, head_dim), got a tensor of shape {tuple(x.shape)}")
    b, h, n, hd = x.shape
    return x.transpose(1, 2).reshape(b, n, h * hd)


def scaled_dot_product(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention for every head at once: ``softmax(Q K^T / sqrt(d)) V``.

    ``q, k, v``: ``(B, heads, N, head_dim)`` (or any leading dims, e.g. ``(B, N, head_dim)``
    for one head). Returns ``(context (B, heads, N, head_dim), weights (B, heads, N, N))``.
    """
    scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(q.shape[-1]))  # (B, heads, N, N)
    weights = scores.softmax(dim=-1)  # each query's row sums to 1
    return weights @ v, weights


def check_input(x: torch.Tensor, parts) -> None:
    """Raise a clear ``ValueError`` unless ``x`` is ``(B, N, D)`` with the layer's width ``D``."""
    width = parts.query.in_features
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"attention expects hidden states of shape (batch, tokens, {width}), got {shape}")
    if x.shape[-1] != width:
        raise ValueError(
            f"the hidden states are {x.shape[-1]} wide but this layer's projections expect {width} "
            f"(shape {tuple(x.shape)})"
        )
    if parts.query.out_features % parts.num_heads:
        raise ValueError(f"the width {parts.query.out_features} does not divide into {parts.num_heads} heads")


def project_qkv(x: torch.Tensor, parts) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Q, K, V of every head: ``(B, N, D)`` -> three ``(B, heads, N, head_dim)``."""
    check_input(x, parts)
    return tuple(split_heads(linear(x, layer), parts.num_heads) for layer in (parts.query, parts.key, parts.value))


def head_columns(layer, head: int, head_dim: int):
    """The ``(weight, bias)`` rows of an ``nn.Linear`` that produce head ``head``'s outputs.

    ``nn.Linear`` stores its weight as ``(out, in)``: head ``h``'s output columns are the weight's
    rows ``h * head_dim ... (h + 1) * head_dim - 1``.
    """
    rows = slice(head * head_dim, (head + 1) * head_dim)
    bias = layer.bias[rows] if layer.bias is not None else None
    return layer.weight[rows], bias


def single_head(x: torch.Tensor, parts, head: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """One head on its own, from its slice of the Q, K, V projections.

    ``x``: ``(B, N, D)``. Returns ``(context (B, N, head_dim), weights (B, N, N))``.
    """
    check_input(x, parts)
    if not 0 <= head < parts.num_heads:
        raise ValueError(f"head {head} does not exist: this layer has {parts.num_heads} heads (0..{parts.num_heads - 1})")
    qkv = []
    for layer in (parts.query, parts.key, parts.value):
        w, b = head_columns(layer, head, parts.head_dim)
        qkv.append(x @ w.T + (b if b is not None else 0))  # (B, N, head_dim)
    return scaled_dot_product(*qkv)


def self_attention(x: torch.Tensor, parts) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole attention block of one layer (after ``layernorm_before``).

    ``x``: ``(B, N, D)``; ``parts``: :func:`vit_tutorial.bridge.layer_parts`.
    Returns ``(output (B, N, D), weights (B, heads, N, N))``; output is after the output
    projection (dropout is the identity in evaluation).
    """
    q, k, v = project_qkv(x, parts)  # each (B, heads, N, head_dim)
    context, weights = scaled_dot_product(q, k, v)  # (B, heads, N, head_dim), (B, heads, N, N)
    return linear(merge_heads(context), parts.attention_output), weights  # (B, N, D)


def self_attention_sdpa(x: torch.Tensor, parts) -> torch.Tensor:
    """:func:`self_attention` with PyTorch's fused ``scaled_dot_product_attention``.

    Faster and lighter on memory (the ``(N, N)`` weights may never be stored), but the weights
    are not returned: ``(B, N, D)`` -> output ``(B, N, D)`` only.
    """
    q, k, v = project_qkv(x, parts)  # each (B, heads, N, head_dim)
    context = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, head_dim); scale 1/sqrt(head_dim)
    return linear(merge_heads(context), parts.attention_output)  # (B, N, D)


def attention_maps(model, pixel_values: torch.Tensor) -> torch.Tensor:
    """Attention weights of every layer for a batch of images, computed with :func:`self_attention`.

    One HuggingFace forward gives each layer's input (``output_hidden_states``); we apply each
    layer's ``layernorm_before`` and our attention to it. ``(B, 3, H, W)`` ->
    ``(layers, B, heads, N, N)``.
    """
    with torch.no_grad():
        hidden = model(pixel_values, output_hidden_states=True).hidden_states  # layers + 1 tensors
        maps = []
        for i, parts in enumerate(each_layer(model)):
            maps.append(self_attention(parts.layernorm_before(hidden[i]), parts)[1])
    return torch.stack(maps)  # (layers, B, heads, N, N)
