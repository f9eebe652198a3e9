"""Chapter 7 helpers: GELU and the MLP, against HuggingFace's activations and MLP."""
import pytest
import torch
from torch import nn
from transformers.activations import ACT2FN

import vit_tutorial as vt
from vit_tutorial.bridge import call_mlp, encoder_layers, layer_parts, vit_model
from vit_tutorial.mlp import ACTIVATIONS, activation, activation_name, gelu, gelu_tanh, intermediate, mlp, output, relu
from vit_tutorial.tolerance import assert_equivalent

SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, image_size=32, patch_size=8)


def _small(dev, **overrides):
    return vt.random_model(seed=2, config=vt.vit_config(**SMALL, **overrides)).to(dev)


def _tokens(model, dev, batch=2):
    size = model.config.image_size
    pixels = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0)).to(dev)
    with torch.no_grad():
        return vit_model(model).embeddings(pixels)


def test_gelu_forms_equal_torch():
    x = torch.linspace(-8, 8, 4001, dtype=torch.float64)
    torch.testing.assert_close(gelu(x), nn.functional.gelu(x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gelu_tanh(x), nn.functional.gelu(x, approximate="tanh"), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(relu(x), torch.relu(x), rtol=0, atol=0)


def test_tanh_form_differs_from_exact_by_under_5e_4():
    x = torch.linspace(-8, 8, 16001, dtype=torch.float64)
    diff = (gelu(x) - gelu_tanh(x)).abs()
    assert 1e-4 < diff.max().item() < 5e-4


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_supported_activation_equals_hf(name):
    x = torch.linspace(-6, 6, 1201, dtype=torch.float64)
    hf = ACT2FN[name]
    assert activation_name(hf) in ACTIVATIONS and activation(activation_name(hf)) is activation(name)
    torch.testing.assert_close(activation(name)(x), hf(x), rtol=1e-6, atol=1e-7)  # gelu_fast rounds its constant


def test_mlp_equals_hf(any_model, dev):
    x = _tokens(any_model, dev)
    assert activation_name(layer_parts(any_model, 0).activation) == any_model.config.hidden_act == "gelu"
    for i in (0, len(encoder_layers(any_model)) - 1):
        parts = layer_parts(any_model, i)
        with torch.no_grad():
            theirs = call_mlp(any_model, i, x, torch.zeros_like(x))  # zero residual: the bare MLP
            h = intermediate(x, parts)
            assert h.shape == (*x.shape[:2], any_model.config.intermediate_size)
            # float32 matmuls of width 768 and 3072, summed in another order than the fused kernel
            assert_equivalent(output(h, parts), theirs, rtol=1e-4, atol=1e-5)
            assert_equivalent(mlp(x, parts), theirs, rtol=1e-4, atol=1e-5)
            assert_equivalent(x + mlp(x, parts), call_mlp(any_model, i, x, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("act", ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu"])
def test_mlp_honours_the_configs_activation(act, dev):
    model = _small(dev, hidden_act=act)
    x = _tokens(model, dev) * 200  # pre-activations of order 1, where the GELU forms differ
    parts = layer_parts(model, 1)
    assert activation_name(parts.activation) in ACTIVATIONS
    with torch.no_grad():
        theirs = call_mlp(model, 1, x, torch.zeros_like(x))
        assert_equivalent(mlp(x, parts), theirs, rtol=1e-5, atol=1e-6)
        if act != "gelu":  # the wrong activation is visibly wrong, so the test above can fail
            assert not torch.allclose(mlp(x, parts, act="gelu"), theirs, rtol=1e-5, atol=1e-6)


def test_unknown_activation_is_a_clear_error(dev):
    with pytest.raises(ValueError, match=r"hidden_act='swish' is not an activation this book implements; supported: gelu"):
        activation("swish")
    model = _small(dev, hidden_act="silu")
    x = _tokens(model, dev)
    with pytest.raises(ValueError, match=r"the MLP's activation is SiLU.*supported hidden_act values"):
        mlp(x, layer_parts(model, 0))
