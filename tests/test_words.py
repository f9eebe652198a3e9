"""What the prose says about the code agrees with the code."""

import json
import re
from pathlib import Path

from vit_tutorial.course import numbering

ROOT = Path(__file__).resolve().parents[1]


def _hub_deadline_in_code() -> float:
    """``HUB_PROBE_TIMEOUT_S = 2.0`` wherever the Hub probe lives in the package."""
    for path in sorted((ROOT / "vit_tutorial").rglob("*.py")):
        match = re.search(r"^HUB_PROBE_TIMEOUT_S\s*=\s*([0-9.]+)", path.read_text(encoding="utf-8"), re.M)
        if match:
            return float(match.group(1))
    raise AssertionError("no HUB_PROBE_TIMEOUT_S in vit_tutorial/")


def _seconds(phrase: str) -> float:
    words = {"a": 1, "one": 1, "two": 2, "three": 3}
    number = phrase.split()[0]
    return float(words.get(number, number))


def test_the_intro_and_the_readme_give_the_hub_deadline_of_the_code():
    deadline = _hub_deadline_in_code()
    pattern = re.compile(r"within (?:about )?((?:\d+(?:\.\d+)?|a|one|two|three) ?(?:s|seconds?))\b")
    for page in ("book/intro.md", "README.md"):
        text = (ROOT / page).read_text(encoding="utf-8")
        said = [_seconds(m) for m in pattern.findall(text)]
        assert said, f"{page} no longer says how long the Hub may take"
        assert all(s == deadline for s in said), f"{page} says the Hub must answer within {said} s; the code waits {deadline:g} s"


def test_every_numbered_chapter_ends_with_exercises_as_the_instructors_page_says():
    text = (ROOT / "book" / "instructors.md").read_text(encoding="utf-8")
    assert "from the first to the tenth" in text and "appendix A2" in text
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        count = len(numbering.exercise_numbers(nb, path.stem))
        if re.match(r"\d\d_", path.name) or path.stem.startswith("A2_"):
            assert count >= 2, f"{path.name} has {count} exercise(s); the instructors' page promises exercises"
