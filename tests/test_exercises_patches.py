"""The chapter 2 self-checks: right answers pass however they are written, classic mistakes get their diagnosis."""
import pytest
import torch
import torch.nn.functional as F

from vit_tutorial.exercises import CheckFailed, ExerciseNotDone, check_patch_embed, check_patchify

# ----------------------------------------------------------------- right answers, written differently

def patchify_reshape(pixels, p):
    b, c, h, w = pixels.shape
    x = pixels.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, -1, c * p * p)


def patchify_unfold(pixels, p):
    return F.unfold(pixels, kernel_size=p, stride=p).transpose(1, 2)


def patchify_loops(pixels, p):
    b, c, h, w = pixels.shape
    out = [pixels[:, :, r:r + p, s:s + p].reshape(b, -1) for r in range(0, h, p) for s in range(0, w, p)]
    return torch.stack(out, dim=1)


def patchify_tensor_unfold(pixels, p):
    b, c = pixels.shape[:2]
    x = pixels.unfold(2, p, p).unfold(3, p, p)  # (B, C, rows, cols, P, P)
    return x.permute(0, 2, 3, 1, 4, 5).reshape(b, -1, c * p * p)


def embed_conv(pixels, weight, bias):
    return F.conv2d(pixels, weight, bias, stride=weight.shape[-1]).flatten(2).transpose(1, 2)


def embed_einsum(pixels, weight, bias):
    p = weight.shape[-1]
    patches = patchify_tensor_unfold(pixels, p).reshape(pixels.shape[0], -1, *weight.shape[1:])
    return torch.einsum("bncij,dcij->bnd", patches, weight) + bias


def embed_linear(pixels, weight, bias):
    return F.linear(patchify_unfold(pixels, weight.shape[-1]), weight.flatten(1), bias)


@pytest.mark.parametrize("fn", [patchify_reshape, patchify_unfold, patchify_loops, patchify_tensor_unfold])
def test_patchify_accepts(fn, model):
    assert check_patchify(fn, model)


@pytest.mark.parametrize("fn", [embed_einsum, embed_linear])
def test_patch_embed_accepts(fn, model):
    assert check_patch_embed(fn, model)


def test_patch_embed_gives_no_credit_for_a_convolution(model):
    """The exercise says "without any convolution": right values, no credit, and the verdict names it."""
    with pytest.raises(CheckFailed, match=r"uses a convolution \(torch\.nn\.functional\.conv2d\).*no credit"):
        check_patch_embed(embed_conv, model)


# ----------------------------------------------------------------- mistakes

def _permuted(order):
    def fn(pixels, p):
        b, c, h, w = pixels.shape
        return pixels.reshape(b, c, h // p, p, w // p, p).permute(*order).reshape(b, -1, c * p * p)
    return fn


@pytest.mark.parametrize(
    "fn, match",
    [
        (_permuted((0, 4, 2, 1, 3, 5)), "column by column"),
        (_permuted((0, 2, 4, 3, 5, 1)), r"colours interleaved \(P, P, C order\)"),
        (_permuted((0, 2, 4, 1, 5, 3)), "each patch is transposed"),
        (lambda x, p: x.reshape(x.shape[0], -1, x.shape[1] * p * p), "without a permute"),
        (lambda x, p: F.unfold(x, p, stride=p), r"shape \(2, 48, 4\), expected \(2, 4, 48\).*the same sizes in another order.*transpose/permute"),
        (lambda x, p: F.unfold(x, p, stride=p // 2 or 1).transpose(1, 2), r"axis 1 \(patches\) is \d+, should be 4"),
    ],
)
def test_patchify_mistakes(fn, match):
    with pytest.raises(CheckFailed, match=match):
        check_patchify(fn)


def _embed_by(patchify_fn, transpose=True, bias_on=True):
    def fn(pixels, weight, bias):
        w = weight.flatten(1)
        out = patchify_fn(pixels, weight.shape[-1]) @ (w.T if transpose else w)
        return out + bias if bias_on else out
    return fn


@pytest.mark.parametrize(
    "fn, match",
    [
        (_embed_by(patchify_reshape, bias_on=False), "the bias is missing"),
        (_embed_by(patchify_reshape, transpose=False), "needs its transpose"),
        (_embed_by(_permuted((0, 2, 4, 3, 5, 1))), r"flattened \(P, P, C\)"),
        (_embed_by(_permuted((0, 4, 2, 1, 3, 5))), "column by column"),
        (lambda x, w, b: F.conv2d(x, w, b, stride=w.shape[-1]).flatten(2), r"expected \(1, 4, 18\) = \(batch, patches, dim\)"),
        (lambda x, w, b: embed_conv(x, w, b) * 1.01, "the shape is right but the values differ"),
    ],
)
def test_patch_embed_mistakes(fn, match):
    with pytest.raises(CheckFailed, match=match):
        check_patch_embed(fn)


def test_model_case_catches_a_mistake_only_the_real_filters_show(model):
    """A learner who hard-codes the patch size 4 passes the small random cases of patchify but not the photo."""
    def fixed_size(pixels, p):
        return patchify_reshape(pixels, 4 if pixels.shape[-1] == 224 else p)

    with pytest.raises(CheckFailed, match="the cat photo"):
        check_patchify(fixed_size, model)


# ----------------------------------------------------------------- broken functions

def _stub(*args):
    raise NotImplementedError("write patchify")


@pytest.mark.parametrize("check", [check_patchify, check_patch_embed])
def test_stub_is_not_done(check):
    with pytest.raises(ExerciseNotDone, match="not written yet"):
        check(_stub)


@pytest.mark.parametrize("check", [check_patchify, check_patch_embed])
@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda *a: 1 / 0, "your function raised ZeroDivisionError"),
        (lambda *a: a[0].tolist(), "returned a list; it should return a torch.Tensor"),
        (lambda *a: embed_conv(*a) * float("nan") if len(a) == 3 else patchify_reshape(*a) * float("nan"), "NaN or infinite"),
    ],
)
def test_broken_functions(check, fn, match):
    with pytest.raises(CheckFailed, match=match):
        check(fn)


def test_not_a_function():
    with pytest.raises(CheckFailed, match=r"pass your function itself"):
        check_patchify(torch.zeros(3))
