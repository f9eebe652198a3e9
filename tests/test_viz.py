"""vit_tutorial.figures.plots: the patch grid is laid out row by row, and bad inputs get clear errors."""
import numpy as np
import pytest
import torch

from vit_tutorial.figures import plots as viz

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only


@pytest.fixture
def ax():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_patch_grid_row_major():
    grid = viz.patch_grid(torch.arange(6.0), grid=(2, 3))
    np.testing.assert_array_equal(grid, [[0, 1, 2], [3, 4, 5]])
    assert viz.patch_grid(np.arange(196)).shape == (14, 14)


def test_overlay_covers_the_image(ax):
    image = np.zeros((224, 224, 3))
    values = torch.zeros(196)
    values[15] = 1.0  # row 1, col 1
    mapped = viz.overlay_patch_map(ax, image, values, alpha=0.5)
    data = np.asarray(mapped.get_array())
    assert data.shape == (14, 14) and data[1, 1] == 1.0 and data.sum() == 1.0
    assert mapped.get_extent() == [0, 224, 224, 0]
    assert mapped.get_alpha() == 0.5


def test_patch_box_and_click_round_trip():
    for index in (0, 15, 195):
        x, y, w, h = viz.patch_box(index, 14, (224, 224))
        assert viz.patch_at(x + w / 2, y + h / 2, grid=14, image_shape=(224, 224)) == index
    assert viz.patch_box(15, 14, (224, 224)) == (16.0, 16.0, 16.0, 16.0)


def test_attention_pictures(ax):
    w = torch.softmax(torch.randn(197, 197), -1)
    viz.plot_attention_matrix(ax, w, title="m")
    viz.plot_query_attention(ax, np.zeros((224, 224, 3)), w, 16)
    assert "patch 15 (row 1, col 1)" in ax.get_title()
    fig = viz.plot_head_grid(np.zeros((224, 224, 3)), torch.softmax(torch.randn(12, 197, 197), -1), 0, stamp="s")
    assert len([a for a in fig.axes if a.images]) == 12


@pytest.mark.parametrize("call, message", [
    (lambda ax: viz.overlay_patch_map(ax, np.zeros((224, 224, 3)), torch.rand(197)), r"197 values do not form a square grid.*\[CLS\]"),
    (lambda ax: viz.overlay_patch_map(ax, np.zeros((224, 224, 3)), torch.rand(14, 14)), r"one value per patch, shape \(N_patches,\)"),
    (lambda ax: viz.overlay_patch_map(ax, np.zeros((3, 224, 224)), torch.rand(196)), r"image of shape \(H, W, 3\)"),
    (lambda ax: viz.overlay_patch_map(ax, np.zeros((224, 224, 3)), torch.rand(196), grid=(2, 3)), r"2 x 3 grid holds 6 patches"),
    (lambda ax: viz.overlay_patch_map(ax, np.zeros((224, 224, 3)), torch.rand(196), alpha=2), r"alpha must be between 0 and 1"),
    (lambda ax: viz.mark_patch(ax, 196), r"patch index 196 is outside the 14 x 14 grid"),
    (lambda ax: viz.patch_at(300, 5), r"outside the 224 x 224 image"),
    (lambda ax: viz.plot_query_attention(ax, np.zeros((224, 224, 3)), torch.rand(197, 197), 197), r"query token 197 is outside"),
    (lambda ax: viz.plot_attention_matrix(ax, torch.rand(12, 197, 197)), r"one head's \(tokens, tokens\)"),
])
def test_bad_inputs(ax, call, message):
    with pytest.raises(ValueError, match=message):
        call(ax)


def test_attention_view():
    w = torch.softmax(torch.randn(17, 17), -1)
    fig = viz.plot_attention_view(np.zeros((32, 32, 3)), w, 6, layer=1, head=2, stamp="s")
    assert "layer 1, head 2" in fig.axes[1].get_title() and "patch 5 (row 1, col 1)" in fig.axes[0].get_title()

