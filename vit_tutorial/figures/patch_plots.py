"""Figures for chapters 2 and 3: patches, embedding filters, position similarity.

Every function draws with matplotlib and returns the figure; nothing here computes
model outputs (the chapters do, with :mod:`vit_tutorial.patches` and
:mod:`vit_tutorial.embeddings`).
"""
from __future__ import annotations

import numpy as np
import torch

PATCH_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974")


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _number_grid(ax, values: np.ndarray, title: str, block: int | None = None, fmt: str = "{:g}") -> None:
    """Draw a small matrix as a table of numbers; with ``block``, colour its ``block x block`` tiles."""
    rows, cols = values.shape
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    for r in range(rows):
        for c in range(cols):
            colour = "white"
            if block:
                tile = (r // block) * (cols // block) + c // block
                colour = PATCH_COLOURS[tile % len(PATCH_COLOURS)]
            ax.add_patch(_plt().Rectangle((c, r), 1, 1, facecolor=colour, alpha=0.35 if block else 1, edgecolor="black"))
            ax.text(c + 0.5, r + 0.5, fmt.format(values[r, c]), ha="center", va="center", fontsize=10)
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal")
    ax.axis("off")


def toy_figure(image: torch.Tensor, kernel: torch.Tensor, output: torch.Tensor):
    """The 4x4 toy: the image with its 2x2 patches coloured, the kernel, and the 2x2 Conv2d output."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(8, 2.8), gridspec_kw={"width_ratios": [4, 2, 2]})
    block = kernel.shape[-1]
    _number_grid(axes[0], image.detach().cpu().numpy(), f"4x4 image, cut into {block}x{block} patches", block=block)
    _number_grid(axes[1], kernel.detach().cpu().numpy(), f"{block}x{block} kernel (one filter)")
    _number_grid(axes[2], output.detach().cpu().numpy(), "output (stride = kernel)", block=1)
    fig.tight_layout()
    return fig


def draw_patch_grid(ax, picture: np.ndarray, patch_size: int, highlight: int | None = None, label_every: int = 0) -> None:
    """The picture ``(H, W, 3)`` with the patch grid drawn over it; optionally one patch outlined in red."""
    h, w = picture.shape[:2]
    ax.imshow(picture)
    for y in range(0, h + 1, patch_size):
        ax.axhline(y - 0.5, color="white", lw=0.5)
    for x in range(0, w + 1, patch_size):
        ax.axvline(x - 0.5, color="white", lw=0.5)
    cols = w // patch_size
    if label_every:
        for i in range(0, (h // patch_size) * cols, label_every):
            r, c = divmod(i, cols)
            ax.text(c * patch_size + 1, r * patch_size + patch_size / 2, str(i), color="yellow", fontsize=7, va="center")
    if highlight is not None:
        r, c = divmod(highlight, cols)
        ax.add_patch(_plt().Rectangle((c * patch_size - 0.5, r * patch_size - 0.5), patch_size, patch_size, fill=False, edgecolor="red", lw=2))
    ax.set_xticks([])
    ax.set_yticks([])


def patch_figure(picture: np.ndarray, patch_size: int, index: int, vector: torch.Tensor, caption: str = ""):
    """One patch: where it sits in the grid, the patch enlarged, and its embedding vector."""
    plt = _plt()
    cols = picture.shape[1] // patch_size
    r, c = divmod(index, cols)
    fig, axes = plt.subplots(1, 3, figsize=(8, 2.8), gridspec_kw={"width_ratios": [1, 1, 2.2]})
    draw_patch_grid(axes[0], picture, patch_size, highlight=index)
    axes[0].set_title(f"patch {index} = row {r}, column {c}", fontsize=9)
    axes[1].imshow(picture[r * patch_size:(r + 1) * patch_size, c * patch_size:(c + 1) * patch_size], interpolation="nearest")
    axes[1].set_title(f"the {patch_size}x{patch_size} patch", fontsize=9)
    axes[1].axis("off")
    v = vector.detach().float().cpu().numpy()
    axes[2].plot(v, lw=0.6, color="#4C72B0")
    axes[2].set_xlim(0, len(v))
    axes[2].set_xlabel("embedding dimension")
    axes[2].set_title(f"its embedding: {len(v)} numbers", fontsize=9)
    if caption:
        fig.suptitle(caption, fontsize=9, y=0.02, va="bottom")
    fig.tight_layout(rect=(0, 0.07 if caption else 0, 1, 1))
    return fig


def filters_figure(tiles: torch.Tensor, explained: torch.Tensor, stamp: str = "", columns: int = 7):
    """Principal components of the embedding filters as RGB tiles (``(k, P, P, 3)`` in [0, 1])."""
    plt = _plt()
    k = tiles.shape[0]
    rows = -(-k // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.95, rows * 1.05 + 0.5))
    for i, ax in enumerate(np.atleast_1d(axes).flat):
        ax.axis("off")
        if i < k:
            ax.imshow(tiles[i].numpy(), interpolation="nearest")
            ax.set_title(f"{i + 1}: {100 * explained[i].item():.1f}%", fontsize=7)
    fig.suptitle(f"First {k} principal components of the patch-embedding filters\n{stamp}", fontsize=9)
    fig.tight_layout()
    return fig


def similarity_mosaic(similarity: torch.Tensor, grid: tuple[int, int], gap: float = np.nan) -> np.ndarray:
    """All rows of an ``(N, N)`` similarity matrix as one image: a ``rows x cols`` mosaic of ``rows x cols`` maps."""
    rows, cols = grid
    maps = similarity.detach().float().cpu().reshape(rows, cols, rows, cols).numpy()  # (r, c, r', c')
    out = np.full((rows * (rows + 1), cols * (cols + 1)), gap)
    for r in range(rows):
        for c in range(cols):
            out[r * (rows + 1):r * (rows + 1) + rows, c * (cols + 1):c * (cols + 1) + cols] = maps[r, c]
    return out


def similarity_figure(similarity: torch.Tensor, grid: tuple[int, int], index: int, stamp: str = "", mosaic: bool = True):
    """Cosine similarity of patch ``index``'s position embedding with all others; with the full mosaic (Fig. 7 centre)."""
    plt = _plt()
    rows, cols = grid
    r, c = divmod(index, cols)
    fig, axes = plt.subplots(1, 2 if mosaic else 1, figsize=(8, 3.6) if mosaic else (4, 3.6), squeeze=False)
    ax = axes[0, 0]
    im = ax.imshow(similarity[index].detach().float().cpu().reshape(rows, cols).numpy(), cmap="viridis", vmin=-1, vmax=1)
    ax.plot(c, r, marker="s", mfc="none", mec="red", ms=8)
    ax.set_title(f"patch {index} (row {r}, column {c}) vs every patch", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="cosine similarity")
    if mosaic:
        axes[0, 1].imshow(similarity_mosaic(similarity, grid), cmap="viridis", vmin=-1, vmax=1)
        axes[0, 1].set_title("every patch: one small map per position", fontsize=9)
        axes[0, 1].axis("off")
    if stamp:
        fig.suptitle(stamp, fontsize=8, y=0.02, va="bottom")
    fig.tight_layout(rect=(0, 0.05 if stamp else 0, 1, 1))
    return fig
