"""Explorers: small interactive figures that run live in Jupyter and in the static book.

Each function below computes its data in Python (with the weights you loaded) and returns
an :class:`~vit_tutorial.explorers._base.Explorer`; display it (make it the last line of a
cell). In JupyterLab, Notebook 7, VS Code and Colab it runs through ``anywidget``; the
rendered book shows the same ES module with the same data, without a kernel or network
(see :mod:`vit_tutorial.explorers._base` and ``book/_ext/explorers_host.py``).

    >>> from vit_tutorial import explorers
    >>> explorers.activations()                                  # doctest: +SKIP
"""
from __future__ import annotations

import numpy as np

from ._base import NAMES, Explorer, floats, image_uri, make, module_source, pack, static_html, unpack

__all__ = ["NAMES", "Explorer", "make", "pack", "unpack", "module_source", "static_html", "image_uri",
           "activations"]


def _stamp(source) -> str | None:
    if source is None:
        return None
    return getattr(source, "stamp", None) or str(source)


def activations(pre_activations=None, *, bins: int = 80, source=None) -> Explorer:
    """Exact GELU, tanh GELU and ReLU over a range you pick (centre and zoom, or the mouse wheel),
    with their difference underneath. ``pre_activations`` (optional, any shape): values that
    really enter an activation, e.g. a layer's ``fc1`` outputs; drawn as a grey histogram."""
    data: dict = {"stamp": _stamp(source)}
    if pre_activations is not None:
        v = np.asarray(pre_activations.detach().cpu().float() if hasattr(pre_activations, "detach") else pre_activations,
                       dtype=np.float64).ravel()
        if v.size == 0 or not np.isfinite(v).all():
            raise ValueError("pre_activations must be a non-empty array of finite values")
        lo, hi = float(v.min()), float(v.max())
        if hi <= lo:
            hi = lo + 1.0
        counts, _ = np.histogram(v, bins=bins, range=(lo, hi))
        data["hist"] = pack(counts.astype(np.float64), rowwise=False)
        data["hist_range"] = [lo, hi]
    return make("activations", data)


def _grid(n: int, grid=None) -> tuple[int, int]:
    from ..viz import grid_shape

    return tuple(int(g) for g in grid_shape(n, grid))


def attention(photo, maps, *, grid=None, query: int = 1, query_stride: int = 2, source=None) -> Explorer:
    """Where a query looks: pick the layer, the head and the query ([CLS] or a patch; click the photo).

    ``photo``: the ``(H, W, 3)`` picture in [0, 1] (``images.to_display``); ``maps``: one image's
    attention weights ``(layers, heads, N + 1, N + 1)`` (token 0 is [CLS]). To keep the page
    small, patch queries are those on every ``query_stride``-th row and column (49 of 196 for
    ViT-B/16 with the default 2; ``query_stride=1`` keeps them all); the weights are sent with
    4 bits per value, scaled per map.
    """
    m = np.asarray(maps.detach().cpu().float() if hasattr(maps, "detach") else maps, dtype=np.float64)
    if m.ndim != 4 or m.shape[-1] != m.shape[-2]:
        raise ValueError(f"maps must be (layers, heads, tokens, tokens) for one image, got shape {m.shape}")
    if query_stride < 1:
        raise ValueError(f"query_stride must be at least 1, got {query_stride}")
    layers, heads, n, _ = m.shape
    rows, cols = _grid(n - 1, grid)
    if not 0 <= query < n:
        raise ValueError(f"query token {query} is outside 0..{n - 1}")
    queries = [0] + [1 + r * cols + c for r in range(0, rows, query_stride) for c in range(0, cols, query_stride)]
    if query not in queries:
        queries = sorted(set(queries) | {query})
    picked = m[:, :, queries]  # (L, H, Q, N)
    note = None
    if query_stride > 1:
        note = f"patch queries on every {query_stride}nd row and column ({len(queries) - 1} of {n - 1})"
    data = {
        "photo": image_uri(photo), "grid": [rows, cols], "layers": layers, "heads": heads,
        "queries": queries, "query": query, "query_note": note,
        "maps": pack(picked[..., 1:], bits=4), "cls": pack(picked[..., 0], rowwise=False),
        "stamp": _stamp(source),
    }
    return make("attention", data)


def positions(position_embeddings, *, grid=None, index: int = 17, sizes=(7, 10, 14, 20, 24), source=None) -> Explorer:
    """Which positions are alike: click a position (or use the slider) to see the cosine
    similarity of its position embedding with every other's, and preview the same map after
    resizing the embeddings to another grid (bicubic, as ``interpolate_pos_encoding`` does).

    ``position_embeddings``: ``(N, D)``, ``(N + 1, D)`` or ``(1, N + 1, D)`` (with [CLS]'s first,
    which is dropped). The embeddings go to the page with 8 bits per value; the browser computes
    the similarities and the interpolation.
    """
    p = np.asarray(position_embeddings.detach().cpu().float() if hasattr(position_embeddings, "detach")
                   else position_embeddings, dtype=np.float64)
    if p.ndim == 3:
        if p.shape[0] != 1:
            raise ValueError(f"position_embeddings must be (1, N, D) for one model, got shape {p.shape}")
        p = p[0]
    if p.ndim != 2:
        raise ValueError(f"position_embeddings must be (N, D), (N + 1, D) or (1, N + 1, D), got shape {p.shape}")
    n = p.shape[0]
    if int(round(np.sqrt(n - 1))) ** 2 == n - 1 and int(round(np.sqrt(n))) ** 2 != n:
        p, n = p[1:], n - 1  # drop [CLS]'s
    rows, cols = _grid(n, grid)
    if not 0 <= index < n:
        raise ValueError(f"index {index} is outside 0..{n - 1}")
    return make("positions", {"grid": [rows, cols], "index": index, "sizes": [int(s) for s in sizes],
                              "embeddings": pack(p), "stamp": _stamp(source)})
