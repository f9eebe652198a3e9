"""Chapter 9: the whole ViT from scratch, built only from the book's helpers.

Every step is one helper of an earlier chapter; ``model`` only supplies the weights.

    >>> logits = vit_forward(pixels, model)          # (B, 1000), equal to model(pixels).logits
    >>> trace = vit_trace(pixels, model)             # logits + every hidden state + every attention map
    >>> fast = vit_forward(pixels, model, attention="sdpa")   # the fused attention kernel (chapter 4)
    >>> loss = F.cross_entropy(vit_forward(pixels, model, grad=True), labels); loss.backward()   # chapter 10
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from .bridge import vit_model
from .embeddings import embed
from .encoder import check_attention, encoder, encoder_layer
from .head import head
from .patches import check_image, patch_embed
from .primitives import each_layer


class ScratchOutput(NamedTuple):
    """Everything the from-scratch forward pass computed."""

    logits: torch.Tensor  # (B, num_labels)
    hidden_states: list[torch.Tensor]  # layers + 1 tensors (B, N + 1, D): the embeddings, then each layer's output
    attentions: list[torch.Tensor]  # one (B, heads, N + 1, N + 1) per layer


def _check_pixels(pixels: torch.Tensor, model) -> None:
    conv = vit_model(model).embeddings.patch_embeddings.projection
    check_image(pixels, conv.weight.shape[-1], channels=conv.weight.shape[1])
    if pixels.device != conv.weight.device:
        raise ValueError(
            f"the pixels are on {pixels.device} but the model's weights are on {conv.weight.device}; "
            f"move them first: pixels.to(next(model.parameters()).device)"
        )
    if not pixels.is_floating_point():
        raise TypeError(f"pixel values must be floats (preprocessed, about -1..1), got {pixels.dtype}")


@torch.no_grad()
def vit_trace(pixels: torch.Tensor, model) -> ScratchOutput:
    """The forward pass of ``ViTForImageClassification``, by hand, keeping every intermediate.

    ``pixels``: ``(B, 3, H, W)`` preprocessed, on the model's device. ``model`` supplies the weights.
    """
    _check_pixels(pixels, model)
    emb = vit_model(model).embeddings
    conv = emb.patch_embeddings.projection
    patches = patch_embed(pixels, conv.weight, conv.bias)  # (B, N, D)          chapter 2
    x = embed(patches, emb.cls_token, emb.position_embeddings)  # (B, N+1, D)  chapter 3
    hidden, attentions = encoder(x, model)  # layers + 1 x (B, N+1, D)         chapters 4-7
    logits = head(hidden[-1], model)  # (B, num_labels)                        chapters 8-9
    return ScratchOutput(logits, hidden, attentions)


def vit_forward(pixels: torch.Tensor, model, attention: str = "eager", *, grad: bool = False) -> torch.Tensor:
    """Logits ``(B, num_labels)`` for pixel values ``(B, 3, H, W)``, using ``model``'s weights only.

    The same steps as :func:`vit_trace`, but nothing is kept: each layer's activations and
    attention weights are freed while the next layer runs (for ViT-B/16 the trace holds
    ``B * (13 * 197 * 768 + 12 * 12 * 197 * 197)`` float32 numbers, which this does not).
    ``attention="sdpa"`` computes attention with PyTorch's fused kernel (chapter 4's
    ``self_attention_sdpa``): the same logits up to float rounding (chapter 9 checks it), no
    attention weights, lighter on a GPU.
    ``grad=True`` records the computation instead (unless called under ``torch.no_grad()``),
    so that ``loss.backward()`` fills the ``.grad`` of ``model``'s parameters, as it does after
    HuggingFace's forward (chapter 10).
    """
    check_attention(attention)
    _check_pixels(pixels, model)
    with torch.set_grad_enabled(grad and torch.is_grad_enabled()):  # an outer torch.no_grad() still wins
        emb = vit_model(model).embeddings
        conv = emb.patch_embeddings.projection
        x = embed(patch_embed(pixels, conv.weight, conv.bias), emb.cls_token, emb.position_embeddings)  # (B, N+1, D)
        for parts in each_layer(model):
            x, _ = encoder_layer(x, parts, attention)  # (B, N+1, D)
        return head(x, model)  # (B, num_labels)
