"""Chapters 8-9: from the encoder's output to class scores.

After the last encoder layer, one final LayerNorm; then the image is summarised by one
vector (the [CLS] token's), and a linear layer turns that vector into one score per class.

    >>> summary = pool_cls(final_norm(hidden, model))      # (B, 768)
    >>> logits = classify(summary, model.classifier)        # (B, 1000)
"""
from __future__ import annotations

import torch

from .bridge import vit_model
from .encoder import final_norm as _encoder_final_norm
from .primitives import linear
from .weights.checkpoint import imagenet_labels


def _check_tokens(hidden: torch.Tensor, what: str = "hidden states") -> None:
    if not isinstance(hidden, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(hidden).__name__}")
    if hidden.dim() != 3:
        raise ValueError(f"{what} must be (batch, tokens, hidden) = (B, N + 1, D); got shape {tuple(hidden.shape)}")
    if hidden.shape[1] < 1:
        raise ValueError(f"{what} have no tokens at all: shape {tuple(hidden.shape)}")


def final_norm(hidden: torch.Tensor, model) -> torch.Tensor:
    """The LayerNorm after the last encoder layer (``vit.layernorm``): ``(B, N + 1, D)`` -> same shape."""
    _check_tokens(hidden)
    norm = vit_model(model).layernorm
    if hidden.shape[-1] != norm.weight.shape[0]:
        raise ValueError(f"hidden size {hidden.shape[-1]} does not match the final LayerNorm's {norm.weight.shape[0]}")
    return _encoder_final_norm(hidden, model)


def pool_cls(hidden: torch.Tensor) -> torch.Tensor:
    """The [CLS] token's vector, the image's summary: ``(B, N + 1, D)`` -> ``(B, D)``.

    This is what ``ViTForImageClassification`` feeds to its classifier (after the final LayerNorm).
    """
    _check_tokens(hidden)
    return hidden[:, 0]  # (B, D): token 0 is [CLS]


def pool_mean(hidden: torch.Tensor) -> torch.Tensor:
    """The average of the *patch* tokens (the [CLS] token left out): ``(B, N + 1, D)`` -> ``(B, D)``.

    The alternative to a [CLS] token ("global average pooling"), used by some later ViTs.
    """
    _check_tokens(hidden)
    if hidden.shape[1] < 2:
        raise ValueError(f"there are no patch tokens to average: shape {tuple(hidden.shape)} holds only [CLS]")
    return hidden[:, 1:].mean(dim=1)  # (B, D)


def tanh_pooler(hidden: torch.Tensor, dense, activation=torch.tanh) -> torch.Tensor:
    """``ViTModel``'s pooler (``ViTPooler``): ``tanh(dense([CLS]))``.

    ``hidden``: ``(B, N + 1, D)`` after the final LayerNorm; ``dense``: an ``nn.Linear``
    ``D -> D'``. Returns ``(B, D')``. The classification model does NOT use it: it builds
    its ``ViTModel`` with ``add_pooling_layer=False``.
    """
    return activation(linear(pool_cls(hidden), dense))  # (B, D')


def pooled_output(hidden: torch.Tensor, model) -> torch.Tensor:
    """What the classifier reads: the [CLS] vector after the final LayerNorm, ``(B, N + 1, D)`` -> ``(B, D)``.

    ``hidden`` is the last encoder layer's output, before the final LayerNorm.
    """
    return pool_cls(final_norm(hidden, model))


def classify(summary: torch.Tensor, classifier) -> torch.Tensor:
    """The classifier head: one linear layer, ``(B, D)`` -> logits ``(B, num_labels)``.

    ``classifier`` is an ``nn.Linear`` (``model.classifier``), weight ``(num_labels, D)``.
    """
    if not isinstance(summary, torch.Tensor):
        raise TypeError(f"the summary vector must be a torch.Tensor, got {type(summary).__name__}")
    if summary.dim() != 2:
        raise ValueError(
            f"the classifier takes one summary vector per image, (batch, hidden); got shape {tuple(summary.shape)}"
            + (" - pick the [CLS] token first (hidden[:, 0])" if summary.dim() == 3 else "")
        )
    if summary.shape[-1] != classifier.weight.shape[1]:
        raise ValueError(f"summary vectors have size {summary.shape[-1]}, but the classifier expects {classifier.weight.shape[1]}")
    return linear(summary, classifier)  # (B, num_labels)


def softmax(logits: torch.Tensor) -> torch.Tensor:
    """Probabilities from logits over the last axis, written out: ``exp(z - max) / sum exp(z - max)``.

    Subtracting the row's maximum changes nothing mathematically and keeps ``exp`` from overflowing.
    """
    z = logits - logits.amax(dim=-1, keepdim=True)  # (..., C), the largest is 0
    e = z.exp()
    return e / e.sum(dim=-1, keepdim=True)  # (..., C), each row sums to 1


def top_k(logits: torch.Tensor, k: int = 5, labels=None) -> list[list[tuple[str, float]]]:
    """The ``k`` most probable classes of each image: ``(B, C)`` -> ``[[(label, probability), ...], ...]``."""
    if logits.dim() != 2:
        raise ValueError(f"top_k takes a batch of logits (batch, classes); got shape {tuple(logits.shape)}")
    if labels is None:
        labels = imagenet_labels()
    if len(labels) != logits.shape[-1]:
        raise ValueError(f"{len(labels)} labels for {logits.shape[-1]} classes")
    if not 1 <= k:
        raise ValueError(f"k must be at least 1, got {k}")
    probs = softmax(logits.detach().float()).cpu()
    values, indices = probs.topk(min(k, probs.shape[-1]), dim=-1)
    return [[(labels[i], float(p)) for p, i in zip(vs, ix)] for vs, ix in zip(values.tolist(), indices.tolist())]


def head(hidden: torch.Tensor, model) -> torch.Tensor:
    """The whole head of ``ViTForImageClassification``: final LayerNorm, [CLS], classifier.

    ``hidden``: the last encoder layer's output ``(B, N + 1, D)`` -> logits ``(B, num_labels)``.
    """
    return classify(pooled_output(hidden, model), model.classifier)
