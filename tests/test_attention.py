"""vit_tutorial.attention against HuggingFace's attention, on both transformers versions.

Tolerances (vit_tutorial.tolerance: atol is measured in units of each token's RMS, at least 1):
our code does the same float32 operations as HF's eager attention, so outputs agree to rounding,
rtol=atol=1e-5. Weights are probabilities whose relative error grows with the logits, which are
tens on trained-like weights: ATTENTION_WEIGHTS (rtol=1e-4, atol=1e-5). SDPA fuses the softmax
differently: rtol=1e-4, atol=1e-5.
"""
from dataclasses import replace

import pytest
import torch

import vit_tutorial as vt
from vit_tutorial import attention as A
from vit_tutorial import bridge
from vit_tutorial.tolerance import ATTENTION_WEIGHTS, assert_equivalent

TOL_W = ATTENTION_WEIGHTS
TOL_OUT = dict(rtol=1e-5, atol=1e-5)
TOL_SDPA = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def small_model(dev):
    config = vt.vit_config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                           image_size=32, patch_size=8, num_labels=3, id2label={0: "a", 1: "b", 2: "c"},
                           label2id={"a": 0, "b": 1, "c": 2})
    return vt.random_model(seed=1, config=config).to(dev)


def _layer_inputs(model, pixels):
    with torch.no_grad():
        return model(pixels, output_hidden_states=True, output_attentions=True)


@pytest.mark.parametrize("layer", [0, -1])
def test_self_attention_equals_hf_block(any_model, cat_pixels, layer):
    out = _layer_inputs(any_model, cat_pixels)
    i = layer % len(bridge.encoder_layers(any_model))
    parts = bridge.layer_parts(any_model, i)
    with torch.no_grad():
        x = parts.layernorm_before(out.hidden_states[i])
        ours, weights = A.self_attention(x, parts)
        theirs, their_weights = bridge.call_attention(any_model, i, x)
    assert ours.shape == x.shape == (1, 197, 768)
    assert weights.shape == (1, 12, 197, 197)
    assert_equivalent(ours, theirs, **TOL_OUT)
    assert_equivalent(weights, their_weights, **TOL_W)


def test_weights_equal_output_attentions_of_full_model(any_model, batch_pixels):
    """Every layer's weights from our attention equal HF's output_attentions=True of the full model."""
    maps = A.attention_maps(any_model, batch_pixels)
    theirs = _layer_inputs(any_model, batch_pixels).attentions
    assert len(theirs) == maps.shape[0] == 12
    assert maps.shape == (12, 4, 12, 197, 197)
    assert_equivalent(maps, torch.stack(theirs), **TOL_W)
    torch.testing.assert_close(maps.sum(-1), torch.ones_like(maps.sum(-1)), rtol=0, atol=1e-5)


def test_single_head_is_a_slice_of_all_heads(any_model, cat_pixels):
    parts = bridge.layer_parts(any_model, 0)
    with torch.no_grad():
        x = parts.layernorm_before(bridge.vit_model(any_model).embeddings(cat_pixels))
        _, weights = A.self_attention(x, parts)
        q, k, v = A.project_qkv(x, parts)
        context_all, _ = A.scaled_dot_product(q, k, v)
        for head in (0, 2, 11):
            context, w = A.single_head(x, parts, head)
            assert context.shape == (1, 197, 64) and w.shape == (1, 197, 197)
            assert_equivalent(w, weights[:, head], **TOL_W)
            assert_equivalent(context, context_all[:, head], **TOL_W)
    # head h's query = the h-th block of 64 output columns of the query projection
    torch.testing.assert_close(q[:, 2], A.linear(x, parts.query)[..., 128:192], rtol=0, atol=0)


def test_sdpa_equals_eager(any_model, batch_pixels):
    parts = bridge.layer_parts(any_model, 3)
    with torch.no_grad():
        x = parts.layernorm_before(_layer_inputs(any_model, batch_pixels).hidden_states[3])
        assert_equivalent(A.self_attention_sdpa(x, parts), A.self_attention(x, parts)[0], **TOL_SDPA)


def test_small_config(small_model, dev):
    g = torch.Generator().manual_seed(0)
    pixels = torch.randn(2, 3, 32, 32, generator=g).to(dev)
    out = _layer_inputs(small_model, pixels)
    for i in range(2):
        parts = bridge.layer_parts(small_model, i)
        assert (parts.num_heads, parts.head_dim) == (4, 16)
        with torch.no_grad():
            x = parts.layernorm_before(out.hidden_states[i])
            ours, weights = A.self_attention(x, parts)
            theirs, _ = bridge.call_attention(small_model, i, x)
            assert ours.shape == (2, 17, 64) and weights.shape == (2, 4, 17, 17)
            assert_equivalent(ours, theirs, **TOL_OUT)
            assert_equivalent(weights, out.attentions[i], **TOL_W)
            assert_equivalent(A.self_attention_sdpa(x, parts), ours, **TOL_SDPA)
            assert_equivalent(A.single_head(x, parts, 3)[1], weights[:, 3], **TOL_W)
    assert_equivalent(A.attention_maps(small_model, pixels), torch.stack(out.attentions), **TOL_W)


def test_split_merge_round_trip_and_layout():
    x = torch.arange(2 * 3 * 12, dtype=torch.float32).reshape(2, 3, 12)
    heads = A.split_heads(x, 4)
    assert heads.shape == (2, 4, 3, 3)
    torch.testing.assert_close(heads[1, 2, 0], x[1, 0, 6:9], rtol=0, atol=0)  # head 2 = columns 6..8
    torch.testing.assert_close(A.merge_heads(heads), x, rtol=0, atol=0)


def test_scaled_dot_product_by_definition():
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(1, 2, 5, 8, generator=g) for _ in range(3))
    context, weights = A.scaled_dot_product(q, k, v)
    scores = torch.einsum("bhid,bhjd->bhij", q, k) / 8 ** 0.5
    expected_w = scores.exp() / scores.exp().sum(-1, keepdim=True)
    torch.testing.assert_close(weights, expected_w, rtol=1e-6, atol=1e-7)
    assert_equivalent(context, torch.einsum("bhij,bhjd->bhid", expected_w, v), rtol=1e-5, atol=1e-6)


def test_bad_inputs(model, small_model):
    parts = bridge.layer_parts(model, 0)
    with pytest.raises(ValueError, match=r"100 wide but this layer's projections expect 768"):
        A.self_attention(torch.zeros(1, 5, 100), parts)
    with pytest.raises(ValueError, match=r"shape \(batch, tokens, 768\), got \(5, 768\)"):
        A.self_attention_sdpa(torch.zeros(5, 768), parts)
    with pytest.raises(ValueError, match=r"head 12 does not exist: this layer has 12 heads"):
        A.single_head(torch.zeros(1, 5, 768), parts, head=12)
    with pytest.raises(ValueError, match=r"hidden size 768 does not divide into 5 heads"):
        A.split_heads(torch.zeros(1, 5, 768), 5)
    with pytest.raises(ValueError, match=r"split_heads expects \(batch, tokens, width\)"):
        A.split_heads(torch.zeros(5, 768), 12)
    with pytest.raises(ValueError, match=r"merge_heads expects \(batch, heads, tokens, head_dim\)"):
        A.merge_heads(torch.zeros(5, 768))
    # a layer whose head count does not divide its width
    bad = bridge.layer_parts(small_model, 0)
    with pytest.raises(ValueError, match=r"width 64 does not divide into 5 heads"):
        A.self_attention(torch.zeros(1, 17, 64), replace(bad, num_heads=5))
