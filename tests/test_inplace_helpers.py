"""The helpers that work in place for speed (issue 9) still behave like pure functions.

``linear``, ``layer_norm`` and ``gelu`` finish their work in place on tensors they made
themselves. These tests pin down what that must not change: the caller's tensors are left
alone, and gradients equal those of PyTorch's own ops (float64, tolerance 1e-10).
"""
import pytest
import torch
import torch.nn.functional as F

from vit_tutorial.attention import linear, scaled_dot_product
from vit_tutorial.layernorm import layer_norm, normalize
from vit_tutorial.mlp import gelu

TOL = dict(rtol=1e-10, atol=1e-10)


def _inputs(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_()


def _grads(fn, inputs, seed=1):
    out = fn(*inputs)
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    return out, torch.autograd.grad((out * weight).sum(), inputs)


CASES = {
    "linear": (
        lambda x, w, b: linear(x, _Lin().set(w, b)),
        lambda x, w, b: F.linear(x, w, b),
        [(2, 7, 8), (5, 8), (5,)],
    ),
    "layer_norm": (
        lambda x, w, b: layer_norm(x, w, b, 1e-6),
        lambda x, w, b: F.layer_norm(x, (8,), w, b, 1e-6),
        [(2, 7, 8), (8,), (8,)],
    ),
    "normalize": (lambda x: normalize(x, 1e-6), lambda x: F.layer_norm(x, (8,), eps=1e-6), [(2, 7, 8)]),
    "gelu": (gelu, F.gelu, [(2, 7, 8)]),
    "scaled_dot_product": (
        lambda q, k, v: scaled_dot_product(q, k, v)[0],
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
        [(2, 3, 7, 4), (2, 3, 7, 4), (2, 3, 7, 4)],
    ),
}


class _Lin:
    """The two attributes ``linear`` reads from an ``nn.Linear``, holding our own tensors."""

    def set(self, weight, bias):
        self.weight, self.bias = weight, bias
        return self


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_equal_torch(name):
    ours, theirs, shapes = CASES[name]
    inputs = [_inputs(*s, seed=i) for i, s in enumerate(shapes)]
    out, grads = _grads(ours, inputs)
    ref_out, ref_grads = _grads(theirs, inputs)
    torch.testing.assert_close(out, ref_out, **TOL)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, **TOL)


@pytest.mark.parametrize("name", sorted(CASES))
def test_inputs_are_left_alone(name):
    ours, _, shapes = CASES[name]
    inputs = [_inputs(*s, seed=i).detach() for i, s in enumerate(shapes)]
    before = [t.clone() for t in inputs]
    with torch.no_grad():
        out = ours(*inputs)
    for t, copy in zip(inputs, before):
        assert torch.equal(t, copy), f"{name} changed one of its inputs"
        assert out.data_ptr() != t.data_ptr(), f"{name} returned its input's memory"


def test_normalize_gradient_with_a_constant_token():
    # a constant token has a centred vector of length 0: its gradient must stay finite, like torch's
    x = _inputs(3, 8).detach()
    x[1] = 0.5
    x.requires_grad_()
    out, grads = _grads(lambda t: normalize(t, 1e-6), [x])
    ref_out, ref_grads = _grads(lambda t: F.layer_norm(t, (8,), eps=1e-6), [x])
    torch.testing.assert_close(out, ref_out, **TOL)
    assert torch.isfinite(grads[0]).all()
    torch.testing.assert_close(grads[0], ref_grads[0], **TOL)


def test_linear_without_bias():
    x = _inputs(3, 8)
    layer = _Lin().set(_inputs(5, 8, seed=1), None)
    torch.testing.assert_close(linear(x, layer), x @ layer.weight.T, **TOL)
