"""The book build runs its notebooks side by side (book/_ext/notebook_run.py), into the cache myst-nb reads.

A small book with the real _config.yml (``execute_notebooks: cache``, ``raise_on_error``) and the real
extensions: its notebooks run two at a time, each kernel with its share of the cores, and their outputs
reach the pages; a notebook that fails still fails the build, naming the notebook and the error.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
import notebook_run  # noqa: E402

pytestmark = pytest.mark.transformers_free  # a build of a book without a model: make test runs it with transformers blocked

ROOT = Path(__file__).resolve().parents[1]


def _notebook(*sources: str) -> dict:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}, "language_info": {"name": "python"}},
        "cells": [{"cell_type": "markdown", "id": "t", "metadata": {}, "source": ["# A notebook\n"]}]
        + [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None, "source": [s], "outputs": []} for i, s in enumerate(sources)],
    }


def _build(tmp_path: Path, notebooks: dict[str, dict], jobs: str) -> tuple[subprocess.CompletedProcess, Path]:
    """Build a book of ``notebooks`` (stem -> notebook) with the real configuration; the result and the HTML folder."""
    proj = tmp_path / "book-src"
    (proj / "book").mkdir(parents=True)
    for name in ("_ext", "_static"):
        (proj / "book" / name).symlink_to(ROOT / "book" / name, target_is_directory=True)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["bibtex_bibfiles"] = ["book/refs.bib"]
    (proj / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    (proj / "book" / "refs.bib").write_text("@misc{x, title={X}, author={A, B}, year={2020}}\n")
    (proj / "book" / "intro.md").write_text("# A small book\n\nIts notebooks run as it builds.\n")
    chapters = "".join(f"  - file: book/{stem}\n" for stem in notebooks)
    (proj / "_toc.yml").write_text(f"format: jb-book\nroot: book/intro\nchapters:\n{chapters}")
    for stem, nb in notebooks.items():
        (proj / "book" / f"{stem}.ipynb").write_text(json.dumps(nb))
    out = tmp_path / "out"
    env = {**os.environ, notebook_run.JOBS_ENV: jobs, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("OMP_NUM_THREADS", None)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jupyter_book), "build", str(proj), "--path-output", str(out), "-W", "-n", "--keep-going"],
                            capture_output=True, text=True, timeout=600, env=env)
    return result, out / "_build" / "html"


@pytest.mark.slow
def test_notebooks_run_side_by_side_with_a_share_of_the_cores_and_reach_the_pages(tmp_path):
    threads = max(1, (os.cpu_count() or 1) // 2)
    shows = "import os\nprint('threads:', os.environ.get('OMP_NUM_THREADS'), 'answer:', 6 * 7)"
    result, html = _build(tmp_path, {"one": _notebook(shows), "two": _notebook("print('second', 2 + 3)")}, jobs="2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "book: running 2 notebook(s), 2 at a time" in result.stdout
    assert sorted(line.split()[2] for line in result.stdout.splitlines() if line.startswith("notebook ")) == ["one", "two"]
    assert f"threads: {threads} answer: 42" in (html / "book" / "one.html").read_text()
    assert "second 5" in (html / "book" / "two.html").read_text()


@pytest.mark.slow
def test_a_notebook_that_fails_still_fails_the_build_and_says_which_and_why(tmp_path):
    failing = _notebook("x = 1", "raise ValueError('the answer is not 41')")
    result, _ = _build(tmp_path, {"good": _notebook("print('fine')"), "bad": failing}, jobs="2")
    assert result.returncode != 0
    said = result.stdout + result.stderr
    assert "book: book/bad failed; it runs again as it is read, to report why" in said
    assert "bad" in said and "the answer is not 41" in said


@pytest.mark.slow
def test_a_pool_process_that_dies_leaves_its_notebooks_to_the_build(tmp_path):
    """A process of the pool killed mid-notebook (out of memory, say) breaks the pool instead of leaving the build
    waiting forever; the notebooks it had not run then run as Sphinx reads them, and the book builds."""
    killer = _notebook("import os, signal\n"
                       "if os.environ.get('OMP_NUM_THREADS'):  # set only in the pool's processes (this test unsets it)\n"
                       "    os.kill(os.getppid(), signal.SIGKILL)  # the kernel's parent: the pool process\n"
                       "print('ran to the end')")
    result, html = _build(tmp_path, {"killer": killer, "calm": _notebook("print('calm', 1 + 1)")}, jobs="2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "book: a process running notebooks stopped" in result.stdout
    assert "ran to the end" in (html / "book" / "killer.html").read_text()
    assert "calm 2" in (html / "book" / "calm.html").read_text()


@pytest.mark.parametrize("jobs", ["0", "two", "-1"])
def test_a_wrong_number_of_jobs_is_refused_with_what_to_give(monkeypatch, jobs):
    monkeypatch.setenv(notebook_run.JOBS_ENV, jobs)
    with pytest.raises(ValueError, match=f"{notebook_run.JOBS_ENV}=.*a whole number from 1"):
        notebook_run._at_once(5)


def test_jobs_default_to_the_cores_at_most_four_and_never_more_than_the_notebooks(monkeypatch):
    monkeypatch.delenv(notebook_run.JOBS_ENV, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert notebook_run._at_once(14) == notebook_run.MAX_AT_ONCE == 4
    assert notebook_run._at_once(3) == 3
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert notebook_run._at_once(14) == 2
    monkeypatch.setenv(notebook_run.JOBS_ENV, "1")
    assert notebook_run._at_once(14) == 1


def test_the_longest_notebooks_start_first_by_the_benchmarks_record(tmp_path):
    assert notebook_run.measured_seconds(tmp_path) == {}  # no record: the reading order
    record = tmp_path / notebook_run.BENCHMARKS
    record.parent.mkdir()
    record.write_text("{not json")
    assert notebook_run.measured_seconds(tmp_path) == {}
    runs = [{"notebook": "01_a.ipynb", "time_s": 7.5}, {"notebook": "09_b.ipynb", "time_s": 23.0}]
    record.write_text(json.dumps({"notebooks": {"serial": {"notebooks": runs}}}))
    assert notebook_run.measured_seconds(tmp_path) == {"01_a.ipynb": 7.5, "09_b.ipynb": 23.0}
    real = notebook_run.measured_seconds(ROOT)  # the repository's own record covers every notebook of the book
    assert set(real) == {p.name for p in (ROOT / "book").glob("*.ipynb")}
