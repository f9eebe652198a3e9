"""Chapter 6 helpers: residual blocks, the cut-residual encoder, the gradient experiment."""
import pytest
import torch

import vit_tutorial as vt
from vit_tutorial.attention import self_attention
from vit_tutorial.bridge import call_attention, encoder_layers, layer_parts, vit_model
from vit_tutorial.encoder import encoder
from vit_tutorial.residual import (
    gradient_norms,
    hidden_states,
    layer_without_residuals,
    post_norm_residual,
    pre_norm_residual,
    token_norms,
)
from vit_tutorial.tolerance import as_float64, assert_as_accurate_as, assert_equivalent

SMALL = dict(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64, image_size=16, patch_size=4)


def test_first_residual_equals_hf(any_model, cat_pixels):
    """The article's first residual: attention output + the embeddings."""
    parts = layer_parts(any_model, 0)
    with torch.no_grad():
        x = vit_model(any_model).embeddings(cat_pixels)
        attn = lambda h: self_attention(h, parts)[0]  # noqa: E731
        ours = pre_norm_residual(x, parts.layernorm_before, attn)
        theirs = x + call_attention(any_model, 0, parts.layernorm_before(x))[0]
        assert_equivalent(ours, theirs, rtol=1e-5, atol=1e-5)  # float32 attention, summed in another order


def test_pre_and_post_norm_on_a_toy():
    norm = torch.nn.LayerNorm(4)
    sub = lambda h: 2 * h  # noqa: E731
    x = torch.tensor([[1.0, 2.0, 3.0, 6.0]])
    with torch.no_grad():
        torch.testing.assert_close(pre_norm_residual(x, norm, sub), x + 2 * norm(x))
        torch.testing.assert_close(post_norm_residual(x, norm, sub), norm(3 * x))


def test_hidden_states_with_residual_is_the_model(any_model, cat_pixels):
    """With its residuals, the chapter's encoder (attention by hand, the model's own MLP) is the model's
    encoder: every hidden state as close to a float64 run as HuggingFace's, and as chapter 7's by-hand encoder."""
    with torch.no_grad():
        x = vit_model(any_model).embeddings(cat_pixels)
        theirs = vit_model(any_model)(cat_pixels, output_hidden_states=True).hidden_states
        truth = vit_model(as_float64(any_model))(cat_pixels.double(), output_hidden_states=True).hidden_states
        mine = hidden_states(x, any_model)
        assert len(mine) == len(theirs) == len(encoder_layers(any_model)) + 1
        for i, (ours, hf, by_hand, true) in enumerate(zip(mine, theirs, encoder(x, any_model)[0], truth)):
            # 12 layers of float32 error accumulate (and on the heavy profile, tokens of norm ~4000 carry
            # it through attention): the float64 referee decides, as in tests/test_encoder.py
            assert_as_accurate_as(ours, hf, true, what=f"hidden state {i}")
            assert_as_accurate_as(ours, by_hand, true, what=f"hidden state {i} (against chapter 7's)")


def test_layer_without_residuals_equals_hf_pieces(dev):
    model = vt.random_model(seed=5, config=vt.vit_config(**SMALL)).to(dev)
    pixels = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(2)).to(dev)
    layer = encoder_layers(model)[1]
    with torch.no_grad():
        x = vit_model(model).embeddings(pixels)
        h = call_attention(model, 1, layer.layernorm_before(x))[0]
        from vit_tutorial.bridge import call_mlp

        theirs = call_mlp(model, 1, layer.layernorm_after(h), torch.zeros_like(h))
        assert_equivalent(layer_without_residuals(x, layer_parts(model, 1)), theirs, rtol=1e-5, atol=1e-6)
        states = hidden_states(x, model, residual=False)
        assert len(states) == 5 and not torch.allclose(states[-1], hidden_states(x, model)[-1], atol=1e-3)


def test_token_norms_shapes_and_values():
    states = [torch.full((2, 3, 4), float(i)) for i in range(3)]
    norms = token_norms(states)
    assert norms.shape == (3, 2, 3)
    torch.testing.assert_close(norms[2], torch.full((2, 3), 4.0))  # sqrt(4 * 2^2)
    with pytest.raises(ValueError, match=r"\(layers, batch, tokens, hidden\), got \(2, 3, 4\)"):
        token_norms(torch.zeros(2, 3, 4))


def test_gradients_vanish_without_residuals_and_not_with_them():
    plain = gradient_norms(depth=24, residual=False)
    res = gradient_norms(depth=24, residual=True)
    assert plain.shape == res.shape == (25,)
    torch.testing.assert_close(plain[-1], torch.tensor(1.0))
    assert plain[0] < 1e-8  # vanished
    assert res[0] > 1.0  # the identity path carries the gradient back intact (or larger)
    assert torch.equal(gradient_norms(depth=5, seed=3), gradient_norms(depth=5, seed=3))  # reproducible


def test_gradient_norms_bad_arguments():
    with pytest.raises(ValueError, match="depth and width must be positive"):
        gradient_norms(depth=0)
