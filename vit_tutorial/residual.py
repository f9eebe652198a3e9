"""Chapter 6: residual connections - the stream every sub-layer writes into.

The MLP is chapter 7's subject: here it is one more sub-layer, run with the model's own modules
(:func:`mlp_branch`), so that this chapter needs nothing from a later one.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from .attention import self_attention
from .layernorm import layer_norm_module
from .primitives import each_layer

Sublayer = Callable[[torch.Tensor], torch.Tensor]


def pre_norm_residual(x: torch.Tensor, norm: Sublayer, sublayer: Sublayer) -> torch.Tensor:
    """ViT's (pre-norm) block: ``x + sublayer(norm(x))``; the residual goes *around* norm and sub-layer."""
    return x + sublayer(norm(x))


def post_norm_residual(x: torch.Tensor, norm: Sublayer, sublayer: Sublayer) -> torch.Tensor:
    """The original Transformer's / BERT's (post-norm) block: ``norm(x + sublayer(x))``."""
    return norm(x + sublayer(x))


def mlp_branch(x: torch.Tensor, parts) -> torch.Tensor:
    """The MLP sub-layer with the model's own modules, ``fc2(act(fc1(x)))``: ``(B, N, D)`` -> ``(B, N, D)``.

    Chapter 7 writes it by hand (``vit_tutorial.mlp.mlp``).
    """
    return parts.mlp_out(parts.activation(parts.mlp_in(x)))


def layer_with_residuals(x: torch.Tensor, parts) -> torch.Tensor:
    """An encoder layer as the model wires it: ``h = x + attn(LN(x))``, then ``h + mlp(LN(h))``, ``(B, N, D)``."""
    h = pre_norm_residual(x, lambda t: layer_norm_module(t, parts.layernorm_before), lambda t: self_attention(t, parts)[0])
    return pre_norm_residual(h, lambda t: layer_norm_module(t, parts.layernorm_after), lambda t: mlp_branch(t, parts))


def layer_without_residuals(x: torch.Tensor, parts) -> torch.Tensor:
    """An encoder layer with both residual connections cut: ``mlp(LN(attn(LN(x))))``, ``(B, N, D)``."""
    h, _ = self_attention(layer_norm_module(x, parts.layernorm_before), parts)  # (B, N, D)
    return mlp_branch(layer_norm_module(h, parts.layernorm_after), parts)


def hidden_states(x: torch.Tensor, model, residual: bool = True) -> list[torch.Tensor]:
    """The ``layers + 1`` hidden states of ``model``'s encoder on embeddings ``x`` ``(B, N, D)``,
    with the residual connections (as the model is) or with all of them cut."""
    layer = layer_with_residuals if residual else layer_without_residuals
    states = [x]
    for parts in each_layer(model):
        states.append(layer(states[-1], parts))
    return states


def token_norms(states) -> torch.Tensor:
    """The length (L2 norm) of every token vector: ``(L, B, N, D)`` (or a list of L ``(B, N, D)``) -> ``(L, B, N)``."""
    if isinstance(states, (list, tuple)):
        states = torch.stack(list(states))
    if states.dim() != 4:
        raise ValueError(f"token_norms wants hidden states of shape (layers, batch, tokens, hidden), got {tuple(states.shape)}")
    return states.norm(dim=-1)


def gradient_norms(depth: int = 24, width: int = 64, residual: bool = True, seed: int = 0, batch: int = 16) -> torch.Tensor:
    """A small vanishing-gradient experiment (milliseconds on a CPU).

    A stack of ``depth`` blocks ``f(h) = GELU(h W^T)`` (weights drawn like ``nn.Linear``'s default,
    uniform in +-1/sqrt(width), no normalisation), each either replacing its input
    (``h <- f(h)``) or added to it (``h <- h + f(h)``, a residual connection). We send a
    gradient of norm 1 back from the output and return its norm at the input of every
    block: ``(depth + 1,)``, index 0 is the first layer's input, index ``depth`` the output (1.0).
    """
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be positive, got depth={depth}, width={width}")
    gen = torch.Generator().manual_seed(seed)
    bound = 1 / math.sqrt(width)
    weights = [(torch.rand(width, width, generator=gen) * 2 - 1) * bound for _ in range(depth)]
    h = torch.randn(batch, width, generator=gen).requires_grad_()
    grad_out = torch.randn(batch, width, generator=gen)
    grad_out /= grad_out.norm()
    inputs = [h]
    with torch.enable_grad():
        for w in weights:
            f = F.gelu(h @ w.T)  # exact GELU (chapter 7)
            h = h + f if residual else f
            h.retain_grad()
            inputs.append(h)
        (h * grad_out).sum().backward()
    return torch.tensor([t.grad.norm().item() for t in inputs])
