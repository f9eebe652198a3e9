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
    from ..figures.plots import grid_shape

    return tuple(int(g) for g in grid_shape(n, grid))


def attention(photo, maps, *, grid=None, query: int = 1, query_stride: int = 3, source=None) -> Explorer:
    """Where a query looks: pick the layer, the head and the query ([CLS] or a patch; click the photo).

    ``photo``: the ``(H, W, 3)`` picture in [0, 1] (``images.to_display``); ``maps``: one image's
    attention weights ``(layers, heads, N + 1, N + 1)`` (token 0 is [CLS]). To keep the page
    small, patch queries are those on every ``query_stride``-th row and column (25 of 196 for
    ViT-B/16 with the default 3; the page's data grows with their number, about 20 KB each;
    ``query_stride=1`` keeps them all); the weights are sent with 4 bits per value, scaled per map.
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
        nth = {2: "2nd", 3: "3rd"}.get(query_stride, f"{query_stride}th")
        note = f"patch queries on every {nth} row and column ({len(queries) - 1} of {n - 1})"
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


def _array(values, what: str, ndim=None) -> np.ndarray:
    a = np.asarray(values.detach().cpu().float() if hasattr(values, "detach") else values, dtype=np.float64)
    if ndim is not None and a.ndim not in (ndim if isinstance(ndim, tuple) else (ndim,)):
        raise ValueError(f"{what} must have {ndim} dimensions, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what} holds NaN or infinite values")
    return a


def _one_image(a: np.ndarray, what: str, ndim: int) -> np.ndarray:
    """Drop a leading batch axis of size 1 (``(1, N, D)`` -> ``(N, D)``)."""
    if a.ndim == ndim + 1:
        if a.shape[0] != 1:
            raise ValueError(f"{what}: pass one image, got a batch of {a.shape[0]}")
        a = a[0]
    if a.ndim != ndim:
        raise ValueError(f"{what} must be {ndim}-D for one image, got shape {a.shape}")
    return a


def patches(photo, embeddings, *, grid=None, index: int = 30, neighbours: int = 5, source=None) -> Explorer:
    """One patch and its embedding: point at a patch (click, or the slider) to see its pixels,
    its embedding vector and the patches whose embeddings are nearest (cosine similarity).

    ``photo``: ``(H, W, 3)`` in [0, 1]; ``embeddings``: the patch embeddings ``(N, D)`` or
    ``(1, N, D)`` (the patch-embedding layer's output, no [CLS], no positions).
    """
    e = _one_image(_array(embeddings, "embeddings"), "embeddings", 2)
    n = e.shape[0]
    rows, cols = _grid(n, grid)
    if not 0 <= index < n:
        raise ValueError(f"index {index} is outside 0..{n - 1}")
    k = max(1, min(int(neighbours), n - 1))
    unit = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    cos = unit @ unit.T
    np.fill_diagonal(cos, -np.inf)
    near = np.argsort(-cos, axis=1)[:, :k]
    near_cos = np.take_along_axis(cos, near, axis=1)
    return make("patches", {
        "photo": image_uri(photo), "grid": [rows, cols], "index": index, "embeddings": pack(e),
        "near": near.astype(int).tolist(), "near_cos": floats(near_cos, 3),
        "norms": floats(np.linalg.norm(e, axis=1), 3), "stamp": _stamp(source),
    })


def layernorm(x, weight, bias, eps: float = 1e-12, *, token: int = 1, source=None) -> Explorer:
    """LayerNorm per token: pick a token to see its values before, normalised, and after γ and β,
    with their mean and standard deviation. ``x``: ``(N, D)`` or ``(1, N, D)``; ``weight``, ``bias``:
    ``(D,)``. The statistics are computed here, in float64, from the exact values; the page gets
    ``x``, γ and β (8 bits per value) and normalises each token with its exact mean and std."""
    a = _one_image(_array(x, "x"), "x", 2)
    w, b = _array(weight, "weight", 1), _array(bias, "bias", 1)
    n, d = a.shape
    if w.shape != (d,) or b.shape != (d,):
        raise ValueError(f"weight and bias must be ({d},), got {w.shape} and {b.shape}")
    if not 0 <= token < n:
        raise ValueError(f"token {token} is outside 0..{n - 1}")
    mean = a.mean(axis=1, keepdims=True)
    var = a.var(axis=1, keepdims=True)
    normed = (a - mean) / np.sqrt(var + eps)
    after = normed * w + b
    stats = np.stack([a.mean(1), a.std(1), normed.mean(1), normed.std(1), after.mean(1), after.std(1)], axis=1)
    return make("layernorm", {
        "x": pack(a), "weight": pack(w, rowwise=False), "bias": pack(b, rowwise=False), "stats": floats(stats, 5),
        # per token: the mean and 1 / sqrt(var + eps) the page normalises with (7 significant digits)
        "centre": [[float(f"{m:.7g}"), float(f"{1 / np.sqrt(v + eps):.7g}")] for m, v in zip(mean[:, 0], var[:, 0])],
        "eps": float(eps), "token": token, "stamp": _stamp(source),
    })


def stream_norms(embeddings, model) -> dict:
    """Per layer and token, the length of the residual stream and of what each branch adds:
    ``{"stream": (layers + 1, N), "attention": (layers, N), "mlp": (layers, N)}`` for one image
    (``embeddings``: ``(1, N, D)``, the embedding layer's output). Uses the book's own layer code."""
    import torch

    from ..encoder import encoder_layer_step
    from ..primitives import each_layer

    x = embeddings if embeddings.dim() == 3 else embeddings[None]
    if x.shape[0] != 1:
        raise ValueError(f"stream_norms wants one image, got a batch of {x.shape[0]}")
    stream, attn, ffn = [x[0].norm(dim=-1)], [], []
    with torch.no_grad():
        for parts in each_layer(model):
            step = encoder_layer_step(x, parts)
            x = step.output
            attn.append(step.attention[0].norm(dim=-1))
            ffn.append(step.mlp[0].norm(dim=-1))
            stream.append(x[0].norm(dim=-1))
    return {"stream": torch.stack(stream).cpu(), "attention": torch.stack(attn).cpu(), "mlp": torch.stack(ffn).cpu()}


def residual(embeddings, model, *, cut=None, token: int = 0, source=None) -> Explorer:
    """The residual stream: per layer, the length of the stream and of what the attention and
    MLP branches add to it, for the token you pick (slider, or click the map of all tokens).
    ``cut`` (optional, ``(layers + 1, N)``): the stream's lengths with the residuals cut, drawn too."""
    norms = stream_norms(embeddings, model)
    s = _array(norms["stream"], "stream")
    if not 0 <= token < s.shape[1]:
        raise ValueError(f"token {token} is outside 0..{s.shape[1] - 1}")
    floor = 1e-12
    data = {"token": token, "grid": list(_grid(s.shape[1] - 1)),
            "stream": pack(np.log10(np.maximum(s, floor))),
            "attention": pack(np.log10(np.maximum(_array(norms["attention"], "attention"), floor))),
            "mlp": pack(np.log10(np.maximum(_array(norms["mlp"], "mlp"), floor))),
            "stamp": _stamp(source)}
    if cut is not None:
        c = _array(cut, "cut", 2)
        if c.shape != s.shape:
            raise ValueError(f"cut must have the stream's shape {s.shape}, got {c.shape}")
        data["cut"] = pack(np.log10(np.maximum(c, floor)))
    return make("residual", data)


def predictions(model, pictures=("cat", "coffee", "astronaut", "rocket"), *, k: int = 5, source=None) -> Explorer:
    """Pick a photo, see the model's top-``k`` classes. ``pictures``: sample names
    (``images.SAMPLES``), or a dict ``{title: image}`` of anything ``load_image`` reads (a path,
    an address, bytes, a PIL image) — your own pictures in a live notebook."""
    import torch

    from .. import head, scratch
    from ..images import load_image, preprocess, to_display

    items = pictures.items() if isinstance(pictures, dict) else [(p, p) for p in pictures]
    device = next(model.parameters()).device
    photos = []
    for title, picture in items:
        x = preprocess(load_image(picture)).to(device)
        with torch.no_grad():
            top = head.top_k(scratch.vit_forward(x, model), k=k)[0]
        photos.append({"title": str(title), "photo": image_uri(to_display(x), quality=80),
                       "top": [[label, round(float(p), 5)] for label, p in top]})
    if not photos:
        raise ValueError("predictions needs at least one picture")
    return make("predictions", {"photos": photos, "stamp": _stamp(source)})


def rollout(photos, names, attentions, *, grid=None, patch_size: int = 16, source=None) -> Explorer:
    """Attention rollout by starting layer, for each photo and way of fusing the heads, and how
    far each head looks (mean attention distance, in pixels) by layer.

    ``photos``: list of ``(H, W, 3)`` pictures; ``names``: their titles; ``attentions``: one
    ``(B, heads, N + 1, N + 1)`` tensor per layer for the same ``B`` photos.
    """
    import torch

    from .. import insights

    if len(photos) != len(names):
        raise ValueError(f"{len(photos)} photos but {len(names)} names")
    atts = [a.detach().float().cpu() for a in attentions]
    if not atts or atts[0].dim() != 4 or atts[0].shape[0] != len(photos):
        raise ValueError("attentions must be one (B, heads, N, N) tensor per layer, B = number of photos")
    n = atts[0].shape[-1] - 1
    rows, cols = _grid(n, grid)
    fusions = list(insights.HEAD_FUSIONS)
    maps = torch.stack([torch.stack([insights.attention_rollout(atts, f, s)[:, 0, 1:] for s in range(len(atts))], 1)
                        for f in fusions], 2)  # (B, start, fusion, N)
    distance = torch.stack([insights.mean_attention_distance([a[i:i + 1] for a in atts], (rows, cols), patch_size)
                            for i in range(len(photos))])  # (B, layers, heads)
    return make("rollout", {
        "names": [str(x) for x in names], "photos": [image_uri(p, quality=80) for p in photos],
        "grid": [rows, cols], "fusions": fusions, "maps": pack(maps), "distance": floats(distance, 2),
        "max_distance": float(insights.patch_distances((rows, cols), patch_size).max()), "stamp": _stamp(source),
    })


def digits(pixels, labels, probs, attentions, *, grid=None, count: int = 60, source=None) -> Explorer:
    """Attention over a digit: pick a held-out digit, a layer (or the rollout over all layers)
    and a head (or their mean), and see where [CLS] looks. ``pixels``: ``(B, C, H, W)``;
    ``labels``: ``(B,)``; ``probs``: ``(B, classes)``; ``attentions``: per layer ``(B, heads, N + 1, N + 1)``.
    The first ``count`` digits are sent."""
    import torch

    from .. import insights

    px = _array(pixels, "pixels", 4)[:count].mean(axis=1)  # (B, H, W), grey
    b = px.shape[0]
    lab = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels)[:b].astype(int)
    pr = _array(probs, "probs", 2)[:b]
    atts = [a.detach().float().cpu()[:b] for a in attentions]
    n = atts[0].shape[-1] - 1
    rows, cols = _grid(n, grid)
    cls_maps = torch.stack([a[:, :, 0, 1:] for a in atts], 1)  # (B, layers, heads, N)
    roll = insights.attention_rollout(atts)[:, 0, 1:]  # (B, N)
    guess = pr.argmax(1)
    return make("digits", {
        "grid": [rows, cols], "pixels": pack(px.reshape(b, -1), rowwise=False), "size": list(px.shape[1:]),
        "labels": lab.tolist(), "guess": guess.astype(int).tolist(),
        "confidence": floats(pr[np.arange(b), guess], 3), "maps": pack(cls_maps), "rollout": pack(roll),
        "layers": len(atts), "heads": int(atts[0].shape[1]), "stamp": _stamp(source),
    })


def agreement(photos, names, similarity, *, grid=None, source=None) -> Explorer:
    """Where [CLS] agrees with the patches: per depth (slider), the cosine similarity of each
    patch's vector with the [CLS] vector over each photo. ``similarity``: ``(depths, B, N)``."""
    s = _array(similarity, "similarity", 3)
    if s.shape[1] != len(photos) or len(photos) != len(names):
        raise ValueError(f"similarity {s.shape} does not match {len(photos)} photos and {len(names)} names")
    rows, cols = _grid(s.shape[2], grid)
    return make("agreement", {"names": [str(x) for x in names], "photos": [image_uri(p, quality=80) for p in photos],
                              "grid": [rows, cols], "similarity": pack(np.clip(s, -1, 1)), "stamp": _stamp(source)})


__all__ += ["attention", "positions", "patches", "layernorm", "stream_norms", "residual", "predictions",
            "rollout", "digits", "agreement"]

# the explorers that run the model itself in the reader's browser (js/vit.js)
from .in_browser import draw_digit, your_photo  # noqa: E402

__all__ += ["draw_digit", "your_photo"]
