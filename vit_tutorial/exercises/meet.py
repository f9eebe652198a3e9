"""Self-checks for chapter 1 (meet the model): ``check_parameter_count``, ``check_stage_shapes``.

Both are *predict, then run* exercises: the learner writes down a formula, and the check compares
it with what a real ``ViTForImageClassification`` built from the same config holds or computes.
"""
from __future__ import annotations

import numbers
from functools import lru_cache

import torch

from ._core import Case, OnError, run_check

STAGES = (("pixel_values", ("batch", "channels", "height", "width")),
          ("patches", ("batch", "patches", "hidden")),
          ("tokens", ("batch", "tokens", "hidden")),
          ("attention", ("batch", "heads", "queries", "keys")),
          ("logits", ("batch", "classes")))
STAGE_NAMES = tuple(f"{stage}[{i}] ({axis})" for stage, axes in STAGES for i, axis in enumerate(axes))


def _configs():
    from ..weights.checkpoint import vit_config
    from ..weights.tiny import tiny_config

    return [
        ("the tiny digits ViT (tiny.tiny_config())", tiny_config()),
        ("a small ViT: 48-pixel images, 12-pixel patches, 2 layers of width 24, 3 heads, 5 classes",
         vit_config(image_size=48, patch_size=12, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                    intermediate_size=40, num_labels=5, id2label={i: str(i) for i in range(5)},
                    label2id={str(i): i for i in range(5)})),
        ("ViT-B/16 (vit_config())", vit_config()),
    ]


def _fields(config):
    size = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
    return (config.hidden_size, config.num_hidden_layers, config.intermediate_size, config.patch_size, size,
            config.num_channels, config.num_labels, config.num_attention_heads)


def _count(config, *, biases=True, positions="n+1", cls=True, norms=True, attn_mats=4, mlp_mats=2, classifier=True,
           layers=None, grid="square", final_norm=True):
    """The parameter count by formula, with one knob per classic mistake; the defaults are right."""
    d, depth, inter, p, size, c, labels, _ = _fields(config)
    n = (size // p) ** 2 if grid == "square" else size // p
    b = 1 if biases else 0
    emb = c * p * p * d + b * d + (d if cls else 0) + {"n+1": n + 1, "n": n, "none": 0}[positions] * d
    norm = 2 * d if norms else 0
    layer = attn_mats * (d * d + b * d) + (inter * d + b * inter + d * inter + b * d if mlp_mats == 2 else d * inter + b * inter) + 2 * norm
    head = (d * labels + b * labels) if classifier else 0
    return emb + (depth if layers is None else layers) * layer + (norm if final_norm else 0) + head


@lru_cache(maxsize=8)
def _real_count(key) -> int:
    """Build the model on the meta device (no memory, no init) and count its parameters."""
    from transformers import ViTForImageClassification

    config = dict(_configs())[key]
    with torch.device("meta"):
        model = ViTForImageClassification(config)
    return sum(p.numel() for p in model.parameters())


COUNT_MISTAKES = {
    "you left out the biases: every nn.Linear has one bias per output (D for each projection, 4D for the MLP's "
    "first layer, the number of classes for the classifier) and the patch Conv2d has D": lambda c: _count(c, biases=False),
    "you left out the position embeddings: (N + 1) x D numbers, one vector per token": lambda c: _count(c, positions="none"),
    # the same count, always (D short): a count can't tell these two apart, so the message names both
    "you are short by one vector of D numbers: either you counted N position vectors where there are N + 1 (the "
    "[CLS] token has a position too), or you left out the [CLS] token itself (one learned vector of D numbers)":
        lambda c: _count(c, positions="n"),
    "you left out the LayerNorms: each has a weight and a bias of D numbers - two per layer, plus the final one":
        lambda c: _count(c, norms=False),
    "you left out the final LayerNorm (2 x D numbers, after the last layer)": lambda c: _count(c, final_norm=False),
    "you counted three attention matrices per layer (Q, K, V); there is a fourth, the output projection":
        lambda c: _count(c, attn_mats=3),
    "you counted one MLP matrix per layer; the MLP has two, D -> intermediate_size and back": lambda c: _count(c, mlp_mats=1),
    "you left out the classifier: D x num_labels weights and num_labels biases": lambda c: _count(c, classifier=False),
    "you counted image_size / patch_size patches; the grid is square, so there are (image_size / patch_size)² of them":
        lambda c: _count(c, grid="line"),
    "you counted one encoder layer; multiply the per-layer count by num_hidden_layers": lambda c: _count(c, layers=1),
}


def _components(config) -> dict[str, int]:
    """Every group of parameters of the model, with its size for ``config``: what a wrong count can be missing."""
    d, depth, inter, p, size, c, labels, _ = _fields(config)
    n = (size // p) ** 2
    return {
        "the patch projection's weight (C x P x P x D)": c * p * p * d, "the patch projection's bias (D)": d,
        "the [CLS] token (D)": d, "the position embeddings ((N + 1) x D)": (n + 1) * d,
        "the query, key and value weights (3 x D x D per layer)": depth * 3 * d * d,
        "the query, key and value biases (3 x D per layer)": depth * 3 * d,
        "the attention output projection's weight (D x D per layer)": depth * d * d,
        "the attention output projection's bias (D per layer)": depth * d,
        "the MLP's first weight (D x intermediate_size per layer)": depth * d * inter,
        "the MLP's first bias (intermediate_size per layer)": depth * inter,
        "the MLP's second weight (intermediate_size x D per layer)": depth * inter * d,
        "the MLP's second bias (D per layer)": depth * d,
        "the LayerNorm weights, gamma (2 x D per layer)": depth * 2 * d, "the LayerNorm biases, beta (2 x D per layer)": depth * 2 * d,
        "the final LayerNorm's weight (D)": d, "the final LayerNorm's bias (D)": d,
        "the classifier's weight (num_labels x D)": labels * d, "the classifier's bias (num_labels)": labels,
    }


def _component_mistakes() -> dict:
    """``{explanation: wrong count}`` for every count that is right but for one or two groups of parameters left
    out or counted twice. Groups of the same size in every config can't be told apart: one message names them all."""
    sizes = [_components(config) for _, config in _configs()]
    groups: dict[tuple, list[str]] = {}
    for name in sizes[0]:
        groups.setdefault(tuple(s[name] for s in sizes), []).append(name)

    def words(names):
        return names[0] if len(names) == 1 else "one of " + ", ".join(names[:-1]) + " or " + names[-1]

    keys = list(groups)
    mistakes = {}
    for i, a in enumerate(keys):
        for b in [None, *keys[i:]]:
            for sign in (-1, 1):
                if b == a:  # the same size twice
                    what = f"two of {', '.join(groups[a][:-1])} and {groups[a][-1]}" if len(groups[a]) > 1 else f"{groups[a][0]}, twice"
                else:
                    what = " and ".join([words(groups[a])] + ([words(groups[b])] if b is not None else []))
                text = (f"your count is short by exactly {what}: you left {'them' if b is not None else 'it'} out" if sign < 0
                        else f"your count is over by exactly {what}: you counted {'them' if b is not None else 'it'} twice, "
                        "or counted something the model does not have")
                names = [groups[a][0]] + ([groups[b][0]] if b is not None else [])
                mistakes[text] = (lambda c, _n=names, _s=sign: torch.tensor(
                    [float(_count(c) + _s * sum(_components(c)[name] for name in _n))], dtype=torch.float64))
    return mistakes


def _as_number(value) -> torch.Tensor:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if not isinstance(value, numbers.Number) or isinstance(value, bool):
        raise TypeError(f"return a number (an int), not a {type(value).__name__}")
    return torch.tensor(float(value), dtype=torch.float64).reshape(1)


def check_parameter_count(fn):
    """Check ``fn(config) -> int``: the number of parameters of ``ViTForImageClassification(config)``,
    against the real model built from three configs (the tiny one, a small one, ViT-B/16)."""
    if not callable(fn):
        return run_check("parameter_count", fn, [])  # raises: "pass your function itself"
    cases = []
    for label, config in _configs():
        cases.append(Case((config,), torch.tensor([float(_real_count(label))], dtype=torch.float64), label,
                          value_names=("the parameter count",)))
    mistakes = {why: (lambda c, _w=wrong: torch.tensor([float(_w(c))], dtype=torch.float64)) for why, wrong in COUNT_MISTAKES.items()}
    mistakes.update(_component_mistakes())
    return run_check("parameter_count", lambda config: _as_number(fn(config)), cases, mistakes=mistakes, rtol=0, atol=0)


# --- shapes ----------------------------------------------------------------------------------------------


def _shapes(config, batch, *, cls=True, grid="square", heads=True, patch_dim="hidden", labels="config"):
    """The shapes at each stage by formula, with one knob per classic mistake; the defaults are right."""
    d, _, _, p, size, c, num_labels, num_heads = _fields(config)
    n = (size // p) ** 2 if grid == "square" else size // p
    t = n + 1 if cls else n
    return {
        "pixel_values": (batch, c, size, size),
        "patches": (batch, n, d if patch_dim == "hidden" else c * p * p),
        "tokens": (batch, t, d),
        "attention": (batch, num_heads if heads else 1, t, t),
        "logits": (batch, num_labels if labels == "config" else 1000),
    }


def _flatten(shapes) -> torch.Tensor:
    if not isinstance(shapes, dict):
        raise TypeError(f"return a dict {{stage name: shape}}, not a {type(shapes).__name__}")
    values = []
    for stage, axes in STAGES:
        if stage not in shapes:
            raise KeyError(f"your dict has no {stage!r}; it needs the keys {', '.join(s for s, _ in STAGES)}")
        shape = tuple(shapes[stage])
        if len(shape) != len(axes):
            raise ValueError(f"{stage!r} should have {len(axes)} sizes, ({', '.join(axes)}); yours is {shape}")
        values += [float(s) for s in shape]
    return torch.tensor(values, dtype=torch.float64)


@lru_cache(maxsize=8)
def _real_shapes(key, batch) -> tuple:
    """Run a random model built from the config on ``batch`` blank images and read off every shape."""
    from transformers import ViTForImageClassification

    config = dict(_configs())[key]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = ViTForImageClassification(config).eval()
    _, _, _, _, size, c, _, _ = _fields(config)
    pixels = torch.zeros(batch, c, size, size)
    from ..bridge import vit_model

    with torch.no_grad():
        patches = vit_model(model).embeddings.patch_embeddings(pixels)
        out = model(pixels, output_hidden_states=True, output_attentions=True)
    return {"pixel_values": tuple(pixels.shape), "patches": tuple(patches.shape), "tokens": tuple(out.hidden_states[0].shape),
            "attention": tuple(out.attentions[0].shape), "logits": tuple(out.logits.shape)}.items()


SHAPE_MISTAKES = {
    "you forgot the [CLS] token: the encoder's tokens are the N patches plus [CLS], N + 1 of them (and attention "
    "is (N + 1) x (N + 1))": lambda c, b: _flatten(_shapes(c, b, cls=False)),
    "you counted image_size / patch_size patches; the grid is square, (image_size / patch_size)² patches":
        lambda c, b: _flatten(_shapes(c, b, grid="line")),
    "the patch embeddings have hidden_size numbers each (the Conv2d maps C x P x P pixels to D), not C x P x P":
        lambda c, b: _flatten(_shapes(c, b, patch_dim="pixels")),
    "the attention weights have one N+1 x N+1 map per head: (batch, num_attention_heads, tokens, tokens)":
        lambda c, b: _flatten(_shapes(c, b, heads=False)),
    "the attention weights have one (N + 1) x (N + 1) map per head, 4 sizes: (batch, num_attention_heads, tokens, tokens)":
        OnError(ValueError, r"'attention' should have 4 sizes"),
    "the logits have one score per class of THIS config (num_labels), not ImageNet's 1000":
        lambda c, b: _flatten(_shapes(c, b, labels="imagenet")),
}


def check_stage_shapes(fn):
    """Check ``fn(config, batch) -> {stage: shape}`` for the stages ``pixel_values``, ``patches``, ``tokens``,
    ``attention`` (layer 0's weights) and ``logits``, against a model built from the config and run."""
    if not callable(fn):
        return run_check("stage_shapes", fn, [])
    cases = []
    for (label, config), batch in zip(_configs()[:2], (2, 3)):
        real = dict(_real_shapes(label, batch))
        cases.append(Case((config, batch), _flatten(real), f"{label}, batch {batch}", value_names=STAGE_NAMES))
    config = _configs()[2][1]
    cases.append(Case((config, 4), _flatten(_shapes(config, 4)), "ViT-B/16 (vit_config()), batch 4", value_names=STAGE_NAMES))
    return run_check("stage_shapes", lambda config, batch: _flatten(fn(config, batch)), cases, mistakes=SHAPE_MISTAKES, rtol=0, atol=0)

