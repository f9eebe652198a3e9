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


def _channels(pixels) -> int:
    """The channel count of a well-formed batch (any count is fine for patchify), else 3 for the message."""
    return pixels.shape[1] if isinstance(pixels, torch.Tensor) and pixels.dim() == 4 else 3


def patchify(pixels: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping patches, row by row.

    ``(B, C, H, W)`` -> ``(B, N, C * P * P)`` with ``N = (H / P) * (W / P)``; each patch is
    flattened channel-first, the same order as a Conv2d weight ``(D, C, P, P)``.
    """
    check_image(pixels, patch_size, channels=_channels(pixels))
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


def patch_grid(pixels: torch.Tensor, patch_size: int) -> tuple[int, int]:
    """How many patches fit down and across: ``(H / P, W / P)``, e.g. ``(14, 14)`` for 224 / 16."""
    check_image(pixels, patch_size, channels=_channels(pixels))
    return pixels.shape[-2] // patch_size, pixels.shape[-1] // patch_size


def patch_at(pixels: torch.Tensor, patch_size: int, index: int, image: int = 0) -> torch.Tensor:
    """Patch number ``index`` (counted row by row from the top left) of image ``image``: ``(C, P, P)``."""
    rows, cols = patch_grid(pixels, patch_size)
    if not 0 <= index < rows * cols:
        raise IndexError(f"patch index {index} is out of range: a {rows}x{cols} grid has patches 0..{rows * cols - 1}")
    r, c = divmod(index, cols)
    p = patch_size
    return pixels[image, :, r * p:(r + 1) * p, c * p:(c + 1) * p]  # (C, P, P)


def unpatchify(patches: torch.Tensor, patch_size: int, grid: tuple[int, int], channels: int = 3) -> torch.Tensor:
    """The inverse of :func:`patchify`: ``(B, N, C * P * P)`` -> ``(B, C, rows * P, cols * P)``."""
    b, n, k = patches.shape
    rows, cols = grid
    p = patch_size
    if n != rows * cols or k != channels * p * p:
        raise ValueError(
            f"{tuple(patches.shape)} is not (batch, {rows}*{cols} patches, {channels}*{p}*{p} values) "
            f"for a {rows}x{cols} grid of {p}x{p} patches with {channels} channels"
        )
    x = patches.reshape(b, rows, cols, channels, p, p).permute(0, 3, 1, 4, 2, 5)  # (B, C, rows, P, cols, P)
    return x.reshape(b, channels, rows * p, cols * p)


def embed_one_patch(patch: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """One patch's embedding, the article's way: each filter times the patch, element by element, summed.

    ``patch`` ``(C, P, P)``, Conv2d ``weight`` ``(D, C, P, P)``, ``bias`` ``(D,)`` -> ``(D,)``.
    Entry ``d`` is ``sum(patch * weight[d]) + bias[d]``: what the convolution computes where
    the filter sits on this patch.
    """
    if patch.shape != weight.shape[1:]:
        raise ValueError(f"a patch of shape {tuple(patch.shape)} does not fit filters of shape {tuple(weight.shape[1:])} (C, P, P)")
    out = (weight * patch).sum(dim=(1, 2, 3))  # (D, C, P, P) * (C, P, P) -> sum -> (D,)
    return out + bias if bias is not None else out


def patch_embed_loop(pixels: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Patch embeddings the slow, explicit way: a loop over the patches, :func:`embed_one_patch` each.

    ``(B, C, H, W)`` -> ``(B, N, D)``, equal to :func:`patch_embed` and to HuggingFace.
    """
    d, c, p, _ = weight.shape
    check_image(pixels, p, channels=c)
    rows, cols = patch_grid(pixels, p)
    out = pixels.new_empty(pixels.shape[0], rows * cols, d)
    for b in range(pixels.shape[0]):
        for i in range(rows * cols):
            out[b, i] = embed_one_patch(patch_at(pixels, p, i, image=b), weight, bias)
    return out


def conv_to_sequence(feature_map: torch.Tensor) -> torch.Tensor:
    """The Conv2d output ``(B, D, rows, cols)`` -> flatten -> ``(B, D, N)`` -> transpose -> ``(B, N, D)``."""
    if feature_map.dim() != 4:
        raise ValueError(f"expected a Conv2d output (batch, dim, rows, cols); got shape {tuple(feature_map.shape)}")
    return feature_map.flatten(2).transpose(1, 2)  # (B, N, D)


def filter_components(weight: torch.Tensor, k: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``k`` principal components of the embedding filters, as RGB tiles (ViT paper, Fig. 7 left).

    Each of the D filters ``(C, P, P)`` is a point in ``C*P*P`` dimensions; PCA finds the
    directions in which they vary most. Returns ``(tiles, explained)``: tiles ``(k, P, P, C)``
    each rescaled to [0, 1] for ``imshow``, and the fraction of variance each explains ``(k,)``.
    """
    d, c, p, _ = weight.shape
    k = min(k, d, c * p * p)
    flat = weight.detach().float().cpu().reshape(d, c * p * p)
    flat = (flat - flat.mean(dim=0, keepdim=True)).double()  # (D, C*P*P), centred
    # eigenvectors of the (C*P*P, C*P*P) scatter matrix = right singular vectors of flat;
    # eigh is ~10x faster than a full SVD here. eigh sorts ascending: flip to largest first.
    variances, vectors = torch.linalg.eigh(flat.T @ flat)
    variances, vectors = variances.flip(0).clamp_min(0), vectors.flip(1)
    comps = vectors[:, :k].T.float().reshape(k, c, p, p).permute(0, 2, 3, 1)  # (k, P, P, C)
    lo = comps.amin(dim=(1, 2, 3), keepdim=True)
    hi = comps.amax(dim=(1, 2, 3), keepdim=True)
    tiles = (comps - lo) / (hi - lo).clamp_min(1e-12)
    explained = (variances / variances.sum()).float()
    return tiles, explained[:k]
