"""The book's notebooks that load the ViT: those whose code names ``load_model``.

``load_model`` is the one reader of ``VIT_TUTORIAL_WEIGHTS``, and nothing in the package calls it
(tests/test_test_tiers.py keeps both true). So a notebook whose code never names it gives the same
outputs on any weights, and the Makefile runs only these again on the trained-like weights.
``python tests/_weighted_notebooks.py [book]`` prints their paths, one line, in name order.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def weighted_notebooks(book: Path | str = "book") -> list[Path]:
    found = []
    for path in sorted(Path(book).glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        if re.search(r"\bload_model\b", code):
            found.append(path)
    return found


if __name__ == "__main__":
    print(" ".join(p.as_posix() for p in weighted_notebooks(sys.argv[1] if len(sys.argv) > 1 else "book")))
