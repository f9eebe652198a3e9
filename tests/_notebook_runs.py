"""The Makefile's notebook runs under nbmake: which notebooks, on which weights, in what order; and the pytest plugin
that runs them.

* **The notebooks that load the ViT**: those whose code names ``load_model``. ``load_model`` is the one reader of
  ``VIT_TUTORIAL_WEIGHTS``, and nothing in the package calls it (tests/test_test_tiers.py keeps both true). So a
  notebook whose code never names it gives the same outputs on any weights, and only these run again on the
  trained-like weights; of them, the chapters whose checks span many layers (:data:`HEAVY`) run on the heavier
  profile too, where the float64 referee decides.
* **One run, the longest first.** ``python -m pytest -n 2 -p tests._notebook_runs book/07_mlp_encoder.ipynb::trained-like
  ...`` runs each notebook as nbmake does, in a kernel whose ``VIT_TUTORIAL_WEIGHTS`` is the name after ``::``
  (without one: on each of :data:`WEIGHTS`). So every notebook of a transformers major runs in one xdist run, which
  hands them out in the order of the command line: by their times in ``benchmarks/results.json``, as the book build
  orders its own (book/_ext/notebook_run.py), the two workers finish together, and the run starts once.

``python tests/_notebook_runs.py trained-like|all [book]`` prints the arguments, one line, the longest first:
``trained-like`` the notebooks that load the model on both trained-like profiles (make test, where the strict book
build runs every notebook on random weights), ``all`` those and every notebook on random weights (make
test-transformers, which builds no book).
"""
from __future__ import annotations

import functools
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
from notebook_run import measured_seconds  # noqa: E402 - the book build's own reading of the record

WEIGHTS_ENV = "VIT_TUTORIAL_WEIGHTS"  # vit_tutorial.weights.sources.WEIGHTS_ENV (not imported: no torch in the runs' workers)
WEIGHTS = ("random", "trained-like", "trained-like-heavy")
# the chapters whose checks span many layers: on the heavy profile (tokens of norm ~4000 that the others attend to)
# the float64 referee decides, and it must
HEAVY = ("07_mlp_encoder.ipynb", "09_classifier.ipynb")


def weighted_notebooks(book: Path | str = "book") -> list[Path]:
    """The notebooks of ``book`` whose code names ``load_model``, in name order."""
    found = []
    for path in sorted(Path(book).glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        if re.search(r"\bload_model\b", code):
            found.append(path)
    return found


def runs(which: str, book: Path | str = "book") -> list[tuple[Path, str]]:
    """(notebook, weights) for ``which`` ("trained-like" or "all"; see the module's docstring), in name order."""
    weighted = weighted_notebooks(book)
    missing = [name for name in HEAVY if Path(book, name) not in weighted]
    if missing:
        raise SystemExit(f"tests/_notebook_runs.py: {missing} in HEAVY, but not among the notebooks of {book} that "
                         "load the model: mend HEAVY")
    chosen = [(p, "trained-like") for p in weighted] + [(Path(book, name), "trained-like-heavy") for name in HEAVY]
    if which == "all":
        chosen = [(p, "random") for p in sorted(Path(book).glob("*.ipynb"))] + chosen
    elif which != "trained-like":
        raise SystemExit(f"tests/_notebook_runs.py: {which!r}? Say trained-like or all.")
    return chosen


def longest_first(paths, seconds: dict[str, float] | None = None) -> list:
    """``paths`` (or (path, weights) pairs) by their notebooks' benchmark times, the longest first; those with none
    last (as the book build does); one notebook on several weights in the order of :data:`WEIGHTS`."""
    seconds = measured_seconds(ROOT) if seconds is None else seconds

    def key(run):
        path, weights = run if isinstance(run, tuple) else (run, WEIGHTS[0])
        return -seconds.get(Path(path).name, 0.0), Path(path).name, WEIGHTS.index(weights)

    return sorted(paths, key=key)


# --------------------------------------------------------------------------- the plugin (-p tests._notebook_runs)
def pytest_configure(config):
    if config.getoption("nbmake", False):
        import pytest

        raise pytest.UsageError("-p tests._notebook_runs collects the notebooks itself: leave out --nbmake "
                                "(nbmake would run each of them once more, on the environment's weights)")


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix == ".ipynb" and "_build" not in file_path.parts:
        return _notebook_file().from_parent(parent, path=file_path)
    return None


@functools.cache
def _notebook_file():
    """A notebook's collector: nbmake's item, once per weights (defined only under pytest: the Makefile runs this
    file with a bare Python, without pytest or nbmake)."""
    import pytest
    from nbmake.pytest_items import NotebookItem

    class OnWeights(NotebookItem):
        """nbmake's run of the notebook, in a kernel whose ``VIT_TUTORIAL_WEIGHTS`` is the item's name."""

        def __init__(self, parent, filename: str, name: str):
            pytest.Item.__init__(self, name, parent)
            self.filename = filename

        def runtest(self):
            saved = os.environ.get(WEIGHTS_ENV)
            os.environ[WEIGHTS_ENV] = self.name  # the kernel (fresh, or forked by tools/warm_kernel.py) takes it from here
            try:
                super().runtest()
            finally:
                if saved is None:
                    os.environ.pop(WEIGHTS_ENV, None)
                else:
                    os.environ[WEIGHTS_ENV] = saved

    class NotebookOnEachWeights(pytest.File):
        def collect(self):
            for weights in WEIGHTS:
                yield OnWeights.from_parent(self, filename=str(self.path), name=weights)

    return NotebookOnEachWeights


if __name__ == "__main__":
    which, book = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "book")
    print(" ".join(f"{Path(p).as_posix()}::{weights}" for p, weights in longest_first(runs(which, book))))
