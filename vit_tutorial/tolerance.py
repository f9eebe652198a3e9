"""How close is "equal"? One rule for every equality claim in the book and the tests.

Two correct float32 implementations of the same layer add the same numbers in a different
order, so they differ by rounding. That rounding error is proportional to the size of the
numbers being added, not to the size of each result: a LayerNorm or a matrix product over a
token mixes all 768 of its channels, so a token with a few channels of size 100 carries
larger errors, in *every* channel, than a token of size 1: the error follows the token's
root-mean-square (chapter 4 measures it). Trained transformers have such tokens (a few outlier
channels in every token, and in some ViTs a few tokens of very large norm), and so do the
trained-like test weights, so a fixed ``atol`` that suits random weights fails on them while the
code is right.

The rule: compare with :func:`torch.testing.assert_close`, but measure ``atol`` in units of each
token's size: its root-mean-square over the feature axis (the last one), never less than 1::

    |ours - theirs| <= atol * max(1, rms(theirs_token)) + rtol * |theirs|

On a GPU both allowances are :data:`GPU_FACTOR` times larger: there the same product runs
through other kernels (cuBLAS chooses its own blocking and split of the sum for each shape, and
PyTorch's fused attention computes the softmax in tiles), whose float32 rounding differs from the
CPU's; ``benchmarks/margins.py --device cuda`` shows how much of the larger allowance a GPU uses.

For random weights (tokens of RMS ~1) on the CPU this is the plain ``assert_close`` rule. It stays tight
enough that a forgotten bias, LayerNorm gamma or beta, or the 1/sqrt(d) scale fails: those
change values by a fixed fraction of the token, thousands of times the allowed rounding.

    >>> assert_equivalent(ours, theirs)                          # rtol = atol = 1e-4 (defaults)
    >>> assert_equivalent(ours, theirs, rtol=1e-5, atol=1e-5)    # one layer: less to accumulate
    >>> assert_equivalent(weights, their_weights, **ATTENTION_WEIGHTS)   # probabilities
    >>> equivalence_margin(ours, theirs)                         # largest |diff| / allowed (< 1 passes)
"""
from __future__ import annotations

import torch

DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-4
#: Attention weights are probabilities (rows summing to 1, so their scale is 1). A softmax's
#: relative error grows with the size of its logits, and a trained model's peaked rows have
#: logits in the tens: allow 1e-4 relative, 1e-5 absolute.
ATTENTION_WEIGHTS = dict(rtol=1e-4, atol=1e-5)
#: Allowances are this many times larger when the reference lives on a GPU (see the module).
GPU_FACTOR = 4.0


def device_factor(reference: torch.Tensor) -> float:
    """1 on the CPU, :data:`GPU_FACTOR` on any other device (CUDA, MPS)."""
    return 1.0 if reference.device.type == "cpu" else GPU_FACTOR


def token_scale(reference: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Each token's size: RMS over ``dim`` (keepdim), at least 1. ``(B, N, D)`` -> ``(B, N, 1)``."""
    ref = reference.detach()
    if not ref.is_floating_point():
        ref = ref.double()
    if ref.dim() == 0:
        return ref.abs().clamp_min(1.0)
    rms = ref.to(torch.float64 if ref.dtype == torch.float64 else torch.float32).pow(2).mean(dim, keepdim=True).sqrt()
    return rms.clamp_min(1.0)


def allowed_error(expected: torch.Tensor, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL, dim: int = -1) -> torch.Tensor:
    """The largest difference the rule accepts at each element of ``expected``."""
    e = expected.detach()
    scale = token_scale(e, dim)
    return device_factor(e) * (atol * scale + rtol * e.abs().to(scale.dtype))


def equivalence_margin(actual: torch.Tensor, expected: torch.Tensor, rtol: float = DEFAULT_RTOL,
                       atol: float = DEFAULT_ATOL, dim: int = -1) -> float:
    """Largest ``|actual - expected| / allowed_error``: below 1 passes; 0.01 means 100x to spare."""
    _check_shapes(actual, expected)
    diff = (actual.detach().to(expected.dtype) - expected.detach()).abs()
    allowed = allowed_error(expected, rtol, atol, dim)
    if diff.numel() == 0:
        return 0.0
    if not torch.isfinite(diff).all():
        return float("inf")
    return float((diff / allowed).max())


def assert_equivalent(actual: torch.Tensor, expected: torch.Tensor, *, rtol: float = DEFAULT_RTOL,
                      atol: float = DEFAULT_ATOL, dim: int = -1, what: str = "") -> None:
    """``torch.testing.assert_close(actual, expected)`` with ``atol`` scaled per token (see the module).

    ``what`` names the compared thing in the failure message. Shapes must match exactly.
    """
    _check_shapes(actual, expected, what)
    scale = token_scale(expected, dim).to(expected.dtype)
    label = f"{what}: " if what else ""
    factor = device_factor(expected)
    on_gpu = f", x{factor:g} on {expected.device.type}" if factor != 1 else ""

    def message(text: str) -> str:
        margin = equivalence_margin(actual, expected, rtol, atol, dim)
        return (f"{label}not equal within float32 rounding (rtol={rtol:g}, atol={atol:g} x each token's RMS, "
                f"at least 1{on_gpu}); largest difference / allowed = {margin:.3g}.\n"
                f"(assert_close on the values divided by each token's scale) {text}")

    torch.testing.assert_close(actual.detach().to(expected.dtype) / scale, expected.detach() / scale,
                               rtol=rtol * factor, atol=atol * factor, msg=message)


def _check_shapes(actual, expected, what: str = "") -> None:
    if not isinstance(actual, torch.Tensor) or not isinstance(expected, torch.Tensor):
        raise TypeError(f"{what or 'assert_equivalent'}: compare two tensors, got "
                        f"{type(actual).__name__} and {type(expected).__name__}")
    if actual.shape != expected.shape:
        raise AssertionError(f"{what + ': ' if what else ''}shapes differ: {tuple(actual.shape)} vs {tuple(expected.shape)}")
