"""Self-checks for chapter 4 (self-attention): ``check_attention_head``, ``check_split_heads``,
``check_merge_heads``, ``check_multi_head_attention``."""
from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from ._core import Case, OnError, run_check
from ._forbidden import SDPA
from ._shared import cat_pixels

HEAD_AXES = ("batch", "tokens", "head_dim")
SPLIT_AXES = ("batch", "heads", "tokens", "head_dim")
MERGE_AXES = ("batch", "tokens", "width")


# --- reference and wrong versions -----------------------------------------------------------------


def _head(q, k, v, scale="sqrt", softmax_dim=-1, softmax=True, transpose_weights=False, swap_qk=False, causal=False,
          mix=True):
    """Single-head attention with one knob per classic mistake; the defaults are right."""
    d = q.shape[-1]
    scores = (k @ q.transpose(-2, -1)) if swap_qk else q @ k.transpose(-2, -1)  # (..., N, N)
    if scale == "sqrt":
        scores = scores / math.sqrt(d)
    elif scale == "d":
        scores = scores / d
    elif scale == "times_sqrt":
        scores = scores * math.sqrt(d)
    elif scale == "tokens":
        scores = scores / math.sqrt(q.shape[-2])
    if causal:
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=scores.device).triu(1), float("-inf"))
    weights = scores.softmax(dim=softmax_dim) if softmax else scores
    if scale == "after_softmax":
        weights = weights / math.sqrt(d)
    if transpose_weights:
        weights = weights.transpose(-2, -1)
    return weights @ v if mix else weights


HEAD_MISTAKES = {
    "the scores are not scaled: divide Q Kᵀ by √d, the square root of the head size (d = q.shape[-1]). "
    "Without it the scores grow with d and the softmax saturates": lambda q, k, v: _head(q, k, v, scale=None),
    "you divided the scores by d; the scale is 1/√d (math.sqrt(d) or d ** 0.5), where d is the head size":
        lambda q, k, v: _head(q, k, v, scale="d"),
    "the softmax runs over the wrong axis: each query's row of weights must sum to 1, so normalise over "
    "the keys - the last axis (dim=-1) - not over the queries (dim=-2)": lambda q, k, v: _head(q, k, v, softmax_dim=-2),
    "the softmax is missing: the weights must be softmax(Q Kᵀ / √d), positive and summing to 1 per row":
        lambda q, k, v: _head(q, k, v, softmax=False),
    "you multiplied V by the transposed weights: row i of the output must mix the values with query i's "
    "weights, weights @ v": lambda q, k, v: _head(q, k, v, transpose_weights=True),
    "you multiplied the scores by √d; the scale DIVIDES them: Q Kᵀ / √d": lambda q, k, v: _head(q, k, v, scale="times_sqrt"),
    "you scaled after the softmax: divide the scores Q Kᵀ by √d BEFORE the softmax, so that the weights still "
    "sum to 1 per row": lambda q, k, v: _head(q, k, v, scale="after_softmax"),
    "q and k are swapped (k @ q.T): the scores are the transpose of Q Kᵀ, so query i reads key i's column. "
    "Write q @ k.transpose(-2, -1)": lambda q, k, v: _head(q, k, v, swap_qk=True),
    "you applied a causal mask: ViT's attention is bidirectional - every patch may attend to every other "
    "patch, before and after it - so nothing is masked": lambda q, k, v: _head(q, k, v, causal=True),
    "you returned the attention weights (N x N per image); the head's output is the weights applied to the "
    "values, weights @ v": lambda q, k, v: _head(q, k, v, mix=False),
    "the shapes in a product or an elementwise operation don't line up: for (B, N, d) tensors k.T reverses ALL three "
    "axes, giving (d, N, B) - transpose only the last two, k.transpose(-2, -1) or k.mT, so that q @ k.transpose(-2, -1) "
    "is (B, N, N); and a max or sum taken without keepdim=True drops its axis":
        OnError(RuntimeError, r"must match the size of tensor b"),
    "you divided by √N, the square root of the number of tokens; the scale is 1/√d with d the head size, "
    "q.shape[-1]": lambda q, k, v: _head(q, k, v, scale="tokens"),
}


def _split(x, num_heads, how="right"):
    b, n, d = x.shape
    hd = d // num_heads
    if how == "direct":  # reshape straight to (B, heads, N, hd): mixes tokens into heads
        return x.reshape(b, num_heads, n, hd)
    if how == "interleaved":  # head index varies fastest
        return x.reshape(b, n, hd, num_heads).permute(0, 3, 1, 2)
    if how == "no_transpose":
        return x.reshape(b, n, num_heads, hd)
    return x.reshape(b, n, num_heads, hd).transpose(1, 2)


SPLIT_MISTAKES = {
    "the heads are split along the wrong axis: you reshaped (B, N, D) straight to (B, heads, N, head_dim), "
    "which cuts the sequence of tokens into pieces instead of cutting each token's D numbers. Reshape to "
    "(B, N, heads, head_dim) first, then transpose axes 1 and 2": lambda x, h: _split(x, h, "direct"),
    "the head index varies fastest in your split (reshape to (B, N, head_dim, heads)), so head 0 gets "
    "columns 0, heads, 2*heads, ... Head 0 must own the first head_dim columns: reshape to "
    "(B, N, heads, head_dim)": lambda x, h: _split(x, h, "interleaved"),
    "heads and head_dim are swapped in your reshape: you reshaped to (B, N, D // heads, heads), so the "
    "second-to-last size is head_dim. Reshape the last axis into (heads, head_dim) = (num_heads, D // num_heads), "
    "then transpose axes 1 and 2": lambda x, h: x.reshape(x.shape[0], x.shape[1], x.shape[2] // h, h).transpose(1, 2),
    "you transposed the wrong axes: after the reshape to (B, N, heads, head_dim), swap axes 1 and 2 (tokens and "
    "heads), giving (B, heads, N, head_dim)": lambda x, h: x.reshape(x.shape[0], x.shape[1], h, -1).transpose(1, 3),
    "the transpose is missing: you return (B, N, heads, head_dim); swap axes 1 and 2 to get "
    "(B, heads, N, head_dim)": lambda x, h: _split(x, h, "no_transpose"),
}


def _merge(x, how="right"):
    b, h, n, hd = x.shape
    if how == "no_transpose":
        return x.reshape(b, n, h * hd)
    if how == "interleaved":
        return x.permute(0, 2, 3, 1).reshape(b, n, h * hd)
    return x.transpose(1, 2).reshape(b, n, h * hd)


MERGE_MISTAKES = {
    "you merged without transposing: reshaping (B, heads, N, head_dim) straight to (B, N, D) glues pieces "
    "of different tokens together. Transpose axes 1 and 2 first (to (B, N, heads, head_dim)), then reshape":
        lambda x: _merge(x, "no_transpose"),
    "your merge interleaves the heads (head_dim before heads): the D columns must be head 0's head_dim "
    "numbers, then head 1's, ... - transpose to (B, N, heads, head_dim), then reshape": lambda x: _merge(x, "interleaved"),
}


def _linear(x, layer, bias=True, transpose=True):
    return x @ (layer.weight.T if transpose else layer.weight) + (layer.bias if bias else 0)


def _mha(x, parts, scale="sqrt", softmax_dim=-1, split="right", merge="right", project=True, qkv_bias=True,
         transpose=True, swap_qk=False, key="key", residual=False):
    """Multi-head attention with one knob per classic mistake; the defaults are right."""
    h = parts.num_heads
    layers = (parts.query, getattr(parts, key), parts.value)
    q, k, v = (_split(_linear(x, layer, qkv_bias, transpose), h, split) for layer in layers)
    context = _head(q, k, v, scale=scale, softmax_dim=softmax_dim, swap_qk=swap_qk)
    merged = _merge(context, merge)
    out = _linear(merged, parts.attention_output, transpose=transpose) if project else merged
    return x + out if residual else out


def _mha_qkv_untransposed(x, parts):
    h = parts.num_heads
    q, k, v = (_split(_linear(x, layer, transpose=False), h) for layer in (parts.query, parts.key, parts.value))
    return _linear(_merge(_head(q, k, v)), parts.attention_output)


MHA_MISTAKES = {
    "the scores are not scaled: divide Q Kᵀ by √head_dim (parts.head_dim), not by nothing":
        lambda x, p: _mha(x, p, scale=None),
    "the scale is 1/√D with D the full width; each head uses its own size, 1/√head_dim":
        lambda x, p: _head_scale_full(x, p),
    "the softmax runs over the wrong axis: normalise each query's row over the keys (dim=-1)":
        lambda x, p: _mha(x, p, softmax_dim=-2),
    "the heads are split along the wrong axis: reshape (B, N, D) to (B, N, heads, head_dim), then "
    "transpose to (B, heads, N, head_dim) - a straight reshape to (B, heads, N, head_dim) mixes tokens":
        lambda x, p: _mha(x, p, split="direct"),
    "the head index varies fastest in your split: head h must own columns h*head_dim ... (h+1)*head_dim - 1":
        lambda x, p: _mha(x, p, split="interleaved"),
    "you merged the heads without transposing back: (B, heads, N, head_dim) -> transpose(1, 2) -> "
    "(B, N, heads, head_dim) -> reshape to (B, N, D)": lambda x, p: _mha(x, p, merge="no_transpose"),
    "the output projection is missing: after merging the heads, apply parts.attention_output":
        lambda x, p: _mha(x, p, project=False),
    "the biases of Q, K and V are missing: nn.Linear computes x @ weight.T + bias (or call parts.query(x), ...)":
        lambda x, p: _mha(x, p, qkv_bias=False),
    "you multiplied by the weights without transposing them: nn.Linear stores weight as (out, in) and computes "
    "x @ weight.T + bias (square weights fit either way, so no shape error warns you)": lambda x, p: _mha(x, p, transpose=False),
    "you multiplied by the weights of Q, K and V without transposing them: nn.Linear computes x @ weight.T + bias":
        _mha_qkv_untransposed,
    "q and k are swapped (k @ q.T): the scores must be q @ k.transpose(-2, -1), one row per query":
        lambda x, p: _mha(x, p, swap_qk=True),
    "you multiplied the scores by √head_dim; the scale DIVIDES them: Q Kᵀ / √head_dim": lambda x, p: _mha(x, p, scale="times_sqrt"),
    "the keys come from parts.value: project K with parts.key": lambda x, p: _mha(x, p, key="value"),
    "keys and values are swapped: K comes from parts.key, V from parts.value (softmax(Q Kᵀ / √head_dim) V)":
        lambda x, p: _mha_swapped_kv(x, p),
    "you attended with one head over the whole width D: split Q, K and V into parts.num_heads heads of head_dim "
    "columns each, attend within each head, then merge": lambda x, p: _mha_one_head(x, p),
    "you added the residual x: this function is the attention block alone; the encoder layer adds x around it":
        lambda x, p: _mha(x, p, residual=True),
}


def _mha_swapped_kv(x, parts):
    q, k, v = (_split(_linear(x, layer), parts.num_heads) for layer in (parts.query, parts.value, parts.key))
    return _linear(_merge(_head(q, k, v)), parts.attention_output)


def _mha_one_head(x, parts):
    q, k, v = (_linear(x, layer) for layer in (parts.query, parts.key, parts.value))
    return _linear(_head(q, k, v), parts.attention_output)


def _head_scale_full(x, parts):
    h = parts.num_heads
    q, k, v = (_split(_linear(x, layer), h) for layer in (parts.query, parts.key, parts.value))
    width = q.shape[-1] * h
    weights = (q @ k.transpose(-2, -1) / math.sqrt(width)).softmax(-1)
    return _linear(_merge(weights @ v), parts.attention_output)


# --- inputs -----------------------------------------------------------------------------------------


def _toy_parts(width: int, heads: int, seed: int) -> SimpleNamespace:
    """A stand-in for ``bridge.layer_parts``: seeded ``nn.Linear`` projections of width ``width``."""
    g = torch.Generator().manual_seed(seed)
    layers = {}
    for name in ("query", "key", "value", "attention_output"):
        layer = torch.nn.Linear(width, width).requires_grad_(False)
        layer.weight.copy_(torch.randn(width, width, generator=g) / math.sqrt(width))
        layer.bias.copy_(torch.randn(width, generator=g) * 0.1)
        layers[name] = layer
    return SimpleNamespace(**layers, num_heads=heads, head_dim=width // heads)


def _real_input(model):
    """The cat photo's tokens entering layer 0's attention (after ``layernorm_before``), and its parts."""
    from ..bridge import layer_parts, vit_model

    parts = layer_parts(model, 0)
    pixels = cat_pixels().to(next(model.parameters()).device)
    with torch.no_grad():
        return parts.layernorm_before(vit_model(model).embeddings(pixels)), parts


def _real_qkv(model):
    from ..attention import project_qkv

    x, parts = _real_input(model)
    with torch.no_grad():
        return tuple(t[:, 0] for t in project_qkv(x, parts))  # head 0: (1, N, head_dim) each


# --- the checks ------------------------------------------------------------------------------------------


def check_attention_head(fn, model=None):
    """Check ``fn(q, k, v) -> softmax(q kᵀ / √d) v`` for one head: ``(B, N, d)`` each -> ``(B, N, d)``.

    Runs on random queries, keys and values of two head sizes (so that 1/d and 1/√d differ) and,
    given ``model``, on head 0 of its first layer for the cat photo.
    """
    g = torch.Generator().manual_seed(41)
    cases = []
    for (b, n, d), spread in (((2, 7, 16), 2.0), ((1, 11, 64), 1.0)):
        q, k, v = (torch.randn(b, n, d, generator=g) * spread for _ in range(3))
        cases.append(Case((q, k, v), _head(q, k, v), f"random q, k, v of shape {(b, n, d)}"))
    if model is not None:
        q, k, v = _real_qkv(model)
        cases.append(Case((q, k, v), _head(q, k, v), f"head 0 of layer 0 on the cat photo, {tuple(q.shape)}"))
    return run_check("attention_head", fn, cases, mistakes=HEAD_MISTAKES, axes=HEAD_AXES, rtol=1e-4, atol=1e-5, forbidden=(SDPA,))


def check_split_heads(fn, model=None):
    """Check ``fn(x (B, N, D), num_heads) -> (B, heads, N, D // heads)``, head h = columns h*hd ... (h+1)*hd - 1."""
    g = torch.Generator().manual_seed(42)
    cases = [
        Case((x, h), _split(x, h), f"a random {tuple(x.shape)} tensor split into {h} heads")
        for x, h in ((torch.randn(2, 5, 12, generator=g), 3), (torch.randn(1, 7, 32, generator=g), 4))
    ]
    if model is not None:
        x, parts = _real_input(model)
        with torch.no_grad():
            q = _linear(x, parts.query)
        cases.append(Case((q, parts.num_heads), _split(q, parts.num_heads), f"the cat's queries {tuple(q.shape)} in {parts.num_heads} heads"))
    return run_check("split_heads", fn, cases, mistakes=SPLIT_MISTAKES, axes=SPLIT_AXES, rtol=0, atol=0)


def check_merge_heads(fn, model=None):
    """Check ``fn(x (B, heads, N, head_dim)) -> (B, N, heads * head_dim)``, the inverse of split_heads."""
    g = torch.Generator().manual_seed(43)
    cases = [
        Case((x,), _merge(x), f"a random {tuple(x.shape)} tensor")
        for x in (torch.randn(2, 3, 5, 4, generator=g), torch.randn(1, 4, 7, 8, generator=g))
    ]
    if model is not None:
        from ..attention import project_qkv, scaled_dot_product

        x, parts = _real_input(model)
        with torch.no_grad():
            context = scaled_dot_product(*project_qkv(x, parts))[0]
        cases.append(Case((context,), _merge(context), f"the cat's context vectors {tuple(context.shape)}"))
    return run_check("merge_heads", fn, cases, mistakes=MERGE_MISTAKES, axes=MERGE_AXES, rtol=0, atol=0)


def check_multi_head_attention(fn, model=None):
    """Check ``fn(x (B, N, D), parts) -> (B, N, D)``: Q, K, V, split, attend, merge, output projection.

    ``parts`` has ``query``, ``key``, ``value``, ``attention_output`` (``nn.Linear``), ``num_heads``
    and ``head_dim``, like :func:`vit_tutorial.bridge.layer_parts`. Runs on small random layers and,
    given ``model``, on its first layer with the cat photo.
    """
    g = torch.Generator().manual_seed(44)
    cases = []
    for (b, n, d), heads, seed in (((2, 6, 24), 3, 0), ((1, 9, 32), 4, 1)):
        parts = _toy_parts(d, heads, seed)
        x = torch.randn(b, n, d, generator=g) * 2
        cases.append(Case((x, parts), _mha(x, parts), f"a random layer of width {d} with {heads} heads, input {(b, n, d)}"))
    if model is not None:
        x, parts = _real_input(model)
        with torch.no_grad():
            expected = _mha(x, parts)
        cases.append(Case((x, parts), expected, f"layer 0 of the model on the cat photo, {tuple(x.shape)}"))
    return run_check("multi_head_attention", fn, cases, mistakes=MHA_MISTAKES, axes=MERGE_AXES, rtol=1e-4, atol=1e-5)
