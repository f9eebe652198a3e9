"""The figure text measurement: the size a reader sees, from the font size, dpi and the book's column."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from vit_tutorial.figures import fonts as viz_fonts  # noqa: E402
from vit_tutorial.figures.fonts import COLUMN_PX, MIN_TEXT_PX  # noqa: E402


@pytest.fixture
def figure():
    figs = []

    def make(width_in, fontsize, text="label", dpi=100):
        fig, ax = plt.subplots(figsize=(width_in, 2), dpi=dpi)
        ax.plot([0, 1], [0, 1])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(text, fontsize=fontsize)
        figs.append(fig)
        return fig

    yield make
    for fig in figs:
        plt.close(fig)


def test_png_size_reads_the_header(tmp_path, figure):
    fig = figure(3, 10)
    fig.savefig(tmp_path / "f.png", dpi=100)
    assert viz_fonts.png_size((tmp_path / "f.png").read_bytes()) == (300, 200)
    with pytest.raises(ValueError, match="not PNG"):
        viz_fonts.png_size(b"GIF89a" + bytes(30))


def test_a_figure_narrower_than_the_column_is_shown_at_its_own_size(figure):
    fig = figure(5, 8, "a title")  # 500 px wide (less after cropping): no shrinking
    smallest = viz_fonts.smallest_text(fig)
    assert smallest.text == "a title" and smallest.points == 8
    assert smallest.px == pytest.approx(8 * 100 / 72)


def test_a_wide_figure_is_shrunk_to_the_column(figure):
    fig = figure(12, 8, "a title")
    (title,) = viz_fonts.measure(fig)
    width = viz_fonts.png_size(_png(fig))[0]
    assert width > COLUMN_PX
    assert title.px == pytest.approx(8 * 100 / 72 * COLUMN_PX / width)
    assert title.px < 8 * 100 / 72


def test_every_drawn_text_counts_once_and_hidden_text_not_at_all(figure):
    fig = figure(5, 10, "title")
    ax = fig.axes[0]
    ax.set_xticks([0, 0.5, 1])
    ax.tick_params(labelsize=7)
    ax.text(0.5, 0.5, "hidden", fontsize=4, visible=False)
    ax.text(0.5, 0.5, "   ", fontsize=4)
    texts = {t.text: t.points for t in viz_fonts.measure(fig)}
    assert texts["title"] == 10 and texts["0.5"] == 7
    assert "hidden" not in texts and "   " not in texts
    assert len(texts) == 4  # title and three tick labels


def test_assert_readable_names_the_small_text(figure):
    viz_fonts.assert_readable(figure(5, 8))  # 11.1 px
    fig = figure(11, 6.3, "tiny label")  # the old architecture figure's arrow labels: about 5 px
    with pytest.raises(ValueError, match=r"'tiny label' 6.3 pt -> \d\.\d px") as err:
        viz_fonts.assert_readable(fig)
    assert f"under {MIN_TEXT_PX:g} px" in str(err.value)


def test_dpi_counts(figure):
    low, high = figure(4, 8, dpi=100), figure(4, 8, dpi=150)  # 400 and 600 px wide: neither is shrunk
    assert viz_fonts.smallest_text(high).px == pytest.approx(1.5 * viz_fonts.smallest_text(low).px)


def test_displayed_scale():
    assert viz_fonts.displayed_scale(COLUMN_PX / 2) == 1
    assert viz_fonts.displayed_scale(2 * COLUMN_PX) == 0.5
    with pytest.raises(ValueError, match="positive"):
        viz_fonts.displayed_scale(0)


def _png(fig) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight")
    return buffer.getvalue()


def test_ipython_extension_puts_the_measurement_into_the_outputs_metadata(figure, ipython_shell):
    from IPython.core.pylabtools import select_figure_formats

    shell = ipython_shell
    select_figure_formats(shell, {"png"})  # what the inline backend does
    fig = figure(12, 8, "a title")
    viz_fonts.load_ipython_extension(shell)
    viz_fonts.load_ipython_extension(shell)  # idempotent: measured once
    data, metadata = shell.display_formatter.format(fig)
    measured = metadata["image/png"][viz_fonts.METADATA_KEY]
    assert measured["smallest_text"] == "a title" and measured["smallest_text_points"] == 8
    assert measured["smallest_text_px"] == pytest.approx(viz_fonts.smallest_text(fig).px, abs=0.01)
    assert measured["column_px"] == COLUMN_PX
    assert "image/png" in data
    _, plain = shell.display_formatter.format("not a figure")
    assert plain == {}
    viz_fonts.unload_ipython_extension(shell)
    _, metadata = shell.display_formatter.format(fig)
    assert viz_fonts.METADATA_KEY not in metadata.get("image/png", {})


def _helper_figures():
    """Every figure-drawing helper of the package, on synthetic inputs of the book's shapes."""
    import numpy as np
    import torch

    from vit_tutorial.figures import architecture as viz_architecture
    from vit_tutorial.figures import patch_plots as viz_patches
    from vit_tutorial.figures import plots as viz

    torch.manual_seed(0)
    photo = np.random.default_rng(0).random((224, 224, 3))
    weights = torch.softmax(torch.randn(12, 197, 197), -1)
    stamp = "weights: random google/vit-base-patch16-224 architecture (seed 0): predictions meaningless"
    similarity = torch.nn.functional.cosine_similarity(torch.randn(196, 1, 8), torch.randn(1, 196, 8), dim=-1)
    return {
        "architecture": lambda: viz_architecture.architecture_figure(),
        "head grid": lambda: viz.plot_head_grid(photo, weights, 91, suptitle="Layer 0: where patch 90 looks, head by head", stamp=stamp),
        "attention view": lambda: viz.plot_attention_view(photo, weights[0], 1, layer=0, head=0, stamp=stamp),
        "toy convolution": lambda: viz_patches.toy_figure(torch.arange(1.0, 17.0).reshape(4, 4), torch.ones(2, 2), torch.ones(2, 2)),
        "one patch": lambda: viz_patches.patch_figure(photo, 16, 30, torch.randn(768), caption="filters: this model's (random weights)"),
        "filters": lambda: viz_patches.filters_figure(torch.rand(28, 16, 16, 3), torch.full((28,), 0.01), stamp=stamp),
        "position similarity": lambda: viz_patches.similarity_figure(similarity, (14, 14), 17, stamp=stamp),
    }


@pytest.mark.parametrize("name", sorted(_helper_figures()))
def test_every_figure_helper_is_readable_in_the_book(name):
    """No text under 9 px as the book shows it at 1280 px (the notebooks' own figures: tests/test_built_book.py)."""
    fig = _helper_figures()[name]()
    try:
        viz_fonts.assert_readable(fig)
    finally:
        plt.close(fig)
