"""Grade submitted notebooks: run each one and report every exercise's self-check.

    python -m vit_tutorial.grade alice/02_patch_embeddings.ipynb bob/*.ipynb --json grades.json

Each submission runs top to bottom in a fresh Python kernel, in a temporary folder, with a
time limit (``--timeout``, seconds for the whole notebook). The self-checks
(``vit_tutorial.exercises.check_*``) append their verdict to a log the grader reads
(``VIT_TUTORIAL_GRADE_LOG``), cell by cell, so every verdict is tied to the check cell that
produced it. A submission that is not valid JSON, is not a notebook, crashes its kernel or
runs out of time is reported as such, and grading goes on with the next one.

Which exercises a chapter has comes from the book's own notebook of the same chapter
(``--book``, by default the checkout's ``book/``), found through the chapter name the
student copy stamps into the notebook's metadata or, failing that, the file name. A check
that the learner deleted is reported as ``check missing``.

The grader runs the learner's code with your permissions: grade in a container or a
throw-away account if you don't trust the submissions. It trusts what the checks log, so a
determined learner could forge a result; read any notebook whose grade surprises you.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .exercises._core import GRADE_LOG_ENV
from .student import METADATA_KEY, check_calls, expected_checks, project_root

DEFAULT_TIMEOUT = 300

# Exercise results
PASSED, FAILED, NOT_DONE, MISSING, ERROR, NOT_RUN, NO_RESULT = (
    "passed", "failed", "not done", "check missing", "error", "not run", "no result")
# Submission results
GRADED, CRASHED, TIMEOUT, INVALID, NOT_FOUND, GRADER_ERROR = (
    "graded", "crashed", "timeout", "invalid", "not found", "grader error")


@dataclass
class ExerciseResult:
    check: str  # e.g. "check_patchify"
    status: str
    message: str = ""

    @property
    def name(self) -> str:
        return self.check.removeprefix("check_")


@dataclass
class SubmissionResult:
    file: str
    status: str
    detail: str = ""
    chapter: str | None = None
    seconds: float = 0.0
    exercises: list[ExerciseResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # errors in cells that are not checks

    @property
    def passed(self) -> int:
        return sum(e.status == PASSED for e in self.exercises)

    def to_dict(self) -> dict:
        d = asdict(self)
        for e in d["exercises"]:
            e["name"] = e["check"].removeprefix("check_")
        d.update(passed=self.passed, total=len(self.exercises), seconds=round(self.seconds, 2))
        return d


# --------------------------------------------------------------------------- reading


class Invalid(Exception):
    """The file can't be graded as a notebook."""


def read_submission(path: Path):
    import nbformat

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise Invalid(f"not a text file ({err.reason})") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        raise Invalid(f"not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        for cell in nb.get("cells", []):  # the grader runs it afresh; old outputs (often odd, from
            if isinstance(cell, dict) and cell.get("cell_type") == "code":  # other tools) don't matter
                cell["outputs"], cell["execution_count"] = [], None
        nbformat.validate(nb)
    except Exception as err:  # noqa: BLE001 - nbformat raises many kinds
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise Invalid(f"not a Jupyter notebook ({first[:200]})") from None
    return nb


def _book_notebooks(book_dir: Path | None) -> dict[str, Path]:
    if book_dir is None or not Path(book_dir).is_dir():
        return {}
    return {p.stem: p for p in Path(book_dir).glob("*.ipynb")}


def find_chapter(nb, path: Path, book: dict[str, Path]) -> str | None:
    """The chapter a submission belongs to: its metadata stamp, else the book notebook its file name names."""
    stamped = (nb.metadata.get(METADATA_KEY) or {}).get("chapter")
    if isinstance(stamped, str) and stamped:
        return stamped
    stem = path.stem
    if stem in book:
        return stem
    inside = [name for name in book if name in stem]
    if inside:
        return max(inside, key=len)
    number = re.match(r"(?:.*[^0-9A-Za-z])?([0-9]{2}|A[0-9])_", stem)
    if number:
        same = [name for name in book if name.startswith(number.group(1) + "_")]
        if len(same) == 1:
            return same[0]
    return None


def expected_for(nb, chapter: str | None, book: dict[str, Path]) -> tuple[list[str], str]:
    """The checks a submission should run, and where that list came from."""
    if chapter and chapter in book:
        return expected_checks(json.loads(book[chapter].read_text(encoding="utf-8"))), "book"
    stamped = (nb.metadata.get(METADATA_KEY) or {}).get("checks")
    if isinstance(stamped, list) and all(isinstance(c, str) for c in stamped):
        return list(stamped), "metadata"
    return expected_checks(nb), "submission"


# --------------------------------------------------------------------------- running


def _read_log(path: Path, offset: int) -> tuple[list[dict], int]:
    try:
        with open(path, encoding="utf-8") as f:
            f.seek(offset)
            text = f.read()
    except FileNotFoundError:
        return [], offset
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "status" in record:
            records.append(record)
    return records, offset + len(text.encode("utf-8"))


def _error_of(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
    return None


def _verdict(record: dict) -> ExerciseResult:
    status = {"passed": PASSED, "failed": FAILED, "not_done": NOT_DONE}.get(record.get("status"), FAILED)
    return ExerciseResult("", status, str(record.get("message", "")))


def run_submission(nb, expected: list[str], timeout: float, result: SubmissionResult) -> None:
    """Execute ``nb`` cell by cell in a fresh kernel; fill ``result``."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from .nbexec import patch

    patch()  # a widgets.interact cell could otherwise hang until the time limit (see nbexec)
    verdicts: dict[str, ExerciseResult] = {}
    ran: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="vit-grade-") as work:
        log = Path(work) / "grade-log.jsonl"
        log.touch()
        env = dict(os.environ, **{GRADE_LOG_ENV: str(log), "MPLBACKEND": "Agg"})
        deadline = [float("inf")]
        client = NotebookClient(
            nb, kernel_name="python3", allow_errors=True, timeout=None, record_timing=False,
            timeout_func=lambda cell: max(1, int(deadline[0] - time.monotonic() + 0.999)),
            shutdown_kernel="immediate", resources={"metadata": {"path": work}},
        )
        start = time.monotonic()
        offset = 0
        try:
            with client.setup_kernel(env=env):
                deadline[0] = time.monotonic() + timeout
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code":
                        continue
                    if time.monotonic() >= deadline[0]:
                        raise CellTimeoutError(f"time limit of {timeout:g} s reached before cell {index}")
                    client.execute_cell(cell, index)
                    records, offset = _read_log(log, offset)
                    checks = [c for c in check_calls(cell.source) if c in expected]
                    error = _error_of(cell)
                    stopped = None  # an earlier check in the same cell that raised
                    for check in checks:
                        ran.add(check)
                        own = records if len(checks) == 1 else [r for r in records if f"check_{r.get('exercise')}" == check]
                        if own:
                            verdicts[check] = _verdict(own[-1])
                            if verdicts[check].status != PASSED:
                                stopped = stopped or check
                        elif error and stopped:
                            verdicts[check] = ExerciseResult(check, NOT_RUN, f"not reached: {stopped}(...) in the same cell raised first")
                        elif error:
                            verdicts[check] = ExerciseResult(check, ERROR, f"the check cell raised {error}")
                        else:
                            verdicts[check] = ExerciseResult(check, NO_RESULT, "the check cell ran but no self-check reported a result")
                    if error and not checks:
                        result.errors.append(f"cell {index}: {error}")
            result.status = GRADED
            if result.errors:
                result.detail = f"{len(result.errors)} cell(s) raised an error; first: {result.errors[0]}"
        except CellTimeoutError:
            result.status, result.detail = TIMEOUT, f"did not finish within {timeout:g} s (an endless loop, or too slow)"
        except DeadKernelError as err:
            result.status, result.detail = CRASHED, f"the kernel died ({str(err).strip() or 'DeadKernelError'})"
        except RuntimeError as err:  # jupyter_client: "Kernel died before replying to kernel_info"
            if "kernel" not in str(err).lower():
                raise
            result.status, result.detail = CRASHED, f"the kernel died ({str(err).strip()})"
        finally:
            result.seconds = time.monotonic() - start
        # verdicts logged before a timeout or crash still count
        records, offset = _read_log(log, offset)
    present = {c for cell in nb.cells if cell.cell_type == "code" for c in check_calls(cell.source)}
    for check in expected:
        if check in verdicts:
            v = verdicts[check]
            result.exercises.append(ExerciseResult(check, v.status, v.message))
        elif check not in present:
            result.exercises.append(ExerciseResult(check, MISSING, f"no cell calls {check}(...): the check cell was deleted"))
        elif check not in ran:
            result.exercises.append(ExerciseResult(check, NOT_RUN, f"not reached ({result.status})"))


def grade_one(path: Path, book: dict[str, Path], timeout: float = DEFAULT_TIMEOUT) -> SubmissionResult:
    """Grade one submission; never raises."""
    path = Path(path)
    result = SubmissionResult(file=str(path), status=GRADER_ERROR)
    try:
        if not path.is_file():
            result.status, result.detail = NOT_FOUND, "no such file"
            return result
        try:
            nb = read_submission(path)
        except Invalid as err:
            result.status, result.detail = INVALID, str(err)
            chapter = find_chapter(_empty_nb(), path, book)
            if chapter in book:
                result.chapter = chapter
                expected, _ = expected_for(_empty_nb(), chapter, book)
                result.exercises = [ExerciseResult(c, NOT_RUN, "the file could not be read") for c in expected]
            return result
        result.chapter = find_chapter(nb, path, book)
        expected, origin = expected_for(nb, result.chapter, book)
        run_submission(nb, expected, timeout, result)
        if origin == "submission" and result.status == GRADED:
            note = "chapter unknown: graded the checks the notebook itself calls"
            result.detail = f"{note}; {result.detail}" if result.detail else note
    except Exception as err:  # noqa: BLE001 - one broken submission must not stop the others
        result.status, result.detail = GRADER_ERROR, f"{type(err).__name__}: {err}"
    return result


def _empty_nb():
    import nbformat

    return nbformat.v4.new_notebook()


def grade(paths, book_dir: Path | None = None, timeout: float = DEFAULT_TIMEOUT, progress=None) -> list[SubmissionResult]:
    """Grade every submission in turn. ``book_dir`` defaults to the checkout's ``book/``."""
    if book_dir is None:
        try:
            book_dir = project_root() / "book"
        except FileNotFoundError:
            book_dir = None
    book = _book_notebooks(book_dir)
    results = []
    for path in paths:
        if progress:
            progress(f"grading {path} ...")
        results.append(grade_one(Path(path), book, timeout))
    return results


# --------------------------------------------------------------------------- reporting


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(results: list[SubmissionResult], width: int = 80) -> str:
    """A plain-text table: one row per exercise, one summary row per submission."""
    rows = [("submission", "exercise", "result", "details")]
    for r in results:
        name = Path(r.file).name
        summary = r.status if r.status != GRADED else f"{r.passed}/{len(r.exercises)} passed"
        rows.append((name, f"[{r.chapter or '?'}]", summary, r.detail if r.status != GRADED or r.detail else f"{r.seconds:.1f} s"))
        for e in r.exercises:
            rows.append(("", e.name, e.status, e.message if e.status != PASSED else ""))
    widths = [max(len(_short(row[i], 40)) for row in rows) for i in range(3)]
    lines = []
    for i, row in enumerate(rows):
        cols = [_short(row[j], 40).ljust(widths[j]) for j in range(3)]
        lines.append("  ".join(cols) + "  " + _short(row[3], width))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 7)
    return "\n".join(line.rstrip() for line in lines)


def to_json(results: list[SubmissionResult]) -> dict:
    return {"submissions": [r.to_dict() for r in results]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vit_tutorial.grade",
        description="Run submitted notebooks in fresh kernels and report each exercise's self-check.",
    )
    parser.add_argument("submissions", nargs="+", help="the submitted .ipynb files")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON (for a gradebook); '-' for stdout")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help=f"seconds one notebook may run (default {DEFAULT_TIMEOUT})")
    parser.add_argument("--book", help="the book's notebooks, which say what each chapter's exercises are (default: book/ of the checkout)")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    book = Path(args.book) if args.book else None
    if book is not None and not book.is_dir():
        parser.error(f"--book {book}: no such folder")
    results = grade(args.submissions, book, args.timeout, progress=lambda m: print(m, file=sys.stderr, flush=True))
    report = json.dumps(to_json(results), indent=1, ensure_ascii=False)
    if args.json == "-":
        print(report)
    else:
        print(table(results))
        if args.json:
            Path(args.json).write_text(report + "\n", encoding="utf-8")
            print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
