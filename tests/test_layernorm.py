"""Chapter 5 helpers against torch / HuggingFace LayerNorm."""
import pytest
import torch
from torch import nn

import vit_tutorial as vt
from vit_tutorial.bridge import layer_parts, vit_model
from vit_tutorial.layernorm import batch_norm, layer_norm, layer_norm_module, normalize
from vit_tutorial.tolerance import assert_equivalent

SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, image_size=32, patch_size=8)


@pytest.fixture(scope="module")
def small_model(dev):
    return vt.random_model(seed=1, config=vt.vit_config(**SMALL, layer_norm_eps=1e-6)).to(dev)


def _embeddings(model, dev, batch=2, seed=0):
    size = model.config.image_size
    pixels = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed)).to(dev)
    with torch.no_grad():
        return vit_model(model).embeddings(pixels)  # (B, N, D)


def test_layer_norm_equals_layernorm_before(any_model, dev):
    x = _embeddings(any_model, dev)
    for i in (0, -1):
        norm = layer_parts(any_model, i).layernorm_before
        with torch.no_grad():
            # float32; the mean / variance sums are done in another order than ATen's kernel
            assert_equivalent(layer_norm(x, norm.weight, norm.bias, norm.eps), norm(x), rtol=1e-5, atol=1e-5)


def test_layer_norm_equals_final_layernorm_on_small_config(small_model, dev):
    x = _embeddings(small_model, dev) * 3 + 1
    norm = vit_model(small_model).layernorm
    assert norm.eps == 1e-6
    with torch.no_grad():
        assert_equivalent(layer_norm_module(x, norm), norm(x), rtol=1e-5, atol=1e-5)


def test_layer_norm_equals_nn_layernorm_with_random_gamma_beta():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 5, 16, generator=g, dtype=torch.float64) * 4 + 2
    ln = nn.LayerNorm(16, eps=0.1).double()
    with torch.no_grad():
        ln.weight.copy_(torch.randn(16, generator=g))
        ln.bias.copy_(torch.randn(16, generator=g))
        torch.testing.assert_close(layer_norm(x, ln.weight, ln.bias, 0.1), ln(x), rtol=1e-12, atol=1e-12)


def test_normalize_gives_mean_0_variance_1():
    x = torch.randn(4, 7, 32, dtype=torch.float64) * 5 + 3
    y = normalize(x, eps=0.0)
    torch.testing.assert_close(y.mean(-1), torch.zeros(4, 7, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(4, 7, dtype=torch.float64), rtol=0, atol=1e-12)


def test_batch_norm_equals_nn_batchnorm_in_training_mode():
    x = torch.randn(3, 10, 8, dtype=torch.float64) * 2 + 1
    bn = nn.BatchNorm1d(8, affine=False, eps=1e-5).double().train()
    torch.testing.assert_close(batch_norm(x), bn(x.transpose(1, 2)).transpose(1, 2), rtol=1e-10, atol=1e-10)
    bn2 = nn.BatchNorm1d(8, affine=False).double().train()
    torch.testing.assert_close(batch_norm(x[:, 0]), bn2(x[:, 0]), rtol=1e-10, atol=1e-10)


def test_layer_norm_ignores_the_rest_of_the_batch_batch_norm_does_not():
    g = torch.Generator().manual_seed(0)
    a, b, c = (torch.randn(1, 5, 16, generator=g) * s for s in (1, 3, 10))
    w, bias = torch.ones(16), torch.zeros(16)
    alone = layer_norm(a, w, bias)
    torch.testing.assert_close(layer_norm(torch.cat([a, b]), w, bias)[:1], alone)
    torch.testing.assert_close(layer_norm(torch.cat([a, c]), w, bias)[:1], alone)
    assert not torch.allclose(batch_norm(torch.cat([a, b]))[:1], batch_norm(torch.cat([a, c]))[:1], atol=1e-3)


def test_bad_gamma_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"weight \(gamma\) has shape \(8,\).*\(16,\)"):
        layer_norm(torch.randn(2, 16), torch.ones(8), torch.zeros(16))
    with pytest.raises(ValueError, match=r"bias \(beta\)"):
        layer_norm(torch.randn(2, 16), torch.ones(16), torch.zeros(16, 1))
    with pytest.raises(ValueError, match="eps must be >= 0"):
        normalize(torch.randn(2, 16), eps=-1.0)
    with pytest.raises(ValueError, match="batch_norm needs a batch"):
        batch_norm(torch.randn(16))
