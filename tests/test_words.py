"""What the prose says about the code agrees with the code."""

import json
import re
from pathlib import Path

import pytest

from vit_tutorial.course import numbering

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only

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
    pattern = re.compile(r"(?:within|for at most) (?:about )?((?:\d+(?:\.\d+)?|a|one|two|three) ?(?:s|seconds?))\b")
    for page in ("book/intro.md", "README.md", "book/A3_performance.ipynb"):
        text = (ROOT / page).read_text(encoding="utf-8")
        if page.endswith(".ipynb"):
            text = "".join("".join(c["source"]) for c in json.loads(text)["cells"] if c["cell_type"] == "markdown")
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


def test_the_benchmark_results_cover_every_notebook_of_the_table_of_contents():
    """Appendix A3 shows benchmarks/results.json: it must not leave out a chapter (it once missed chapter 10)."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    notebooks = sorted(Path(f).name + ".ipynb" for f in files if (ROOT / f"{f}.ipynb").exists())
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text(encoding="utf-8"))["notebooks"]
    measured = sorted(case["notebook"] for case in results["serial"]["notebooks"])
    assert measured == notebooks, f"benchmarks/results.json: rerun `make bench` (it has {measured}, _toc.yml lists {notebooks})"
    assert all(case["status"] == "passed" for case in results["serial"]["notebooks"])
    assert results["notebooks"] == notebooks
