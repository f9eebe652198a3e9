"""Chapter 3 helpers against HuggingFace's ViTEmbeddings: [CLS], positions, dropout, interpolation."""
import pytest
import torch

import vit_tutorial as vt
from vit_tutorial import embeddings as E
from vit_tutorial.bridge import vit_model
from vit_tutorial.tolerance import assert_equivalent

# the patch embedding is a matmul instead of a convolution: float32 sums in another order
RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture(scope="module")
def small_model(dev):
    config = vt.vit_config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                           image_size=32, patch_size=8, num_labels=10, id2label={i: str(i) for i in range(10)},
                           label2id={str(i): i for i in range(10)})
    return vt.random_model(seed=1, config=config).to(dev)


def test_embeddings_equal_hf(any_model, batch_pixels):
    emb = vit_model(any_model).embeddings
    with torch.no_grad():
        theirs = emb(batch_pixels)
        ours = E.embeddings_by_hand(batch_pixels, any_model)
    assert ours.shape == (4, 197, 768)
    assert_equivalent(ours, theirs, rtol=RTOL, atol=ATOL)


def test_cls_is_token_zero(model, cat_pixels):
    emb = vit_model(model).embeddings
    with torch.no_grad():
        patches = emb.patch_embeddings(cat_pixels)
        tokens = E.prepend_cls(patches, emb.cls_token)
    assert tokens.shape == (1, 197, 768)
    torch.testing.assert_close(tokens[0, 0], emb.cls_token[0, 0], rtol=0, atol=0)
    torch.testing.assert_close(tokens[:, 1:], patches, rtol=0, atol=0)
    batch = E.prepend_cls(torch.zeros(3, 5, 768, device=cat_pixels.device), emb.cls_token)
    assert batch.shape == (3, 6, 768) and torch.equal(batch[2, 0], emb.cls_token[0, 0])


@pytest.mark.parametrize("size", [(384, 384), (224, 224), (160, 320), (32, 32)])
def test_interpolation_equals_hf(any_model, dev, size):
    emb = vit_model(any_model).embeddings
    x = torch.randn(2, 3, *size, device=dev)
    with torch.no_grad():
        theirs = emb(x, interpolate_pos_encoding=True)
        ours = E.embeddings_by_hand(x, any_model, interpolate_pos_encoding=True)
        pos = E.interpolate_position_embeddings(emb.position_embeddings, *size, 16)
    assert ours.shape == (2, 1 + (size[0] // 16) * (size[1] // 16), 768)
    assert pos.shape == (1, ours.shape[1], 768)
    assert_equivalent(ours, theirs, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(pos[:, 0], emb.position_embeddings[:, 0], rtol=0, atol=0)  # [CLS] keeps its position


def test_small_config(small_model, dev):
    emb = vit_model(small_model).embeddings
    for size, tokens in (((32, 32), 17), ((48, 64), 49)):
        x = torch.randn(3, 3, *size, device=dev)
        with torch.no_grad():
            theirs = emb(x, interpolate_pos_encoding=True)
            ours = E.embeddings_by_hand(x, small_model, interpolate_pos_encoding=True)
        assert ours.shape == (3, tokens, 64)
        assert_equivalent(ours, theirs, rtol=RTOL, atol=ATOL)


def test_dropout_matches_torch_given_its_mask():
    x = torch.randn(4, 197, 768) + 3.0  # no exact zeros, so the mask can be read off the output
    drop = torch.nn.Dropout(p=0.1)
    drop.train()
    out = drop(x)
    keep = out != 0
    assert 0.85 < keep.float().mean() < 0.95
    assert_equivalent(E.dropout_with_mask(x, keep, 0.1), out, rtol=1e-6, atol=1e-6)
    drop.eval()
    assert torch.equal(drop(x), x) and torch.equal(E.dropout(x, 0.1, training=False), x)


def test_dropout_by_hand_statistics():
    g = torch.Generator().manual_seed(0)
    x = torch.ones(200_000)
    out = E.dropout(x, 0.25, training=True, generator=g)
    values = out.unique()
    assert len(values) == 2 and values[0] == 0 and values[1].item() == pytest.approx(1 / 0.75)
    assert abs((out == 0).float().mean().item() - 0.25) < 0.01
    assert abs(out.mean().item() - 1.0) < 0.01  # expected value unchanged
    assert torch.equal(E.dropout(x, 0.0), x)


def test_checkpoint_dropout_is_zero(model):
    assert vit_model(model).embeddings.dropout.p == model.config.hidden_dropout_prob == 0.0


def test_position_similarity(model):
    pos = vit_model(model).embeddings.position_embeddings.detach()
    sim = E.position_similarity(pos)
    assert sim.shape == (196, 196)
    torch.testing.assert_close(sim.diagonal(), torch.ones(196, device=sim.device), rtol=0, atol=1e-5)
    torch.testing.assert_close(sim, sim.T, rtol=0, atol=1e-6)
    expected = torch.nn.functional.cosine_similarity(pos[0, 1:, None, :], pos[0, None, 1:, :], dim=-1)
    assert_equivalent(sim, expected, rtol=1e-5, atol=1e-5)


def test_figures(model):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vit_tutorial.figures import patch_plots as V

    sim = E.position_similarity(vit_model(model).embeddings.position_embeddings.detach())
    mosaic = V.similarity_mosaic(sim, (14, 14))
    assert mosaic.shape == (14 * 15, 14 * 15)
    assert mosaic[0, 0] == pytest.approx(sim[0, 0].item()) and mosaic[15 + 2, 15 * 3 + 4] == pytest.approx(sim[17, 14 * 2 + 4].item())
    fig = V.similarity_figure(sim, (14, 14), 17, stamp="weights: random")
    assert fig.axes[0].get_title().startswith("patch 17 (row 1, column 3)")
    plt.close(fig)


def test_bad_inputs():
    pos = torch.zeros(1, 197, 768)
    with pytest.raises(ValueError, match=r"don't match the tokens .* interpolate them first"):
        E.embed(torch.zeros(1, 576, 768), torch.zeros(1, 1, 768), pos)
    with pytest.raises(ValueError, match=r"a 390x384 image does not divide into 16x16 patches \(390 % 16 = 6"):
        E.interpolate_position_embeddings(pos, 390, 384, 16)
    with pytest.raises(ValueError, match=r"195 patch positions are not a square grid"):
        E.interpolate_position_embeddings(torch.zeros(1, 196, 768), 384, 384, 16)
    with pytest.raises(ValueError, match=r"must be \(1, 1 \+ patches, dim\); got shape \(197, 768\)"):
        E.interpolate_position_embeddings(torch.zeros(197, 768), 384, 384, 16)
    with pytest.raises(ValueError, match=r"probability must be in \[0, 1\); got 1.0"):
        E.dropout(torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match=r"mask \(2,\) must have the shape of the input \(3,\)"):
        E.dropout_with_mask(torch.zeros(3), torch.ones(2, dtype=torch.bool), 0.5)
    with pytest.raises(ValueError, match=r"must be \(1, 1 \+ patches, dim\)"):
        E.position_similarity(torch.zeros(197, 768))
