"""Dark copies of the book's matplotlib figures, drawn in the kernel while the book executes.

The book's build sets ``VIT_TUTORIAL_DARK_FIGURES=1`` for its kernels (``book/_ext/dark_figures.py``),
and ``import vit_tutorial`` then calls :func:`install`: every matplotlib figure a cell displays
carries, next to its ``image/png``, a second PNG (mime type :data:`MIME`) of the same figure drawn
for a dark page. The build puts both in the page and the theme shows the one that fits
(``only-light`` / ``only-dark``). Outside the build nothing changes: a learner's notebook holds one
PNG per figure, as before.

What changes in the dark copy (:func:`darken`) is what belongs to the page: the background becomes
transparent, and text, axes, ticks, grids, legend frames and pale boxes that are grey, near-white
or near-black get their lightness turned over (black text becomes light, a pale blue box dark
blue, its hue kept). What carries data stays as it is: saturated colours (lines, bars, markers),
colour-mapped images and meshes, photos, and whatever is drawn in data coordinates over an image
(a white grid over a photo stays white).
"""

from __future__ import annotations

import base64
import colorsys
import pickle

MIME = "image/x-vit-tutorial-dark+png"
ENV = "VIT_TUTORIAL_DARK_FIGURES"


def turn(color, *, text: bool = False):
    """One colour for the dark page: an RGBA tuple in [0, 1] with its lightness turned over when
    it is page-like (grey, near-white or near-black); saturated mid-light colours are kept, except
    that ``text`` darker than mid-grey always turns light (dark orange becomes light orange)."""
    from matplotlib.colors import to_rgba

    r, g, b, a = to_rgba(color)
    h, lightness, s = colorsys.rgb_to_hls(r, g, b)
    if s >= 0.25 and (0.5 if text else 0.15) <= lightness <= 0.85:
        return (r, g, b, a)
    lightness = 0.06 + 0.88 * (1.0 - lightness)  # black -> 0.94, white -> 0.06
    return (*colorsys.hls_to_rgb(h, lightness, s), a)


def _over_image(artist, ax) -> bool:
    """Whether ``artist`` is drawn in data coordinates on axes that show an image (a photo, a map)."""
    return ax is not None and bool(ax.images) and artist.get_transform() == ax.transData


def _is_white(color) -> bool:
    from matplotlib.colors import to_rgba

    r, g, b, a = to_rgba(color)
    return a > 0 and min(r, g, b) > 0.97


def darken(fig) -> None:
    """Turn ``fig`` (a copy: it is changed in place) into its dark version, as described above."""
    from matplotlib.collections import Collection
    from matplotlib.image import AxesImage, FigureImage
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.text import Text

    transparent = (0, 0, 0, 0)
    fig.patch.set_facecolor(transparent)
    for ax in fig.axes:
        if _is_white(ax.get_facecolor()):
            ax.set_facecolor(transparent)
        for axis in (ax.xaxis, ax.yaxis):
            # made now, so that each tick's line, grid line and label is turned once below; ticks made
            # again at draw time copy their properties from the first one
            axis.get_major_ticks(), axis.get_minor_ticks()
    for artist in fig.findobj(include_self=False):
        ax = artist.axes
        if isinstance(artist, (AxesImage, FigureImage)):
            continue
        if isinstance(artist, Text):
            if not _over_image(artist, ax):
                artist.set_color(turn(artist.get_color(), text=True))
        elif isinstance(artist, Line2D):
            if not _over_image(artist, ax):
                artist.set_color(turn(artist.get_color()))
                artist.set_markeredgecolor(turn(artist.get_markeredgecolor()))
                artist.set_markerfacecolor(turn(artist.get_markerfacecolor()))
        elif isinstance(artist, Patch):
            if artist is fig.patch or (ax is not None and artist is ax.patch) or _over_image(artist, ax):
                continue
            artist.set_edgecolor(turn(artist.get_edgecolor()))
            if artist.get_fill():
                artist.set_facecolor(turn(artist.get_facecolor()))
        elif isinstance(artist, Collection):
            if _over_image(artist, ax):
                continue
            if artist.get_array() is None:  # not colour-mapped: its colours are set, not computed
                faces = artist.get_facecolor()
                if len(faces):
                    artist.set_facecolor([turn(c) for c in faces])
            edges = artist.get_edgecolor()
            if len(edges) and not (isinstance(edges, str) and edges == "face"):
                artist.set_edgecolor([turn(c) for c in edges])


def dark_png(fig) -> str | None:
    """The dark version of ``fig`` as base64 PNG, drawn the way the inline backend draws the light one.
    ``fig`` itself is never changed. None when no dark copy can be made (an artist that cannot be
    copied, such as a formatter made from a lambda): never an error, which IPython would print into
    the cell's output; the book then shows the light figure (and says how many lack a dark one)."""
    try:
        copy = pickle.loads(pickle.dumps(fig))
    except Exception:  # noqa: BLE001 - see the docstring
        return None
    try:
        darken(copy)
        from IPython.core.pylabtools import print_figure

        kwargs, fmt = {"bbox_inches": "tight"}, "png"
        try:  # as the inline backend draws the light one: its options, and twice the pixels for 'retina'
            from matplotlib_inline.backend_inline import InlineBackend

            backend = InlineBackend.instance()
            kwargs = dict(backend.print_figure_kwargs)
            fmt = "retina" if "retina" in backend.figure_formats else "png"
        except Exception:  # noqa: BLE001 - not in a kernel: the inline backend's default
            pass
        kwargs.update(facecolor=(0, 0, 0, 0), edgecolor=(0, 0, 0, 0))
        png = print_figure(copy, fmt, **kwargs)
    except Exception:  # noqa: BLE001 - see the docstring
        png = None
    finally:
        import matplotlib.pyplot as plt

        plt.close(copy)  # unpickling registered the copy with pyplot: the cell must not show it too
    return base64.b64encode(png).decode("ascii") if png else None


def install(shell=None) -> bool:
    """Make every matplotlib figure displayed in this IPython kernel carry its dark PNG too.
    Returns False outside IPython. Needs no matplotlib import until a figure is shown."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    formatters = shell.display_formatter.formatters
    if MIME not in formatters:
        import sys

        from IPython.core.formatters import BaseFormatter
        from traitlets import Unicode

        class DarkPNGFormatter(BaseFormatter):
            """Answers for any matplotlib Figure by itself, not through a registered type: the inline
            backend clears every formatter's entry for Figure when it starts (select_figure_formats)."""

            format_type = Unicode(MIME)

            def __call__(self, obj):
                figure = sys.modules.get("matplotlib.figure")
                if self.enabled and figure is not None and isinstance(obj, figure.Figure):
                    return dark_png(obj)
                return None

        formatters[MIME] = DarkPNGFormatter(parent=shell.display_formatter)
    return True
