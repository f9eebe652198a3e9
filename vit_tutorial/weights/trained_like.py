"""Synthetic "trained-like" weights: random weights reshaped to have a trained ViT's statistics.

The book's checks must hold on the numbers a real user gets from ``google/vit-base-patch16-224``,
not only on tame random weights. A trained ViT can differ from a random one in ways that
matter for float32 rounding (the values below are this generator's targets, not measurements
of the checkpoint):

* a few residual channels carry values in the tens to hundreds in every token;
* from the middle layers on, a few tokens reach norms of several hundred (seen in larger ViTs);
* LayerNorm's gamma spreads from about 0.3 to about 3;
* attention rows are peaked rather than nearly uniform;
* logits spread over about +-10.

:func:`trained_like_model` makes a model with all five properties in a couple of seconds, from
the seeded random weights of :func:`vit_tutorial.weights.random_weights.random_model`, without any download. It
is a *test* source: predictions and pictures are as meaningless as with random weights.
:func:`activation_stats` measures the five properties (a test asserts them).

    >>> model = trained_like_model(seed=0)          # or load_model("trained-like")
"""
from __future__ import annotations

import math

import torch

#: What :func:`trained_like_model` aims for, and what ``tests/test_trained_like.py`` asserts.
TARGETS = {
    "outlier_channels": 3,  # residual channels with values of tens to hundreds in every token
    "outlier_range": (40.0, 150.0),  # |value| of those channels after the embeddings
    "high_norm_tokens": 3,  # tokens pushed to norms of several hundred, from the middle layer on
    "high_norm": 500.0,  # roughly the norm those tokens reach
    "gamma_range": (0.3, 3.0),  # spread of every LayerNorm's gamma
    "logit_std": 3.5,  # logits spread over about +-10
}
_BRANCH_GAIN = 4.0  # MLP and attention outputs x4: each layer writes a vector of norm ~10-20
_QK_GAIN = 8.0  # query and key weights x8 each: attention logits x64, so rows are peaked


def _channels(hidden: int, gen: torch.Generator, k: int, avoid=()) -> list[int]:
    order = [int(i) for i in torch.randperm(hidden, generator=gen) if int(i) not in avoid]
    return sorted(order[:k])


@torch.no_grad()
def reshape_to_trained_statistics(model, seed: int = 0):
    """Change a random-weights ViT in place so its activations look like a trained one's.

    Returns the model. Every change is to ordinary parameters (no new modules), so every
    equivalence in the book still holds, and HuggingFace runs the model unchanged.
    """
    from ..bridge import encoder_layers, layer_parts, vit_model

    gen = torch.Generator().manual_seed(10_000 + seed)
    vit = vit_model(model)
    hidden = model.config.hidden_size
    n_layers = len(encoder_layers(model))
    outliers = _channels(hidden, gen, TARGETS["outlier_channels"])
    marker = _channels(hidden, gen, 1, avoid=outliers)[0]  # the channel that marks future high-norm tokens
    lo, hi = TARGETS["outlier_range"]

    # 1. Outlier channels: a large, signed offset in a few channels of every token (the [CLS] token
    #    included, via its position embedding), carried by the residual stream through every layer.
    size = torch.empty(len(outliers)).uniform_(lo, hi, generator=gen)
    sign = torch.where(torch.rand(len(outliers), generator=gen) < 0.5, -1.0, 1.0)
    emb = vit.embeddings
    emb.position_embeddings[..., outliers] += size * sign

    # 2. Peaked attention: larger query and key weights sharpen every softmax row.
    for i in range(n_layers):
        parts = layer_parts(model, i)
        for linear in (parts.query, parts.key):
            linear.weight.mul_(_QK_GAIN)
            linear.bias.mul_(_QK_GAIN)
        parts.mlp_out.weight.mul_(_BRANCH_GAIN)  # branches that write tens into the stream, as trained ones do
        parts.attention_output.weight.mul_(_BRANCH_GAIN)

    # 3. High-norm tokens: mark a few patch positions with a moderate value in one channel; in the
    #    middle layer one MLP unit reads that channel (through the LayerNorm) and, after GELU, writes
    #    a vector of norm ~500 into those tokens only. Like a trained ViT's "register" tokens, they
    #    appear from the middle of the network on.
    n_patches = emb.position_embeddings.shape[1] - 1
    tokens = [1 + int(i) for i in torch.randperm(n_patches, generator=gen)[: TARGETS["high_norm_tokens"]]]
    emb.position_embeddings[0, tokens, marker] += 20.0
    middle = layer_parts(model, n_layers // 2)
    ln = middle.layernorm_after
    ln.weight[marker], ln.bias[marker] = 1.0, 0.0
    unit = 0
    middle.mlp_in.weight[unit].zero_()
    middle.mlp_in.weight[unit, marker] = 4.0
    middle.mlp_in.bias[unit] = -4.0  # the unit fires only where the marker is, not in ordinary tokens
    direction = torch.randn(hidden, generator=gen)
    direction[outliers] = 0.0
    direction /= direction.norm()
    middle.mlp_out.weight[:, unit] = direction * (TARGETS["high_norm"] / 4.8)

    # 4. Spread LayerNorm gamma: log-uniform between 0.3 and 3 (signs kept positive, as trained).
    glo, ghi = TARGETS["gamma_range"]
    for module in model.modules():
        if isinstance(module, torch.nn.LayerNorm):
            u = torch.empty(module.weight.shape).uniform_(math.log(glo), math.log(ghi), generator=gen)
            module.weight.copy_(u.exp())
    ln.weight[marker] = 1.0  # the marker unit's input keeps its plain scale (set in step 3)

    # 5. Spread logits: scale the classifier so logits have a std of ~3.5 (about +-10).
    if hasattr(model, "classifier") and isinstance(model.classifier, torch.nn.Linear):
        rms_in = 1.6  # measured: the final LayerNorm's output has an RMS of ~1.6 with this gamma
        current = model.classifier.weight.std() * math.sqrt(hidden) * rms_in
        model.classifier.weight.mul_(TARGETS["logit_std"] / float(current))
    return model


def trained_like_model(seed: int = 0, config=None):
    """ViT-B/16 (or ``config``) with seeded random weights reshaped to a trained model's statistics."""
    from .random_weights import random_model

    return reshape_to_trained_statistics(random_model(seed=seed, config=config), seed=seed)


@torch.no_grad()
def activation_stats(model, pixels: torch.Tensor) -> dict:
    """The statistics that tell a trained ViT from a random one, measured on ``pixels``.

    Keys: ``max_abs_hidden`` (largest |value| in any hidden state), ``outlier_channels`` (channels
    whose |mean| over all tokens of the embeddings exceeds 20), ``max_token_norm`` (per layer,
    (layers+1,)), ``gamma_min`` / ``gamma_max`` (over every LayerNorm), ``attention_max_mean``
    (the mean over rows of each row's largest weight, last layer), ``logit_std``.
    """
    out = model(pixels, output_hidden_states=True, output_attentions=True)
    hidden = torch.stack(out.hidden_states)  # (layers+1, B, N, D)
    gammas = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, torch.nn.LayerNorm)])
    embeddings = hidden[0].flatten(0, 1)  # (B*N, D)
    return {
        "max_abs_hidden": float(hidden.abs().max()),
        "outlier_channels": int((embeddings.mean(0).abs() > 20).sum()),
        "max_token_norm": hidden.norm(dim=-1).amax(dim=(1, 2)).cpu(),
        "gamma_min": float(gammas.min()),
        "gamma_max": float(gammas.max()),
        "attention_max_mean": float(out.attentions[-1].amax(-1).mean()),
        "logit_std": float(out.logits.std()),
        "logit_max_abs": float(out.logits.abs().max()),
    }
