"""Draw the book's social card: the picture a chat or a social network shows beside a link to the book.

    python tools/social_card.py                       # writes book/_static/social-card.png (1200 x 630)
    python tools/social_card.py --out /tmp/card.png   # anywhere else

It is made of the book's own figure: chapter 2's patch grid over the sample photo of Chelsea the
cat (``figures.patch_plots.draw_patch_grid``), with a row of her first patches laid out as the tokens the
model reads, and the book's title. No weights are involved, so the card is the same on every
machine. The PNG is committed; _config.yml's ``ogp_image`` names it, and sphinxext-opengraph
turns that into every page's ``og:image``. Run this again only to change the picture.

The tool refuses to overwrite a file that is not a PNG it drew (it marks its own in the PNG's
metadata), unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "book" / "_static" / "social-card.png"
WIDTH, HEIGHT, DPI = 1200, 630, 100
MARK = ("Software", "tools/social_card.py (vit-tutorial)")
PATCH = 16
TOKENS = 7  # patches shown as a row of tokens: row ROW of the grid, from column FIRST on
ROW, FIRST = 5, 4


def _ours(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.format == "PNG" and image.info.get(MARK[0]) == MARK[1]
    except OSError:
        return False


def draw(out: Path) -> Path:
    """Draw the card into ``out`` (PNG, WIDTH x HEIGHT pixels); returns ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    import vit_tutorial as vt
    from vit_tutorial.figures import patch_plots as viz_patches

    picture = np.asarray(vt.load_image("cat").resize((224, 224), Image.BILINEAR))
    fig = plt.figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor="white")
    grid_ax = fig.add_axes((0.035, 0.06, 0.42, 0.88))
    viz_patches.draw_patch_grid(grid_ax, picture, PATCH)
    for side in grid_ax.spines.values():
        side.set_visible(False)

    fig.text(0.5, 0.80, "The Vision Transformer,\nline by line", fontsize=29, fontweight="bold", va="center", color="#1a1a2e")
    fig.text(0.5, 0.56, "HuggingFace's ViT rebuilt step by step,\neach step checked against the real model", fontsize=18, va="center", color="#333344")
    grid_ax.add_patch(plt.Rectangle((FIRST * PATCH - 0.5, ROW * PATCH - 0.5), TOKENS * PATCH, PATCH, fill=False, edgecolor="#ffd400", lw=2.5))
    size = 0.05
    for i in range(TOKENS):  # those patches, laid out as the sequence of tokens the model reads
        r, c = ROW, FIRST + i
        ax = fig.add_axes((0.5 + i * (size + 0.008), 0.27, size, size * WIDTH / HEIGHT))
        ax.imshow(picture[r * PATCH : (r + 1) * PATCH, c * PATCH : (c + 1) * PATCH], interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.text(0.5 + TOKENS * (size + 0.008), 0.27 + size * WIDTH / HEIGHT / 2, "…", fontsize=26, va="center", color="#333344")
    fig.text(0.5, 0.17, "196 patches of 16 × 16 pixels: the sentence a ViT reads", fontsize=14, color="#555566")
    fig.text(0.5, 0.07, "An interactive Jupyter Book · code MIT · text and figures CC BY 4.0", fontsize=12, color="#777788")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, facecolor="white", metadata={MARK[0]: MARK[1]})
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write the PNG (default: {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--force", action="store_true", help="overwrite a file this tool did not draw")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.force and not _ours(args.out):
        print(f"{args.out} exists and was not drawn by this tool; choose another --out, or add --force", file=sys.stderr)
        return 1
    print(f"wrote {draw(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
