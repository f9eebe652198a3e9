"""The machinery every explorer shares: compact data, one ES module, two hosts.

An explorer is an :class:`Explorer` (an ``anywidget.AnyWidget``) whose only synced state
is ``data``: a JSON-able dict computed in Python, with arrays packed by :func:`pack`
(quantised to 8 or 4 bits per row, base64). Its front end is the ES module ``js/<name>.js``,
which imports what it shares with the others from ``js/_common.js`` and follows anywidget's
``render({model, el})`` contract, reading ``model.get("data")``.

Two hosts run the same module, linked into one text by :mod:`.bundle` (one build step, in Python):

* live (JupyterLab, Notebook 7, VS Code, Colab): anywidget, through the widget view in the
  output's mime bundle, runs it as one ES module (:func:`module_source`);
* the static book: the same output also carries ``text/html`` (:meth:`Explorer.static_html`),
  a ``<div data-explorer="<name>">`` holding the data as JSON. The book's Sphinx extension
  (``book/_ext/explorers_host.py``) prefers that ``text/html`` over the widget view, writes each
  explorer as a classic script (:func:`.bundle.book_script`, which browsers run from ``file://``
  too) plus ``host.js`` into ``_static/explorers/``, and loads them on pages with an explorer;
  the host calls ``render`` with a small stand-in model. No kernel, no network, no widget manager.

A new explorer: add ``js/<name>.js`` (imports from ``./_common.js``, ``export default { render }``),
its name to :data:`NAMES`, and a Python function that calls :func:`make`; both hosts pick it up.
"""
from __future__ import annotations

import base64
import html
import io
import json
from functools import lru_cache
from pathlib import Path

import anywidget
import numpy as np
import traitlets

from . import bundle

JS_DIR = Path(__file__).resolve().parent / "js"
NAMES = ("patches", "positions", "attention", "layernorm", "residual", "activations",
         "predictions", "rollout", "digits", "agreement", "draw-digit", "your-photo")
MIME_HTML = "text/html"


# --------------------------------------------------------------------------- data packing
def _numpy(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().to("cpu").float().numpy()
    return np.asarray(values, dtype=np.float64)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def pack(values, bits: int = 8, *, rowwise: bool = True) -> dict:
    """Quantise ``values`` to ``bits`` (8 or 4) per value, base64: a dict ``_common.js`` decodes.

    Each row (the last axis) gets its own ``lo``/``hi`` when ``rowwise`` (so a few large
    rows do not crush the resolution of the others); value = lo + q / (2**bits - 1) * (hi - lo).
    The largest error is half a step: ``(hi - lo) / (2 * (2**bits - 1))``.
    """
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits}")
    a = _numpy(values)
    if a.ndim == 0 or a.size == 0:
        raise ValueError(f"pack needs a non-empty array, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("pack got NaN or infinite values")
    rows = a.reshape(-1, a.shape[-1]) if rowwise else a.reshape(1, -1)
    lo = rows.min(axis=1, keepdims=True)
    hi = rows.max(axis=1, keepdims=True)
    levels = (1 << bits) - 1
    span = np.where(hi > lo, hi - lo, 1.0)
    q = np.rint((rows - lo) / span * levels).astype(np.uint8).reshape(-1)
    if bits == 4:
        if q.size % 2:
            q = np.append(q, 0)
        q = (q[0::2] | (q[1::2] << 4)).astype(np.uint8)
    return {
        "shape": list(a.shape), "bits": bits, "rowwise": bool(rowwise),
        "lo": _b64(lo.astype("<f4").tobytes()), "hi": _b64(hi.astype("<f4").tobytes()),
        "q": _b64(q.tobytes()),
    }


def unpack(packed: dict) -> np.ndarray:
    """The inverse of :func:`pack` (what the browser computes), for tests and checks."""
    shape = tuple(packed["shape"])
    n = int(np.prod(shape))
    q = np.frombuffer(base64.b64decode(packed["q"]), dtype=np.uint8)
    if packed["bits"] == 4:
        q = np.stack([q & 15, q >> 4], axis=1).reshape(-1)
    q = q[:n].astype(np.float64)
    lo = np.frombuffer(base64.b64decode(packed["lo"]), dtype="<f4").astype(np.float64)
    hi = np.frombuffer(base64.b64decode(packed["hi"]), dtype="<f4").astype(np.float64)
    row = shape[-1] if packed["rowwise"] else n
    q = q.reshape(-1, row)
    levels = (1 << packed["bits"]) - 1
    return (lo[:, None] + q / levels * (hi - lo)[:, None]).reshape(shape)


def floats(values, digits: int = 4) -> list:
    """A small array as a (nested) list of rounded floats: for numbers shown as text."""
    return np.round(_numpy(values), digits).tolist()


def image_uri(picture, size: int | None = None, quality: int = 85) -> str:
    """An ``(H, W, 3)`` array in [0, 1] (or uint8, or a PIL image) as a JPEG ``data:`` URI."""
    from PIL import Image

    if not isinstance(picture, Image.Image):
        a = np.asarray(picture)
        if a.dtype != np.uint8:
            a = np.clip(np.rint(np.asarray(a, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
        if a.ndim == 2:
            a = np.stack([a] * 3, axis=-1)
        if a.ndim != 3 or a.shape[-1] not in (3, 4):
            raise ValueError(f"a picture must be (H, W, 3), got shape {a.shape}")
        picture = Image.fromarray(a[..., :3])
    picture = picture.convert("RGB")
    if size is not None:
        picture = picture.resize((size, size), Image.BICUBIC)
    buf = io.BytesIO()
    picture.save(buf, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + _b64(buf.getvalue())


# --------------------------------------------------------------------------- the module
def module_source(name: str) -> str:
    """The ES module of explorer ``name`` as one text: ``js/<name>.js`` linked with what it imports
    (:func:`vit_tutorial.explorers.bundle.esm`), what anywidget runs live."""
    if name not in NAMES:
        raise ValueError(f"unknown explorer {name!r}; known: {', '.join(NAMES)}")
    return bundle.esm(name)


def library_source(name: str) -> str:
    """``js/<name>.js`` and what it imports as one classic script whose exports become global names
    (:func:`.bundle.library`): the photo explorer's Web Worker runs ``vit`` so."""
    return bundle.library(name)


@lru_cache(maxsize=None)
def stylesheet() -> str:
    return (JS_DIR / "explorers.css").read_text(encoding="utf-8")


def _json_for_script(data: dict) -> str:
    # inside <script type="application/json">, only "</" could end the element early
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


class Explorer(anywidget.AnyWidget):
    """One explorer: ``name`` picks its ES module, ``data`` is everything it draws.

    Make one with :func:`make` (each explorer has its own subclass, so anywidget keeps
    their modules apart)."""

    name = traitlets.Unicode().tag(sync=True)
    data = traitlets.Dict().tag(sync=True)

    def __repr__(self) -> str:
        return f"<vit_tutorial explorer {self.name!r}: needs a notebook front end with widgets, or the book>"

    def static_html(self) -> str:
        return static_html(self.name, self.data)

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data)
        data[MIME_HTML] = self.static_html()
        return data, metadata


@lru_cache(maxsize=None)
def _explorer_class(name: str):
    title = "".join(part.title() for part in name.replace("-", "_").split("_")) + "Explorer"
    return type(title, (Explorer,), {"_esm": module_source(name), "_css": stylesheet(), "__module__": __name__})


def make(name: str, data: dict) -> "Explorer":
    """The explorer ``name`` (one of :data:`NAMES`) showing ``data``."""
    module_source(name)  # validates the name
    json.dumps(data, allow_nan=False)  # fails early, in Python, on data the browser cannot read
    return _explorer_class(name)(name=name, data=data)


def static_html(name: str, data: dict) -> str:
    """The ``text/html`` the book shows: a root ``div`` with the data; ``host.js`` renders it."""
    note = ("Interactive explorer: it runs in the book's web page, or in a running notebook "
            "(JupyterLab, Notebook 7, VS Code, Colab).")
    return (f'<div class="vt-explorer" data-explorer="{html.escape(name)}">'
            f'<script type="application/json" class="vt-explorer-data">{_json_for_script(data)}</script>'
            f'<p class="vt-explorer-fallback">{note}</p></div>')
