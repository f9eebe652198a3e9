"""Which of the book's notebooks the Makefile's nbmake runs take, and in what order.

* **The notebooks that load the ViT**: those whose code names ``load_model``. ``load_model`` is the one reader of
  ``VIT_TUTORIAL_WEIGHTS``, and nothing in the package calls it (tests/test_test_tiers.py keeps both true). So a
  notebook whose code never names it gives the same outputs on any weights, and the Makefile runs only these again
  on the trained-like weights.
* **The longest first**, by their times in ``benchmarks/results.json``, as the book build orders them
  (book/_ext/notebook_run.py). pytest-xdist hands the notebooks out in the order of the command line, so the two
  workers finish together instead of one running a long notebook alone at the end.

``python tests/_notebook_runs.py weighted|all [book]`` prints the paths, one line, the longest first.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
from notebook_run import measured_seconds  # noqa: E402 - the book build's own reading of the record


def weighted_notebooks(book: Path | str = "book") -> list[Path]:
    """The notebooks of ``book`` whose code names ``load_model``, in name order."""
    found = []
    for path in sorted(Path(book).glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        if re.search(r"\bload_model\b", code):
            found.append(path)
    return found


def longest_first(paths, seconds: dict[str, float] | None = None) -> list[Path]:
    """``paths`` by their benchmark times, the longest first; those with none last (as the book build does)."""
    seconds = measured_seconds(ROOT) if seconds is None else seconds
    return sorted(paths, key=lambda p: (-seconds.get(Path(p).name, 0.0), Path(p).name))


if __name__ == "__main__":
    which, book = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "book")
    chosen = {"weighted": weighted_notebooks, "all": lambda b: sorted(Path(b).glob("*.ipynb"))}[which](book)
    print(" ".join(Path(p).as_posix() for p in longest_first(chosen)))
