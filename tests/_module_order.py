"""The order in which the unit phases hand out their test modules (pytest-xdist, ``--dist loadfile``).

A module of its own, without torch or the package, so that tests/test_test_tiers.py can run real xdist workers on
these hooks without paying for those imports three times (a controller and two workers). tests/conftest.py uses it.
"""
from __future__ import annotations

import collections

import pytest

# The modules that take longest, in the order they run first (their seconds on 2 cores, December 2026): in the
# transformers-free set the grader's (minutes of grading in kernels), the packaging, the book builds; in the unit
# phases with transformers the whole-model comparisons and the tests that start processes of their own. Then the
# others, those with the most tests first. Under `-n 2 --dist loadfile --no-loadscope-reorder` (the Makefile's) a
# worker takes the next whole module in this order when it runs out, so no long module starts last beside an idle
# core: xdist's own order (the most tests first) handed out test_grade_scale.py (five tests, two minutes) last.
LONGEST_FIRST = (
    # transformers-free: 112, 110, 52, 44, 35, 26, 24, 20, 12 s
    "test_grade_scale.py", "test_grade.py", "test_otter_export.py", "test_grade_attacks.py", "test_packaging.py",
    "test_notebook_run.py", "test_student.py", "test_release.py", "test_test_runs.py",
    # with transformers: 37, 23, 22, 22, 20, 15, 14, 13, 9, 8, 8, 8 s
    "test_scratch.py", "test_attention.py", "test_encoder.py", "test_fresh_mistakes.py", "test_head.py",
    "test_warm_kernel.py", "test_exercise_catalogue.py", "test_model.py", "test_residual.py", "test_tolerance.py",
    "test_exercises_tiny.py", "test_workflows.py",
)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist, in the controller, for each worker: the worker is told the ``--dist`` mode. A worker's own
    ``config.option.dist`` is always "no" (xdist sets it so), and the workers' collection order is the one the
    controller hands out, so the sort below must happen in the workers."""
    node.workerinput["vt_dist"] = node.config.getoption("dist", None)


def dist_mode(config) -> str | None:
    workerinput = getattr(config, "workerinput", None)
    return workerinput.get("vt_dist") if workerinput is not None else config.getoption("dist", None)


def longest_first(config, items) -> None:
    """Under ``--dist loadfile`` the modules of :data:`LONGEST_FIRST` go first, then the others, the most tests
    first; other runs keep pytest's order (the browser phase's ``--dist load`` hands out single tests, in that
    order)."""
    if dist_mode(config) != "loadfile":
        return
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    size = collections.Counter(item.path for item in items)
    items.sort(key=lambda item: (rank.get(item.path.name, len(rank)), -size[item.path]))  # stable: a module's own order stays


def pytest_collection_modifyitems(config, items):
    longest_first(config, items)
