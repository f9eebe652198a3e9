"""The chapter 4 self-checks: right answers written differently pass, classic mistakes get their diagnosis."""
import math

import pytest
import torch

from vit_tutorial import attention as A
from vit_tutorial.exercises import CheckFailed, ExerciseNotDone, OnError, check_attention_head, check_merge_heads, check_multi_head_attention, check_split_heads
from vit_tutorial.exercises import attention as E

# --- right answers, written in other ways ---------------------------------------------------------


def head_einsum(q, k, v):
    weights = torch.einsum("bnd,bmd->bnm", q, k).mul(q.shape[-1] ** -0.5).softmax(dim=2)
    return torch.einsum("bnm,bmd->bnd", weights, v)


def head_matmul(q, k, v):
    scores = torch.matmul(q, k.mT) / math.sqrt(q.size(-1))
    return torch.nn.functional.softmax(scores, dim=-1) @ v


def head_sdpa(q, k, v):
    return torch.nn.functional.scaled_dot_product_attention(q, k, v)


def split_view(x, h):
    b, n, d = x.shape
    return x.view(b, n, h, d // h).permute(0, 2, 1, 3)


def split_chunks(x, h):
    return torch.stack(x.chunk(h, dim=-1), dim=1)


def merge_permute(x):
    return x.permute(0, 2, 1, 3).flatten(2)


def merge_cat(x):
    return torch.cat(x.unbind(1), dim=-1)


def mha_loop(x, parts):
    """One head at a time, concatenated: the same thing as the reshapes."""
    outs = []
    for h in range(parts.num_heads):
        cols = slice(h * parts.head_dim, (h + 1) * parts.head_dim)
        q, k, v = (x @ layer.weight[cols].T + layer.bias[cols] for layer in (parts.query, parts.key, parts.value))
        outs.append(head_matmul(q, k, v))
    return torch.nn.functional.linear(torch.cat(outs, -1), parts.attention_output.weight, parts.attention_output.bias)


def mha_modules(x, parts):
    """Calling the nn.Linear modules, with the book's own split/merge."""
    q, k, v = (A.split_heads(layer(x), parts.num_heads) for layer in (parts.query, parts.key, parts.value))
    return parts.attention_output(A.merge_heads(head_sdpa(q, k, v)))


@pytest.mark.parametrize("fn", [head_einsum, head_matmul])
def test_attention_head_accepts_right_answers(fn, model):
    assert check_attention_head(fn, model)


def test_attention_head_gives_no_credit_for_sdpa(model):
    """The exercise says "not scaled_dot_product_attention": right values, no credit, and the verdict names it."""
    with pytest.raises(CheckFailed, match=r"uses torch\.nn\.functional\.scaled_dot_product_attention.*no credit"):
        check_attention_head(head_sdpa, model)


@pytest.mark.parametrize("fn", [A.split_heads, split_view, split_chunks])
def test_split_accepts_right_answers(fn, model):
    assert check_split_heads(fn, model)


@pytest.mark.parametrize("fn", [A.merge_heads, merge_permute, merge_cat])
def test_merge_accepts_right_answers(fn, model):
    assert check_merge_heads(fn, model)


@pytest.mark.parametrize("fn", [mha_loop, mha_modules, lambda x, p: A.self_attention(x, p)[0], A.self_attention_sdpa])
def test_multi_head_accepts_right_answers(fn, model):
    assert check_multi_head_attention(fn, model)


def test_checks_run_without_a_model():
    assert check_attention_head(head_einsum)
    assert check_split_heads(split_view)
    assert check_merge_heads(merge_cat)
    assert check_multi_head_attention(mha_loop)


# --- realistic mistakes, written as a learner would ------------------------------------------------


def head_no_scale(q, k, v):
    return (q @ k.transpose(-2, -1)).softmax(-1) @ v


def head_divide_by_d(q, k, v):
    return (q @ k.transpose(-2, -1) / q.shape[-1]).softmax(-1) @ v


def head_softmax_dim1(q, k, v):  # dim=1 on (B, N, N) is the query axis
    return (q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])).softmax(dim=1) @ v


def head_no_softmax(q, k, v):
    return (q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])) @ v


def head_transposed_weights(q, k, v):
    return (k @ q.transpose(1, 2) / math.sqrt(q.shape[-1])).softmax(dim=1) @ v


@pytest.mark.parametrize("fn, message", [
    (head_no_scale, r"not scaled: divide Q Kᵀ by √d"),
    (head_divide_by_d, r"divided the scores by d; the scale is 1/√d"),
    (head_softmax_dim1, r"softmax runs over the wrong axis"),
    (head_no_softmax, r"softmax is missing"),
    (head_transposed_weights, r"transposed weights"),
])
def test_attention_head_mistakes(fn, message, model):
    with pytest.raises(CheckFailed, match=message):
        check_attention_head(fn, model)


def split_straight_reshape(x, h):
    b, n, d = x.shape
    return x.view(b, h, n, d // h)


def split_interleaved(x, h):
    b, n, d = x.shape
    return x.view(b, n, d // h, h).permute(0, 3, 1, 2)


def split_no_transpose(x, h):
    b, n, d = x.shape
    return x.view(b, n, h, d // h)


@pytest.mark.parametrize("fn, message", [
    (split_straight_reshape, r"split along the wrong axis"),
    (split_interleaved, r"head index varies fastest"),
    (split_no_transpose, r"transpose is missing"),
])
def test_split_mistakes(fn, message, model):
    with pytest.raises(CheckFailed, match=message):
        check_split_heads(fn, model)


def merge_no_transpose(x):
    b, h, n, hd = x.shape
    return x.reshape(b, n, h * hd)


def merge_wrong_permute(x):
    return x.permute(0, 2, 3, 1).flatten(2)


@pytest.mark.parametrize("fn, message", [
    (merge_no_transpose, r"merged without transposing"),
    (merge_wrong_permute, r"interleaves the heads"),
])
def test_merge_mistakes(fn, message, model):
    with pytest.raises(CheckFailed, match=message):
        check_merge_heads(fn, model)


def _mha_with(split=A.split_heads, merge=A.merge_heads, attend=head_matmul, project=True):
    def fn(x, parts):
        q, k, v = (split(layer(x), parts.num_heads) for layer in (parts.query, parts.key, parts.value))
        merged = merge(attend(q, k, v))
        return parts.attention_output(merged) if project else merged
    return fn


def _full_width_scale(q, k, v):
    return (q @ k.mT / math.sqrt(q.shape[-1] * q.shape[1])).softmax(-1) @ v


def _sm_queries(q, k, v):
    return (q @ k.mT / math.sqrt(q.shape[-1])).softmax(-2) @ v


@pytest.mark.parametrize("fn, message", [
    (_mha_with(attend=lambda q, k, v: (q @ k.mT).softmax(-1) @ v), r"not scaled"),
    (_mha_with(attend=_full_width_scale), r"1/√D with D the full width"),
    (_mha_with(attend=_sm_queries), r"softmax runs over the wrong axis"),
    (_mha_with(split=split_straight_reshape), r"split along the wrong axis"),
    (_mha_with(split=split_interleaved), r"head index varies fastest"),
    (_mha_with(merge=merge_no_transpose), r"merged the heads without transposing"),
    (_mha_with(project=False), r"output projection is missing"),
])
def test_multi_head_mistakes(fn, message, model):
    with pytest.raises(CheckFailed, match=message):
        check_multi_head_attention(fn, model)


def test_multi_head_unknown_mistake_reports_values(model):
    def off_by_bias(x, parts):
        return A.self_attention(x, parts)[0] + 0.1

    with pytest.raises(CheckFailed, match=r"the shape is right but the values differ"):
        check_multi_head_attention(off_by_bias, model)


def test_merge_shape_message():
    with pytest.raises(CheckFailed, match=r"expected \(2, 5, 12\) = \(batch, tokens, width\)"):
        check_merge_heads(lambda x: x.transpose(1, 2))


# --- broken functions --------------------------------------------------------------------------------


@pytest.mark.parametrize("check", [check_attention_head, check_split_heads, check_merge_heads, check_multi_head_attention])
def test_stub_not_done(check):
    def stub(*args):
        raise NotImplementedError("write me")

    with pytest.raises(ExerciseNotDone, match=r"not written yet"):
        check(stub)


@pytest.mark.parametrize("check", [check_attention_head, check_split_heads, check_merge_heads, check_multi_head_attention])
def test_broken_functions(check):
    def raises(*args):
        raise RuntimeError("boom")

    def not_a_tensor(*args):
        return [1, 2, 3]

    def nan(*args):
        x = args[0]
        return torch.full_like(x, float("nan"))

    with pytest.raises(CheckFailed, match=r"raised RuntimeError: boom"):
        check(raises)
    with pytest.raises(CheckFailed, match=r"returned a list; it should return a torch.Tensor"):
        check(not_a_tensor)
    with pytest.raises(CheckFailed, match=r"NaN or infinite"):
        check(nan)


def test_mistake_table_is_distinct():
    """Each listed mistake really differs from the right answer on the first random case."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 7, 16, generator=g) * 2 for _ in range(3))
    for name, wrong in E.HEAD_MISTAKES.items():
        if isinstance(wrong, OnError):  # recognised by the error it raises, not by an output
            continue
        out = wrong(q, k, v)
        assert out.shape != (2, 7, 16) or not torch.allclose(out, E._head(q, k, v), atol=1e-3), name
