"""Figures for a dark page: the kernel side (vit_tutorial.figures.dark) draws a dark copy of every
figure a cell shows; the book side (book/_ext/book_figures.py) pairs it with the light one and makes
the PNGs lighter."""

from __future__ import annotations

import base64
import colorsys
import hashlib
import importlib.util
import io
import json
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from vit_tutorial.figures import dark  # noqa: E402

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only

ROOT = Path(__file__).resolve().parents[1]


def _book_figures():
    spec = importlib.util.spec_from_file_location("book_figures", ROOT / "book" / "_ext" / "book_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lightness(rgba) -> float:
    return colorsys.rgb_to_hls(*rgba[:3])[1]


def test_page_colours_turn_and_data_colours_stay():
    assert _lightness(dark.turn("black")) > 0.9 and _lightness(dark.turn("white")) < 0.1
    assert _lightness(dark.turn("0.3")) > 0.6  # dark grey text and axes become light grey
    assert dark.turn("#4C72B0") == pytest.approx(matplotlib.colors.to_rgba("#4C72B0"))  # a bar keeps its blue
    pale = dark.turn("#dbe6f4")  # a pale blue box becomes a dark blue one
    assert _lightness(pale) < 0.2 and abs(colorsys.rgb_to_hls(*pale[:3])[0] - colorsys.rgb_to_hls(0xDB / 255, 0xE6 / 255, 0xF4 / 255)[0]) < 0.02
    assert _lightness(dark.turn("#8c4a00", text=True)) > 0.6  # dark orange text turns light orange
    assert dark.turn("#8c4a00") == pytest.approx(matplotlib.colors.to_rgba("#8c4a00"))  # as a line it stays


def _figure():
    fig, (a, b) = plt.subplots(1, 2, figsize=(6, 3))
    rng = np.random.default_rng(0)
    a.imshow(rng.random((8, 8)), cmap="viridis")
    a.text(2, 2, "on the map", color="white")
    b.plot([0, 1, 2], [0, 1, 0], color="#C44E52")
    b.axhline(0.5, color="black")
    b.set_title("a title")
    return fig


def _decode(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGBA")


def test_dark_copy_is_transparent_with_light_text_and_leaves_the_figure_alone():
    from IPython.core.pylabtools import print_figure

    open_before = set(plt.get_fignums())  # figures other tests on this worker left open
    fig = _figure()
    title, line = fig.axes[1].title.get_color(), fig.axes[1].lines[1].get_color()
    light = Image.open(io.BytesIO(print_figure(fig, "png"))).convert("RGBA")
    night = _decode(dark.dark_png(fig))
    assert night.size == light.size
    assert night.getpixel((1, 1))[3] == 0  # the background is the page's
    px = np.asarray(night).astype(float)
    opaque = px[..., 3] > 200
    assert opaque.any() and (px[opaque][:, :3].mean(axis=1) > 200).sum() > 100  # light text, axes, ticks
    # the colour map is drawn exactly as in the light figure (a pixel in the middle of the image)
    ax = fig.axes[0].get_window_extent()
    x, y = int((ax.x0 + ax.x1) / 2 * light.size[0] / fig.bbox.width), int(light.size[1] / 2)
    assert np.abs(np.asarray(light)[y - 5 : y + 5, x - 5 : x + 5, :3].astype(int) - np.asarray(night)[y - 5 : y + 5, x - 5 : x + 5, :3]).max() <= 2
    assert fig.axes[1].title.get_color() == title and fig.axes[1].lines[1].get_color() == line  # untouched
    assert set(plt.get_fignums()) == open_before | {fig.number}  # the figure is still open, its copy closed
    plt.close(fig)


def test_a_figure_that_cannot_be_copied_gets_no_dark_copy_and_no_error():
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots()
    ax.plot([1, 2])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}"))  # a lambda cannot be pickled
    assert dark.dark_png(fig) is None
    plt.close(fig)


def test_install_adds_the_dark_copy_to_every_figure_shown(ipython_shell):
    from IPython.core.pylabtools import select_figure_formats

    shell = ipython_shell
    assert dark.install(shell)
    select_figure_formats(shell, {"png"})  # what the inline backend does when it starts: clears Figure's entries
    fig = _figure()
    data, _ = shell.display_formatter.format(fig)
    assert "image/png" in data and dark.MIME in data
    light = data["image/png"]
    light = _decode(light) if isinstance(light, str) else Image.open(io.BytesIO(light))
    assert _decode(data[dark.MIME]).size == light.size
    data, _ = shell.display_formatter.format("not a figure")
    assert dark.MIME not in data
    plt.close(fig)


# --------------------------------------------------------------------------- the book side
def _png(picture: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, "PNG")
    return buf.getvalue()


def test_pair_images_gives_each_figure_its_dark_twin_lazily():
    bf = _book_figures()
    a, b = "a" * 64, "b" * 64
    figures = {a: {"light": f"{a}.slim.png", "dark": f"{a}.dark.webp", "size": (640, 480)}, b: {"light": f"{b}.slim.webp", "dark": None, "size": (10, 20)}}
    page = (
        f'<figure><img alt="the plot &quot;x&quot;" src="../_images/{a}.png" /><figcaption>c</figcaption></figure>'
        f'<img src="../_images/{b}.png"><img alt="Binder logo" src="../_static/images/logo_binder.svg">'
    )
    out, pairs = bf.pair_images(page, figures)
    assert pairs == 1
    assert (
        f'<span class="vt-themed-figure"><img alt="the plot &quot;x&quot;" src="../_images/{a}.slim.png" loading="lazy" '
        f'decoding="async" width="640" height="480" class="only-light" />'
    ) in out
    assert f'src="../_images/{a}.dark.webp" loading="lazy" decoding="async" width="640" height="480" class="only-dark" />' in out
    assert f'<img src="../_images/{b}.slim.webp" loading="lazy" decoding="async" width="10" height="20" />' in out
    assert '<img alt="Binder logo" src="../_static/images/logo_binder.svg">' in out  # not a figure: untouched
    assert "</span><figcaption>" in out  # the caption is no sibling of the .only-dark image
    assert bf.pair_images(out, figures) == (out, 0)  # a second pass changes nothing


def test_dark_copies_are_found_by_the_light_figure_hash(tmp_path):
    bf = _book_figures()
    light, night = _png(np.zeros((4, 4, 3), np.uint8)), _png(np.full((4, 4, 3), 9, np.uint8))
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "outputs": [
                    {"output_type": "display_data", "data": {"image/png": base64.b64encode(light).decode(), bf.MIME: base64.b64encode(night).decode()}},
                    {"output_type": "display_data", "data": {"image/png": base64.b64encode(night).decode()}},
                ],
            }
        ]
    }
    (tmp_path / "jupyter_execute" / "book").mkdir(parents=True)
    (tmp_path / "jupyter_execute" / "book" / "x.ipynb").write_text(json.dumps(notebook))
    (tmp_path / "html").mkdir()
    app = SimpleNamespace(outdir=str(tmp_path / "html"), env=SimpleNamespace())
    assert bf.dark_copies(bf.executed_notebooks(app)) == {hashlib.sha256(light).hexdigest(): night}


def test_slim_draws_plots_in_256_colours_and_keeps_photos_exact():
    from IPython.core.pylabtools import print_figure

    bf = _book_figures()
    fig = _figure()
    plot = print_figure(fig, "png")
    plt.close(fig)
    data, suffix = bf.slim(plot)
    assert suffix == ".png" and len(data) < 0.6 * len(plot)
    before, after = Image.open(io.BytesIO(plot)).convert("RGB"), Image.open(io.BytesIO(data)).convert("RGB")
    assert before.size == after.size and bf._psnr(before, after) >= bf.MIN_PSNR
    photo = _png(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))  # 256 colours cannot
    data, suffix = bf.slim(photo)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), np.asarray(Image.open(io.BytesIO(photo))))
    assert len(data) <= len(photo)


def test_tick_labels_turn_light_though_the_figure_was_never_drawn():
    """Tick labels get their text only when drawn; the dark copy turns them all the same (and once)."""
    from matplotlib.colors import to_rgba

    fig, ax = plt.subplots()
    ax.barh(["kuvasz", "crayfish", "fly"], [3, 2, 1], color="#4C72B0")
    ax.set_xlabel("probability (%)")
    dark.darken(fig)
    fig.canvas.draw()
    labels = ax.get_yticklabels() + ax.get_xticklabels() + [ax.xaxis.label]
    assert len(labels) > 4 and all(_lightness(to_rgba(t.get_color())) > 0.5 for t in labels)
    assert ax.patches[0].get_facecolor() == pytest.approx(matplotlib.colors.to_rgba("#4C72B0"))
    plt.close(fig)
