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

It is one guess at a trained model's numbers. ``profile="heavy"`` is a second, harder one, built
around the high-norm tokens: six of them instead of three, of norm about 4000 instead of 500,
from layer 5 on instead of layer 7, and every later layer's queries pointed at them (the
"attention sinks" of trained ViTs): from layer 5 on, 40 to 65 % of every other token's attention
weight falls on them, and their values flow into every token. The outlier channels are ten
times smaller (4 to 15), so the other tokens are small next to them. Attention then carries
rounding error from tokens of norm 4000 into tokens of RMS about 10, which a per-token
tolerance cannot see (chapter 7's float64 referee can).

    >>> model = trained_like_model(seed=0)                   # or load_model("trained-like")
    >>> heavy = trained_like_model(seed=0, profile="heavy")  # or load_model("trained-like-heavy")
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
#: The two profiles: how many high-norm tokens, the norm their MLP unit aims for (the heavy profile's
#: reach about twice that: with smaller outlier channels the unit's input is larger), the layer whose
#: MLP writes them (None: the middle one), how much every later layer's attention scores favour them
#: (0: not at all), and a factor on the outlier channels' size.
PROFILES = {
    "standard": {"high_norm_tokens": TARGETS["high_norm_tokens"], "high_norm": TARGETS["high_norm"],
                 "high_norm_layer": None, "sink_logit": 0.0, "outlier_scale": 1.0},
    "heavy": {"high_norm_tokens": 6, "high_norm": 2000.0, "high_norm_layer": 4, "sink_logit": 6.0, "outlier_scale": 0.1},
}
_BRANCH_GAIN = 4.0  # MLP and attention outputs x4: each layer writes a vector of norm ~10-20
_QK_GAIN = 8.0  # query and key weights x8 each: attention logits x64, so rows are peaked


def _channels(hidden: int, gen: torch.Generator, k: int, avoid=()) -> list[int]:
    order = [int(i) for i in torch.randperm(hidden, generator=gen) if int(i) not in avoid]
    return sorted(order[:k])


def _profile(name: str) -> dict:
    if name not in PROFILES:
        raise ValueError(f"profile={name!r} is not a trained-like profile; choose one of: {', '.join(PROFILES)}")
    return PROFILES[name]


@torch.no_grad()
def reshape_to_trained_statistics(model, seed: int = 0, profile: str = "standard"):
    """Change a random-weights ViT in place so its activations look like a trained one's.

    Returns the model. Every change is to ordinary parameters (no new modules), so every
    equivalence in the book still holds, and HuggingFace runs the model unchanged.
    ``profile``: ``"standard"`` or ``"heavy"`` (see :data:`PROFILES` and the module).
    """
    from ..bridge import encoder_layers, layer_parts, vit_model

    shape = _profile(profile)
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
    emb.position_embeddings[..., outliers] += size * sign * shape["outlier_scale"]

    # 2. Peaked attention: larger query and key weights sharpen every softmax row.
    for i in range(n_layers):
        parts = layer_parts(model, i)
        for linear in (parts.query, parts.key):
            linear.weight.mul_(_QK_GAIN)
            linear.bias.mul_(_QK_GAIN)
        parts.mlp_out.weight.mul_(_BRANCH_GAIN)  # branches that write tens into the stream, as trained ones do
        parts.attention_output.weight.mul_(_BRANCH_GAIN)

    # 3. High-norm tokens: mark a few patch positions with a moderate value in one channel; in the
    #    middle layer (the heavy profile: layer 4) one MLP unit reads that channel (through the
    #    LayerNorm) and, after GELU, writes a vector of norm ~500 (heavy: ~4000) into those tokens
    #    only. Like a trained ViT's "register" tokens, they appear from the middle of the network on.
    n_patches = emb.position_embeddings.shape[1] - 1
    tokens = [1 + int(i) for i in torch.randperm(n_patches, generator=gen)[: shape["high_norm_tokens"]]]
    emb.position_embeddings[0, tokens, marker] += 20.0
    source = n_layers // 2 if shape["high_norm_layer"] is None else min(shape["high_norm_layer"], n_layers - 1)
    middle = layer_parts(model, source)
    ln = middle.layernorm_after
    ln.weight[marker], ln.bias[marker] = 1.0, 0.0
    unit = 0
    middle.mlp_in.weight[unit].zero_()
    middle.mlp_in.weight[unit, marker] = 4.0
    middle.mlp_in.bias[unit] = -4.0  # the unit fires only where the marker is, not in ordinary tokens
    direction = torch.randn(hidden, generator=gen)
    direction[outliers] = 0.0
    direction /= direction.norm()
    middle.mlp_out.weight[:, unit] = direction * (shape["high_norm"] / 4.8)

    # 4. Spread LayerNorm gamma: log-uniform between 0.3 and 3 (signs kept positive, as trained).
    glo, ghi = TARGETS["gamma_range"]
    for module in model.modules():
        if isinstance(module, torch.nn.LayerNorm):
            u = torch.empty(module.weight.shape).uniform_(math.log(glo), math.log(ghi), generator=gen)
            module.weight.copy_(u.exp())
    ln.weight[marker] = 1.0  # the marker unit's input keeps its plain scale (set in step 3)

    # 5. (heavy profile) Attention sinks: in every layer after the one that writes the high-norm
    #    tokens, shift the query bias of each head along the key those tokens produce (their
    #    LayerNorm output is almost exactly sqrt(D) * the unit direction written in step 3), so
    #    every query's score for them rises by about ``sink_logit``.
    if shape["sink_logit"]:
        unit_dir = (direction - direction.mean()) / (direction - direction.mean()).pow(2).mean().sqrt()
        for i in range(source + 1, n_layers):
            parts = layer_parts(model, i)
            sink = parts.layernorm_before.weight * unit_dir + parts.layernorm_before.bias  # (D,)
            key = parts.key.weight @ sink + parts.key.bias  # (D,): the sink tokens' key, all heads
            for h in range(parts.num_heads):
                rows = slice(h * parts.head_dim, (h + 1) * parts.head_dim)
                k = key[rows]
                parts.query.bias[rows] += k * (shape["sink_logit"] * parts.head_dim ** 0.5 / k.pow(2).sum())

    # 6. Spread logits: scale the classifier so logits have a std of ~3.5 (about +-10).
    if hasattr(model, "classifier") and isinstance(model.classifier, torch.nn.Linear):
        rms_in = 1.6  # measured: the final LayerNorm's output has an RMS of ~1.6 with this gamma
        current = model.classifier.weight.std() * math.sqrt(hidden) * rms_in
        model.classifier.weight.mul_(TARGETS["logit_std"] / float(current))
    return model


def trained_like_model(seed: int = 0, config=None, profile: str = "standard"):
    """ViT-B/16 (or ``config``) with seeded random weights reshaped to a trained model's statistics.

    ``profile``: ``"standard"`` (``load_model("trained-like")``) or ``"heavy"``
    (``load_model("trained-like-heavy")``): see :data:`PROFILES`.
    """
    from .random_weights import random_model

    _profile(profile)
    return reshape_to_trained_statistics(random_model(seed=seed, config=config), seed=seed, profile=profile)


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
