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


# --- attention pictures (chapter 4) -------------------------------------------------------------


def _square(weights, what: str) -> np.ndarray:
    w = _as_numpy(weights)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"{what} must be one head's (tokens, tokens) attention matrix, got shape {tuple(w.shape)}")
    return w


def token_name(token: int, grid=14) -> str:
    """``"[CLS]"`` for token 0, else ``"patch p (row r, col c)"`` (``p`` counted from 0, without [CLS])."""
    if token == 0:
        return "[CLS]"
    cols = grid if isinstance(grid, int) else grid[1]
    p = token - 1
    return f"patch {p} (row {p // cols}, col {p % cols})"


def plot_attention_matrix(ax, weights, *, title: str | None = None, cmap: str = "viridis", tokens: int | None = None, colorbar: bool = True):
    """One head's ``(N, N)`` attention matrix (rows: queries, columns: keys) on ``ax``.

    ``tokens`` shows only the first ``tokens`` rows and columns (a zoom on the top-left corner).
    Returns the ``AxesImage``.
    """
    w = _square(weights, "weights")
    if tokens is not None:
        w = w[:tokens, :tokens]
    mapped = ax.imshow(w, cmap=cmap, interpolation="nearest")
    ax.set_xlabel("key token (0 = [CLS])", fontsize=8)
    ax.set_ylabel("query token", fontsize=8)
    ax.tick_params(labelsize=8)
    if title is not None:
        ax.set_title(title, fontsize=9)
    if colorbar:
        ax.figure.colorbar(mapped, ax=ax, fraction=0.046, pad=0.04)
    return mapped


def plot_query_attention(ax, image_display, weights, query: int, *, grid=None, title: str | None = None, **overlay):
    """Where token ``query`` looks: its row of one head's ``(N, N)`` weights, drawn over the image.

    The [CLS] column is left out of the map (it has no place in the picture); its share is
    written in the title. A patch query is outlined. Extra keywords go to :func:`overlay_patch_map`.
    """
    w = _square(weights, "weights")
    if not 0 <= query < w.shape[0]:
        raise ValueError(f"query token {query} is outside 0..{w.shape[0] - 1}")
    row = w[query]
    rows_cols = grid_shape(row.shape[0] - 1, grid)
    mapped = overlay_patch_map(ax, image_display, row[1:], grid=rows_cols, **overlay)
    if query > 0:
        mark_patch(ax, query - 1, grid=rows_cols, image_shape=_image_hw(image_display))
    if title is None:
        title = f"query {token_name(query, rows_cols)}: [CLS] gets {row[0]:.3f}"
    ax.set_title(title, fontsize=9)
    return mapped


STAMP_FONTSIZE = 9  # points: legible once the figure is scaled to the page (6 pt came out about 5 px high)


def stamp_figure(fig, stamp: str):
    """Write ``stamp`` (which weights drew this) at the bottom right of ``fig``.

    It is the figure's x super-label, so a later ``tight_layout`` leaves room for it instead
    of drawing axis labels over it. Returns the Text.
    """
    return fig.supxlabel(stamp, x=0.99, ha="right", fontsize=STAMP_FONTSIZE, color="dimgray")


def plot_head_grid(image_display, layer_weights, query: int, *, ncols: int = 4, size: float = 1.6, suptitle: str | None = None, stamp: str | None = None):
    """Every head of one layer side by side: ``layer_weights`` ``(heads, N, N)`` -> a Figure
    with one :func:`plot_query_attention` panel per head (each with its own colour scale).

    Four columns of 1.6 in keep it inside the book's column, so its 7 pt titles are shown 9.7 px high."""
    import matplotlib.pyplot as plt

    lw = _as_numpy(layer_weights)
    if lw.ndim != 3:
        raise ValueError(f"layer_weights must be (heads, tokens, tokens), got shape {tuple(lw.shape)}")
    heads = lw.shape[0]
    nrows = math.ceil(heads / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size + 0.6), squeeze=False)
    for h, ax in enumerate(axes.flat):
        if h >= heads:
            ax.axis("off")
            continue
        plot_query_attention(ax, image_display, lw[h], query, title=f"head {h}  [CLS] {lw[h, query, 0]:.3f}")
        ax.title.set_fontsize(7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    if stamp:
        stamp_figure(fig, stamp)
    fig.tight_layout()
    return fig


def plot_attention_view(image_display, weights, query: int, *, layer=None, head=None, grid=None, stamp: str | None = None, figsize=(8, 3.4)):
    """Two panels for one head: where token ``query`` looks, over the image (left), and the head's
    whole ``(N, N)`` matrix with the query's row marked (right). Returns the Figure.

    This is the view :func:`attention_explorer` redraws; call it directly for a static figure.
    """
    import matplotlib.pyplot as plt

    w = _square(weights, "weights")
    fig, (left, right) = plt.subplots(1, 2, figsize=figsize)
    plot_query_attention(left, image_display, w, query, grid=grid, colorbar=True)
    name = ", ".join(f"{k} {v}" for k, v in (("layer", layer), ("head", head)) if v is not None)
    plot_attention_matrix(right, w, title=f"attention matrix{': ' + name if name else ''}")
    right.axhline(query, color="cyan", linewidth=0.8)
    if stamp:
        stamp_figure(fig, stamp)
    fig.tight_layout()
    return fig
