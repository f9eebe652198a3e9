"""What the book build says while it runs the notebooks, and what their kernels load.

Loaded from _config.yml (``sphinx.local_extensions``).

* **Notebooks side by side.** myst-nb runs a notebook while Sphinx reads it, one after
  the other, and a kernel mostly keeps one core busy. So before Sphinx reads, the notebooks
  that myst-nb would run (``execute_notebooks: cache``, not excluded, outputs not already in
  ``.jupyter_cache``) run here, as many at a time as there are cores (at most
  :data:`MAX_AT_ONCE`; ``VIT_TUTORIAL_BOOK_JOBS=1`` turns this off), with jupyter-cache's own
  worker: the same execution (in the notebook's folder, the same timeout and error rule) into
  the same cache, where myst-nb then finds them. Each kernel gets ``cores // at once``
  threads (``OMP_NUM_THREADS``, unless you set it) rather than all of them: kernels that
  fight over the cores run slower together than one after the other. The longest start first
  (their times in ``benchmarks/results.json``), so that no long one runs alone at the end.
  A notebook that fails here is not cached, so myst-nb runs it again as it reads it, and
  reports the failure as it always does; so does every notebook not yet run if a process
  of the pool dies.
* **Progress.** myst-nb runs a notebook up to a minute, and ``make book`` builds quietly
  (``jupyter-book build -q``: Sphinx's per-file lines and the parsers' configuration dumps
  are gone; warnings and errors stay). So this prints one line
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
from pathlib import Path, PurePosixPath

MAX_AT_ONCE = 4  # notebooks run side by side: each kernel holds a model in memory and keeps a core busy
JOBS_ENV = "VIT_TUTORIAL_BOOK_JOBS"
BENCHMARKS = Path("benchmarks") / "results.json"  # its notebook times order the runs: the longest first

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


def _at_once(count: int) -> int:
    wanted = os.environ.get(JOBS_ENV, "").strip()
    if wanted:
        if not wanted.isdigit() or int(wanted) < 1:
            raise ValueError(f"{JOBS_ENV}={wanted!r}: give how many notebooks may run at once, a whole number from 1")
        return min(int(wanted), count)
    return min(os.cpu_count() or 1, MAX_AT_ONCE, count)


def measured_seconds(srcdir: Path) -> dict[str, float]:
    """How long each notebook took when the benchmarks last ran them one by one (benchmarks/results.json),
    by file name; empty when there is no such record."""
    import json

    try:
        runs = json.loads((srcdir / BENCHMARKS).read_text(encoding="utf-8"))["notebooks"]["serial"]["notebooks"]
        return {run["notebook"]: float(run["time_s"]) for run in runs}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _share_cores(threads: int) -> None:
    """In each pool process, before it starts any kernel: the kernels it starts inherit this."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))


def _timed_run(worker_and_data):
    """In a pool process: jupyter-cache's worker on one staged notebook -> (status, uri, seconds)."""
    worker, data = worker_and_data
    began = time.monotonic()
    status, uri = worker(data)
    return status, uri, time.monotonic() - began


def run_ahead(env, docnames, progress) -> None:
    """Run the notebooks that myst-nb would run as it reads them, side by side, into its cache (see the top)."""
    config = getattr(env, "mystnb_config", None)
    if config is None or config.execution_mode != "cache" or config.execution_in_temp or _at_once(len(docnames)) < 2:
        return  # one at a time: myst-nb runs them as it reads them, nothing to stage here
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc, ProcessData

    cache = get_cache(config.execution_cache_path or ".jupyter_cache")
    staged = {}
    for docname in docnames:
        path = Path(env.doc2path(docname))
        if any(PurePosixPath(path.as_posix()).match(p) for p in config.execution_excludepatterns or ()):
            continue
        notebook = nbformat.read(str(path), as_version=4)
        if config.metadata_key in notebook.metadata:
            continue  # its own execution settings: myst-nb runs it as it reads it
        try:
            cache.match_cache_notebook(notebook)
            continue  # outputs already cached
        except KeyError:
            pass
        staged[str(path)] = (docname, cache.add_nb_to_project(str(path)).pk)
    jobs = _at_once(len(staged))
    if jobs < 2:
        return
    took = measured_seconds(Path(env.srcdir))  # the longest first: a long one started last would run alone
    staged = dict(sorted(staged.items(), key=lambda kv: -took.get(Path(kv[0]).name, 0.0)))
    say(f"book: running {len(staged)} notebook(s), {jobs} at a time")
    work = [(ExecutionWorkerLocalMProc(), ProcessData(pk, uri, cache, config.execution_timeout, config.execution_allow_errors))
            for uri, (_, pk) in staged.items()]
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(jobs, initializer=_share_cores, initargs=(threads,)) as pool:
        try:  # a pool process that dies (killed, out of memory) breaks the pool instead of leaving a wait forever
            for future in as_completed([pool.submit(_timed_run, item) for item in work]):
                status, uri, seconds = future.result()
                docname = staged[uri][0]
                if status == 0:
                    progress["done"] += 1
                    progress["ran_ahead"].add(docname)
                    say(f"notebook {progress['done']}/{progress['total']} {docname.rsplit('/', 1)[-1]} ({seconds:.0f} s)")
                else:
                    say(f"book: {docname} failed; it runs again as it is read, to report why")
        except BrokenProcessPool as err:
            say(f"book: a process running notebooks stopped ({err}); the notebooks not yet run run as they are read")


def before_read(app, env, docnames) -> None:
    notebooks = [d for d in docnames if _is_notebook(env, d)]
    app._vt_progress = {"total": len(notebooks), "done": 0, "started": {}, "ran_ahead": set()}
    if notebooks:
        say(f"book: {len(notebooks)} notebook(s) to read; each runs unless its outputs are in the cache")
        run_ahead(env, notebooks, app._vt_progress)


def source_read(app, docname, source) -> None:
    progress = getattr(app, "_vt_progress", None)
    if progress is not None and _is_notebook(app.env, docname) and docname not in progress["ran_ahead"]:
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
