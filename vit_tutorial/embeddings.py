"""Chapter 3: the [CLS] token, the position embeddings, dropout."""
from __future__ import annotations

import torch


def prepend_cls(patch_embeddings: torch.Tensor, cls_token: torch.Tensor) -> torch.Tensor:
    """``(B, N, D)`` and a learned ``(1, 1, D)`` token -> ``(B, N + 1, D)`` with [CLS] first."""
    b = patch_embeddings.shape[0]
    cls = cls_token.expand(b, -1, -1)  # (B, 1, D): the same token for every image
    return torch.cat([cls, patch_embeddings], dim=1)  # (B, N+1, D)


def embed(patch_embeddings: torch.Tensor, cls_token: torch.Tensor, position_embeddings: torch.Tensor) -> torch.Tensor:
    """[CLS] prepended, then positions added: ``(B, N, D)`` -> ``(B, N + 1, D)``.

    Dropout comes after this in HuggingFace; in evaluation (and with p = 0.0, as in this
    checkpoint) it is the identity.
    """
    tokens = prepend_cls(patch_embeddings, cls_token)  # (B, N+1, D)
    if position_embeddings.shape[-2:] != tokens.shape[-2:]:
        raise ValueError(
            f"position embeddings {tuple(position_embeddings.shape)} don't match the tokens "
            f"{tuple(tokens.shape)}; for another image size interpolate them first"
        )
    return tokens + position_embeddings  # (B, N+1, D)
