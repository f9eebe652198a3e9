"""The chapter 3 self-checks: right answers pass however they are written, classic mistakes get their diagnosis."""
import pytest
import torch
import torch.nn.functional as F

from vit_tutorial.exercises import CheckFailed, ExerciseNotDone, check_dropout, check_embed, check_position_similarity

# ----------------------------------------------------------------- right answers, written differently

def embed_cat(x, cls, pos):
    return torch.cat([cls.expand(x.shape[0], -1, -1), x], dim=1) + pos


def embed_repeat(x, cls, pos):
    out = torch.cat((cls.repeat(x.shape[0], 1, 1), x), 1)
    return out + pos.expand_as(out)


def embed_prealloc(x, cls, pos):
    out = x.new_empty(x.shape[0], x.shape[1] + 1, x.shape[2])
    out[:, 0] = cls[0, 0]
    out[:, 1:] = x
    return out + pos


def sim_normalize(pos):
    p = F.normalize(pos[0, 1:], dim=-1)
    return p @ p.T


def sim_cosine(pos):
    p = pos[0, 1:]
    return F.cosine_similarity(p[:, None], p[None, :], dim=-1)


def sim_einsum(pos):
    p = pos.squeeze(0)[1:]
    n = p.norm(dim=1)
    return torch.einsum("id,jd->ij", p, p) / (n[:, None] * n[None, :])


@pytest.mark.parametrize("fn", [embed_cat, embed_repeat, embed_prealloc])
def test_embed_accepts(fn, model):
    assert check_embed(fn, model)


@pytest.mark.parametrize("fn", [sim_normalize, sim_cosine, sim_einsum])
def test_similarity_accepts(fn, model):
    assert check_position_similarity(fn, model)


@pytest.mark.parametrize("fn", [lambda x, k, p: x * k / (1 - p), lambda x, k, p: torch.where(k, x / (1 - p), torch.zeros_like(x)),
                                lambda x, k, p: x.masked_fill(~k, 0) * (1 / (1 - p))])
def test_dropout_accepts(fn):
    assert check_dropout(fn)


# ----------------------------------------------------------------- mistakes

def _cls(x, cls):
    return cls.expand(x.shape[0], -1, -1)


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda x, c, p: torch.cat([x, _cls(x, c)], 1) + p, "appended at the END"),
        (lambda x, c, p: torch.cat([_cls(x, c), x + p[:, 1:]], 1), r"BEFORE prepending the \[CLS\] token"),
        (lambda x, c, p: torch.cat([_cls(x, c), x + p[:, :-1]], 1), r"patch i got position i instead of i \+ 1"),
        (lambda x, c, p: torch.cat([_cls(x, c), x], 1), "position embeddings are missing"),
        (lambda x, c, p: x + p[:, 1:], r"the \[CLS\] token is missing"),
        (lambda x, c, p: x + c + p[:, 1:], r"ADDED the \[CLS\] vector to every patch"),
        (lambda x, c, p: torch.cat([c, x], 1) + p, r"raised RuntimeError"),  # [CLS] not expanded over the batch
        (lambda x, c, p: (torch.cat([_cls(x, c), x], 1) + p)[:, :, :-1], r"axis 2 \(dim\) is 7, should be 8"),
    ],
)
def test_embed_mistakes(fn, match):
    with pytest.raises(CheckFailed, match=match):
        check_embed(fn)


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda pos: sim_normalize(torch.cat([pos[:, :1], pos], 1)), r"\[CLS\] position is included"),
        (lambda pos: pos[0, 1:] @ pos[0, 1:].T, "plain dot products"),
        (lambda pos: F.normalize(pos[0, 1:], dim=0) @ F.normalize(pos[0, 1:], dim=0).T, "wrong axis"),
        (lambda pos: torch.cdist(pos[0, 1:], pos[0, 1:]), "Euclidean distances"),
        (lambda pos: (pos[0, 1:] * 2) @ (pos[0, 1:] * 3).T, "the values differ"),
    ],
)
def test_similarity_mistakes(fn, match):
    with pytest.raises(CheckFailed, match=match):
        check_position_similarity(fn)


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda x, k, p: x * k, "not rescaled"),
        (lambda x, k, p: x * k * (1 - p), r"multiplied by \(1 - p\)"),
        (lambda x, k, p: x * k / p, "divided by p"),
        (lambda x, k, p: x * ~k / (1 - p), "zeroed the entries the mask keeps"),
        (lambda x, k, p: F.dropout(x, p), "not zero exactly where `keep` is False"),  # a fresh random mask
        (lambda x, k, p: x * k / (1 - p) + 0.5 * k, "the values differ"),
    ],
)
def test_dropout_mistakes(fn, match):
    with pytest.raises(CheckFailed, match=match):
        check_dropout(fn)


# ----------------------------------------------------------------- broken functions

def _stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize("check", [check_embed, check_position_similarity, check_dropout])
def test_stub_is_not_done(check):
    with pytest.raises(ExerciseNotDone, match="not written yet"):
        check(_stub)


@pytest.mark.parametrize("check", [check_embed, check_position_similarity, check_dropout])
@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda *a: {}["missing"], "your function raised KeyError"),
        (lambda *a: a[0].numpy(), "returned a ndarray; it should return a torch.Tensor"),
        (lambda *a: torch.full((2, 5, 8), float("nan")), "NaN or infinite"),
    ],
)
def test_broken_functions(check, fn, match):
    with pytest.raises(CheckFailed, match=match):
        check(fn)
