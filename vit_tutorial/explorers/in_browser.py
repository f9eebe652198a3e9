"""Explorers that run the model itself in the reader's browser, with ``js/vit.js``.

* :func:`draw_digit` (appendix A2): a drawing pad; the tiny digits ViT reads the drawing on every
  stroke. Its weights (600 KB, float32) travel inside the page, so it works anywhere, offline
  and from a file on disk.
* :func:`your_photo` (chapter 9): the reader's own photo through ViT-B/16 in a Web Worker, with
  the weights the book's build exported (:mod:`vit_tutorial.weights.browser_model`), fetched only on request.

Both run in the static book and live in Jupyter (anywidget), like every explorer.
"""

from __future__ import annotations

import base64
import io

import numpy as np

from ._base import Explorer, library_source, make, pack


def _grid_values(grid) -> list:
    """The 64 values of a digit's 8 x 8 grid, as JSON numbers (integers where they are)."""
    return [int(v) if float(v).is_integer() else float(v) for v in np.asarray(grid).ravel()]


def _stamp(source) -> str | None:
    return None if source is None else (getattr(source, "stamp", None) or str(source))


def _tiny_file_bytes(model=None) -> bytes:
    """The tiny model as a safetensors file: the shipped one, or ``model`` saved the same way."""
    from ..weights import tiny

    if model is None:
        return tiny._package_file(tiny.WEIGHTS_PATH).read_bytes()
    import json

    from safetensors.torch import save

    return save(tiny.canonical_state_dict(model), metadata={"architecture": json.dumps(tiny.architecture(model.config)), "format": "pt"})


def digit_samples(per_class: int = 1) -> list[dict]:
    """The first ``per_class`` held-out digits of each class: ``[{"label": 0, "grid": [64 ints 0..16]}, ...]``."""
    from .. import tiny

    split = tiny.load_digits_split()
    out = []
    for digit in range(10):
        picks = (split.test_labels == digit).nonzero().flatten()[:per_class]
        out += [{"label": digit, "grid": [int(v) for v in split.test_images[i].flatten().tolist()]} for i in picks.tolist()]
    return out


def draw_digit(model=None, *, samples=None, source=None) -> Explorer:
    """Draw a digit (mouse, finger or pen), or load a sample: the tiny ViT reads it in the browser
    on every stroke and shows its three most probable digits, [CLS]'s attention in every layer
    and head, and the rollout.

    ``model``: a tiny digits ViT (default: the shipped weights, ``tiny.load_tiny()``); its
    float32 weights go into the page. ``samples``: ``[{"label", "grid"}]`` with 8 x 8 grids in
    0..16 (default: one held-out digit per class). The drawing becomes such a grid exactly as
    scikit-learn's digits were made (a 32 x 32 bitmap, "on" pixels counted per 4 x 4 block), then
    ``tiny.digits_to_pixels``; after each run the page's root element carries ``data-input`` (the
    64 values) and ``data-logits``.
    """
    if model is not None and (model.config.image_size, model.config.num_labels) != (32, 10):
        raise ValueError("draw_digit needs a tiny digits model: 32 x 32 images, 10 classes (tiny.tiny_config())")
    samples = digit_samples() if samples is None else samples
    for s in samples:
        grid = np.asarray(s["grid"])
        if grid.size != 64 or grid.min() < 0 or grid.max() > 16:
            raise ValueError("each sample's grid must be 64 values (8 x 8) from 0 to 16")
    data = {
        "weights": base64.b64encode(_tiny_file_bytes(model)).decode("ascii"),
        "samples": [{"label": int(s["label"]), "grid": _grid_values(s["grid"])} for s in samples],
        "stamp": _stamp(source) or "weights: the shipped tiny digits ViT (trained, appendix A2)",
    }
    return make("draw-digit", data)


def _png_uri(array: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def your_photo(model, *, sample="cat", source=None, dtype: str = "int8", weights: dict | None = None) -> Explorer:
    """Your own photo through ``model`` (ViT-B/16), in the reader's browser: pick or drop an image;
    it is preprocessed in the page as ``ViTImageProcessor`` does and classified in a Web Worker;
    see the top five classes and [CLS]'s attention (a layer and head, or the rollout) over it.

    Until the reader asks for the model (its weights are downloaded once, about 88 MB as int8),
    the explorer shows ``sample`` (a sample name or anything ``load_image`` reads) with the numbers
    computed here. ``weights``: where the page finds the exported weights (a manifest of
    :func:`~vit_tutorial.weights.browser_model.export` plus ``path``, its address from the site's root); by default,
    during the book's build, ``model`` is exported (:func:`~vit_tutorial.weights.browser_model.export_for_book`); elsewhere
    there are none, and the explorer says so.
    """
    import torch

    from .. import head, insights, scratch
    from ..images import load_image, preprocess_steps
    from ..weights import browser_model

    if weights is None:
        weights = browser_model.export_for_book(model, source, dtype=dtype)
    steps = preprocess_steps(load_image(sample))
    pixels = steps["normalized"].to(next(model.parameters()).device)  # (1, 3, 224, 224)
    trace = scratch.vit_trace(pixels, model)
    with torch.no_grad():
        cls = torch.stack([a[0, :, 0, 1:] for a in trace.attentions]).float().cpu()  # (layers, heads, N)
        rollout = insights.attention_rollout([a.float() for a in trace.attentions])[0, 0].cpu()  # (N + 1,)
    top = head.top_k(trace.logits, k=5, labels=browser_model.labels_of(model))[0]
    config = model.config
    grid = config.image_size // config.patch_size
    data = {
        "grid": [grid, grid],
        "layers": config.num_hidden_layers,
        "heads": config.num_attention_heads,
        "image_size": config.image_size,
        "sample": {
            "title": sample if isinstance(sample, str) else "the sample photo",
            "photo": _png_uri(steps["array"]),
            "top": [[label, round(float(p), 6)] for label, p in top],
            "cls": pack(cls),
            "rollout": pack(rollout, rowwise=False),
        },
        "weights": None if not weights else {k: weights[k] for k in ("path", "bytes", "dtype", "id")},
        "vit_js": library_source("vit"),
        "stamp": _stamp(source),
        "notice": getattr(source, "notice", "") if source is not None else "",
    }
    return make("your-photo", data)
