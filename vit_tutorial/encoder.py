"""Chapter 7: one encoder layer, then all of them."""
from __future__ import annotations

import copy
from typing import NamedTuple

import torch

from .attention import self_attention, self_attention_sdpa
from .bridge import vit_model
from .layernorm import layer_norm_module as _ln
from .mlp import mlp
from .primitives import each_layer

ATTENTION = ("eager", "sdpa")  # chapter 4's self_attention, or its fused-kernel twin self_attention_sdpa


def check_attention(attention: str) -> None:
    """Raise a clear ``ValueError`` unless ``attention`` is one of :data:`ATTENTION`."""
    if attention not in ATTENTION:
        raise ValueError(
            f"attention={attention!r} is not one of {ATTENTION}: 'eager' computes (and returns) the "
            f"attention weights by hand, 'sdpa' uses PyTorch's fused scaled_dot_product_attention"
        )


class LayerStep(NamedTuple):
    """One encoder layer's output, and what each of its two branches wrote into the residual stream."""

    output: torch.Tensor  # (B, N, D): x + attention + mlp
    attention: torch.Tensor  # (B, N, D): attn(LN(x)), added by the first residual
    mlp: torch.Tensor  # (B, N, D): mlp(LN(x + attention)), added by the second
    weights: torch.Tensor | None  # (B, heads, N, N); None with attention="sdpa"


def encoder_layer_step(x: torch.Tensor, parts, attention: str = "eager") -> LayerStep:
    """:func:`encoder_layer`, keeping both branches' outputs (for pictures of the residual stream)."""
    check_attention(attention)
    normed = _ln(x, parts.layernorm_before)
    if attention == "sdpa":
        attn_out, weights = self_attention_sdpa(normed, parts), None  # (B, N, D)
    else:
        attn_out, weights = self_attention(normed, parts)  # (B, N, D), (B, heads, N, N)
    h = x + attn_out  # first residual
    mlp_out = mlp(_ln(h, parts.layernorm_after), parts)  # (B, N, D)
    return LayerStep(h + mlp_out, attn_out, mlp_out, weights)  # second residual


def encoder_layer(x: torch.Tensor, parts, attention: str = "eager") -> tuple[torch.Tensor, torch.Tensor | None]:
    """One pre-norm layer: ``x + attn(LN(x))``, then ``h + mlp(LN(h))``.

    ``(B, N, D)`` -> ``((B, N, D), attention weights (B, heads, N, N))``. With
    ``attention="sdpa"`` the fused kernel computes the attention and the weights are ``None``.
    """
    step = encoder_layer_step(x, parts, attention)
    return step.output, step.weights


def encoder(x: torch.Tensor, model) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """All layers of ``model``'s encoder on embeddings ``x`` ``(B, N, D)``.

    Returns ``(hidden_states, attentions)``: ``hidden_states`` has ``layers + 1`` tensors (the
    input first), like HuggingFace's ``output_hidden_states``; the final LayerNorm is not applied.
    """
    hidden, attentions = [x], []
    for parts in each_layer(model):
        x, w = encoder_layer(x, parts)
        hidden.append(x)
        attentions.append(w)
    return hidden, attentions


def final_norm(x: torch.Tensor, model) -> torch.Tensor:
    """The LayerNorm after the last layer (``vit.layernorm``): ``(B, N, D)`` -> ``(B, N, D)``."""
    return _ln(x, vit_model(model).layernorm)


#: How ``google/vit-base-patch16-224`` was trained (Flax): LayerNorm epsilon and the tanh GELU.
TRAINING_CHOICES = {"layer_norm_eps": 1e-6, "hidden_act": "gelu_pytorch_tanh"}


def with_training_choices(model, layer_norm_eps: float = TRAINING_CHOICES["layer_norm_eps"],
                          hidden_act: str = TRAINING_CHOICES["hidden_act"]):
    """A copy of ``model`` (same weights, same device) that runs with another LayerNorm ε and activation.

    By default the checkpoint's training choices, where HuggingFace's config says ε = 1e-12 and
    the exact GELU (chapters 5 and 7). ``model`` is left as it is. Built from the config on the
    meta device, so no random initialisation runs.
    """
    config = copy.deepcopy(model.config)
    config.layer_norm_eps, config.hidden_act = layer_norm_eps, hidden_act
    with torch.device("meta"):
        twin = type(model)(config)
    twin.load_state_dict({k: v.detach().clone() for k, v in model.state_dict().items()}, strict=True, assign=True)
    return twin.eval()
