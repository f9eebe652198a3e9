"""Chapter 4: self-attention and its heads, by hand."""
from __future__ import annotations

import math

import torch


def linear(x: torch.Tensor, layer) -> torch.Tensor:
    """``x @ W.T + b`` with the weights of an ``nn.Linear``."""
    out = x @ layer.weight.T
    return out + layer.bias if layer.bias is not None else out


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(B, N, D)`` -> ``(B, heads, N, D / heads)``."""
    b, n, d = x.shape
    if d % num_heads:
        raise ValueError(f"the hidden size {d} does not divide into {num_heads} heads")
    return x.reshape(b, n, num_heads, d // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, heads, N, head_dim)`` -> ``(B, N, heads * head_dim)``."""
    b, h, n, hd = x.shape
    return x.transpose(1, 2).reshape(b, n, h * hd)


def scaled_dot_product(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention for every head at once: ``softmax(Q K^T / sqrt(d)) V``.

    ``q, k, v``: ``(B, heads, N, head_dim)``. Returns ``(context (B, heads, N, head_dim),
    weights (B, heads, N, N))``.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, heads, N, N)
    weights = scores.softmax(dim=-1)  # each query's row sums to 1
    return weights @ v, weights


def self_attention(x: torch.Tensor, parts) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole attention block of one layer (after ``layernorm_before``).

    ``x``: ``(B, N, D)``; ``parts``: :func:`vit_tutorial.bridge.layer_parts`.
    Returns ``(output (B, N, D), weights (B, heads, N, N))``; output is after the output
    projection (dropout is the identity in evaluation).
    """
    q = split_heads(linear(x, parts.query), parts.num_heads)  # (B, heads, N, head_dim)
    k = split_heads(linear(x, parts.key), parts.num_heads)
    v = split_heads(linear(x, parts.value), parts.num_heads)
    context, weights = scaled_dot_product(q, k, v)  # (B, heads, N, head_dim)
    return linear(merge_heads(context), parts.attention_output), weights  # (B, N, D)
