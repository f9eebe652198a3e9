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


def embeddings_by_hand(pixels: torch.Tensor, model, interpolate_pos_encoding: bool = False) -> torch.Tensor:
    """The whole embedding step from ``model``'s weights: patches, [CLS], positions (dropout = identity in eval).

    ``(B, C, H, W)`` -> ``(B, N + 1, D)``, equal to ``model.vit.embeddings(pixels)`` in eval mode
    (and to ``...(pixels, interpolate_pos_encoding=True)`` when asked, for other image sizes).
    """
    from .bridge import vit_model
    from .patches import patch_embed

    emb = vit_model(model).embeddings
    conv = emb.patch_embeddings.projection
    patches = patch_embed(pixels, conv.weight, conv.bias)  # (B, N, D)
    positions = emb.position_embeddings  # (1, N0+1, D)
    if interpolate_pos_encoding:
        positions = interpolate_position_embeddings(positions, pixels.shape[-2], pixels.shape[-1], conv.weight.shape[-1])
    return embed(patches, emb.cls_token, positions)  # (B, N+1, D)


def interpolate_position_embeddings(position_embeddings: torch.Tensor, height: int, width: int, patch_size: int) -> torch.Tensor:
    """Position embeddings for another image size: resize the grid of patch positions, bicubically.

    ``(1, 1 + n*n, D)`` learned for an ``n x n`` grid -> ``(1, 1 + (H/P) * (W/P), D)``. The
    [CLS] position is kept as it is; the ``n x n`` patch positions are treated as a D-channel
    image and resized to ``(H/P) x (W/P)`` (bicubic, ``align_corners=False``), exactly what
    HuggingFace does with ``interpolate_pos_encoding=True``.
    """
    if position_embeddings.dim() != 3 or position_embeddings.shape[0] != 1:
        raise ValueError(f"position embeddings must be (1, 1 + patches, dim); got shape {tuple(position_embeddings.shape)}")
    if height % patch_size or width % patch_size:
        raise ValueError(
            f"a {height}x{width} image does not divide into {patch_size}x{patch_size} patches "
            f"({height} % {patch_size} = {height % patch_size}, {width} % {patch_size} = {width % patch_size})"
        )
    _, n1, d = position_embeddings.shape
    n = round((n1 - 1) ** 0.5)
    if n * n != n1 - 1:
        raise ValueError(f"{n1 - 1} patch positions are not a square grid; can't interpolate them")
    rows, cols = height // patch_size, width // patch_size
    if (rows, cols) == (n, n):
        return position_embeddings  # the size the model was trained at: nothing to do
    cls_pos = position_embeddings[:, :1]  # (1, 1, D)
    grid = position_embeddings[:, 1:].reshape(1, n, n, d).permute(0, 3, 1, 2)  # (1, D, n, n): an image with D channels
    grid = torch.nn.functional.interpolate(grid, size=(rows, cols), mode="bicubic", align_corners=False)  # (1, D, rows, cols)
    patch_pos = grid.permute(0, 2, 3, 1).reshape(1, rows * cols, d)  # (1, rows*cols, D), row by row
    return torch.cat([cls_pos, patch_pos], dim=1)  # (1, 1 + rows*cols, D)


def dropout_with_mask(x: torch.Tensor, keep: torch.Tensor, p: float) -> torch.Tensor:
    """Dropout by hand, given which entries survive: zero the dropped ones, scale the rest by ``1 / (1 - p)``.

    ``keep`` is a boolean tensor shaped like ``x``. The scaling keeps every entry's expected
    value unchanged, so at evaluation time dropout can simply be switched off (the identity).
    """
    if not 0 <= p < 1:
        raise ValueError(f"the dropout probability must be in [0, 1); got {p}")
    if keep.shape != x.shape:
        raise ValueError(f"the mask {tuple(keep.shape)} must have the shape of the input {tuple(x.shape)}")
    return x * keep / (1 - p)


def dropout(x: torch.Tensor, p: float, training: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dropout by hand: in training each entry is zeroed with probability ``p`` and the rest scaled by ``1/(1-p)``; in evaluation, the identity."""
    if not training or p == 0:
        return x
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p  # True with probability 1 - p
    return dropout_with_mask(x, keep, p)


def position_similarity(position_embeddings: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every patch's position embedding with every other one (ViT paper, Fig. 7 centre).

    ``(1, 1 + N, D)`` (the [CLS] position first, which is left out) -> ``(N, N)``; entry
    ``(i, j)`` is ``cos(pos_i, pos_j)``. Reshape a row to ``(rows, cols)`` to see it as a map.
    """
    if position_embeddings.dim() != 3:
        raise ValueError(f"position embeddings must be (1, 1 + patches, dim); got shape {tuple(position_embeddings.shape)}")
    pos = position_embeddings[0, 1:]  # (N, D): patches only
    unit = pos / pos.norm(dim=-1, keepdim=True).clamp_min(1e-12)  # (N, D), length 1
    return unit @ unit.T  # (N, N)
