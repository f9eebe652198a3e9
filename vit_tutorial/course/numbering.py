"""Exercise numbers: Exercise 4.2 is the second exercise of chapter 4, wherever a learner meets it.

Each ``{exercise}`` block of a chapter's notebook declares its number with MyST's ``:enumerator:``
option, so the number is in the text itself: the book shows "Exercise 4.2" (``book/_ext/exercise_numbers.py``),
JupyterLab with jupyterlab-myst shows the same, a plain Jupyter or Colab shows the option's line,
and the student copy, the grader's table and the otter export read it from there.

    >>> chapter_number("04_attention"), chapter_number("book/A2_tiny_vit_digits")
    ('4', 'A2')
    >>> exercise_numbers(notebook, "04_attention")      # in the order of the notebook
    ['4.1', '4.2', '4.3']
"""

from __future__ import annotations

import re

_CHAPTER = re.compile(r"^(?:(?P<number>\d+)|(?P<appendix>[A-Z]\d*))_")
EXERCISE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|:{3,})\{exercise\}(?P<title>[^\n]*)\n(?P<options>(?:[ \t]*:[\w-]+:[^\n]*\n)*)",
    re.M,
)
_ENUMERATOR = re.compile(r"^[ \t]*:enumerator:[ \t]*(?P<value>\S+)[ \t]*$", re.M)


def chapter_number(name: str) -> str | None:
    """The chapter's number from its notebook's name: ``04_attention`` -> ``"4"``, ``A2_tiny...`` -> ``"A2"``."""
    stem = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    match = _CHAPTER.match(stem)
    if match is None:
        return None
    return str(int(match["number"])) if match["number"] else match["appendix"]


def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def exercise_blocks(markdown: str) -> list[re.Match]:
    """The ``{exercise}`` fences of a markdown text, in order."""
    return list(EXERCISE.finditer(markdown))


def declared_number(block: re.Match) -> str | None:
    """The ``:enumerator:`` of one ``{exercise}`` block (from :func:`exercise_blocks`), or ``None``."""
    match = _ENUMERATOR.search(block["options"])
    return match["value"] if match else None


def expected_numbers(count: int, chapter: str) -> list[str]:
    """``["4.1", "4.2", ...]``: what ``count`` exercises of ``chapter`` are numbered (``["1", "2", ...]`` for a
    notebook whose name carries no chapter number)."""
    prefix = chapter_number(chapter)
    return [f"{prefix}.{k}" if prefix else str(k) for k in range(1, count + 1)]


def exercise_numbers(nb: dict, chapter: str) -> list[str | None]:
    """The number of each exercise of notebook ``nb`` in order: its ``:enumerator:``, else its place in ``chapter``
    (``None`` when neither says: a notebook without ``:enumerator:`` whose name carries no chapter number)."""
    blocks = [b for cell in nb.get("cells", []) if cell.get("cell_type") == "markdown" for b in exercise_blocks(_text(cell))]
    fallback = expected_numbers(len(blocks), chapter) if chapter_number(chapter) else [None] * len(blocks)
    return [declared_number(b) or fallback[i] for i, b in enumerate(blocks)]


def cell_exercise_numbers(nb: dict, chapter: str) -> list[str | None]:
    """For every cell of ``nb``: the number of the exercise it belongs to (the last one begun above it), or ``None``."""
    numbers = iter(exercise_numbers(nb, chapter))
    current, out = None, []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for _ in exercise_blocks(_text(cell)):
                current = next(numbers)
        out.append(current)
    return out


def describe(numbers: list[str | None]) -> str:
    """``"3 exercises (4.1–4.3)"``, ``"1 exercise (2.1)"``, ``"0 exercises"``."""
    count = f"{len(numbers)} exercise{'' if len(numbers) == 1 else 's'}"
    if not numbers or None in numbers:
        return count
    return f"{count} ({numbers[0]}{'–' + numbers[-1] if len(numbers) > 1 else ''})"
