"""One small accessor over the transformers 4.57 / 5.x naming of ViT internals.

A 5.x release after 5.0 renamed the inside of a ViT layer (see the table in the book's
chapter 1): 4.57 *and 5.0.0* still have ``attention.attention.query``, ``intermediate``
and ``encoder.layer``; 5.24 has ``q_proj``, ``mlp`` and ``layers``. So nothing here goes
by the version number: every name is looked up on the model itself (attribute
detection), and each row of the table is decided on its own. CI runs 4.57 and 5.24; the
5.0 layout (the 4.57 one) is covered by the tests' fake module trees and was run by hand.
The chapters never spell those names themselves: they ask this module.

    >>> parts = layer_parts(model, 0)
    >>> parts.query.weight.shape          # (768, 768) on both versions
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import transformers
from torch import nn

TRANSFORMERS_VERSION = transformers.__version__
TRANSFORMERS_MAJOR = int(TRANSFORMERS_VERSION.split(".")[0])

# what -> (old name: 4.57 and 5.0, new name: 5.24), relative to one encoder layer unless stated.
NAME_MAP = {
    "layers (relative to model.vit)": ("encoder.layer", "layers"),
    "query": ("attention.attention.query", "attention.q_proj"),
    "key": ("attention.attention.key", "attention.k_proj"),
    "value": ("attention.attention.value", "attention.v_proj"),
    "attention output projection": ("attention.output.dense", "attention.o_proj"),
    "MLP in (768 -> 3072)": ("intermediate.dense", "mlp.fc1"),
    "MLP activation": ("intermediate.intermediate_act_fn", "mlp.activation_fn"),
    "MLP out (3072 -> 768)": ("output.dense", "mlp.fc2"),
}

# Names that did not change between the two versions (relative to the classification model).
UNCHANGED = [
    "vit.embeddings.patch_embeddings.projection",
    "vit.embeddings.cls_token",
    "vit.embeddings.position_embeddings",
    "vit.embeddings.dropout",
    "vit.layernorm",
    "classifier",
]
UNCHANGED_IN_LAYER = ["layernorm_before", "layernorm_after", "attention"]


def _get(obj, dotted: str):
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _has(obj, dotted: str) -> bool:
    try:
        _get(obj, dotted)
    except AttributeError:
        return False
    return True


def _installed_name(layer: nn.Module, key: str) -> str:
    """The name of ``key`` (a row of NAME_MAP) that ``layer`` really has (the new one wins if both)."""
    old, new = NAME_MAP[key]
    for name in (new, old):
        if _has(layer, name):
            return name
    raise AttributeError(
        f"{type(layer).__name__} has neither {new!r} nor {old!r} (the {key}) with transformers "
        f"{TRANSFORMERS_VERSION}; this book supports 4.57.x and 5.x."
    )


def installed_columns(model: nn.Module | None = None) -> dict[str, int]:
    """For each row of NAME_MAP, which column ``model`` has: 0 = old (4.57, 5.0) names, 1 = new (5.24).

    Decided by looking at the modules, never by the version number. Without a model, a tiny
    ViT is built from the installed transformers (a few milliseconds) and inspected.
    """
    if model is None:
        model = _tiny_vit()
    vit = vit_model(model)
    old, new = NAME_MAP["layers (relative to model.vit)"]
    columns = {"layers (relative to model.vit)": 1 if _has(vit, new) else 0 if _has(vit, old) else -1}
    layer = encoder_layers(model)[0]
    for key, (old, new) in NAME_MAP.items():
        if key.startswith("layers"):
            continue
        columns[key] = 1 if _has(layer, new) else 0 if _has(layer, old) else -1
    return columns


def uses_new_names(model: nn.Module | None = None) -> bool:
    """True when every renamed part of ``model`` goes by the new (5.24) names."""
    return all(col == 1 for col in installed_columns(model).values())


def _tiny_vit() -> nn.Module:
    from transformers import ViTConfig, ViTModel

    config = ViTConfig(
        image_size=4, patch_size=2, num_channels=1, hidden_size=4, num_hidden_layers=1,
        num_attention_heads=1, intermediate_size=4,
    )
    return ViTModel(config, add_pooling_layer=False)


def vit_model(model: nn.Module) -> nn.Module:
    """The bare ``ViTModel`` inside ``model`` (``model.vit``), or ``model`` itself."""
    return model.vit if hasattr(model, "vit") else model


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The list of encoder layers: ``vit.encoder.layer`` (4.57) or ``vit.layers`` (5.x)."""
    vit = vit_model(model)
    for name in ("layers", "encoder.layer"):
        if _has(vit, name):
            return _get(vit, name)
    raise AttributeError(
        f"Can't find the encoder layers of {type(model).__name__} "
        f"(looked for 'vit.layers' and 'vit.encoder.layer') with transformers "
        f"{TRANSFORMERS_VERSION}; this book supports 4.57.x and 5.x."
    )


@dataclass(frozen=True)
class LayerParts:
    """The sub-modules of one encoder layer, under version-independent names."""

    layer: nn.Module
    layernorm_before: nn.LayerNorm
    query: nn.Linear
    key: nn.Linear
    value: nn.Linear
    attention_output: nn.Linear  # 768 -> 768, after the heads are merged
    layernorm_after: nn.LayerNorm
    mlp_in: nn.Linear  # 768 -> 3072
    activation: nn.Module
    mlp_out: nn.Linear  # 3072 -> 768
    attention: nn.Module  # the whole attention block (self-attention + output projection)
    num_heads: int
    head_dim: int
    attention_dropout: float
    hidden_dropout: float


def layer_parts(model: nn.Module, index: int = 0) -> LayerParts:
    """The parts of encoder layer ``index`` of ``model``, whichever transformers runs."""
    layers = encoder_layers(model)
    n = len(layers)
    if not -n <= index < n:
        raise IndexError(f"layer index {index} is out of range: this model has {n} layers (0..{n - 1})")
    layer = layers[index]
    get = lambda key: _get(layer, _installed_name(layer, key))  # noqa: E731
    config = vit_model(model).config
    return LayerParts(
        layer=layer,
        layernorm_before=layer.layernorm_before,
        query=get("query"),
        key=get("key"),
        value=get("value"),
        attention_output=get("attention output projection"),
        layernorm_after=layer.layernorm_after,
        mlp_in=get("MLP in (768 -> 3072)"),
        activation=get("MLP activation"),
        mlp_out=get("MLP out (3072 -> 768)"),
        attention=layer.attention,
        num_heads=config.num_attention_heads,
        head_dim=config.hidden_size // config.num_attention_heads,
        attention_dropout=float(config.attention_probs_dropout_prob),
        hidden_dropout=float(config.hidden_dropout_prob),
    )


def call_attention(model: nn.Module, index: int, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run HuggingFace's attention block of layer ``index`` on ``hidden_states``.

    Returns ``(output, attention_weights)`` where output is the block output after the
    output projection, ``(B, N, hidden)``, and weights are ``(B, heads, N, N)`` (eager only).
    The call signature of the block changed between versions; this hides it.
    """
    block = encoder_layers(model)[index].attention
    if hasattr(block, "q_proj"):  # 5.x: one module returns (output, weights)
        out, weights = block(hidden_states)
        return out, weights
    context, weights = block.attention(hidden_states)  # 4.57: ViTSelfAttention, then ViTSelfOutput
    return block.output(context, hidden_states), weights


def call_mlp(model: nn.Module, index: int, normed: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """HuggingFace's MLP of layer ``index``: ``residual + fc2(act(fc1(normed)))``.

    4.57 splits it into ``intermediate`` and ``output`` (which adds the residual itself);
    5.x has one ``mlp`` module and the layer adds the residual.
    """
    layer = encoder_layers(model)[index]
    if hasattr(layer, "mlp"):
        return residual + layer.mlp(normed)
    return layer.output(layer.intermediate(normed), residual)


def layer_output(out) -> torch.Tensor:
    """The hidden states from an encoder layer's return value (a tuple in 4.57, a tensor in 5.x)."""
    return out[0] if isinstance(out, (tuple, list)) else out


def missing_names(model: nn.Module) -> list[str]:
    """Every name the book relies on that ``model`` lacks (empty when all is well)."""
    missing = [name for name in UNCHANGED if not _has(model, name)]
    try:
        layers = encoder_layers(model)
    except AttributeError as err:
        return missing + [str(err)]
    where = "layers" if _has(vit_model(model), "layers") else "encoder.layer"
    for name in UNCHANGED_IN_LAYER:
        if not _has(layers[0], name):
            missing.append(f"{where}[0].{name}")
    for key, (old, new) in NAME_MAP.items():
        if key.startswith("layers"):
            continue
        if not (_has(layers[0], old) or _has(layers[0], new)):
            missing.append(f"{where}[0].{new} (or {old})")
    return missing


def name_table(model: nn.Module | None = None) -> str:
    """The old / new naming table as Markdown, marking what the installed code really has.

    The mark comes from the modules themselves (see ``installed_columns``), not from the
    version number: transformers 5.0 is marked in the old column. When every row agrees, the
    column heading says "(installed)"; if a version ever mixes the two, each row is marked.
    """
    columns = installed_columns(model)
    head = ["what", "4.57 and 5.0", "5.24"]
    uniform = set(columns.values())
    if len(uniform) == 1 and -1 not in uniform:
        head[1 + uniform.pop()] += " (installed)"
        mark = lambda key, col: ""  # noqa: E731
    else:
        mark = lambda key, col: " ← installed" if columns[key] == col else ""  # noqa: E731
    rows = ["| " + " | ".join(head) + " |", "|---|---|---|"]
    for what, (old, new) in NAME_MAP.items():
        rows.append(f"| {what} | `{old}`{mark(what, 0)} | `{new}`{mark(what, 1)} |")
    return "\n".join(rows)
