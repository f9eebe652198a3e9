"""How the test suite is split between transformers majors (the Makefile's test targets, .ci/run).

The modules marked ``transformers_free`` run once in CI, on transformers 5.x; the rest, and every
notebook, run on both majors. The claim "cannot depend on the major" is kept true by a stand-in
``transformers`` package that refuses to import (tests/without_transformers), first on PYTHONPATH
while ``make test`` runs those modules. These tests check the stand-in, and that the mark sits
where the Makefile looks for it.
"""
from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
BLOCKER = TESTS / "without_transformers"
MAKEFILE = (ROOT / "Makefile").read_text()


def _marked_modules() -> dict[str, bool]:
    """Every test module that mentions the mark -> whether its module-level ``pytestmark`` carries it."""
    found = {}
    for path in sorted(TESTS.glob("test_*.py")):
        source = path.read_text()
        if path.name == Path(__file__).name or "mark.transformers_free" not in source:
            continue
        at_top = False
        for node in ast.parse(source).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
                at_top = "transformers_free" in ast.unparse(node.value)
        found[path.name] = at_top
    return found


def test_the_stand_in_refuses_to_import_and_says_why():
    env = {**os.environ, "PYTHONPATH": str(BLOCKER)}
    run = subprocess.run([sys.executable, "-c", "import transformers"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "ImportError" in run.stderr and "transformers_free" in run.stderr, run.stderr
    # and without it on the path, the real one imports (so the stand-in is what refused)
    real = subprocess.run([sys.executable, "-c", "import transformers, sys; print(transformers.__file__)"],
                          capture_output=True, text=True, timeout=300)
    assert real.returncode == 0 and "without_transformers" not in real.stdout, real.stderr


def test_the_mark_is_module_wide_where_the_makefile_finds_it():
    marked = _marked_modules()
    assert marked, "some modules are marked transformers_free (the grader's, at least)"
    assert all(marked.values()), f"mark the whole module (pytestmark = ...), or the Makefile misses it: {marked}"
    pattern = re.compile(r"^pytestmark.*transformers_free", re.M)  # the Makefile's grep
    assert "grep -l '^pytestmark.*transformers_free' tests/test_*.py" in MAKEFILE
    assert {p.name for p in TESTS.glob("test_*.py") if pattern.search(p.read_text())} == set(marked)


def test_the_longest_modules_are_handed_out_first():
    """tests/conftest.py puts the longest modules first (pytest itself collects files alphabetically), so under
    --dist loadfile no long module starts last beside an idle core; the others keep their order."""
    import types

    import _module_order
    import conftest

    longest = _module_order.LONGEST_FIRST
    assert conftest.pytest_configure_node is _module_order.pytest_configure_node, "xdist's hook, seen in the conftest"
    counts = {"test_book_config.py": 2, "test_words.py": 5, **{name: 2 + i % 3 for i, name in enumerate(reversed(longest))}}
    items = [types.SimpleNamespace(path=TESTS / name, nodeid=f"{name}::t{i}") for name, n in counts.items() for i in range(n)]
    as_collected = list(items)
    conftest.pytest_collection_modifyitems(types.SimpleNamespace(getoption=lambda name, default=None: "load"), items)
    assert items == as_collected, "only --dist loadfile runs are reordered"
    conftest.pytest_collection_modifyitems(types.SimpleNamespace(getoption=lambda name, default=None: "loadfile"), items)
    order = list(dict.fromkeys(item.path.name for item in items))
    assert order == [*longest, "test_words.py", "test_book_config.py"], order  # then the most tests first
    assert [item.nodeid for item in items[:2]] == [f"{longest[0]}::t0", f"{longest[0]}::t1"]
    assert re.search(r"^PYTEST_UNIT := .*--dist loadfile --no-loadscope-reorder$", MAKEFILE, re.M), "xdist keeps this order"
    marked = _marked_modules()  # the long modules of both unit phases: of the transformers-free set, then the others
    free = [name for name in longest if marked.get(name)]
    assert free and longest[:len(free)] == tuple(free) and len(free) < len(longest)
    assert all((TESTS / name).is_file() for name in longest), "a module renamed or gone: mend LONGEST_FIRST"


def test_the_browser_phase_imports_every_module_with_a_browser_test():
    """The browser phase names its modules (the grep below) instead of collecting all of tests/: every module
    whose code marks a test, a class or itself ``browser`` is one the grep finds."""
    mark = "pytest.mark." + "browser"  # spelled apart, so that the grep does not find this module
    assert f"BROWSER_MODULES := $(shell grep -l '{mark}' tests/test_*.py)" in MAKEFILE
    assert "$(BIN)/python -m pytest -n 2 $(BROWSER_MODULES) -m browser" in MAKEFILE
    marked = set()
    for path in TESTS.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "browser" and ast.unparse(node.value).endswith("mark"):
                marked.add(path.name)
    found = {p.name for p in TESTS.glob("test_*.py") if mark in p.read_text()}
    assert marked == found and "test_browser.py" in found, (marked, found)


def test_the_grader_runs_once_and_the_model_tests_on_both_majors():
    marked = set(_marked_modules())
    assert {"test_grade.py", "test_grade_attacks.py", "test_grade_scale.py"} <= marked
    assert not {"test_attention.py", "test_bridge.py", "test_encoder.py", "test_scratch.py"} & marked


def test_make_test_blocks_transformers_for_the_free_modules_and_ci_runs_the_rest_on_4_57():
    assert 'PYTHONPATH=tests/without_transformers $(PYTEST_UNIT) $(TRANSFORMERS_FREE) -m "not browser"' in MAKEFILE
    assert '-m "not browser and not transformers_free"' in MAKEFILE
    recipe = MAKEFILE.split("\ntest-transformers: setup $(WARM_SPEC)\n", 1)[1].split("\n\n", 1)[0]
    assert recipe.strip().splitlines()[-1].strip() == "$(call test_with_transformers,$(EVERY_RUN))", recipe
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test \|\|", ci, re.M), "CI runs the README's test command"
    assert re.search(r"^make test-transformers TRANSFORMERS=4 \|\|", ci, re.M)


def test_setup_writes_in_the_checkout_only_under_its_lock(tmp_path):
    """.ci/run sets up both majors side by side: the one pip step that reads this folder (and rewrites
    vit_tutorial.egg-info) holds the lock; the dependencies come by the package's name."""
    lines = subprocess.run(["make", "-n", "setup", f"VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    installs = [line for line in lines if " pip install " in line]
    from_folder = [line for line in installs if re.search(r"(\s-e\s+|\s)[\"']?\.(\[\w+\])?[\"']?(\s|$)", line)]
    assert len(from_folder) == 1 and "--no-deps" in from_folder[0], installs
    if shutil.which("flock"):
        assert from_folder[0].startswith("flock --wait 600 pyproject.toml "), from_folder[0]
    assert any('"vit_tutorial[dev]"' in line for line in installs), installs
    [extra] = [line for line in installs if '"vit_tutorial[dev]"' in line]
    assert re.search(r"uv pip install --quiet --python \S+ --compile-bytecode \"vit_tutorial\[dev\]\" -c ", extra), extra
    assert re.search(r"else .*; \S+ -m pip install --quiet \"vit_tutorial\[dev\]\" -c ", extra), "pip where uv is not"
    assert "pip config list" in extra and "index-url=" in extra, "an index in pip's configuration: pip, which reads it"
    ci = (ROOT / ".ci" / "run").read_text()
    for setup in ("make setup-lab &", "make setup TRANSFORMERS=4 &", "bash .ci/install-browser &"):
        assert setup in ci, f"{setup!r}: CI starts the installs side by side"


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_the_dependencies_by_name_leave_the_checkout_alone(installer):
    """What make setup's second step does (uv, or pip where uv is not), in this environment, as a dry run: the
    package is already installed (editable), so the installer reads its extras from there and writes nothing in the
    checkout (two setups run side by side, and only the first step holds the lock)."""
    egg = ROOT / "vit_tutorial.egg-info"
    before = {p.name: p.stat().st_mtime_ns for p in egg.iterdir()} if egg.is_dir() else None
    major = int(importlib.metadata.version("transformers").split(".")[0])
    constraints = ROOT / ("constraints.txt" if major >= 5 else "constraints-transformers4.txt")
    if installer == "uv":
        uv = Path(sys.executable).with_name("uv")
        if not uv.exists():
            pytest.skip(f"uv is not in this environment ({uv}): make setup with UV=0 installs with pip")
        command = [str(uv), "pip", "install", "--dry-run", "--offline", "--python", sys.executable, "vit_tutorial[dev]"]
    else:
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "vit_tutorial[dev]"]
    result = subprocess.run([*command, "-c", str(constraints)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    said = result.stdout + result.stderr
    assert result.returncode == 0, said[-4000:]
    satisfied = r"Requirement already satisfied: vit_tutorial\[dev\]" if installer == "pip" else r"Would make no changes"
    assert re.search(satisfied, said), said[-2000:]
    after = {p.name: p.stat().st_mtime_ns for p in egg.iterdir()} if egg.is_dir() else None
    assert after == before, f"{installer} wrote in vit_tutorial.egg-info"


def _notebook_runs(target: str) -> list[list[tuple[str, str]]]:
    """The nbmake runs of ``make -n TARGET`` (the lines that load tests/_notebook_runs.py): each a list of its
    (notebook, weights) arguments, in order."""
    dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True)
    return [[tuple(arg.split("::")) for arg in line.split(" -p tests._notebook_runs ", 1)[1].split()]
            for line in dry.stdout.splitlines() if " -p tests._notebook_runs " in line]


WEIGHT_READERS = {"WEIGHTS_ENV", "requested_source", "resolve_source"}


def _named(node: ast.AST) -> str | None:
    return getattr(node, "id", None) or getattr(node, "attr", None) or getattr(node, "name", None)


def test_only_the_notebooks_that_load_the_model_run_again_on_trained_like_weights():
    """``VIT_TUTORIAL_WEIGHTS`` is read in weights/sources.py, by functions that only ``load_model`` calls, and
    nothing in the package calls ``load_model``: so the notebooks whose code never names it give the same outputs
    on any weights, and the trained-like run (both majors) takes only the others. Every notebook still runs on
    random weights."""
    readers, callers, outside_load_model = set(), set(), []
    for path in sorted((ROOT / "vit_tutorial").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and node.value == "VIT_TUTORIAL_WEIGHTS") or (
                    isinstance(node, (ast.Name, ast.Attribute, ast.alias)) and _named(node) in WEIGHT_READERS):
                readers.add(rel)
            if isinstance(node, ast.Call) and _named(node.func) == "load_model":
                callers.add(rel)
        if rel == "vit_tutorial/model.py":  # there, the readers are used by load_model alone
            load_model = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "load_model")
            inside = {id(n) for n in ast.walk(load_model)}
            outside_load_model = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, (ast.Name, ast.Attribute))
                                  and _named(n) in WEIGHT_READERS and id(n) not in inside]
    # course/kernel.py only hands the variable on to the grader's kernels, by name
    assert readers == {"vit_tutorial/weights/sources.py", "vit_tutorial/model.py", "vit_tutorial/course/kernel.py"}, \
        readers
    assert not outside_load_model, outside_load_model
    assert not callers, f"the package calls load_model (then more notebooks depend on the weights): {callers}"

    from _notebook_runs import weighted_notebooks  # tests/ is on sys.path (pytest's rootdir conftest)

    weighted = {p.relative_to(ROOT).as_posix() for p in weighted_notebooks(ROOT / "book")}
    every = {p.relative_to(ROOT).as_posix() for p in (ROOT / "book").glob("*.ipynb")}
    assert "book/04_attention.ipynb" in weighted and "book/10_training.ipynb" not in weighted, weighted
    from _notebook_runs import HEAVY

    heavy = {f"book/{name}" for name in HEAVY}
    assert heavy <= weighted and len(heavy) < len(weighted), heavy
    for target, on_random in (("test", set()), ("test-transformers", every)):  # make test's book build: random weights
        [run] = _notebook_runs(target)
        assert len(run) == len(set(run)), f"make {target}: a notebook twice on the same weights"
        on = {w: {path for path, weights in run if weights == w} for w in ("random", "trained-like", "trained-like-heavy")}
        assert on == {"random": on_random, "trained-like": weighted, "trained-like-heavy": heavy}, (target, on)
        assert {weights for _, weights in run} <= set(on), f"make {target}: weights other than these? {run}"
    assert len(every) > len(weighted)


def test_nbmake_runs_hand_out_the_longest_notebook_first():
    """xdist gives the notebooks to its workers in the order of the command line: the longest first (by the
    benchmarks' record, as the book build orders its own runs), so that the last notebook to start is a short one."""
    from _notebook_runs import longest_first, measured_seconds

    took = measured_seconds(ROOT)
    assert set(took) == {p.name for p in (ROOT / "book").glob("*.ipynb")}, "benchmarks/results.json times every notebook"
    assert [p.name for p in longest_first([Path("a.ipynb"), Path("b.ipynb"), Path("c.ipynb")], {"b.ipynb": 5.0, "c.ipynb": 9.0})] \
        == ["c.ipynb", "b.ipynb", "a.ipynb"], "no time: last, as in the book build"
    runs = [run for target in ("test", "test-transformers") for run in _notebook_runs(target)]
    assert len(runs) == 2, runs
    for run in runs:
        seconds = [took[Path(path).name] for path, _ in run]
        assert seconds == sorted(seconds, reverse=True), list(zip(run, seconds))

