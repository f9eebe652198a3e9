"""Appendix A1: what the model learned.

Attention rollout (Abnar & Zuidema, 2020) with head fusion, and the mean attention distance
of every head (ViT paper, Figure 7 right). The position-embedding similarity and the
patch-embedding filters are chapter 2-3 helpers, re-exported here so the appendix finds
everything in one place.

    >>> out = model(pixels, output_attentions=True)
    >>> rollout = attention_rollout(out.attentions, head_fusion="mean")    # (B, N+1, N+1)
    >>> heat = cls_attention_map(rollout, grid=(14, 14))                    # (B, 14, 14)
    >>> dist = mean_attention_distance(out.attentions, grid=(14, 14), patch_size=16)  # (layers, heads)

Only pretrained weights make these pictures meaningful; on random weights they show what
the architecture alone produces.
"""
from __future__ import annotations

import torch

from .embeddings import position_similarity  # noqa: F401  (chapter 3, gathered here)
from .patches import filter_components  # noqa: F401  (chapter 2, gathered here)

HEAD_FUSIONS = ("mean", "max", "min")


def _check_attentions(attentions) -> list[torch.Tensor]:
    if isinstance(attentions, torch.Tensor):
        attentions = [attentions] if attentions.dim() == 4 else list(attentions)
    attentions = list(attentions) if attentions is not None else []
    if not attentions:
        raise ValueError(
            "no attention maps given; run the model with output_attentions=True (and eager attention: "
            "load_model() does that) or use vit_trace(pixels, model).attentions"
        )
    first = attentions[0]
    for i, a in enumerate(attentions):
        if not isinstance(a, torch.Tensor):
            raise TypeError(f"attention map {i} is a {type(a).__name__}, not a tensor (SDPA attention returns None: use eager)")
        if a.dim() != 4 or a.shape[-1] != a.shape[-2]:
            raise ValueError(f"attention map {i} must be (batch, heads, tokens, tokens); got shape {tuple(a.shape)}")
        if a.shape != first.shape:
            raise ValueError(f"attention maps differ in shape: layer 0 is {tuple(first.shape)}, layer {i} is {tuple(a.shape)}")
    return attentions


def fuse_heads(attention: torch.Tensor, head_fusion: str = "mean") -> torch.Tensor:
    """Combine the heads of one layer's attention ``(B, heads, N, N)`` into ``(B, N, N)``.

    ``"mean"`` averages them; ``"max"`` / ``"min"`` keep, for each pair of tokens, the strongest /
    weakest head's weight.
    """
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"head_fusion must be one of {', '.join(HEAD_FUSIONS)}; got {head_fusion!r}")
    if attention.dim() != 4:
        raise ValueError(f"attention must be (batch, heads, tokens, tokens); got shape {tuple(attention.shape)}")
    if head_fusion == "mean":
        return attention.mean(dim=1)
    return attention.amax(dim=1) if head_fusion == "max" else attention.amin(dim=1)


def attention_rollout(attentions, head_fusion: str = "mean", start_layer: int = 0) -> torch.Tensor:
    """Attention rollout: how much each token of the last layer draws on each input token.

    Each layer's attention ``A`` (heads fused) is mixed with the identity for the residual
    connection, ``0.5 A + 0.5 I``, its rows renormalised to sum to 1, and the layers' matrices
    multiplied: ``R = A_L ... A_2 A_1`` (Abnar & Zuidema, 2020).

    Args:
        attentions: one ``(B, heads, N, N)`` tensor per layer (e.g. ``output.attentions``).
        head_fusion: ``"mean"``, ``"max"`` or ``"min"`` (see :func:`fuse_heads`).
        start_layer: skip the layers before it.
    Returns:
        ``(B, N, N)``; row ``i`` says where token ``i`` at the top takes its information from.
    """
    attentions = _check_attentions(attentions)
    if not 0 <= start_layer < len(attentions):
        raise ValueError(f"start_layer {start_layer} is out of range: there are {len(attentions)} layers")
    b, _, n, _ = attentions[0].shape
    eye = torch.eye(n, dtype=attentions[0].dtype, device=attentions[0].device)  # (N, N)
    rollout = eye.expand(b, n, n)
    for attention in attentions[start_layer:]:
        a = 0.5 * fuse_heads(attention, head_fusion) + 0.5 * eye  # (B, N, N): attention + residual path
        a = a / a.sum(dim=-1, keepdim=True)  # rows sum to 1 again
        rollout = a @ rollout  # this layer mixes what the layers below already mixed
    return rollout


def grid_of(model_or_config) -> tuple[int, int]:
    """The patch grid ``(rows, cols)`` of a ViT model or config (``(14, 14)`` for ViT-B/16 at 224)."""
    config = getattr(model_or_config, "config", model_or_config)
    size, patch = config.image_size, config.patch_size
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    p = patch if isinstance(patch, int) else patch[0]
    return h // p, w // p


def cls_attention_map(matrix: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """The [CLS] row of a ``(B, N + 1, N + 1)`` token matrix, without [CLS], as a ``(B, rows, cols)`` map."""
    if matrix.dim() != 3:
        raise ValueError(f"expected a (batch, tokens, tokens) matrix; got shape {tuple(matrix.shape)}")
    rows, cols = grid
    if matrix.shape[-1] != rows * cols + 1:
        raise ValueError(
            f"{matrix.shape[-1]} tokens don't make a {rows}x{cols} grid plus [CLS] ({rows * cols + 1} tokens)"
        )
    return matrix[:, 0, 1:].reshape(matrix.shape[0], rows, cols)


def patch_distances(grid: tuple[int, int], patch_size: int = 16, device=None) -> torch.Tensor:
    """Distances in pixels between the centres of every pair of patches: ``(N, N)``, ``N = rows * cols``."""
    rows, cols = grid
    if rows < 1 or cols < 1 or patch_size < 1:
        raise ValueError(f"grid and patch size must be positive; got grid {grid}, patch size {patch_size}")
    r, c = torch.meshgrid(torch.arange(rows, device=device), torch.arange(cols, device=device), indexing="ij")
    centres = torch.stack([r.flatten(), c.flatten()], dim=-1).float() * patch_size  # (N, 2), row by row
    return torch.cdist(centres, centres)  # (N, N)


def mean_attention_distance(attentions, grid: tuple[int, int], patch_size: int = 16) -> torch.Tensor:
    """How far each head looks, in pixels: ``(layers, heads)``.

    For each query patch, the distance to every other patch weighted by the attention it
    pays it, averaged over query patches and images (ViT paper, Figure 7 right). The [CLS]
    token is left out as query and as key; the remaining weights of each query are
    renormalised to sum to 1, so the result is a true weighted average.
    """
    attentions = _check_attentions(attentions)
    rows, cols = grid
    n = attentions[0].shape[-1]
    if n != rows * cols + 1:
        raise ValueError(f"{n} tokens don't make a {rows}x{cols} grid plus [CLS] ({rows * cols + 1} tokens)")
    dist = patch_distances(grid, patch_size, device=attentions[0].device)  # (N, N)
    out = []
    for attention in attentions:
        a = attention[:, :, 1:, 1:].float()  # (B, heads, N, N): patches only
        a = a / a.sum(dim=-1, keepdim=True).clamp_min(1e-12)
        per_query = (a * dist).sum(dim=-1)  # (B, heads, N): expected distance of each query
        out.append(per_query.mean(dim=(0, 2)))  # (heads,)
    return torch.stack(out)  # (layers, heads)
