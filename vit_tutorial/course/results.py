"""What the grader found, per exercise and per submission, and how it reports it: a table and JSON."""
from __future__ import annotations

import json
import os
import tempfile
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path

TOOL = "vit_tutorial.grade"

# Exercise results
PASSED, FAILED, NOT_DONE, ERROR, NOT_RUN = "passed", "failed", "not done", "error", "not run"
# Submission results
GRADED, CRASHED, TIMEOUT, INVALID, NOT_FOUND, GRADER_ERROR, INTERRUPTED, UNKNOWN_CHAPTER = (
    "graded", "crashed", "timeout", "invalid", "not found", "grader error", "interrupted", "unknown chapter")


@dataclass
class ExerciseResult:
    check: str  # e.g. "check_patchify"
    status: str
    message: str = ""
    number: str = ""  # the exercise, as the book numbers it: "4.2" (two checks may share one)

    @property
    def name(self) -> str:
        return self.check.removeprefix("check_")

    @property
    def label(self) -> str:
        """How the table names it: ``4.2 split_heads``."""
        return f"{self.number} {self.name}" if self.number else self.name


@dataclass
class SubmissionResult:
    file: str
    status: str
    detail: str = ""
    chapter: str | None = None
    seconds: float = 0.0
    label: str = ""  # how the table names it: the path below the submissions' common folder
    exercises: list[ExerciseResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # errors in cells that are not checks
    notes: list[str] = field(default_factory=list)  # what the grader changed or noticed (restored cells, metadata)
    flags: list[str] = field(default_factory=list)  # for the instructor to review
    log: str | None = None
    sandbox: str = ""  # how the kernel was isolated: "bubblewrap (...)" or "none (why)"
    sha256: str = ""  # of the hand-in as the grader read it (before any notebook ran); --resume keeps a result only for the same
    seed: int | None = None  # the secret salt of the checks' inputs in the run that graded it

    @property
    def passed(self) -> int:
        return sum(e.status == PASSED for e in self.exercises)

    def to_dict(self) -> dict:
        d = asdict(self)
        for e in d["exercises"]:
            e["name"] = e["check"].removeprefix("check_")
        d.update(passed=self.passed, total=len(self.exercises), seconds=round(self.seconds, 2))
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SubmissionResult:
        """A result as :meth:`to_dict` wrote it (``--resume``)."""
        names = set(cls.__dataclass_fields__) - {"exercises"}
        result = cls(**{k: v for k, v in d.items() if k in names})
        result.exercises = [ExerciseResult(e["check"], e["status"], e.get("message", ""), e.get("number", ""))
                            for e in d.get("exercises") or []]
        return result


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(results: list[SubmissionResult], width: int = 80) -> str:
    """A plain-text table: one summary row per submission, one row per exercise, then its flags; the details
    in full, wrapped at ``width`` characters."""
    rows = [("submission", "exercise", "result", "details")]
    for r in results:
        name = r.label or Path(r.file).name
        summary = r.status if r.status != GRADED else f"{r.passed}/{len(r.exercises)} passed"
        if r.flags:
            summary += f" ⚑{len(r.flags)}"
        rows.append((name, f"[{r.chapter or '?'}]", summary, r.detail if r.status != GRADED or r.detail else f"{r.seconds:.1f} s"))
        for e in r.exercises:
            rows.append(("", e.label, e.status, e.message if e.status != PASSED else ""))
        for flag in r.flags:
            rows.append(("", "⚑ review", "", flag))
    widths = [max(len(_short(row[i], 40)) for row in rows) for i in range(3)]
    lines = []
    for i, row in enumerate(rows):
        cols = [_short(row[j], 40).ljust(widths[j]) for j in range(3)]
        details = textwrap.wrap(" ".join(str(row[3]).split()), width, break_on_hyphens=False) or [""]
        lines.append("  ".join(cols) + "  " + details[0])  # the details in full, wrapped under their column
        lines += [" " * (sum(widths) + 6) + more for more in details[1:]]
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 7)
    return "\n".join(line.rstrip() for line in lines)


def to_json(results: list[SubmissionResult], complete: bool = True, salt: int | None = None) -> dict:
    data = {"tool": TOOL, "complete": complete, "submissions": [r.to_dict() for r in results]}
    if salt is not None:
        data["seed"] = salt
    return data


def check_json_target(target: str, submissions, force: bool) -> Path | None:
    """Where ``--json`` may write, validated before any grading; raise ``ValueError`` with the reason."""
    if target == "-":
        return None
    path = Path(target)
    if path.suffix.lower() == ".ipynb":
        raise ValueError(f"--json {target}: that is a notebook's name; give a .json file (e.g. grades.json)")
    if any(Path(s).exists() and path.exists() and path.resolve() == Path(s).resolve() for s in submissions) or \
            any(os.path.abspath(s) == os.path.abspath(target) for s in submissions):
        raise ValueError(f"--json {target}: that is one of the submissions")
    if not path.parent.is_dir():
        raise ValueError(f"--json {target}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise ValueError(f"--json {target}: that is a folder")
    if path.exists() and not force:
        try:
            ours = json.loads(path.read_text(encoding="utf-8")).get("tool") == TOOL
        except (ValueError, OSError, AttributeError, UnicodeDecodeError):
            ours = False
        if not ours:
            raise ValueError(f"--json {target}: the file exists and is not an earlier result of this grader; "
                             "choose another name or add --force")
    if not os.access(path.parent, os.W_OK):
        raise ValueError(f"--json {target}: can't write in {path.parent}")
    return path


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` atomically (a half-written file is never left behind)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
