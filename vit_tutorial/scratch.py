"""Chapter 9: the whole ViT from scratch, built only from the book's helpers."""
from __future__ import annotations

import torch

from .bridge import vit_model
from .embeddings import embed
from .encoder import encoder
from .layernorm import layer_norm


@torch.no_grad()
def vit_forward(pixels: torch.Tensor, model) -> torch.Tensor:
    """Logits ``(B, num_labels)`` for pixel values ``(B, 3, H, W)``, using ``model``'s weights only."""
    from .patches import patch_embed

    vit = vit_model(model)
    emb = vit.embeddings
    conv = emb.patch_embeddings.projection
    x = embed(patch_embed(pixels, conv.weight, conv.bias), emb.cls_token, emb.position_embeddings)  # (B, N+1, D)
    hidden, _ = encoder(x, model)
    final = layer_norm(hidden[-1], vit.layernorm.weight, vit.layernorm.bias, vit.layernorm.eps)  # (B, N+1, D)
    cls = final[:, 0]  # (B, D): the [CLS] token is the image's summary
    return cls @ model.classifier.weight.T + model.classifier.bias  # (B, num_labels)
