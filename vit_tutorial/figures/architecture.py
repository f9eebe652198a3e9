"""The architecture figure of chapter 1: the ViT paper's Figure 1, redrawn with HuggingFace's names.

    >>> fig = architecture_figure(model.config)   # any ViTConfig; shapes are read from it

Left, the whole model from pixels to logits; right, one encoder layer opened up. Every box
carries the HuggingFace module name (both namings of the layer internals: 4.57 and 5.0, and
5.24, from ``bridge.NAME_MAP``), the tensor shape that leaves it, and the chapter that explains it.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..bridge import NAME_MAP

COLOURS = {"embed": "#dde6f3", "encoder": "#e4efe0", "head": "#f6e3d6", "norm": "#efe7f5", "io": "#f2f2f2"}


def _shapes(config) -> dict[str, str]:
    side = config.image_size // config.patch_size
    n = side * side
    d, t = config.hidden_size, side * side + 1
    return {
        "pixels": f"(B, {config.num_channels}, {config.image_size}, {config.image_size})",
        "patches": f"(B, {n}, {d})",
        "tokens": f"(B, {t}, {d})",
        "qkv": f"(B, {config.num_attention_heads}, {t}, {d // config.num_attention_heads})",
        "weights": f"(B, {config.num_attention_heads}, {t}, {t})",
        "wide": f"(B, {t}, {config.intermediate_size})",
        "cls": f"(B, {d})",
        "logits": f"(B, {config.num_labels})",
        "grid": f"{side} × {side}",
    }


def _box(ax, x, y, w, h, title, lines=(), colour="io", chapter=None, fontsize=7.5):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.004,rounding_size=0.01",
                                fc=COLOURS[colour], ec="#555", lw=0.8))
    ax.text(x + 0.008, y + h - 0.012, title, ha="left", va="top", fontsize=fontsize, weight="bold")
    for i, line in enumerate(lines):
        ax.text(x + 0.008, y + h - 0.034 - 0.019 * i, line, ha="left", va="top", fontsize=fontsize - 1.3,
                family="monospace", color="#222")
    if chapter is not None:
        ax.text(x + w - 0.006, y + h - 0.012, f"ch {chapter}", ha="right", va="top", fontsize=6.5, color="#4C72B0")


def _arrow(ax, start, end, label=None, side="right"):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8, color="#555", lw=0.8))
    if label:
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        ax.text(mx + (0.006 if side == "right" else -0.006), my, label, fontsize=6.3, color="#7a3b00",
                ha="left" if side == "right" else "right", va="center", family="monospace")


def architecture_figure(config=None, figsize=(11, 7.6)):
    """The ViT of ``config`` (default: ViT-B/16's ``ViTConfig()`` with 1,000 classes) as a labelled diagram."""
    if config is None:
        from ..weights.checkpoint import vit_config

        config = vit_config()
    s = _shapes(config)
    old = {k: v[0] for k, v in NAME_MAP.items()}
    new = {k: v[1] for k, v in NAME_MAP.items()}
    fig, ax = plt.subplots(figsize=figsize)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 0.93)
    ax.axis("off")

    # ---- left column: the whole model, bottom to top as in the paper's figure
    x, w, h = 0.02, 0.40, 0.075
    rows = [  # (y, title, lines, colour, chapter)
        (0.02, "image → image processor", ["resize, rescale 1/255, normalise 0.5 / 0.5"], "io", 1),
        (0.14, "patch embedding (linear projection of flattened patches)",
         ["vit.embeddings.patch_embeddings.projection", f"Conv2d, kernel = stride = {config.patch_size}, "
          f"{s['grid']} patches"], "embed", 2),
        (0.26, r"[CLS] token + position embeddings  → $z_0$  (eq. 1)",
         ["vit.embeddings.cls_token", "vit.embeddings.position_embeddings"], "embed", 3),
        (0.40, f"Transformer encoder: {config.num_hidden_layers} × layer  (eqs. 2, 3)",
         [f"4.57, 5.0: vit.{old['layers (relative to model.vit)']}[i]", f"5.24:      vit.{new['layers (relative to model.vit)']}[i]"],
         "encoder", "4–7"),
        (0.56, "final LayerNorm", ["vit.layernorm"], "norm", 8),
        (0.68, r"take token 0, [CLS]  → $y$  (eq. 4)", ["sequence_output[:, 0, :]"], "head", 8),
        (0.80, "classifier (MLP head in the paper's pre-training)", ["classifier  (Linear)"], "head", 9),
    ]
    for y, title, lines, colour, chapter in rows:
        _box(ax, x, y, w, h, title, lines, colour, chapter)
    labels = [s["pixels"], s["patches"], s["tokens"], s["tokens"], s["tokens"], s["cls"]]
    for (y0, *_), (y1, *_), label in zip(rows, rows[1:], labels):
        _arrow(ax, (x + 0.05, y0 + h), (x + 0.05, y1), label)
    ax.text(x + 0.05, 0.80 + h + 0.012, f"logits {s['logits']}", fontsize=7, family="monospace", color="#7a3b00")
    _arrow(ax, (x + 0.05, 0.80 + h), (x + 0.05, 0.80 + h + 0.01))

    # ---- right column: one encoder layer opened up
    rx, rw = 0.53, 0.41
    ax.add_patch(FancyBboxPatch((rx - 0.015, 0.015), rw + 0.05, 0.87, boxstyle="round,pad=0.004,rounding_size=0.015",
                                fc="none", ec="#55A868", lw=1.2, ls="--"))
    ax.text(rx + rw / 2, 0.895, f"one encoder layer (× {config.num_hidden_layers}), names: 4.57 and 5.0 | 5.24",
            ha="center", fontsize=8.5, weight="bold", color="#2d6b3c")
    ax.annotate("", (rx - 0.015, 0.5), (x + w, 0.40 + h / 2),
                arrowprops=dict(arrowstyle="-", color="#55A868", lw=1, ls="--"))
    rh = 0.085
    right = [  # (y, title, lines, colour, chapter)
        (0.03, r"input  $z_{\ell-1}$", [f"{s['tokens']}"], "io", None),
        (0.13, "LayerNorm", ["layernorm_before"], "norm", 5),
        (0.25, "multi-head self-attention (MSA)",
         [f"Q, K, V: {old['query'].replace('.query', '.{query,key,value}')}",
          f"      | {new['query'].replace('q_proj', '{q,k,v}_proj')}",
          f"output: {old['attention output projection']} | {new['attention output projection']}",
          f"heads: Q, K, V {s['qkv']}, weights {s['weights']}"], "encoder", 4),
        (0.395, r"+ residual  → $z'_\ell$  (eq. 2)", ["hidden_states + attention output"], "io", 6),
        (0.51, "LayerNorm", ["layernorm_after"], "norm", 5),
        (0.63, "MLP: Linear → GELU → Linear",
         [f"{old['MLP in (768 -> 3072)']} | {new['MLP in (768 -> 3072)']}  → {s['wide']}",
          f"{old['MLP activation']} | {new['MLP activation']}",
          f"{old['MLP out (3072 -> 768)']} | {new['MLP out (3072 -> 768)']}"], "encoder", 7),
        (0.775, r"+ residual  → $z_\ell$  (eq. 3)", [f"{s['tokens']}, to the next layer"], "io", 6),
    ]
    for y, title, lines, colour, chapter in right:
        _box(ax, rx, y, rw, rh if len(lines) < 3 else rh + 0.02, title, lines, colour, chapter)
    for (y0, _, l0, *_), (y1, *_) in zip(right, right[1:]):
        _arrow(ax, (rx + 0.03, y0 + (rh if len(l0) < 3 else rh + 0.02)), (rx + 0.03, y1))
    # the two skip connections
    for start, end in ((0.03 + rh / 2, 0.395 + rh / 2), (0.395 + rh / 2, 0.775 + rh / 2)):
        ax.add_patch(FancyArrowPatch((rx + rw + 0.002, start), (rx + rw + 0.002, end), connectionstyle="arc3,rad=0.22",
                                     arrowstyle="-|>", mutation_scale=8, color="#C44E52", lw=0.9))
    ax.text(rx + rw + 0.045, 0.60, "skip", rotation=90, fontsize=6.5, color="#C44E52", va="center")
    ax.set_title("ViT, as HuggingFace builds it (after Figure 1 of Dosovitskiy et al.)", fontsize=10)
    fig.tight_layout()
    return fig
