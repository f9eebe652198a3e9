"""Self-checks for the book's exercises: ``check_<name>(your_function)``.

Each chapter's checkers live in a module of their own here (``patches.py`` for
chapter 2, ...); every public ``check_*`` function of those modules is available
as ``vit_tutorial.exercises.check_*``.
"""
import importlib
import pkgutil

from ._core import Case, CheckFailed, CheckResult, ExerciseNotDone, Judge, OnError, run_check
from ._forbidden import Forbidden

__all__ = ["Case", "CheckFailed", "CheckResult", "ExerciseNotDone", "Forbidden", "Judge", "OnError", "run_check"]

for _info in pkgutil.iter_modules(__path__):
    if _info.name.startswith("_"):
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in dir(_module):
        if _name.startswith("check_"):
            globals()[_name] = getattr(_module, _name)
            __all__.append(_name)
