"""What the book build says while it runs the notebooks, and what their kernels load.

Loaded from _config.yml (``sphinx.local_extensions``).

* **Progress.** myst-nb runs a notebook while Sphinx reads it, up to a minute each, and
  ``make book`` builds quietly (``jupyter-book build -q``: Sphinx's per-file lines and the
  parsers' configuration dumps are gone; warnings and errors stay). So this prints one line
  per notebook as it finishes, ``notebook 6/13 06_residual (12 s)``, or ``(from the cache)``
  when myst-nb took its outputs from ``.jupyter_cache`` because the code did not change,
  and one line when the build ends.
* **The kernels' own IPython profile** (``IPYTHONDIR`` in the build folder, written here):
  - it loads :mod:`vit_tutorial.figures.fonts`, which records in every figure's output how large
    its smallest text is displayed (a test of the built book reads it); the pictures are
    unchanged;
  - it logs only errors. ipykernel 7 warns on every kernel start that it "is running over
    TCP without encryption": the build's kernels listen on 127.0.0.1 and every message is
    signed with the connection file's key, so that warning, 13 times, said nothing a reader
    of the build needs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

PROFILE_MARK = "# written by book/_ext/notebook_run.py"
KERNEL_CONFIG = f"""{PROFILE_MARK}: the IPython profile of the book build's notebook kernels
c.IPKernelApp.log_level = "ERROR"
c.InteractiveShellApp.extensions = ["vit_tutorial.figures.fonts"]
"""


def say(message: str) -> None:
    """One line on the terminal, also when Sphinx itself is quiet (``-q``)."""
    print(message, file=sys.stdout, flush=True)


def kernel_profile(build_dir: Path) -> Path:
    """Write (once) the kernels' IPython directory under ``build_dir`` and return it."""
    ipython_dir = build_dir / ".ipython-kernels"
    config = ipython_dir / "profile_default" / "ipython_kernel_config.py"
    if config.exists() and not config.read_text(encoding="utf-8").startswith(PROFILE_MARK):
        raise RuntimeError(f"{config} exists and was not written by the book build; move it away")
    if not config.exists() or config.read_text(encoding="utf-8") != KERNEL_CONFIG:
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(KERNEL_CONFIG, encoding="utf-8")
    return ipython_dir


def _is_notebook(env, docname: str) -> bool:
    return str(env.doc2path(docname)).endswith(".ipynb")


def before_read(app, env, docnames) -> None:
    notebooks = [d for d in docnames if _is_notebook(env, d)]
    app._vt_progress = {"total": len(notebooks), "done": 0, "started": {}}
    if notebooks:
        say(f"book: {len(notebooks)} notebook(s) to read; each runs unless its outputs are in the cache")


def source_read(app, docname, source) -> None:
    progress = getattr(app, "_vt_progress", None)
    if progress is not None and _is_notebook(app.env, docname):
        progress["started"][docname] = (time.monotonic(), time.time())


def doctree_read(app, doctree) -> None:
    progress = getattr(app, "_vt_progress", None)
    docname = app.env.docname
    if progress is None or docname not in progress["started"]:
        return
    began, wall = progress["started"].pop(docname)
    progress["done"] += 1
    seconds = time.monotonic() - began
    how = f"{seconds:.0f} s"
    try:
        from myst_nb.sphinx_ import NbMetadataCollector

        data = NbMetadataCollector.get_exec_data(app.env, docname) or {}
    except Exception:  # noqa: BLE001 - another myst-nb: the plain time will do
        data = {}
    if data.get("mtime") is not None and data["mtime"] < wall:
        how = "from the cache"
    say(f"notebook {progress['done']}/{progress['total']} {docname.rsplit('/', 1)[-1]} ({how})")


def builder_inited(app) -> None:
    app._vt_began = time.monotonic()
    os.environ["IPYTHONDIR"] = str(kernel_profile(Path(app.doctreedir).parent))


def build_finished(app, exception) -> None:
    if exception is None:
        minutes, seconds = divmod(round(time.monotonic() - getattr(app, "_vt_began", time.monotonic())), 60)
        say(f"book: {app.builder.name} build done in {minutes} min {seconds} s")


def setup(app):
    app.connect("builder-inited", builder_inited)
    app.connect("env-before-read-docs", before_read)
    app.connect("source-read", source_read)
    app.connect("doctree-read", doctree_read)
    app.connect("build-finished", build_finished)
    return {"parallel_read_safe": False, "parallel_write_safe": True, "version": "1"}
