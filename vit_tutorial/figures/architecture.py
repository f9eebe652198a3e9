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

# Sizes in points. The axes span the figure one unit per point, so text and boxes share a scale.
# The figure is drawn 6.5 in wide, which the book shows at its own size (100 dpi: about 650 px, under
# the 672 px content column), so 7 pt text is 9.7 px on the page (see vit_tutorial.figures.fonts).
TITLE_PT, LINE_PT, LABEL_PT, HEAD_PT = 8, 7, 7, 9.5
LINE_H = 9.0  # one monospace line
PAD = 4.0
GAP = 17.0  # between two boxes: the arrow, and the shape beside it
COLUMN_W = 208.0
LEFT_X, RIGHT_X = 0.0, 228.0
SKIP_W = 22.0  # right of the encoder layer: the skip connections
BOTTOM = 8.0


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


def _height(lines) -> float:
    return PAD + TITLE_PT + 3 + LINE_H * len(lines) + PAD


def _box(ax, x, y, w, title, lines=(), colour="io", chapter=None) -> float:
    """A box with its bottom-left corner at (x, y); returns its height."""
    h = _height(lines)
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=3", fc=COLOURS[colour], ec="#555", lw=0.8))
    top = y + h - PAD
    ax.text(x + PAD, top, title, ha="left", va="top", fontsize=TITLE_PT, weight="bold")
    for i, line in enumerate(lines):
        ax.text(x + PAD, top - TITLE_PT - 3 - LINE_H * i, line, ha="left", va="top", fontsize=LINE_PT, family="monospace", color="#222")
    if chapter is not None:
        ax.text(x + w - PAD, top, f"ch {chapter}", ha="right", va="top", fontsize=LABEL_PT, color="#2f5d9b")
    return h


def _arrow(ax, start, end, label=None):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8, color="#555", lw=0.8, shrinkA=0, shrinkB=0))
    if label:
        ax.text(start[0] + 5, (start[1] + end[1]) / 2, label, fontsize=LABEL_PT, color="#7a3b00", ha="left", va="center", family="monospace")


def _stack(ax, x, y, rows, labels=()):
    """Boxes ``rows`` = [(title, lines, colour, chapter)] from ``y`` upwards, an arrow between each two
    (labelled ``labels[i]``); returns ``[(bottom, height)]`` per box."""
    placed = []
    for i, (title, lines, colour, chapter) in enumerate(rows):
        h = _box(ax, x, y, COLUMN_W, title, lines, colour, chapter)
        placed.append((y, h))
        if i + 1 < len(rows):
            _arrow(ax, (x + 22, y + h), (x + 22, y + h + GAP), labels[i] if i < len(labels) else None)
        y += h + GAP
    return placed


def architecture_figure(config=None):
    """The ViT of ``config`` (default: ViT-B/16's ``ViTConfig()`` with 1,000 classes) as a labelled diagram.

    Drawn for the book's content column: about 650 px wide, no text under 9 px (7 pt at 100 dpi).
    """
    if config is None:
        from ..weights.checkpoint import vit_config

        config = vit_config()
    s = _shapes(config)
    old = {k: v[0] for k, v in NAME_MAP.items()}
    new = {k: v[1] for k, v in NAME_MAP.items()}
    layers = config.num_hidden_layers

    # ---- left column: the whole model, bottom to top as in the paper's figure
    left = [  # (title, lines, colour, chapter)
        ("image → image processor", ["resize, rescale 1/255,", "normalise: mean 0.5, std 0.5"], "io", 1),
        (
            "patch embedding: a linear projection",
            ["vit.embeddings.patch_embeddings.projection", f"Conv2d, kernel = stride = {config.patch_size}: {s['grid']} patches"],
            "embed",
            2,
        ),
        (r"[CLS] + positions  → $z_0$  (eq. 1)", ["vit.embeddings.cls_token", "vit.embeddings.position_embeddings"], "embed", 3),
        (
            f"Transformer encoder: {layers} × layer",
            [f"4.57, 5.0: vit.{old['layers (relative to model.vit)']}[i]", f"5.24:      vit.{new['layers (relative to model.vit)']}[i]", "(eqs. 2, 3)"],
            "encoder",
            "4–7",
        ),
        ("final LayerNorm", ["vit.layernorm"], "norm", 8),
        (r"take token 0, [CLS]  → $y$  (eq. 4)", ["sequence_output[:, 0, :]"], "head", 8),
        ("classifier", ["classifier  (Linear; an MLP head", "in the paper's pre-training)"], "head", 9),
    ]
    # ---- right column: one encoder layer opened up
    right = [
        (r"input  $z_{\ell-1}$", [s["tokens"]], "io", None),
        ("LayerNorm", ["layernorm_before"], "norm", 5),
        (
            "multi-head self-attention (MSA)",
            [
                f"Q, K, V: {old['query'].replace('.query', '.{query,key,value}')}",
                f"       | {new['query'].replace('q_proj', '{q,k,v}_proj')}",
                f"output:  {old['attention output projection']}",
                f"       | {new['attention output projection']}",
                f"Q, K, V {s['qkv']}",
                f"weights {s['weights']}",
            ],
            "encoder",
            4,
        ),
        (r"+ residual  → $z'_\ell$  (eq. 2)", ["hidden_states + attention output"], "io", 6),
        ("LayerNorm", ["layernorm_after"], "norm", 5),
        (
            "MLP: Linear → GELU → Linear",
            [
                f"{old['MLP in (768 -> 3072)']} | {new['MLP in (768 -> 3072)']}",
                f"  → {s['wide']}",
                f"{old['MLP activation']}",
                f"  | {new['MLP activation']}",
                f"{old['MLP out (3072 -> 768)']} | {new['MLP out (3072 -> 768)']}",
            ],
            "encoder",
            7,
        ),
        (r"+ residual  → $z_\ell$  (eq. 3)", [f"{s['tokens']}, to the next layer"], "io", 6),
    ]
    height = max(sum(_height(r[1]) for r in rows) + GAP * (len(rows) - 1) for rows in (left, right))
    top = BOTTOM + height + 58  # room for the logits, the column heading and the title
    width = RIGHT_X + COLUMN_W + SKIP_W + 6
    fig = plt.figure(figsize=(width / 72, top / 72))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, top)
    ax.axis("off")

    placed = _stack(ax, LEFT_X, BOTTOM, left, [s["pixels"], s["patches"], s["tokens"], s["tokens"], s["tokens"], s["cls"]])
    y, h = placed[-1]
    _arrow(ax, (LEFT_X + 22, y + h), (LEFT_X + 22, y + h + 12))
    ax.text(LEFT_X, y + h + 14, f"logits {s['logits']}", fontsize=LABEL_PT, family="monospace", color="#7a3b00", ha="left", va="bottom")

    inner = _stack(ax, RIGHT_X, BOTTOM, right)
    frame_top = inner[-1][0] + inner[-1][1] + 6
    ax.add_patch(
        FancyBboxPatch(
            (RIGHT_X - 6, BOTTOM - 6),
            COLUMN_W + SKIP_W + 4,
            frame_top - BOTTOM + 6,
            boxstyle="round,pad=0,rounding_size=5",
            fc="none",
            ec="#55A868",
            lw=1.2,
            ls="--",
        )
    )
    ax.text(RIGHT_X + COLUMN_W / 2, frame_top + 4, "names: 4.57 and 5.0 | 5.24", ha="center", va="bottom", fontsize=LABEL_PT, color="#2d6b3c")
    ax.text(
        RIGHT_X + COLUMN_W / 2,
        frame_top + 4 + LABEL_PT + 4,
        f"one encoder layer (× {layers})",
        ha="center",
        va="bottom",
        fontsize=TITLE_PT + 0.5,
        weight="bold",
        color="#2d6b3c",
    )
    encoder_y, encoder_h = placed[3]
    ax.annotate(
        "",
        (RIGHT_X - 6, (frame_top + BOTTOM) / 2),
        (LEFT_X + COLUMN_W, encoder_y + encoder_h / 2),
        arrowprops=dict(arrowstyle="-", color="#55A868", lw=1, ls="--"),
    )
    # the two skip connections: from the input of each sub-layer to its residual sum
    edge, lane = RIGHT_X + COLUMN_W, RIGHT_X + COLUMN_W + 9
    for (y0, h0), (y1, h1) in ((inner[0], inner[3]), (inner[3], inner[6])):
        ax.plot([edge, lane, lane], [y0 + h0 / 2, y0 + h0 / 2, y1 + h1 / 2], color="#C44E52", lw=0.9)
        ax.add_patch(
            FancyArrowPatch((lane, y1 + h1 / 2), (edge, y1 + h1 / 2), arrowstyle="-|>", mutation_scale=8, color="#C44E52", lw=0.9, shrinkA=0, shrinkB=0)
        )
    for (y0, h0), (y1, h1) in ((inner[0], inner[3]), (inner[3], inner[6])):
        ax.text(lane + 3, (y0 + h0 / 2 + y1 + h1 / 2) / 2, "skip", rotation=90, fontsize=LABEL_PT, color="#C44E52", va="center", ha="left")
    ax.text(width / 2, top - 2, "ViT, as HuggingFace builds it (after Figure 1 of Dosovitskiy et al.)", ha="center", va="top", fontsize=HEAD_PT)
    return fig
