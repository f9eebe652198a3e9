"""The grader's own checks for the tiny test chapter of ``_exercise_notebooks`` (as ``vit_tutorial.exercises``
is for the book): what the grading tests pass as ``checks_module``. Seeded, so the grader's salt changes their inputs."""
import torch

from vit_tutorial.exercises import Case, run_check


def check_double(fn):
    x = torch.randn(2, 3, generator=torch.Generator().manual_seed(1))
    return run_check("double", fn, [Case((x,), 2 * x, "a random (2, 3) tensor")],
                     mistakes={"you added 2 instead of multiplying by 2": lambda t: t + 2})


def check_square(fn):
    x = torch.randn(3, 2, generator=torch.Generator().manual_seed(2))
    return run_check("square", fn, [Case((x,), x * x, "a random (3, 2) tensor")],
                     mistakes={"you doubled instead of squaring": lambda t: 2 * t})


def graded_once(name: str, tmp_path_factory, compute):
    """``compute()`` (a batch of gradings, minutes long) once per test run, shared by pytest-xdist workers.

    ``compute`` returns a list of :class:`vit_tutorial.grade.SubmissionResult` and a JSON-able extra;
    the first worker to get here grades, the others read its results back.
    """
    import dataclasses
    import json
    import os

    from vit_tutorial import grade

    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        return compute()
    from filelock import FileLock

    data = tmp_path_factory.getbasetemp().parent / f"{name}-{run}.json"
    with FileLock(str(data) + ".lock"):
        if not data.exists():
            results, extra = compute()
            data.write_text(json.dumps({"results": [r.to_dict() for r in results], "extra": extra}))
            return results, extra
        saved = json.loads(data.read_text())
    keys = {f.name for f in dataclasses.fields(grade.SubmissionResult)} - {"exercises"}
    results = [grade.SubmissionResult(**{k: d[k] for k in keys},
                                      exercises=[grade.ExerciseResult(e["check"], e["status"], e["message"])
                                                 for e in d["exercises"]]) for d in saved["results"]]
    return results, saved["extra"]
