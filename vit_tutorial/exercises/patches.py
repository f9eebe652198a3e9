"""Self-checks for chapter 2 (patch embeddings): ``check_patchify``, ``check_patch_embed``."""
from __future__ import annotations

from functools import lru_cache

import torch

from ._core import Case, OnError, run_check
from ._forbidden import CONVOLUTION

PATCH_AXES = ("batch", "patches", "values per patch")
EMBED_AXES = ("batch", "patches", "dim")


def _grid(pixels: torch.Tensor, p: int) -> tuple:
    b, c, h, w = pixels.shape
    return b, c, h // p, w // p


def _patchify(pixels: torch.Tensor, p: int, order=(0, 2, 4, 1, 3, 5)) -> torch.Tensor:
    """patchify with a chosen axis order of (B, C, rows, P, cols, P); the default is right."""
    b, c, rows, cols = _grid(pixels, p)
    x = pixels.reshape(b, c, rows, p, cols, p).permute(*order)
    return x.reshape(b, rows * cols, c * p * p)


def _column_major(pixels, p):
    return _patchify(pixels, p, (0, 4, 2, 1, 3, 5))


def _channel_last(pixels, p):
    return _patchify(pixels, p, (0, 2, 4, 3, 5, 1))


def _swapped_inside(pixels, p):
    return _patchify(pixels, p, (0, 2, 4, 1, 5, 3))


def _no_permute(pixels, p):
    b, c, rows, cols = _grid(pixels, p)
    return pixels.reshape(b, rows * cols, c * p * p)


PATCHIFY_MISTAKES = {
    "your patches come out column by column (top to bottom, then left to right). Number them row by row, "
    "like reading text: patch 1 is the one to the RIGHT of patch 0, not below it - check the order of the "
    "row and column axes in your permute": _column_major,
    "each patch is flattened pixel by pixel with the colours interleaved (P, P, C order). Flatten it channel "
    "first, (C, P, P), the order of the Conv2d weight (out, C, P, P) - otherwise the weight multiplies the "
    "wrong numbers": _channel_last,
    "inside each patch the rows and columns are swapped (each patch is transposed): keep the patch's own "
    "row axis before its column axis": _swapped_inside,
    "you reshaped the image straight to (B, N, C*P*P) without a permute, so each 'patch' is a run of "
    "consecutive values in memory (strips of image rows), not a P x P square. Reshape to "
    "(B, C, rows, P, cols, P), permute to (B, rows, cols, C, P, P), then flatten": _no_permute,
    "you moved the channels last (B, H, W, C) and reshaped straight to (B, N, C*P*P): without splitting H and W "
    "into (rows, P) and (cols, P) each 'patch' is a strip of consecutive pixels of one image row, not a P x P "
    "square. Reshape to (B, C, rows, P, cols, P), permute to (B, rows, cols, C, P, P), then flatten":
        lambda x, p: x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, x.shape[1] * p * p),
}


@lru_cache(maxsize=1)
def _cat_pixels() -> torch.Tensor:
    from ..images import load_image, preprocess

    return preprocess(load_image("cat"))


def _conv_params(model):
    from ..bridge import vit_model

    conv = vit_model(model).embeddings.patch_embeddings.projection
    return conv.weight.detach(), conv.bias.detach()


def _model_device(model) -> torch.device:
    return next(model.parameters()).device if model is not None else torch.device("cpu")


def check_patchify(fn, model=None):
    """Check ``fn(pixels (B, C, H, W), patch_size) -> (B, N, C*P*P)``: patches row by row, each flattened (C, P, P).

    Runs on random images (square, wide, one channel) and on the sample cat photo cut into
    the model's patch size (16 unless ``model`` says otherwise).
    """
    g = torch.Generator().manual_seed(2)
    p = model.config.patch_size if model is not None else 16
    cases = []
    for shape, size in (((2, 3, 8, 8), 4), ((1, 3, 6, 12), 3), ((1, 1, 4, 4), 2)):
        x = torch.randn(*shape, generator=g)
        cases.append(Case((x, size), _patchify(x, size), f"a random batch {shape} with patch size {size}"))
    cat = _cat_pixels().to(_model_device(model))
    cases.append(Case((cat, p), _patchify(cat, p), f"the cat photo {tuple(cat.shape)} with patch size {p}"))
    return run_check("patchify", fn, cases, mistakes=PATCHIFY_MISTAKES, axes=PATCH_AXES, rtol=0, atol=0)


def _embed_with(patchify_fn, transpose_weight=True, use_bias=True):
    def wrong(pixels, weight, bias):
        d, c, p, _ = weight.shape
        w = weight.reshape(d, c * p * p)
        out = patchify_fn(pixels, p) @ (w.T if transpose_weight else w)
        return out + bias if use_bias else out

    return wrong


PATCH_EMBED_MISTAKES = {
    "the bias is missing: the Conv2d adds bias[d] to every patch's entry d": _embed_with(_patchify, use_bias=False),
    "you multiplied the patches by the reshaped weight (D, C*P*P) itself; it needs its transpose, "
    "(C*P*P, D), so that each output entry is one filter dotted with one patch (here D = C*P*P, so the "
    "shapes fit by coincidence)": _embed_with(_patchify, transpose_weight=False),
    "your patches are flattened (P, P, C) - colours interleaved - but the weight reshapes (C, P, P): the "
    "filter multiplies the wrong pixels. Flatten patches channel first": _embed_with(_channel_last),
    "the patches come out column by column; the Conv2d (and HuggingFace's flatten(2)) counts them row by "
    "row, left to right": _embed_with(_column_major),
    "you cut the image with a bare reshape (no permute), so the 'patches' are strips of consecutive values, "
    "not P x P squares": _embed_with(_no_permute),
    "you subtracted the bias; the Conv2d ADDS bias[d] to every patch's entry d":
        lambda x, w, b: _embed_with(_patchify, use_bias=False)(x, w, b) - b,
    "the patches and the weight don't fit in the matrix product: the weight is (D, C, P, P), so read the patch size "
    "P from weight.shape[-1] (weight.shape[1] is C, the channels), cut (B, N, C*P*P) patches, and multiply by the weight "
    "reshaped to (D, C*P*P) and transposed: patches @ weight.reshape(D, -1).T":
        OnError(RuntimeError, r"mat1 and mat2 shapes cannot be multiplied|shape '\[.*\]' is invalid for input of size"),
    "you added one number (the bias summed, or a scalar) to every entry: the bias is a vector, bias[d] goes to "
    "output channel d of every patch - add the (D,) bias itself, it broadcasts over (B, N, D)":
        lambda x, w, b: _embed_with(_patchify, use_bias=False)(x, w, b) + b.sum(),
}


def _reference_embed(pixels, weight, bias):
    return torch.nn.functional.conv2d(pixels, weight, bias, stride=weight.shape[-1]).flatten(2).transpose(1, 2)


def check_patch_embed(fn, model=None):
    """Check ``fn(pixels (B, C, H, W), weight (D, C, P, P), bias (D,)) -> (B, N, D)`` against a strided Conv2d.

    Runs on random filters (including D = C*P*P, where a missing transpose is not a shape
    error) and, given ``model``, on its real filters and the cat photo.
    """
    g = torch.Generator().manual_seed(3)
    cases = []
    # D = C*P*P first: there a missing transpose is a wrong value, not a shape error, and gets its diagnosis
    for (b, c, h, w), d, p in (((1, 2, 6, 6), 18, 3), ((2, 3, 8, 8), 5, 4), ((1, 3, 4, 8), 12, 2)):
        x = torch.randn(b, c, h, w, generator=g)
        weight, bias = torch.randn(d, c, p, p, generator=g), torch.randn(d, generator=g)
        cases.append(Case((x, weight, bias), _reference_embed(x, weight, bias), f"random {p}x{p} filters ({d}, {c}, {p}, {p}) on a {(b, c, h, w)} batch"))
    if model is not None:
        weight, bias = _conv_params(model)
        cat = _cat_pixels().to(weight.device)
        with torch.no_grad():
            expected = _reference_embed(cat, weight, bias)
        cases.append(Case((cat, weight, bias), expected, "the model's own filters on the cat photo"))
    return run_check("patch_embed", fn, cases, mistakes=PATCH_EMBED_MISTAKES, axes=EMBED_AXES, rtol=1e-4, atol=1e-4,
                     forbidden=(CONVOLUTION,))
