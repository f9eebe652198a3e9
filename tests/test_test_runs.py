"""The test runs themselves, in real processes: the unit phases' xdist workers (whole modules, the longest first) and
the Makefile's notebook runs (each notebook on the weights its argument names).

Nothing here depends on the transformers major (transformers_free: the Makefile runs it once, with transformers
blocked); tests/test_test_tiers.py checks the same choices where the Makefile writes them down.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.transformers_free, pytest.mark.slow]  # processes of their own (make check leaves them out)

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"

MODULE = '''
import os, pytest

@pytest.fixture(scope="module")
def made():
    with open(os.environ["RUN_LOG"], "a") as log:
        log.write(f"made {__name__} {os.getpid()}\\n")

@pytest.mark.parametrize("i", range(N))
def test_logs(made, i):
    with open(os.environ["RUN_LOG"], "a") as log:
        log.write(f"ran {__name__} {os.environ['PYTEST_XDIST_WORKER']}\\n")
'''
USES_OUR_HOOKS = f'''
import sys
sys.path.insert(0, {str(TESTS)!r})
from _module_order import pytest_collection_modifyitems, pytest_configure_node  # tests/conftest.py's hooks
'''


@pytest.fixture(scope="module")
def unit_run(tmp_path_factory) -> dict:
    """make test's unit phases as the Makefile's PYTEST_UNIT runs them (real xdist workers, tests/conftest.py's
    hooks), on three modules: one first by name and size, and the two that LONGEST_FIRST puts first, each with a
    module-wide fixture. Returns the options, the two longest modules, and what the run logged: the module of each
    fixture made, and the module each worker started with. One run for the two tests below."""
    from _module_order import LONGEST_FIRST

    folder = tmp_path_factory.mktemp("unit-run")
    options = re.search(r"^PYTEST_UNIT := \$\(BIN\)/python (-m pytest .*)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    longest = [Path(name).stem for name in LONGEST_FIRST[:2]]
    (folder / "conftest.py").write_text(USES_OUR_HOOKS)
    (folder / "test_aaa_many.py").write_text(MODULE.replace("range(N)", "range(30)"))  # first by name and size
    for name in longest:
        (folder / f"{name}.py").write_text(MODULE.replace("range(N)", "range(3)"))
    log = folder / "run.log"
    run = subprocess.run([sys.executable, *options.split(), "-p", "no:cacheprovider", "-q", str(folder)], cwd=folder,
                         env={**os.environ, "RUN_LOG": str(log)}, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [line.split() for line in log.read_text().splitlines()]
    started = {}
    for what, module, worker in lines:
        if what == "ran":
            started.setdefault(worker, module)
    return {"options": options, "longest": longest, "made": [module for what, module, _ in lines if what == "made"],
            "started": started}


def test_the_unit_phase_makes_a_modules_fixture_once(unit_run):
    """Whole modules to a worker: the grader's batch or the attack catalogue (a module-wide fixture, minutes of
    kernels) is graded once, not once per worker. (pytest 9.2 made xdist's loadgroup ignore its marks without a word:
    this is the check that would have seen it.)"""
    assert "-n" in unit_run["options"], unit_run["options"]
    assert sorted(unit_run["made"]) == sorted(["test_aaa_many", *unit_run["longest"]]), \
        f"{unit_run['options']}: one setup per module, got {unit_run['made']}"


def test_real_workers_start_with_the_longest_modules(unit_run):
    """Each worker starts with one of the two longest modules, whatever their names and sizes. The worker sorts its
    own collection, where xdist has set ``--dist`` to "no": the hook once read that and never sorted (the grader's long
    modules started wherever the alphabet put them, one of them beside an idle core at the end)."""
    assert sorted(unit_run["started"].values()) == sorted(unit_run["longest"]), unit_run["started"]


def test_each_notebook_run_has_its_weights_in_the_kernel(tmp_path):
    """tests/_notebook_runs.py as the Makefile loads it: NOTEBOOK::WEIGHTS runs the notebook in a kernel whose
    VIT_TUTORIAL_WEIGHTS is WEIGHTS, whatever the environment says, in the order of the command line; with --nbmake
    it refuses (each notebook would run once more, on the environment's weights)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from _notebook_runs import WEIGHTS_ENV

    sources = (ROOT / "vit_tutorial" / "weights" / "sources.py").read_text(encoding="utf-8")
    assert re.search(rf'^WEIGHTS_ENV = "{WEIGHTS_ENV}"$', sources, re.M), "the package reads another variable"
    log = tmp_path / "weights.log"
    notebook = tmp_path / "logs_its_weights.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(
        "import os\nwith open(os.environ['WEIGHTS_LOG'], 'a') as log:\n"
        f"    log.write(os.environ.get('{WEIGHTS_ENV}', '-') + '\\n')")]), notebook)
    env = {**os.environ, "WEIGHTS_LOG": str(log), WEIGHTS_ENV: "pretrained"}
    command = [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-p", "tests._notebook_runs", "-q"]
    run = subprocess.run([*command, f"{notebook}::trained-like-heavy", f"{notebook}::random"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert log.read_text().split() == ["trained-like-heavy", "random"]
    refused = subprocess.run([*command, "--nbmake", str(notebook)], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=600)
    assert refused.returncode != 0 and "leave out --nbmake" in refused.stderr, refused.stdout + refused.stderr
    assert log.read_text().split() == ["trained-like-heavy", "random"], "nothing ran"
