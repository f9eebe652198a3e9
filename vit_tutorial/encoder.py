"""Chapters 6-7: one encoder layer, then all of them."""
from __future__ import annotations

import torch

from .attention import self_attention
from .bridge import encoder_layers, layer_parts, vit_model
from .layernorm import layer_norm_module as _ln
from .mlp import mlp


def encoder_layer(x: torch.Tensor, parts) -> tuple[torch.Tensor, torch.Tensor]:
    """One pre-norm layer: ``x + attn(LN(x))``, then ``h + mlp(LN(h))``.

    ``(B, N, D)`` -> ``((B, N, D), attention weights (B, heads, N, N))``.
    """
    attn_out, weights = self_attention(_ln(x, parts.layernorm_before), parts)  # (B, N, D), (B, heads, N, N)
    h = x + attn_out  # first residual
    return h + mlp(_ln(h, parts.layernorm_after), parts), weights  # second residual


def encoder(x: torch.Tensor, model) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """All layers of ``model``'s encoder on embeddings ``x`` ``(B, N, D)``.

    Returns ``(hidden_states, attentions)``: ``hidden_states`` has ``layers + 1`` tensors (the
    input first), like HuggingFace's ``output_hidden_states``; the final LayerNorm is not applied.
    """
    hidden, attentions = [x], []
    for i in range(len(encoder_layers(model))):
        x, w = encoder_layer(x, layer_parts(model, i))
        hidden.append(x)
        attentions.append(w)
    return hidden, attentions


def final_norm(x: torch.Tensor, model) -> torch.Tensor:
    """The LayerNorm after the last layer (``vit.layernorm``): ``(B, N, D)`` -> ``(B, N, D)``."""
    return _ln(x, vit_model(model).layernorm)
