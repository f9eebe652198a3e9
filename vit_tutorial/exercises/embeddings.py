"""Self-checks for chapter 3 ([CLS], positions, dropout): ``check_embed``, ``check_position_similarity``,
``check_dropout``, ``check_shuffle_patches``."""
from __future__ import annotations

import torch

from ._core import Case, Judge, OnError, run_check

TOKEN_AXES = ("batch", "tokens", "dim")


def _cls_first(patches, cls):
    return torch.cat([cls.expand(patches.shape[0], -1, -1), patches], dim=1)


def _reference_embed(patches, cls, positions):
    return _cls_first(patches, cls) + positions


EMBED_MISTAKES = {
    "the [CLS] token is appended at the END of the sequence; it must be prepended, token 0, where the "
    "pooler and classifier look for it": lambda x, cls, pos: torch.cat([x, cls.expand(x.shape[0], -1, -1)], 1) + pos,
    "you added the positions to the patches BEFORE prepending the [CLS] token, so [CLS] got no position "
    "embedding of its own: prepend [CLS] first, then add all N + 1 positions (position 0 belongs to [CLS])":
        lambda x, cls, pos: _cls_first(x + pos[:, 1:], cls),
    "you added positions before prepending [CLS] and used the first N of them: patch i got position i "
    "instead of i + 1 and [CLS] got none. Prepend first, then add the whole (1, N + 1, D) tensor":
        lambda x, cls, pos: _cls_first(x + pos[:, :-1], cls),
    "the position embeddings are missing: after prepending [CLS], add position_embeddings (1, N + 1, D)":
        lambda x, cls, pos: _cls_first(x, cls),
    "the [CLS] token is missing: it is an extra token, concatenated in front along the token axis (dim=1), "
    "so the output has N + 1 tokens": lambda x, cls, pos: x + pos[:, 1:],
    "the [CLS] token is (1, 1, D) - one for the whole batch - and the patches are (B, N, D): expand it to the batch "
    "first, cls_token.expand(B, -1, -1), then concatenate along the token axis (dim=1)":
        OnError(RuntimeError, r"Sizes of tensors must match except in dimension 1"),
    "you concatenated along axis 0, the batch axis: [CLS] goes in front of each image's tokens - expand it to "
    "(B, 1, D) and concatenate along the token axis, dim=1": OnError(RuntimeError, r"Sizes of tensors must match except in dimension 0"),
    "you ADDED the [CLS] vector to every patch instead of putting it in front as an extra token: use "
    "torch.cat along the token axis": lambda x, cls, pos: x + cls + pos[:, 1:],
}


def _model_embedding_case(model) -> Case:
    from ..bridge import vit_model
    from ..images import load_image, preprocess

    emb = vit_model(model).embeddings
    pixels = preprocess(load_image("cat")).to(emb.cls_token.device)
    with torch.no_grad():
        patches = emb.patch_embeddings(pixels)
    cls, pos = emb.cls_token.detach(), emb.position_embeddings.detach()
    return Case((patches, cls, pos), _reference_embed(patches, cls, pos), f"the model's cat patches {tuple(patches.shape)}, [CLS] and positions")


def check_embed(fn, model=None):
    """Check ``fn(patch_embeddings (B, N, D), cls_token (1, 1, D), position_embeddings (1, N+1, D)) -> (B, N+1, D)``."""
    g = torch.Generator().manual_seed(4)
    cases = []
    for b, n, d in ((2, 4, 8), (3, 9, 6)):
        x, cls, pos = torch.randn(b, n, d, generator=g), torch.randn(1, 1, d, generator=g), torch.randn(1, n + 1, d, generator=g)
        cases.append(Case((x, cls, pos), _reference_embed(x, cls, pos), f"random tensors, batch {b}, {n} patches, dim {d}"))
    if model is not None:
        cases.append(_model_embedding_case(model))
    return run_check("embed", fn, cases, mistakes=EMBED_MISTAKES, axes=TOKEN_AXES, rtol=1e-5, atol=1e-6)


def _cosine(pos: torch.Tensor, dim: int = -1) -> torch.Tensor:
    unit = pos / pos.norm(dim=dim, keepdim=True)
    return unit @ unit.T


SIMILARITY_MISTAKES = {
    "the [CLS] position is included: leave out position 0 (it belongs to [CLS], not to a patch) - the "
    "result is (N, N) for N patches": lambda pos: _cosine(pos[0]),
    "these are plain dot products: cosine similarity divides by both vectors' lengths, "
    "a.b / (|a| |b|) - normalise each position vector first": lambda pos: pos[0, 1:] @ pos[0, 1:].T,
    "you normalised along the wrong axis - each embedding dimension across patches - instead of each "
    "patch's own vector (normalise over the last axis, D)": lambda pos: _cosine(pos[0, 1:], dim=0),
    "you divided by only one of the two lengths: cosine similarity is a.b / (|a| |b|) - normalise BOTH "
    "vectors (every row of the (N, D) positions) before the dot products":
        lambda pos: pos[0, 1:] @ (pos[0, 1:] / pos[0, 1:].norm(dim=-1, keepdim=True)).T,
    "you left out the LAST position instead of [CLS]: position 0 belongs to [CLS], so the patches' positions are "
    "position_embeddings[0, 1:]": lambda pos: _cosine(pos[0, :-1]),
    "these are Euclidean distances (torch.cdist); the exercise asks for cosine similarities: normalise each "
    "position vector to length 1, then take all dot products": lambda pos: torch.cdist(pos[0, 1:], pos[0, 1:]),
}


def check_position_similarity(fn, model=None):
    """Check ``fn(position_embeddings (1, N+1, D)) -> (N, N)`` cosine similarities of the patch positions."""
    g = torch.Generator().manual_seed(5)
    cases = []
    for n, d in ((9, 8), (4, 3)):
        pos = torch.randn(1, n + 1, d, generator=g) + 0.5
        cases.append(Case((pos,), _cosine(pos[0, 1:]), f"random positions (1, {n + 1}, {d})"))
    if model is not None:
        from ..bridge import vit_model

        pos = vit_model(model).embeddings.position_embeddings.detach()
        cases.append(Case((pos,), _cosine(pos[0, 1:]), f"the model's position embeddings {tuple(pos.shape)}"))
    return run_check("position_similarity", fn, cases, mistakes=SIMILARITY_MISTAKES, axes=("patch", "patch"), rtol=1e-4, atol=1e-5)


DROPOUT_MISTAKES = {
    "the kept values are not rescaled: divide them by (1 - p), so that each value's expected size is "
    "the same in training and in evaluation": lambda x, keep, p: x * keep,
    "you multiplied by (1 - p); the kept values must be DIVIDED by (1 - p), which makes them larger":
        lambda x, keep, p: x * keep * (1 - p),
    "you divided by p; the survivors are scaled by 1 / (1 - p), the probability of being KEPT":
        lambda x, keep, p: x * keep / p,
    "you zeroed the entries the mask keeps and kept the others: `keep` is True where a value survives":
        lambda x, keep, p: x * ~keep / (1 - p),
    "your output is not zero exactly where `keep` is False: use the given mask `keep` (True where a value "
    "survives) instead of drawing a random one of your own (F.dropout, nn.Dropout and torch.rand pick their own "
    "entries; nn.Dropout in eval mode drops nothing)": Judge(lambda got, x, keep, p: bool(((got == 0) != ~keep)[x != 0].any())),
}


def check_dropout(fn):
    """Check ``fn(x, keep (bool, like x), p) -> x with dropped entries zeroed and the rest scaled by 1/(1-p)``."""
    g = torch.Generator().manual_seed(6)
    cases = []
    for shape, p in (((2, 5, 8), 0.1), ((1, 197, 768), 0.3), ((4, 6), 0.5)):
        x = torch.randn(*shape, generator=g)
        keep = torch.rand(*shape, generator=g) >= p
        cases.append(Case((x, keep, p), x * keep / (1 - p), f"a random {shape} tensor with p = {p}"))
    return run_check("dropout", fn, cases, mistakes=DROPOUT_MISTAKES, rtol=1e-5, atol=1e-6)


def _shuffle(tokens, order):
    return torch.cat([tokens[:, :1], tokens[:, 1:][:, order]], dim=1)


SHUFFLE_MISTAKES = {
    "you applied the inverse permutation: output patch i must be input patch order[i] (tokens[:, 1:][:, order]), "
    "not the patch that goes to position order[i]": lambda t, o: _shuffle(t, torch.argsort(o)),
    "you indexed the whole sequence with order, so [CLS] (token 0) was taken as patch 0 and every patch index is "
    "off by one: shuffle only the patch tokens, tokens[:, 1:][:, order], and keep tokens[:, :1] in front":
        lambda t, o: torch.cat([t[:, :1], t[:, o]], dim=1),
    "you indexed the whole sequence with order (tokens[:, order]): [CLS] is lost and every patch index is off by one - "
    "keep tokens[:, :1] in front and shuffle the patches, tokens[:, 1:][:, order]": lambda t, o: t[:, o],
    "you reordered the feature axis (tokens[..., order]); order numbers the patches: reorder the token axis, "
    "tokens[:, 1:][:, order]": lambda t, o: t[..., o],
    "an index of order is out of range for the axis you indexed: order numbers the N patch tokens, so index the "
    "token axis (axis 1) of the patches, tokens[:, 1:][:, order] - not the feature axis (tokens[..., order])":
        OnError(IndexError, r"out of bounds|out of range"),
    "[CLS] moved: it must stay token 0; shuffle only the patch tokens behind it":
        lambda t, o: torch.cat([t[:, 1:][:, o], t[:, :1]], dim=1),
}


def check_shuffle_patches(fn):
    """Check ``fn(tokens (B, N+1, D), order (N,)) -> (B, N+1, D)``: [CLS] stays first, output patch i is input patch order[i]."""
    g = torch.Generator().manual_seed(7)
    cases = []
    for b, n, d in ((2, 6, 4), (1, 9, 5)):
        tokens, order = torch.randn(b, n + 1, d, generator=g), torch.randperm(n, generator=g)
        while torch.equal(order, torch.argsort(order)):  # an order that is not its own inverse
            order = torch.randperm(n, generator=g)
        cases.append(Case((tokens, order), _shuffle(tokens, order), f"random tokens {(b, n + 1, d)} and the order {order.tolist()}"))
    return run_check("shuffle_patches", fn, cases, mistakes=SHUFFLE_MISTAKES, axes=TOKEN_AXES, rtol=0, atol=0)
