"""The student copy (no solutions, no outputs) and the instructor build (solutions hidden)."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient
from nbformat.v4 import new_output

from _exercise_notebooks import SECRET, tiny_chapter, write
from vit_tutorial.course import instructor, notebooks, student

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only

ROOT = Path(__file__).resolve().parents[1]
NOT_DONE = {"ExerciseNotDone", "NotImplementedError"}


def execution_errors(nb, cwd: Path, timeout: int = 240) -> list[tuple[int, str, str]]:
    """Run ``nb`` top to bottom, going on after errors; return (cell index, ename, evalue) of each error."""
    nb = nbformat.reads(json.dumps(nb), as_version=4)  # joins list-of-lines sources
    env = {**os.environ, "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1"}
    client = NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=timeout,
                            resources={"metadata": {"path": str(cwd)}})
    with client.setup_kernel(env=env):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, index)
    return [(i, o["ename"], o["evalue"]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.outputs if o.output_type == "error"]


# --------------------------------------------------------------------------- markdown


@pytest.mark.parametrize("fence", ["```", "````", ":::", "::::"])
def test_strip_solution_directives_removes_every_solution_block_and_keeps_the_rest(fence):
    text = (f"Before.\n\n{fence}{{exercise}} Do it\n:label: ex-a\nThe task.\n{fence}\n\n"
            f"{fence}{{solution}} ex-a\n:class: dropdown\nUse `x * 2`, {SECRET}.\n{fence}\n\n"
            f"{fence}{{solution-start}} ex-a\n{fence}\nBetween.\n{fence}{{solution-end}}\n{fence}\nAfter.\n")
    out = notebooks.strip_solution_directives(text)
    assert SECRET not in out and "solution" not in out
    assert "{exercise}" in out and "The task." in out and "Before." in out and "Between." in out and "After." in out


def test_strip_solution_directives_does_not_stop_at_a_shorter_inner_fence():
    text = f"````{{solution}} ex-a\n```python\nx = 1  # {SECRET}\n```\nmore {SECRET}\n````\nkept\n"
    assert notebooks.strip_solution_directives(text) == "kept\n"


def test_check_calls_finds_real_calls_only():
    src = "%matplotlib inline\n# check_commented(f)\nvt.exercises.check_b(b)\ncheck_a(a)\nprint('check_in_string(x)')\ncheck_a(a)"
    assert set(notebooks.check_calls(src)) == {"check_a", "check_b"}
    assert notebooks.check_calls("def f(:\n  check_x(1)  # check_y(2)") == ["check_x"]  # not Python: regex fallback


# --------------------------------------------------------------------------- student copy


def test_student_notebook_has_no_solutions_no_outputs_and_is_stamped():
    book = tiny_chapter()
    book.cells[2].outputs = [new_output("stream", name="stdout", text="old output")]
    book.cells[2].execution_count = 3
    nb = notebooks.student_notebook(book, chapter="tiny")
    text = json.dumps(nb)
    assert SECRET not in text
    assert "solution-start" not in text and "solution-end" not in text
    assert not any(notebooks.is_solution(c) for c in nb["cells"])
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in nb["cells"] if c["cell_type"] == "code")
    sources = [notebooks.cell_text(c) for c in nb["cells"]]
    assert sum("raise NotImplementedError" in s for s in sources) == 2  # the stubs stay
    assert "check_double(double)" in sources and "check_square(square)" in sources
    assert sum("{exercise}" in s for s in sources) == 2
    assert len(nb["cells"]) == len(book.cells) - 6  # 2 x (solution cell + 2 gate cells)
    assert nb["metadata"]["vit_tutorial"] == {"chapter": "tiny", "checks": ["check_double", "check_square"], "student_copy": True,
                                              "exercises": [None, None]}  # no :enumerator:, no chapter number in "tiny"
    assert book.cells[2].outputs, "the book's notebook itself must not be modified"


def test_student_notebook_keeps_exercise_text_sharing_a_cell_with_a_solution():
    book = tiny_chapter()
    book.cells.insert(1, nbformat.v4.new_markdown_cell(
        f"```{{exercise}}\n:label: ex-z\nThink.\n```\n\n```{{solution}} ex-z\n:class: dropdown\n{SECRET}\n```"))
    nb = notebooks.student_notebook(book, chapter="tiny")
    assert SECRET not in json.dumps(nb)
    assert "Think." in notebooks.cell_text(nb["cells"][1])


@pytest.mark.slow  # a subprocess or a kernel: make test runs it, make check does not
def test_student_copy_runs_and_fails_only_at_the_exercises(tmp_path):
    nb = notebooks.student_notebook(tiny_chapter(), chapter="tiny")
    errors = execution_errors(nb, tmp_path)
    assert [e[1] for e in errors] == ["ExerciseNotDone", "ExerciseNotDone"], errors
    assert all("not written yet" in e[2] for e in errors)


@pytest.mark.slow  # a subprocess or a kernel: make test runs it, make check does not
def test_the_book_version_runs_without_errors(tmp_path):
    assert execution_errors(tiny_chapter(), tmp_path) == []


def test_command_writes_every_notebook(tmp_path, capsys):
    book, out = tmp_path / "book", tmp_path / "student"
    book.mkdir()
    write(tiny_chapter(), book / "02_tiny.ipynb")
    write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# No exercises")]), book / "01_intro.ipynb")
    assert student.main([str(out), "--book", str(book)]) == 0
    assert sorted(p.name for p in out.glob("*.ipynb")) == ["01_intro.ipynb", "02_tiny.ipynb"]
    assert SECRET not in (out / "02_tiny.ipynb").read_text()
    nbformat.validate(nbformat.read(str(out / "02_tiny.ipynb"), as_version=4))
    printed = capsys.readouterr().out
    assert "02_tiny.ipynb: 2 exercises (2.1–2.2), 2 self-checks" in printed
    assert "01_intro.ipynb: 0 exercises, 0 self-checks" in printed
    stamp = json.loads((out / "02_tiny.ipynb").read_text())["metadata"]["vit_tutorial"]
    assert stamp["exercises"] == ["2.1", "2.2"] and stamp["checks"] == ["check_double", "check_square"]


def test_command_errors_are_clear(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert student.main([str(tmp_path / "out"), "--book", str(tmp_path / "empty")]) == 1
    assert "no notebooks in" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        student.main([])
    assert "either OUT_DIR or --instructor-build" in capsys.readouterr().err


def test_a_folder_that_cannot_be_written_gets_a_clear_error_not_a_traceback(tmp_path, capsys):
    book, locked = tmp_path / "book", tmp_path / "locked"
    book.mkdir()
    write(tiny_chapter(), book / "02_tiny.ipynb")
    locked.mkdir()
    locked.chmod(0o555)
    try:
        out = locked / "student"
        if os.access(locked, os.W_OK):  # root writes anywhere: a read-only place even root can't write in
            out = Path("/sys/vit-tutorial-student")  # sysfs: no new folders, not even for root
            if out.exists() or not Path("/sys").is_dir():
                pytest.skip("no folder here that can't be written")
        assert student.main([str(out), "--book", str(book)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: can't write {out}") and "Choose a folder you can write to" in err, err
        assert "Traceback" not in err and not out.exists()
    finally:
        locked.chmod(0o755)


# --------------------------------------------------------------------------- instructor build


def test_instructor_notebook_runs_solutions_but_removes_them_from_the_page():
    nb = notebooks.instructor_notebook(tiny_chapter())
    solutions = [c for c in nb["cells"] if notebooks.is_solution(c)]
    assert len(solutions) == 2 and all("remove-cell" in c["metadata"]["tags"] for c in solutions)
    checks = [c for c in nb["cells"] if c["cell_type"] == "code" and notebooks.check_calls(notebooks.cell_text(c))]
    assert len(checks) == 2 and all("remove-output" in c["metadata"]["tags"] for c in checks)  # no ✔ under a stub
    text = json.dumps([c for c in nb["cells"] if c["cell_type"] == "markdown"])
    assert "solution-start" not in text and "solution-end" not in text


def test_instructor_config_hides_solutions_and_every_way_to_the_solution_notebooks():
    config = yaml.safe_load(instructor._instructor_config((ROOT / "_config.yml").read_text()))
    assert config["sphinx"]["config"]["hide_solutions"] is True
    assert config["sphinx"]["config"]["html_copy_source"] is False
    assert config["html"]["use_download_button"] is False
    assert config["sphinx"]["config"]["html_theme_options"]["use_download_button"] is False  # what the theme reads
    assert config["sphinx"]["recursive_update"] is True
    assert not {"binderhub_url", "colab_url", "jupyterhub_url"} & set(config.get("launch_buttons", {}))
    assert config["title"] == yaml.safe_load((ROOT / "_config.yml").read_text())["title"]
    assert "sphinx_exercise" in config["sphinx"]["extra_extensions"]


TINY_CONFIG = """\
title: Tiny
only_build_toc_files: true
execute:
  execute_notebooks: force
  raise_on_error: true
launch_buttons:
  colab_url: https://colab.research.google.com
sphinx:
  extra_extensions:
    - sphinx_exercise
"""


@pytest.mark.slow
def test_instructor_build_of_a_tiny_book_has_no_solution_anywhere(tmp_path):
    project = tmp_path / "project"
    (project / "book").mkdir(parents=True)
    write(tiny_chapter(), project / "book" / "tiny.ipynb")
    (project / "_toc.yml").write_text("format: jb-book\nroot: book/tiny\n")
    config = TINY_CONFIG
    (project / "_config.yml").write_text(config)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep me")
    with pytest.raises(notebooks.RefusedError, match="not empty"):
        instructor.instructor_build(tmp_path / "out", project)
    html = instructor.instructor_build(tmp_path / "out", project, force=True)
    assert (tmp_path / "out" / "mine.txt").read_text() == "keep me"

    page = (html / "book" / "tiny.html").read_text()
    assert "✔ double" not in page and "✔ square" not in page  # no "correct" under the stubs (the build would fail if the checks did)
    assert "download-source-button" not in page and "_sources/" not in page  # no link to sources that aren't there
    assert "Write double" in page and "NotImplementedError" in page  # exercise and stub are shown
    leaks = [p for p in html.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaks == []
    assert not re.search(r"Solution to|solution-content", page)
    assert (project / "_config.yml").read_text() == config, "the project's config must not change"


# --------------------------------------------------------------------------- the real book


def _solution_lines(nb: dict) -> set[str]:
    """Lines of the solution cells that appear nowhere else in the book's notebook."""
    elsewhere = {line.strip() for c in nb["cells"] if not notebooks.is_solution(c) for line in notebooks.cell_text(c).splitlines()}
    return {line.strip() for c in nb["cells"] if notebooks.is_solution(c) for line in notebooks.cell_text(c).splitlines()
            if len(line.strip()) > 12 and line.strip() not in elsewhere}


@pytest.mark.slow  # a subprocess or a kernel: make test runs it, make check does not
def test_student_copy_of_the_real_book(tmp_path):
    chapters = {p: json.loads(p.read_text()) for p in sorted((ROOT / "book").glob("*.ipynb"))}
    with_exercises = [p for p, nb in chapters.items() if any(notebooks.is_solution(c) for c in nb["cells"])]
    if not with_exercises:
        pytest.skip("no chapter of book/ has exercises (cells tagged `solution`) yet")
    out = tmp_path / "student"
    assert student.main([str(out), "--book", str(ROOT / "book")]) == 0
    for path, nb in chapters.items():
        copy = (out / path.name).read_text()
        leaked = [line for line in _solution_lines(nb) if json.dumps(line)[1:-1] in copy]
        assert leaked == [], f"{path.name}: solution code in the student copy"
        assert '"solution"' not in copy and "solution-start" not in copy
    # Run one chapter's student copy: only the self-checks may fail, each with NotImplementedError.
    first = with_exercises[0]
    errors = execution_errors(json.loads((out / first.name).read_text()), ROOT / "book", timeout=300)
    assert errors, f"{first.name}: the student copy ran without stopping at any exercise"
    assert {e[1] for e in errors} <= NOT_DONE, f"{first.name}: the student copy fails elsewhere too: {errors}"


# --------------------------------------------------------------------------- never destroy work


def _book(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    write(tiny_chapter(), book / "02_tiny.ipynb")
    return book


def test_student_copy_refuses_the_books_own_folder_even_with_force(tmp_path, capsys):
    book = _book(tmp_path)
    before = (book / "02_tiny.ipynb").read_text()
    for extra in ([], ["--force"]):
        assert student.main([str(book), "--book", str(book), *extra]) == 1
        assert "book's own folder" in capsys.readouterr().err
    (tmp_path / "link").symlink_to(book)
    assert student.main([str(tmp_path / "link"), "--book", str(book), "--force"]) == 1
    assert (book / "02_tiny.ipynb").read_text() == before and SECRET in before


def test_student_copy_refuses_a_folder_it_did_not_make(tmp_path, capsys):
    book, out = _book(tmp_path), tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert student.main([str(out), "--book", str(book)]) == 1
    assert "not empty" in capsys.readouterr().err and sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert student.main([str(out), "--book", str(book), "--force"]) == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "02_tiny.ipynb").is_file()


def test_student_copy_never_overwrites_a_students_work(tmp_path, capsys):
    book, out = _book(tmp_path), tmp_path / "student"
    assert student.main([str(out), "--book", str(book)]) == 0
    assert student.main([str(out), "--book", str(book)]) == 0  # unchanged since written: may be written again
    worked = out / "02_tiny.ipynb"
    nb = json.loads(worked.read_text())
    nb["cells"][4]["source"] = "def double(t):\n    return t * 2  # my work"
    worked.write_text(json.dumps(nb))
    mine = worked.read_text()
    assert student.main([str(out), "--book", str(book)]) == 1
    err = capsys.readouterr().err
    assert "02_tiny.ipynb" in err and "--force" in err and worked.read_text() == mine
    assert student.main([str(out), "--book", str(book), "--force"]) == 0
    assert "my work" not in worked.read_text()


def test_instructor_build_folder_rules(tmp_path):
    project = tmp_path / "project"
    (project / "book").mkdir(parents=True)
    with pytest.raises(notebooks.RefusedError, match="project itself"):
        instructor._claim_build_folder(project.resolve(), project, force=True)
    foreign = tmp_path / "foreign"
    (foreign / "html").mkdir(parents=True)
    (foreign / "html" / "index.html").write_text("someone's site")
    with pytest.raises(notebooks.RefusedError, match="not empty"):
        instructor._claim_build_folder(foreign.resolve(), project, force=False)
    with pytest.raises(notebooks.RefusedError, match="did not make"):
        instructor._claim_build_folder(foreign.resolve(), project, force=True)
    assert (foreign / "html" / "index.html").read_text() == "someone's site"
    fresh = tmp_path / "fresh"
    instructor._claim_build_folder(fresh.resolve(), project, force=False)
    assert (fresh / instructor.INSTRUCTOR_MARKER).is_file()
    (fresh / "html").mkdir()
    instructor._claim_build_folder(fresh.resolve(), project, force=False)  # its own folder: fine


def test_instructor_build_reuses_the_main_builds_execution_cache(tmp_path):
    project = tmp_path / "project"
    assert instructor._main_build_cache(project) is None
    cache = project / "_build" / ".jupyter_cache"
    cache.mkdir(parents=True)
    (cache / "global.db").write_bytes(b"")
    assert instructor._main_build_cache(project) == cache
