"""Appendix A1 helpers: attention rollout, mean attention distance, position similarity, filters."""
import math

import numpy as np
import pytest
import torch

import vit_tutorial as vt
from vit_tutorial import insights


def _random_attentions(layers=3, batch=2, heads=4, tokens=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, heads, tokens, tokens, generator=g).softmax(-1) for _ in range(layers)]


def _rollout_reference(attentions, fusion):
    """Abnar & Zuidema's recipe, written independently: NumPy, one image at a time."""
    fuse = {"mean": np.mean, "max": np.max, "min": np.min}[fusion]
    out = []
    for b in range(attentions[0].shape[0]):
        n = attentions[0].shape[-1]
        result = np.eye(n)
        for a in attentions:
            fused = fuse(a[b].double().numpy(), axis=0)
            aug = (fused + np.eye(n)) / 2
            aug = aug / aug.sum(axis=-1, keepdims=True)
            result = aug @ result
        out.append(result)
    return torch.from_numpy(np.stack(out))


@pytest.fixture(scope="module")
def hf_attentions(model, cat_pixels):
    with torch.no_grad():
        return model(cat_pixels, output_attentions=True).attentions


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
def test_rollout_matches_reference(fusion):
    atts = _random_attentions()
    ours = insights.attention_rollout(atts, head_fusion=fusion)
    torch.testing.assert_close(ours.double(), _rollout_reference(atts, fusion), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.sum(-1), torch.ones(2, 5))  # rows stay distributions


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
def test_rollout_on_hf_attentions(hf_attentions, fusion):
    ours = insights.attention_rollout(hf_attentions, head_fusion=fusion)
    assert ours.shape == (1, 197, 197)
    ref = _rollout_reference([a.cpu() for a in hf_attentions], fusion)
    torch.testing.assert_close(ours.double().cpu(), ref, rtol=1e-4, atol=1e-6)
    heat = insights.cls_attention_map(ours, (14, 14))
    assert heat.shape == (1, 14, 14)


def test_rollout_of_self_attention_is_identity():
    eye = torch.eye(4).expand(1, 2, 4, 4)
    torch.testing.assert_close(insights.attention_rollout([eye, eye, eye]), torch.eye(4)[None])


def test_rollout_by_hand_two_tokens():
    a = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])  # both tokens look at token 1
    # (A + I) / 2 = [[0.5, 0.5], [0, 1]] (rows already sum to 1); two layers: its square
    one = torch.tensor([[0.5, 0.5], [0.0, 1.0]])
    torch.testing.assert_close(insights.attention_rollout([a, a])[0], one @ one)
    torch.testing.assert_close(insights.attention_rollout([a, a], start_layer=1)[0], one)


def test_fuse_heads():
    a = torch.tensor([[[[0.2, 0.8]], [[0.6, 0.4]]]])  # (1, 2 heads, 1, 2)
    torch.testing.assert_close(insights.fuse_heads(a, "mean"), torch.tensor([[[0.4, 0.6]]]))
    torch.testing.assert_close(insights.fuse_heads(a, "max"), torch.tensor([[[0.6, 0.8]]]))
    torch.testing.assert_close(insights.fuse_heads(a, "min"), torch.tensor([[[0.2, 0.4]]]))


def test_grid_of():
    assert insights.grid_of(vt.vit_config()) == (14, 14)
    assert insights.grid_of(vt.vit_config(image_size=32, patch_size=8)) == (4, 4)


def test_cls_attention_map_takes_the_cls_row():
    m = torch.arange(2 * 5 * 5, dtype=torch.float32).reshape(2, 5, 5)
    heat = insights.cls_attention_map(m, (2, 2))
    torch.testing.assert_close(heat, m[:, 0, 1:].reshape(2, 2, 2))
    assert heat[1, 1, 0] == m[1, 0, 3]


def test_patch_distances():
    d = insights.patch_distances((2, 2), patch_size=16)
    expected = torch.tensor([[0, 16, 16, 16 * math.sqrt(2)], [16, 0, 16 * math.sqrt(2), 16],
                             [16, 16 * math.sqrt(2), 0, 16], [16 * math.sqrt(2), 16, 16, 0]])
    torch.testing.assert_close(d, expected)


def _with_cls(patch_attention):
    """Embed a (B, H, N, N) patch-to-patch attention into (B, H, N+1, N+1) with some weight on [CLS]."""
    b, h, n, _ = patch_attention.shape
    full = torch.zeros(b, h, n + 1, n + 1)
    full[:, :, :, 0] = 0.5  # half of every row goes to [CLS]; it must be ignored
    full[:, :, 1:, 1:] = 0.5 * patch_attention
    full[:, :, 0, 0] = 1.0
    return full


def test_mean_attention_distance_known_values():
    n = 4  # a 2x2 grid
    self_only = torch.eye(n).expand(1, 1, n, n)
    uniform = torch.full((1, 1, n, n), 1 / n)
    att = _with_cls(torch.cat([self_only, uniform], dim=1))  # two heads
    dist = insights.mean_attention_distance([att, att], grid=(2, 2), patch_size=16)
    assert dist.shape == (2, 2)
    # uniform: from any patch, distances 0, 16, 16, 16*sqrt(2), averaged
    torch.testing.assert_close(dist[0], torch.tensor([0.0, (32 + 16 * math.sqrt(2)) / 4]))


def test_mean_attention_distance_on_hf(hf_attentions):
    dist = insights.mean_attention_distance(hf_attentions, grid=(14, 14), patch_size=16)
    assert dist.shape == (12, 12)
    assert (dist >= 0).all() and (dist <= 224 * math.sqrt(2)).all()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: insights.attention_rollout([]), ValueError, "output_attentions=True"),
        (lambda: insights.attention_rollout(None), ValueError, "output_attentions=True"),
        (lambda: insights.attention_rollout([None]), TypeError, "use eager"),
        (lambda: insights.attention_rollout(_random_attentions(), head_fusion="median"), ValueError, "mean, max, min"),
        (lambda: insights.attention_rollout(_random_attentions(), start_layer=3), ValueError, "3 layers"),
        (lambda: insights.attention_rollout([torch.zeros(1, 2, 3, 4)]), ValueError, r"\(batch, heads, tokens, tokens\)"),
        (lambda: insights.attention_rollout(_random_attentions()[:1] + _random_attentions(tokens=6)[:1]), ValueError, "differ in shape"),
        (lambda: insights.cls_attention_map(torch.zeros(1, 5, 5), (3, 3)), ValueError, "3x3 grid"),
        (lambda: insights.mean_attention_distance(_random_attentions(), (3, 3)), ValueError, "3x3 grid"),
        (lambda: insights.patch_distances((0, 2)), ValueError, "positive"),
    ],
)
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_gathers_chapter_2_3_helpers():
    from vit_tutorial import embeddings, patches

    assert insights.position_similarity is embeddings.position_similarity
    assert insights.filter_components is patches.filter_components
