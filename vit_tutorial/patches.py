"""Chapter 2: cutting the image into patches and embedding each one.

HuggingFace does it with one ``Conv2d(3, 768, kernel_size=16, stride=16)``; here it is
by hand.
"""
from __future__ import annotations

import torch


def check_image(pixels: torch.Tensor, patch_size: int, channels: int = 3) -> None:
    """Raise a clear ``ValueError`` unless ``pixels`` is ``(B, channels, H, W)`` with H, W divisible by ``patch_size``."""
    if not isinstance(pixels, torch.Tensor):
        raise TypeError(f"pixel values must be a torch.Tensor, got {type(pixels).__name__}")
    if pixels.dim() != 4:
        raise ValueError(f"pixel values must be (batch, channels, height, width); got shape {tuple(pixels.shape)}")
    _, c, h, w = pixels.shape
    if c != channels:
        raise ValueError(f"the image has {c} channels but the model expects {channels} (RGB); got shape {tuple(pixels.shape)}")
    if h % patch_size or w % patch_size:
        raise ValueError(
            f"the image is {h}x{w} pixels, which does not divide into {patch_size}x{patch_size} patches "
            f"({h} % {patch_size} = {h % patch_size}, {w} % {patch_size} = {w % patch_size}); resize it to a "
            f"multiple of {patch_size}, e.g. {max(patch_size, round(h / patch_size) * patch_size)}x"
            f"{max(patch_size, round(w / patch_size) * patch_size)}"
        )


def patchify(pixels: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping patches, row by row.

    ``(B, C, H, W)`` -> ``(B, N, C * P * P)`` with ``N = (H / P) * (W / P)``; each patch is
    flattened channel-first, the same order as a Conv2d weight ``(D, C, P, P)``.
    """
    check_image(pixels, patch_size, channels=pixels.shape[1] if pixels.dim() == 4 else 3)
    b, c, h, w = pixels.shape
    p = patch_size
    x = pixels.reshape(b, c, h // p, p, w // p, p)  # (B, C, rows, P, cols, P)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, rows, cols, C, P, P)
    return x.reshape(b, (h // p) * (w // p), c * p * p)  # (B, N, C*P*P)


def patch_embed(pixels: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Patch embeddings by hand: patchify, then one matrix multiply.

    Args:
        pixels: ``(B, C, H, W)``.
        weight: the Conv2d weight ``(D, C, P, P)``; bias ``(D,)``.
    Returns:
        ``(B, N, D)``, equal to HuggingFace's ``embeddings.patch_embeddings(pixels)``.
    """
    d, c, p, _ = weight.shape
    check_image(pixels, p, channels=c)
    patches = patchify(pixels, p)  # (B, N, C*P*P)
    out = patches @ weight.reshape(d, c * p * p).T  # (B, N, D)
    return out + bias if bias is not None else out
