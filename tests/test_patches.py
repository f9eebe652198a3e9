"""Chapter 2 helpers against HuggingFace's patch embeddings (a Conv2d with stride = kernel = patch size)."""
import pytest
import torch

import vit_tutorial as vt
from vit_tutorial import patches as P
from vit_tutorial.bridge import vit_model
from vit_tutorial.tolerance import assert_equivalent

# float32 matmul vs convolution: the sums of 768 products are accumulated in different orders.
RTOL, ATOL = 1e-4, 1e-5


def _hf(model):
    return vit_model(model).embeddings.patch_embeddings


@pytest.fixture(scope="module")
def small_model(dev):
    """A non-default ViT: 64 wide, 8x8 patches on 32x40 images (a non-square grid)."""
    config = vt.vit_config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                           image_size=(32, 40), patch_size=8, num_labels=10, id2label={i: str(i) for i in range(10)},
                           label2id={str(i): i for i in range(10)})
    return vt.random_model(seed=1, config=config).to(dev)


def test_patch_embed_equals_hf(any_model, batch_pixels):
    hf = _hf(any_model)
    conv = hf.projection
    with torch.no_grad():
        theirs = hf(batch_pixels)
        assert theirs.shape == (4, 196, 768)
        assert_equivalent(P.patch_embed(batch_pixels, conv.weight, conv.bias), theirs, rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(P.conv_to_sequence(conv(batch_pixels)), theirs, rtol=0, atol=0)


def test_loop_equals_hf(any_model, cat_pixels):
    hf = _hf(any_model)
    conv = hf.projection
    with torch.no_grad():
        assert_equivalent(P.patch_embed_loop(cat_pixels, conv.weight, conv.bias), hf(cat_pixels), rtol=RTOL, atol=ATOL)


def test_one_patch_one_filter_is_the_conv_output(model, cat_pixels):
    conv = _hf(model).projection
    with torch.no_grad():
        out = conv(cat_pixels)  # (1, 768, 14, 14)
        patch = P.patch_at(cat_pixels, 16, 15)  # row 1, column 1
        assert patch.shape == (3, 16, 16)
        vec = P.embed_one_patch(patch, conv.weight, conv.bias)
    assert_equivalent(vec, out[0, :, 1, 1], rtol=RTOL, atol=ATOL)
    # the first filter alone, element by element
    assert_equivalent((patch * conv.weight[0]).sum() + conv.bias[0], out[0, 0, 1, 1], rtol=RTOL, atol=ATOL)


def test_small_config(small_model, dev):
    hf = _hf(small_model)
    conv = hf.projection
    x = torch.randn(3, 3, 32, 40, device=dev)
    with torch.no_grad():
        theirs = hf(x)
        assert theirs.shape == (3, 4 * 5, 64)
        assert_equivalent(P.patch_embed(x, conv.weight, conv.bias), theirs, rtol=RTOL, atol=ATOL)
        assert_equivalent(P.patch_embed_loop(x, conv.weight, conv.bias), theirs, rtol=RTOL, atol=ATOL)
    assert P.patch_grid(x, 8) == (4, 5)


def test_patchify_order_and_roundtrip():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    patches = P.patchify(x, 2)
    assert patches.shape == (2, 6, 12)
    # patch 1 is to the right of patch 0 (row by row), flattened channel first
    torch.testing.assert_close(patches[1, 1], x[1, :, 0:2, 2:4].reshape(-1))
    torch.testing.assert_close(patches[0, 3], x[0, :, 2:4, 0:2].reshape(-1))
    torch.testing.assert_close(P.unpatchify(patches, 2, (2, 3)), x)
    for i in range(6):
        torch.testing.assert_close(P.patch_at(x, 2, i, image=1).reshape(-1), patches[1, i])


def test_toy_article_example():
    """A 4x4 image, kernel 2, stride 2: four non-overlapping patches, each one number."""
    image = torch.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    kernel = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    out = torch.nn.functional.conv2d(image, kernel, stride=2)
    assert out.flatten().tolist() == [1 + 6, 3 + 8, 9 + 14, 11 + 16]
    torch.testing.assert_close(P.patch_embed(image, kernel, None).flatten(), out.flatten())


def test_filter_components(model):
    weight = _hf(model).projection.weight
    tiles, explained = P.filter_components(weight, k=28)
    assert tiles.shape == (28, 16, 16, 3)
    assert tiles.min() >= 0 and tiles.max() <= 1
    assert torch.all(explained[:-1] >= explained[1:])  # sorted, most variance first
    assert 0 < explained.sum() <= 1
    # a filter bank made of one pattern (plus tiny noise) has one dominant component
    pattern = torch.randn(1, 3, 4, 4)
    bank = torch.randn(50, 1, 1, 1) * pattern + 1e-4 * torch.randn(50, 3, 4, 4)
    _, ex = P.filter_components(bank, k=3)
    assert ex[0] > 0.99


@pytest.mark.parametrize(
    "shape, patch, match",
    [
        ((1, 3, 225, 224), 16, r"225x224 pixels.*225 % 16 = 1"),
        ((1, 3, 224, 230), 16, r"224x230 pixels.*230 % 16 = 6"),
        ((1, 4, 224, 224), 16, r"4 channels but the model expects 3"),
        ((3, 224, 224), 16, r"\(batch, channels, height, width\); got shape \(3, 224, 224\)"),
    ],
)
def test_bad_images(shape, patch, match):
    weight = torch.zeros(8, 3, patch, patch)
    with pytest.raises(ValueError, match=match):
        P.patch_embed(torch.zeros(shape), weight, None)
    with pytest.raises(ValueError, match=match):
        P.patch_embed_loop(torch.zeros(shape), weight, None)


def test_bad_inputs():
    with pytest.raises(TypeError, match="must be a torch.Tensor, got ndarray"):
        P.patchify(torch.zeros(1, 3, 4, 4).numpy(), 2)
    with pytest.raises(IndexError, match=r"patch index 16 .* 4x4 grid has patches 0..15"):
        P.patch_at(torch.zeros(1, 3, 8, 8), 2, 16)
    with pytest.raises(ValueError, match=r"does not fit filters of shape \(3, 16, 16\)"):
        P.embed_one_patch(torch.zeros(3, 8, 8), torch.zeros(4, 3, 16, 16), None)
    with pytest.raises(ValueError, match=r"for a 2x2 grid of 2x2 patches"):
        P.unpatchify(torch.zeros(1, 5, 12), 2, (2, 2))
    with pytest.raises(ValueError, match=r"Conv2d output \(batch, dim, rows, cols\)"):
        P.conv_to_sequence(torch.zeros(768, 14, 14))


def test_figures(model, cat_pixels):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vit_tutorial.figures import patch_plots as V
    from vit_tutorial.images import to_display

    conv = _hf(model).projection
    picture = to_display(cat_pixels)
    tiles, explained = P.filter_components(conv.weight)
    with torch.no_grad():
        vec = P.embed_one_patch(P.patch_at(cat_pixels, 16, 30), conv.weight, conv.bias)
    figs = [
        V.toy_figure(torch.arange(16.0).reshape(4, 4), torch.eye(2), torch.zeros(2, 2)),
        V.patch_figure(picture, 16, 30, vec, caption="random"),
        V.filters_figure(tiles, explained, stamp="weights: random"),
    ]
    assert figs[1].axes[0].get_title() == "patch 30 = row 2, column 2"
    assert "weights: random" in figs[2]._suptitle.get_text()
    for fig in figs:
        plt.close(fig)


def test_filter_components_are_the_svd_directions():
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(40, 3, 4, 4, generator=g) * torch.linspace(0.1, 3, 48).reshape(3, 4, 4)
    tiles, explained = P.filter_components(weight, k=5)
    flat = weight.reshape(40, 48) - weight.reshape(40, 48).mean(0)
    _, s, vh = torch.linalg.svd(flat.double(), full_matrices=False)
    assert_equivalent(explained, (s.square() / s.square().sum())[:5].float(), rtol=1e-4, atol=1e-6)
    for i in range(5):  # the same direction up to sign: rescaling to [0, 1] maps v and -v to 1 - each other
        v = vh[i].float().reshape(3, 4, 4).permute(1, 2, 0)
        ref = (v - v.min()) / (v.max() - v.min())
        assert torch.allclose(tiles[i], ref, atol=1e-4) or torch.allclose(tiles[i], 1 - ref, atol=1e-4)
