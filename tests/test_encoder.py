"""Chapters 6-7: one encoder layer and the whole encoder by hand, against HuggingFace."""
import pytest
import torch

import vit_tutorial as vt
from vit_tutorial.bridge import encoder_layers, layer_output, layer_parts, vit_model
from vit_tutorial.encoder import encoder, encoder_layer, final_norm
from vit_tutorial.tolerance import assert_equivalent

SMALL = dict(hidden_size=64, num_hidden_layers=3, num_attention_heads=4, intermediate_size=96, image_size=40, patch_size=8)


def _hf(model, pixels):
    with torch.no_grad():
        return vit_model(model)(pixels, output_hidden_states=True, output_attentions=True)


def _check_all_layers(model, pixels, rtol, atol):
    out = _hf(model, pixels)
    n = len(encoder_layers(model))
    assert len(out.hidden_states) == n + 1
    with torch.no_grad():
        ours, attentions = encoder(out.hidden_states[0], model)  # start from HF's embeddings
        assert len(ours) == n + 1 and len(attentions) == n
        for i, (mine, theirs) in enumerate(zip(ours, out.hidden_states)):
            assert_equivalent(mine, theirs, rtol=rtol, atol=atol, what=f"hidden state {i}")
        for i, (mine, theirs) in enumerate(zip(attentions, out.attentions)):
            assert_equivalent(mine, theirs, rtol=rtol, atol=atol, what=f"attention {i}")
        assert_equivalent(final_norm(ours[-1], model), out.last_hidden_state, rtol=rtol, atol=atol)


def test_one_layer_equals_hf(any_model, cat_pixels):
    with torch.no_grad():
        x = vit_model(any_model).embeddings(cat_pixels)
        for i in (0, 5):
            mine, weights = encoder_layer(x, layer_parts(any_model, i))
            theirs = layer_output(encoder_layers(any_model)[i](x))
            # float32 through LN, attention and a 3072-wide MLP, in another summation order
            assert_equivalent(mine, theirs, rtol=1e-4, atol=1e-4)
            assert weights.shape == (1, any_model.config.num_attention_heads, 197, 197)


def test_all_13_hidden_states_then_final_layernorm(any_model, batch_pixels):
    # 12 layers of float32 error accumulate: allow 1e-4 relative, 1e-4 absolute
    _check_all_layers(any_model, batch_pixels[:2], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("act", ["gelu", "gelu_new", "relu"])
def test_small_config_all_layers(act, dev):
    config = vt.vit_config(**SMALL, hidden_act=act, num_labels=3, id2label={0: "a", 1: "b", 2: "c"}, label2id={"a": 0, "b": 1, "c": 2})
    model = vt.random_model(seed=4, config=config).to(dev)
    pixels = torch.randn(3, 3, 40, 40, generator=torch.Generator().manual_seed(1)).to(dev)
    _check_all_layers(model, pixels, rtol=1e-5, atol=1e-5)


def test_a_broken_layer_is_caught(model, cat_pixels):
    """The comparison can fail: perturb one weight of layer 7 and hidden state 8 differs."""
    parts = layer_parts(model, 7)
    with torch.no_grad():
        x = vit_model(model).embeddings(cat_pixels)
        good, _ = encoder(x, model)
        saved = parts.mlp_out.bias.clone()
        try:
            parts.mlp_out.bias.add_(0.01)
            bad, _ = encoder(x, model)
        finally:
            parts.mlp_out.bias.copy_(saved)
    torch.testing.assert_close(bad[7], good[7])
    assert not torch.allclose(bad[8], good[8], atol=1e-3)


def test_wrong_width_is_a_clear_error(model):
    with pytest.raises(ValueError, match=r"weight \(gamma\) has shape \(768,\).*\(64,\)"):
        encoder_layer(torch.randn(1, 5, 64), layer_parts(model, 0))
