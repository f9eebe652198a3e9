"""Drawing per-patch values over the photo.

A ViT turns a picture into a grid of patches (14 x 14 for ViT-B/16 at 224 px). Many things in
the book are one number per patch -- how much a query attends to each patch, a norm, a
rollout score -- and the natural picture of them is that grid laid over the image.

    >>> fig, ax = plt.subplots()
    >>> overlay_patch_map(ax, vt.images.to_display(pixels), weights[0, head, query, 1:])
    >>> mark_patch(ax, query - 1, grid=14, image_shape=(224, 224))
"""
from __future__ import annotations

import math

import numpy as np


def _as_numpy(values) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor, on any device
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=float)


def grid_shape(num_patches: int, grid=None) -> tuple[int, int]:
    """``(rows, cols)`` of the patch grid for ``num_patches`` patches.

    ``grid`` may be ``None`` (the grid is square: ``num_patches`` must be a perfect square),
    an int (a square side) or a ``(rows, cols)`` pair.
    """
    if grid is None:
        side = math.isqrt(int(num_patches))
        if side * side != num_patches:
            raise ValueError(
                f"{num_patches} values do not form a square grid of patches; pass grid=(rows, cols) "
                "(did you forget to drop the [CLS] token, e.g. values[1:]?)"
            )
        return side, side
    rows, cols = (grid, grid) if isinstance(grid, int) else tuple(int(g) for g in grid)
    if rows * cols != num_patches:
        raise ValueError(f"a {rows} x {cols} grid holds {rows * cols} patches, but {num_patches} values were given")
    return rows, cols


def patch_grid(values, grid=None) -> np.ndarray:
    """Per-patch values ``(N_patches,)`` (tensor or array) -> a ``(rows, cols)`` array, row-major
    like the patch sequence (patch ``i`` sits at row ``i // cols``, column ``i % cols``)."""
    v = _as_numpy(values)
    if v.ndim != 1:
        raise ValueError(f"expected one value per patch, shape (N_patches,), got shape {tuple(v.shape)}")
    return v.reshape(grid_shape(v.shape[0], grid))


def _image_hw(image_display) -> tuple[int, int]:
    shape = np.shape(image_display)
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 3, 4)):
        raise ValueError(f"expected an image of shape (H, W, 3) (see images.to_display), got {tuple(shape)}")
    return int(shape[0]), int(shape[1])


def overlay_patch_map(
    ax,
    image_display,
    values,
    *,
    grid=None,
    alpha: float = 0.6,
    cmap: str = "inferno",
    vmin=None,
    vmax=None,
    title: str | None = None,
    colorbar: bool = False,
    smooth: bool = False,
):
    """Draw per-patch ``values`` over an image on the matplotlib Axes ``ax``.

    ``image_display``: ``(H, W, 3)`` array in [0, 1] (e.g. :func:`vit_tutorial.images.to_display`);
    ``values``: ``(N_patches,)`` tensor or array, in the order of the patch sequence (no [CLS]);
    ``grid``: ``None`` for a square grid, an int side, or ``(rows, cols)``. Each value covers its
    patch exactly (``smooth=True`` blurs the blocks bilinearly instead). ``alpha`` is the opacity
    of the map. Returns the ``AxesImage`` of the map (for ``plt.colorbar``).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    grid_values = patch_grid(values, grid)
    h, w = _image_hw(image_display)
    ax.imshow(image_display, extent=(0, w, h, 0))
    mapped = ax.imshow(
        grid_values,
        extent=(0, w, h, 0),  # stretch the grid over the whole image
        cmap=cmap,
        alpha=alpha,
        vmin=vmin,
        vmax=vmax,
        interpolation="bilinear" if smooth else "nearest",
    )
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=9)
    if colorbar:
        ax.figure.colorbar(mapped, ax=ax, fraction=0.046, pad=0.04)
    return mapped


def patch_box(index: int, grid, image_shape) -> tuple[float, float, float, float]:
    """``(x, y, width, height)`` in pixels of patch ``index`` (0-based, no [CLS])."""
    rows, cols = (grid, grid) if isinstance(grid, int) else grid
    if not 0 <= index < rows * cols:
        raise ValueError(f"patch index {index} is outside the {rows} x {cols} grid (0..{rows * cols - 1})")
    h, w = image_shape[:2]
    ph, pw = h / rows, w / cols
    return (index % cols) * pw, (index // cols) * ph, pw, ph


def mark_patch(ax, index: int, *, grid=14, image_shape=(224, 224), color: str = "cyan", linewidth: float = 2.0):
    """Outline patch ``index`` (0-based, no [CLS]) on ``ax``; returns the Rectangle."""
    from matplotlib.patches import Rectangle

    x, y, pw, ph = patch_box(index, grid, image_shape)
    return ax.add_patch(Rectangle((x, y), pw, ph, fill=False, edgecolor=color, linewidth=linewidth))


def patch_at(x: float, y: float, *, grid=14, image_shape=(224, 224)) -> int:
    """The patch index (0-based, no [CLS]) under pixel ``(x, y)``, e.g. from a mouse click."""
    rows, cols = (grid, grid) if isinstance(grid, int) else grid
    h, w = image_shape[:2]
    if not (0 <= x < w and 0 <= y < h):
        raise ValueError(f"({x}, {y}) is outside the {w} x {h} image")
    return int(y // (h / rows)) * cols + int(x // (w / cols))
