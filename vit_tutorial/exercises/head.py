"""Self-checks for chapters 8 (the pooler) and 9 (the classifier).

Each ``check_*`` runs the learner's function on fresh random tensors and, when ``model`` is
given, on that model's real weights and the real hidden states of the sample cat photo.
"""
from __future__ import annotations

import math
import weakref

import torch

from ._core import Case, Judge, OnError, run_check
from ._forbidden import LAYER_NORM, OTHER_NORMS

KEEPDIM = OnError(RuntimeError, r"must match the size of tensor")

_HIDDEN_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(*shape, seed: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen(seed)) * scale


def _real_hidden(model) -> torch.Tensor:
    """The last encoder layer's output for the sample cat, ``(1, N + 1, D)`` (before the final LayerNorm)."""
    if model not in _HIDDEN_CACHE:
        from ..images import load_image, preprocess

        weight = next(model.parameters())
        config = model.config
        size = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
        pixels = preprocess(load_image("cat"), size=size).to(weight.device, weight.dtype)
        with torch.no_grad():
            out = model(pixels, output_hidden_states=True)
        _HIDDEN_CACHE[model] = out.hidden_states[-1].detach()
    return _HIDDEN_CACHE[model]


def _final_norm(model):
    from ..bridge import vit_model

    return vit_model(model).layernorm


def _layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


# --------------------------------------------------------------------------- chapter 8


def check_image_summary(fn, model=None):
    """``fn(hidden, weight, bias, eps) -> (B, D)``: the final LayerNorm, then the [CLS] token's vector.

    ``hidden`` is the last encoder layer's output ``(B, N + 1, D)``; ``weight``, ``bias`` and
    ``eps`` are the final LayerNorm's.
    """
    def right(h, w, b, eps):
        return _layer_norm(h, w, b, eps)[:, 0]

    cases = []
    for seed, (batch, tokens, dim), eps in ((0, (2, 5, 8), 0.5), (1, (3, 17, 12), 1e-6)):  # a large eps shows where it goes
        h = _randn(batch, tokens, dim, seed=seed, scale=3.0) + 1.0
        w, b = 1 + _randn(dim, seed=seed + 10, scale=0.5), _randn(dim, seed=seed + 20, scale=0.5)
        cases.append(Case((h, w, b, eps), right(h, w, b, eps), f"random hidden states of shape {(batch, tokens, dim)}, eps={eps}"))
    if model is not None:
        norm = _final_norm(model)
        h = _real_hidden(model).cpu()
        w, b = norm.weight.detach().cpu(), norm.bias.detach().cpu()
        cases.append(Case((h, w, b, norm.eps), right(h, w, b, norm.eps), f"the model's last hidden states for the cat, {tuple(h.shape)}"))
    mistakes = {
        "you skipped the final LayerNorm: the classifier reads the [CLS] vector AFTER vit.layernorm": lambda h, w, b, eps: h[:, 0],
        "you took the LAST token; [CLS] is the first one, index 0": lambda h, w, b, eps: _layer_norm(h, w, b, eps)[:, -1],
        "you averaged the tokens; this model summarises the image by its [CLS] token (index 0), not by a mean":
            lambda h, w, b, eps: _layer_norm(h, w, b, eps).mean(1),
        "you took the whole first image (hidden[0]) instead of token 0 of every image (hidden[:, 0])": lambda h, w, b, eps: _layer_norm(h, w, b, eps)[0],
        "you kept the token axis: hidden[:, 0:1] is (B, 1, D); hidden[:, 0] gives (B, D)": lambda h, w, b, eps: _layer_norm(h, w, b, eps)[:, 0:1],
        "you normalised without the learned scale and shift (weight, bias)": lambda h, w, b, eps: _layer_norm(h, 1.0, 0.0, eps)[:, 0],
        "your LayerNorm uses the unbiased variance (divide by D - 1); LayerNorm divides by D":
            lambda h, w, b, eps: ((h - h.mean(-1, keepdim=True)) / torch.sqrt(h.var(-1, keepdim=True) + eps) * w + b)[:, 0],
        "you normalised over the tokens (axis 1) instead of over the hidden axis (the last one)":
            lambda h, w, b, eps: ((h - h.mean(1, keepdim=True)) / torch.sqrt(h.var(1, unbiased=False, keepdim=True) + eps) * w + b)[:, 0],
        "you applied tanh (the pooler's activation): this model has no pooler, the classifier reads the normalised [CLS] vector itself":
            lambda h, w, b, eps: torch.tanh(_layer_norm(h, w, b, eps)[:, 0]),
        "the shapes don't line up: a mean or var taken without keepdim=True drops the hidden axis, so hidden - mean "
        "subtracts along the wrong axis (or fails). Keep it: hidden.mean(dim=-1, keepdim=True)": KEEPDIM,
    }
    mistakes["your function ignores its eps argument (it behaves as if eps were a small fixed number such as 1e-6 or "
             "1e-12): use the eps you are given"] = lambda h, w, b, eps: _layer_norm(h, w, b, 1e-6)[:, 0]
    return run_check("image_summary", fn, cases, mistakes, axes=("batch", "hidden"), forbidden=(LAYER_NORM, OTHER_NORMS))


def check_mean_pool(fn, model=None):
    """``fn(hidden) -> (B, D)``: the average of the patch tokens, [CLS] left out."""
    cases = []
    for seed, shape in enumerate([(2, 5, 8), (3, 10, 6)]):
        h = _randn(*shape, seed=seed + 100) + torch.arange(shape[1]).float()[None, :, None]  # tokens differ on average
        cases.append(Case((h,), h[:, 1:].mean(1), f"random hidden states of shape {shape}"))
    if model is not None:
        h = _real_hidden(model).cpu()
        cases.append(Case((h,), h[:, 1:].mean(1), f"the model's last hidden states for the cat, {tuple(h.shape)}"))
    mistakes = {
        "you included the [CLS] token in the average; average only the patch tokens, hidden[:, 1:]": lambda h: h.mean(1),
        "you summed the patch tokens instead of averaging them (divide by their number)": lambda h: h[:, 1:].sum(1),
        "you left out the last token instead of [CLS]: the patches are hidden[:, 1:]": lambda h: h[:, :-1].mean(1),
        "you averaged over the hidden axis (the last one); average over the tokens (axis 1)": lambda h: h[:, 1:].mean(-1),
        "you averaged over the batch (axis 0); average over the tokens (axis 1)": lambda h: h[:, 1:].mean(0),
        "you kept the token axis (keepdim=True): the result should be (B, D)": lambda h: h[:, 1:].mean(1, keepdim=True),
        "you divided the sum of the N patch tokens by N + 1 (the number of all tokens, [CLS] included): divide by "
        "the number of patches, or take hidden[:, 1:].mean(dim=1)": lambda h: h[:, 1:].sum(1) / h.shape[1],
        "you left out more than [CLS] (hidden[:, 2:]): the patches are every token after the first, hidden[:, 1:]":
            lambda h: h[:, 2:].mean(1),
        "you left out the last token as well as [CLS] (hidden[:, 1:-1]): the patches are hidden[:, 1:]":
            lambda h: h[:, 1:-1].mean(1),
        "you returned the [CLS] token itself; mean pooling averages the patch tokens, hidden[:, 1:]": lambda h: h[:, 0],
        "you took the maximum over the tokens (max pooling); average them": lambda h: h[:, 1:].amax(1),
    }
    return run_check("mean_pool", fn, cases, mistakes, axes=("batch", "hidden"))


def check_vit_pooler(fn, model=None):
    """``fn(hidden, weight, bias) -> (B, D')``: ``ViTPooler`` by hand, ``tanh([CLS] @ W.T + b)``.

    With ``model``, its classifier's hidden size is used with a fresh random dense layer (the
    classification model has no pooler of its own) and the real hidden states of the cat.
    """
    def right(h, w, b):
        return torch.tanh(h[:, 0] @ w.T + b)

    cases = []
    for seed, (batch, tokens, dim) in enumerate([(2, 5, 8), (3, 7, 6)]):
        h = _randn(batch, tokens, dim, seed=seed + 200)
        w, b = _randn(dim, dim, seed=seed + 210, scale=0.6), _randn(dim, seed=seed + 220, scale=0.3)
        cases.append(Case((h, w, b), right(h, w, b), f"random hidden states {(batch, tokens, dim)} and a {dim}x{dim} dense layer"))
    if model is not None:
        h = _real_hidden(model).cpu()
        h = _layer_norm(h, _final_norm(model).weight.detach().cpu(), _final_norm(model).bias.detach().cpu(), _final_norm(model).eps)
        dim = h.shape[-1]
        w, b = _randn(dim, dim, seed=230, scale=1 / math.sqrt(dim)), _randn(dim, seed=231, scale=0.1)
        cases.append(Case((h, w, b), right(h, w, b), f"the model's hidden states for the cat {tuple(h.shape)} and a {dim}x{dim} dense layer"))
    mistakes = {
        "you forgot the tanh after the dense layer": lambda h, w, b: h[:, 0] @ w.T + b,
        "you multiplied by W instead of W transposed: nn.Linear computes x @ W.T + b": lambda h, w, b: torch.tanh(h[:, 0] @ w + b),
        "you forgot the bias": lambda h, w, b: torch.tanh(h[:, 0] @ w.T),
        "you pooled the LAST token; the pooler takes [CLS], token 0": lambda h, w, b: torch.tanh(h[:, -1] @ w.T + b),
        "you applied the pooler to every token; it reads only the [CLS] token, hidden[:, 0]": lambda h, w, b: torch.tanh(h @ w.T + b),
        "you used a sigmoid; ViTPooler's activation is tanh": lambda h, w, b: torch.sigmoid(h[:, 0] @ w.T + b),
        "you used ReLU; ViTPooler's activation is tanh": lambda h, w, b: torch.relu(h[:, 0] @ w.T + b),
        "you applied tanh before the dense layer instead of after it": lambda h, w, b: torch.tanh(h[:, 0]) @ w.T + b,
        "you pooled the mean of the patch tokens; ViTPooler reads the [CLS] token, hidden[:, 0]":
            lambda h, w, b: torch.tanh(h[:, 1:].mean(1) @ w.T + b),
        "you averaged all the tokens, [CLS] included; ViTPooler reads the [CLS] token alone, hidden[:, 0]":
            lambda h, w, b: torch.tanh(h.mean(1) @ w.T + b),
        "you used GELU; ViTPooler's activation is tanh": lambda h, w, b: torch.nn.functional.gelu(h[:, 0] @ w.T + b),
    }
    return run_check("vit_pooler", fn, cases, mistakes, axes=("batch", "hidden"))


# --------------------------------------------------------------------------- chapter 9


def check_classifier(fn, model=None):
    """``fn(summary, weight, bias) -> (B, num_labels)``: the classifier head, a linear layer."""
    cases = []
    for seed, (batch, dim, classes) in enumerate([(2, 8, 5), (3, 6, 10)]):
        x = _randn(batch, dim, seed=seed + 300)
        w, b = _randn(classes, dim, seed=seed + 310), _randn(classes, seed=seed + 320)
        cases.append(Case((x, w, b), x @ w.T + b, f"random summaries {(batch, dim)} and a {dim} -> {classes} classifier"))
    if model is not None:
        norm = _final_norm(model)
        x = _layer_norm(_real_hidden(model).cpu(), norm.weight.detach().cpu(), norm.bias.detach().cpu(), norm.eps)[:, 0]
        w, b = model.classifier.weight.detach().cpu(), model.classifier.bias.detach().cpu()
        cases.append(Case((x, w, b), x @ w.T + b, f"the cat's [CLS] vector and the model's classifier {tuple(w.shape)}"))
    mistakes = {
        "you forgot the bias": lambda x, w, b: x @ w.T,
        "you returned probabilities (softmax); the classifier returns raw scores, the logits": lambda x, w, b: (x @ w.T + b).softmax(-1),
        "you subtracted the bias instead of adding it": lambda x, w, b: x @ w.T - b,
        "you applied an activation (tanh) before the classifier; ViTForImageClassification has none": lambda x, w, b: torch.tanh(x) @ w.T + b,
        "you returned log-probabilities (log_softmax); the classifier returns the raw scores, the logits": lambda x, w, b: (x @ w.T + b).log_softmax(-1),
        "you applied a sigmoid; the classifier returns the raw scores (logits), no activation": lambda x, w, b: torch.sigmoid(x @ w.T + b),
    }
    return run_check("classifier", fn, cases, mistakes, axes=("batch", "classes"))


def check_softmax(fn, model=None):
    """``fn(logits) -> probabilities``: softmax over the last axis, safe for large logits."""
    cases = []
    for seed, shape in enumerate([(2, 5), (3, 10)]):
        z = _randn(*shape, seed=seed + 400, scale=2.0)
        cases.append(Case((z,), z.softmax(-1), f"random logits of shape {shape}"))
    big = _randn(2, 6, seed=410, scale=5.0) + 1000.0
    cases.append(Case((big,), big.softmax(-1), "logits near 1000 (exp(1000) overflows to inf unless you subtract each row's maximum first)"))
    mixed = torch.stack([_randn(6, seed=411, scale=2.0), _randn(6, seed=412, scale=2.0) + 1000.0])
    cases.append(Case((mixed,), mixed.softmax(-1), "two rows of very different scale, logits near 0 and near 1000"))
    spread = _randn(2, 6, seed=413, scale=1.0) * torch.tensor([[1.0], [100.0]])
    cases.append(Case((spread,), spread.softmax(-1), "a row whose logits spread over hundreds (from about -200 to 200)"))
    if model is not None:
        norm = _final_norm(model)
        x = _layer_norm(_real_hidden(model).cpu(), norm.weight.detach().cpu(), norm.bias.detach().cpu(), norm.eps)[:, 0]
        z = x @ model.classifier.weight.detach().cpu().T + model.classifier.bias.detach().cpu()
        cases.append(Case((z,), z.softmax(-1), f"the model's logits for the cat, {tuple(z.shape)}"))
    mistakes = {
        "you normalised over the batch (axis 0); each image's scores are normalised over the classes (the last axis)": lambda z: z.softmax(0),
        "you forgot to divide by the sum: exp alone does not give probabilities that sum to 1": lambda z: z.exp(),
        "you forgot to divide by the sum: exp(z - max) alone does not give probabilities that sum to 1": lambda z: (z - z.amax(-1, keepdim=True)).exp(),
        "you divided the logits by their sum; softmax divides exp(z) by the sum of exp(z)": lambda z: z / z.sum(-1, keepdim=True),
        "you returned the LOG of the probabilities (log_softmax)": lambda z: z.log_softmax(-1),
        "you used a sigmoid on each score; softmax makes the scores compete (they sum to 1)": lambda z: torch.sigmoid(z),
        "exp overflows: exp(z) of logits near 1000 is inf, and inf / inf is NaN. Subtract each row's maximum first, "
        "exp(z - max) / sum(exp(z - max)) - the result is the same, and the largest exponent is exp(0) = 1":
            lambda z: z.exp() / z.exp().sum(-1, keepdim=True),
        "you subtracted the maximum of the whole tensor; subtract each row's own maximum, z.max(dim=-1, keepdim=True): "
        "with rows of very different scale, exp(z - global max) underflows to 0 in the smaller rows, and 0 / 0 is NaN":
            lambda z: (z - z.max()).exp() / (z - z.max()).exp().sum(-1, keepdim=True),
        "you subtracted each row's minimum; subtract its maximum: exp(z - min) still overflows when a row spreads over "
        "more than ~90, while exp(z - max) is at most 1":
            lambda z: (z - z.amin(-1, keepdim=True)).exp() / (z - z.amin(-1, keepdim=True)).exp().sum(-1, keepdim=True),
        "you subtracted each row's mean; subtract its maximum: when a row's logits spread over more than ~90, "
        "exp(z - mean) still overflows, while exp(z - max) is at most 1":
            lambda z: (z - z.mean(-1, keepdim=True)).exp() / (z - z.mean(-1, keepdim=True)).exp().sum(-1, keepdim=True),
        "the shapes don't line up: z.max(dim=-1) without keepdim=True drops the class axis, so z - max subtracts along "
        "the wrong axis (or fails). Keep it: z.max(dim=-1, keepdim=True).values": KEEPDIM,
        "the rows of your output don't sum to 1: each image's probabilities are normalised over its own classes - "
        "divide exp(z - max) by its sum over the last axis, .sum(dim=-1, keepdim=True)":
            Judge(lambda got, z: not torch.allclose(got.double().sum(-1), torch.ones(got.shape[:-1], dtype=torch.float64), atol=1e-4)),
    }
    return run_check("softmax", fn, cases, mistakes, axes=("batch", "classes"))
