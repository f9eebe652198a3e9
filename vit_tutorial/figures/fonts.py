"""Can a reader read every word of a figure, as the rendered book shows it?

A matplotlib figure reaches the page as a PNG of ``width`` pixels (its size in inches × its
dpi, cropped to what is drawn). The book's content column is :data:`COLUMN_PX` wide at a
1280 px window, and a wider PNG is shrunk to fit. A label of ``size`` points is therefore
displayed ``size × dpi / 72 × min(1, COLUMN_PX / width)`` CSS pixels high. This module measures
that for every piece of text that is actually drawn (titles, tick labels, legends,
annotations) and names the smallest:

    >>> smallest = smallest_text(fig)         # renders fig as the notebook would show it
    >>> smallest.px, smallest.text            # (9.7, 'ch 4')
    >>> assert_readable(fig)                  # ValueError naming every text under MIN_TEXT_PX

On a phone the book shows figures at their own width in a box that scrolls sideways (see
``book/_static/book.css``), so a figure readable at 1280 px is readable there too.

As an IPython extension (``%load_ext vit_tutorial.figures.fonts``; the book build loads it into
every notebook kernel, see ``book/_ext/notebook_run.py``) it adds the measurement to the
metadata of each figure's PNG output, ``{"vit_tutorial": {"smallest_text_px": 9.7, ...}}``,
where a test of the built book reads it. The picture itself is not changed.
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass
from io import BytesIO

COLUMN_PX = 672  # a figure's width in the content column at a 1280 px window (sphinx-book-theme 1.3)
MIN_TEXT_PX = 9.0  # the smallest text a reader should have to read, in CSS pixels
METADATA_KEY = "vit_tutorial"


@dataclass(frozen=True)
class DrawnText:
    """One piece of text as the book displays it: ``px`` high (CSS pixels), at font ``points``."""

    text: str
    points: float
    px: float


def png_size(png: bytes) -> tuple[int, int]:
    """``(width, height)`` in pixels of PNG bytes (read from the IHDR chunk)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not PNG data (expected the PNG signature followed by an IHDR chunk)")
    return struct.unpack(">II", png[16:24])


@contextlib.contextmanager
def recording_text():
    """Record ``(text, points)`` for every string matplotlib's Agg renderer draws inside the block.

    Layout passes (``bbox_inches="tight"``) draw nothing and are not recorded.
    """
    from matplotlib.backends.backend_agg import RendererAgg

    drawn: list[tuple[str, float]] = []
    original = RendererAgg.draw_text

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if str(s).strip():
            drawn.append((str(s), float(prop.get_size_in_points())))
        return original(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    RendererAgg.draw_text = draw_text
    try:
        yield drawn
    finally:
        RendererAgg.draw_text = original


def displayed_scale(width_px: float, column_px: float = COLUMN_PX) -> float:
    """How much the book shrinks an image ``width_px`` wide to fit its content column (≤ 1)."""
    if width_px <= 0:
        raise ValueError(f"an image width must be positive, got {width_px}")
    return min(1.0, column_px / width_px)


def drawn_texts(drawn, dpi: float, width_px: float, column_px: float = COLUMN_PX) -> list[DrawnText]:
    """``(text, points)`` pairs drawn at ``dpi`` into an image ``width_px`` wide -> their displayed
    sizes, smallest first, each distinct text once."""
    scale = displayed_scale(width_px, column_px)
    sizes: dict[str, float] = {}
    for text, points in drawn:
        sizes[text] = min(points, sizes.get(text, points))
    out = [DrawnText(t, p, p * dpi / 72 * scale) for t, p in sizes.items()]
    return sorted(out, key=lambda d: (d.px, d.text))


def measure(fig, column_px: float = COLUMN_PX) -> list[DrawnText]:
    """Every text of ``fig`` as the notebook shows it (PNG at the figure's dpi, cropped tight)."""
    buffer = BytesIO()
    with recording_text() as drawn:
        fig.canvas.print_figure(buffer, format="png", dpi=fig.dpi, bbox_inches="tight", facecolor=fig.get_facecolor(), edgecolor=fig.get_edgecolor())
    width, _ = png_size(buffer.getvalue())
    return drawn_texts(drawn, fig.dpi, width, column_px)


def smallest_text(fig, column_px: float = COLUMN_PX) -> DrawnText | None:
    """The smallest text of ``fig`` as displayed in the book, or ``None`` for a figure without text."""
    texts = measure(fig, column_px)
    return texts[0] if texts else None


def assert_readable(fig, min_px: float = MIN_TEXT_PX, column_px: float = COLUMN_PX) -> None:
    """Raise ``ValueError`` naming each text of ``fig`` displayed smaller than ``min_px`` CSS pixels."""
    small = [t for t in measure(fig, column_px) if t.px < min_px]
    if small:
        listed = "; ".join(f"{t.text[:40]!r} {t.points:g} pt -> {t.px:.1f} px" for t in small[:8])
        raise ValueError(
            f"{len(small)} text(s) of this figure would be displayed under {min_px:g} px in a {column_px:g} px "
            f"column: {listed}. Use larger fonts, or a narrower figure (figsize) so the book shrinks it less."
        )


# --------------------------------------------------------------------------- IPython extension


def _measured_format(original):
    """Wrap ``DisplayFormatter.format``: a figure's PNG output gets its measurement in its metadata."""
    from base64 import b64decode

    from matplotlib.figure import Figure

    def format(obj, include=None, exclude=None):
        if not isinstance(obj, Figure):
            return original(obj, include=include, exclude=exclude)
        with recording_text() as drawn:
            data, metadata = original(obj, include=include, exclude=exclude)
        png = data.get("image/png")
        if png is None:
            return data, metadata
        raw = b64decode(png) if isinstance(png, str) else png
        png_metadata = dict(metadata.get("image/png") or {})
        # a retina PNG has twice the pixels and says its display width in "width"
        width = float(png_metadata.get("width") or png_size(raw)[0])
        texts = drawn_texts(drawn, obj.dpi, width)
        png_metadata[METADATA_KEY] = {
            "column_px": COLUMN_PX,
            "smallest_text_px": round(texts[0].px, 2) if texts else None,
            "smallest_text": texts[0].text[:60] if texts else None,
            "smallest_text_points": texts[0].points if texts else None,
        }
        return data, {**metadata, "image/png": png_metadata}

    format._vit_tutorial_measured = True
    return format


def load_ipython_extension(ipython) -> None:
    """``%load_ext vit_tutorial.figures.fonts``: measure every figure a cell displays (idempotent)."""
    formatter = ipython.display_formatter
    if not getattr(formatter.format, "_vit_tutorial_measured", False):
        formatter.format = _measured_format(formatter.format)


def unload_ipython_extension(ipython) -> None:
    formatter = ipython.display_formatter
    if getattr(formatter.format, "_vit_tutorial_measured", False):
        del formatter.format  # back to the class's own method
