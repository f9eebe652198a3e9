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

