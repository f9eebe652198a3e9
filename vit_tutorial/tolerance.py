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

**Deep comparisons: float64 as the referee.** Over many layers that rule stops being the right
question. Attention mixes tokens, so a token's rounding error comes in from *other* tokens too,
and a token of small size can inherit the error of a token of norm several thousand: no
per-token scale can see that. There the question is "is our code as accurate as HuggingFace's?":
run the same weights in float64 (:func:`as_float64`), whose rounding is 500 million times finer,
and require our float32 result to be no further from it than :data:`REFEREE_FACTOR` times
HuggingFace's float32 result is. Each error is the largest over the whole tensor, in units of each
token's scale, so one lucky token of HuggingFace's does not decide::

    max |ours - float64| / scale  <=  REFEREE_FACTOR * max(max |theirs - float64| / scale, REFEREE_FLOOR)

    >>> truth = as_float64(model)(pixels.double()).logits
    >>> assert_as_accurate_as(ours, theirs, truth, what="logits")
    >>> referee_margin(ours, theirs, truth)                     # < 1 passes
"""
from __future__ import annotations

import copy

import torch

DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-4
#: Attention weights are probabilities (rows summing to 1, so their scale is 1). A softmax's
#: relative error grows with the size of its logits, and a trained model's peaked rows have
#: logits in the tens: allow 1e-4 relative, 1e-5 absolute.
ATTENTION_WEIGHTS = dict(rtol=1e-4, atol=1e-5)
#: Allowances are this many times larger when the reference lives on a GPU (see the module).
GPU_FACTOR = 4.0
#: Our float32 result may be this many times further from the float64 run than HuggingFace's
#: float32 result is. Two correct float32 programs differ in luck, not in kind: on the book's test
#: weights the ratio stays below 2 (``benchmarks/margins.py`` measures it: margin x 4); a real mistake
#: (a forgotten bias, gamma, beta or scale) is hundreds to thousands of times further away.
REFEREE_FACTOR = 4.0
#: Errors (in units of each token's scale) below this count as this: about eight float32 rounding
#: steps at 1, so that a result HuggingFace happens to get exactly right does not demand the same of ours.
REFEREE_FLOOR = 1e-6


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


def as_float64(model: torch.nn.Module) -> torch.nn.Module:
    """A float64 copy of ``model`` (same weights, same device), for the referee: ``model`` is left as it is.

    Feed it float64 inputs (``pixels.double()``). HuggingFace's eager attention computes its softmax
    in float32 even then, which rounds each attention weight once; the result is still at least ten
    times closer to exact than a float32 forward pass (chapter 7 checks it), which is all a referee needs.
    """
    return copy.deepcopy(model).to(torch.float64)


def referee_error(result: torch.Tensor, truth: torch.Tensor, dim: int = -1) -> float:
    """Largest ``|result - truth|`` over the whole tensor, each element in units of its token's scale.

    The scale is :func:`token_scale` of ``truth`` (the token's RMS over ``dim``, at least 1);
    computed in float64. ``inf`` when ``result`` has a NaN or infinity.
    """
    _check_shapes(result, truth)
    t = truth.detach().to(torch.float64)
    diff = (result.detach().to(device=t.device, dtype=torch.float64) - t).abs()
    if diff.numel() == 0:
        return 0.0
    if not torch.isfinite(diff).all():
        return float("inf")
    return float((diff / token_scale(t, dim)).max())


def referee_margin(ours: torch.Tensor, theirs: torch.Tensor, truth: torch.Tensor, factor: float = REFEREE_FACTOR,
                   floor: float = REFEREE_FLOOR, dim: int = -1) -> float:
    """``referee_error(ours) / (factor * max(referee_error(theirs), floor))``: below 1 passes."""
    return referee_error(ours, truth, dim) / (factor * max(referee_error(theirs, truth, dim), floor))


def assert_as_accurate_as(ours: torch.Tensor, theirs: torch.Tensor, truth: torch.Tensor, *,
                          factor: float = REFEREE_FACTOR, floor: float = REFEREE_FLOOR, dim: int = -1,
                          what: str = "") -> None:
    """Fail unless ``ours`` is as close to ``truth`` (a float64 run) as ``theirs`` is, within ``factor``.

    ``ours`` and ``theirs``: float32 results of the same computation (ours and HuggingFace's);
    ``truth``: the same weights and inputs run in float64 (see :func:`as_float64`). All three have
    the same shape, e.g. ``(B, N, D)`` hidden states or ``(B, classes)`` logits. ``what`` names the
    compared thing in the failure message.
    """
    _check_shapes(ours, truth, what)
    _check_shapes(theirs, truth, what)
    mine, hf = referee_error(ours, truth, dim), referee_error(theirs, truth, dim)
    if mine <= factor * max(hf, floor):
        return
    label = f"{what}: " if what else ""
    raise AssertionError(
        f"{label}not as accurate as HuggingFace's float32 result: compared with a float64 run of the same weights, "
        f"the largest error (in units of each token's RMS, at least 1) is {mine:.3g} for ours and {hf:.3g} for "
        f"HuggingFace's, {mine / max(hf, floor):.3g} times as large; allowed: {factor:g} times (errors below "
        f"{floor:g} count as {floor:g}). Rounding alone rarely does that: look for a computation that "
        f"differs (a bias, gamma, beta, scale or step left out)."
    )


def _check_shapes(actual, expected, what: str = "") -> None:
    if not isinstance(actual, torch.Tensor) or not isinstance(expected, torch.Tensor):
        raise TypeError(f"{what or 'assert_equivalent'}: compare two tensors, got "
                        f"{type(actual).__name__} and {type(expected).__name__}")
    if actual.shape != expected.shape:
        raise AssertionError(f"{what + ': ' if what else ''}shapes differ: {tuple(actual.shape)} vs {tuple(expected.shape)}")
