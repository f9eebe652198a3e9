"""How long the grader takes for a class, one submission at a time and several at once (``--jobs``). Not a test.

    python benchmarks/grade_jobs.py --copies 30 --chapter 05_layernorm --jobs 1 2

Hands in ``--copies`` copies of the book's own notebook of ``--chapter`` (every exercise solved), one folder per
learner, and runs ``python -m vit_tutorial.grade`` on all of them once per ``--jobs`` value, in a fresh temporary
folder each time. Prints the wall time, the time per submission, the speed-up over the first ``--jobs`` value and
the 1-minute load average before and after each run (the machine may be shared), and what that predicts for
``--predict`` submissions on ``--cores`` cores: the one-job time per submission, divided by the cores and by the
parallel efficiency measured here (speed-up / jobs), which assumes the memory holds that many kernels (a kernel
with torch and a ViT-B takes about 1 GB) and that the efficiency holds at that many cores.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(copies: int, chapter: str, jobs: int, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="vit-grade-bench-") as tmp:
        tmp = Path(tmp)
        files = []
        for i in range(copies):
            (tmp / f"learner-{i:03d}").mkdir()
            files.append(tmp / f"learner-{i:03d}" / f"{chapter}.ipynb")
            shutil.copy2(ROOT / "book" / f"{chapter}.ipynb", files[-1])
        load_before = os.getloadavg()[0]
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "vit_tutorial.grade", *map(str, files), "--book", str(ROOT / "book"),
                               "--jobs", str(jobs), "--json", str(tmp / "grades.json"), "--timeout", str(timeout)],
                              capture_output=True, text=True, env={**os.environ, "VIT_TUTORIAL_WEIGHTS": "random"})
        wall = time.monotonic() - start
        if proc.returncode != 0:
            raise SystemExit(f"the grader failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        subs = json.loads((tmp / "grades.json").read_text())["submissions"]
        passed = sum(s["passed"] == s["total"] > 0 for s in subs)
        return {"jobs": jobs, "copies": copies, "wall_s": round(wall, 1), "per_submission_s": round(wall / copies, 2),
                "all_passed": passed, "median_submission_s": sorted(s["seconds"] for s in subs)[len(subs) // 2],
                "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
                "sandbox": subs[0]["sandbox"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=30)
    parser.add_argument("--chapter", default="05_layernorm")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--predict", type=int, default=3000, help="submissions to predict the time for")
    parser.add_argument("--cores", type=int, default=8, help="cores of the machine to predict for (--jobs = cores)")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args()
    rows = []
    for jobs in args.jobs:
        rows.append(run(args.copies, args.chapter, jobs, args.timeout))
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    print(f"\n{args.copies} copies of {args.chapter} on {os.cpu_count()} cores ({rows[0]['sandbox']})\n")
    print("| --jobs | wall | per submission | speed-up | all exercises passed | load avg before / after |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        speedup = base["wall_s"] / row["wall_s"] * row["jobs"] / base["jobs"] if base["jobs"] != 1 else base["wall_s"] / row["wall_s"]
        row["speedup"] = round(speedup, 2)
        print(f"| {row['jobs']} | {row['wall_s']:.0f} s | {row['per_submission_s']:.1f} s | {speedup:.2f}x | "
              f"{row['all_passed']}/{row['copies']} | {row['load_before']} / {row['load_after']} |")
    best = max(rows, key=lambda r: r["jobs"])
    efficiency = best["speedup"] / best["jobs"] if base["jobs"] == 1 else 1.0
    one_job = base["per_submission_s"] * base["jobs"]
    predicted = args.predict * one_job / (args.cores * efficiency)
    print(f"\nPredicted: {args.predict} submissions on {args.cores} cores with --jobs {args.cores}: "
          f"{args.predict} x {one_job:.1f} s / ({args.cores} x efficiency {efficiency:.2f}) = {predicted / 3600:.1f} h")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "predicted_s": round(predicted), "efficiency": round(efficiency, 3)}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
