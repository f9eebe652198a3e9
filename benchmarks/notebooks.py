"""Sections 1 and 4: the whole book under nbmake (serial and -n 2) against a floor, and each kernel's peak RSS."""
from __future__ import annotations

import json
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from common import PYTHON, ROOT, loadavg, median, timed_command

KERNEL = "vit-bench-rss"
# What every notebook pays at least: a fresh kernel, torch + transformers, the model once, one forward.
FLOOR_CELLS = [
    "import torch\nimport transformers\nimport vit_tutorial as vt",
    "model, processor, source = vt.load_model()\ndevice = next(model.parameters()).device",
    "with torch.no_grad():\n    logits = model(torch.zeros(1, 3, 224, 224, device=device)).logits\nprint(logits.shape)",
]
ENV = {"VIT_TUTORIAL_WEIGHTS": "random", "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def book_notebooks() -> list[Path]:
    """Every notebook of the book, whatever chapters exist today."""
    return sorted(p for p in (ROOT / "book").glob("*.ipynb") if not p.name.startswith("."))


def _kernelspec(folder: Path, rss_dir: Path) -> Path:
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [PYTHON, str(Path(__file__).with_name("rss_kernel.py")), "-f", "{connection_file}"],
        "display_name": "Python 3 (peak RSS recorded)",
        "language": "python",
        "env": {"VIT_BENCH_RSS_DIR": str(rss_dir)},
    }))
    return folder


def _junit(path: Path) -> list[dict]:
    cases = []
    for case in ET.parse(path).iter("testcase"):
        failed = any(child.tag in ("failure", "error") for child in case)
        skipped = any(child.tag == "skipped" for child in case)
        name = Path(case.get("file") or case.get("name") or case.get("classname", "")).name
        cases.append({"notebook": name, "time_s": float(case.get("time", "nan")),
                      "status": "failed" if failed else "skipped" if skipped else "passed"})
    return cases


def run_nbmake(paths: list[Path], workers: int = 1) -> dict:
    """One ``pytest --nbmake`` run: wall time, each notebook's time/status, each kernel's peak RSS."""
    with tempfile.TemporaryDirectory(prefix="vit-bench-") as tmp:
        tmp = Path(tmp)
        rss_dir = tmp / "rss"
        rss_dir.mkdir()
        jupyter_path = _kernelspec(tmp / "jupyter", rss_dir)
        cmd = [PYTHON, "-m", "pytest", "--nbmake", f"--nbmake-kernel={KERNEL}", "--nbmake-timeout=300",
               "-p", "no:cacheprovider", "-p", "vit_tutorial.course.nbexec",  # no stalls on widgets (see nbexec)
               "-q", "-o", "addopts=", f"--junitxml={tmp / 'junit.xml'}",
               *(["-n", str(workers)] if workers > 1 else []), *map(str, paths)]
        load_before = loadavg()
        result = timed_command(cmd, env={**ENV, "JUPYTER_PATH": str(jupyter_path)})
        cases = _junit(tmp / "junit.xml") if (tmp / "junit.xml").exists() else []
        kernels = sorted((json.loads(p.read_text()) for p in rss_dir.glob("*.json")), key=lambda r: r["start"])
    if workers == 1 and len(kernels) == len(cases):  # serial: the i-th kernel ran the i-th notebook
        for case, kernel in zip(cases, kernels):
            case["peak_rss_mib"] = round(kernel["peak_rss_mib"], 1)
    return {"workers": workers, "wall_s": result["wall_s"], "rc": result["rc"], "notebooks": cases,
            "kernels": len(kernels), "max_peak_rss_mib": max((k["peak_rss_mib"] for k in kernels), default=None),
            "load_before": load_before, "load_after": loadavg(),
            **({"tail": result["tail"]} if result["rc"] not in (0, 5) else {})}


def floor(copies: int) -> dict:
    """Run ``copies`` identical floor notebooks serially: the least a notebook of this book can cost."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in FLOOR_CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    with tempfile.TemporaryDirectory(prefix="vit-floor-") as tmp:
        paths = []
        for i in range(copies):
            paths.append(Path(tmp) / f"floor_{i:02d}.ipynb")
            nbformat.write(nb, paths[-1])
        run = run_nbmake(paths)
    times = [c["time_s"] for c in run["notebooks"] if c["status"] == "passed"]
    return {"copies": copies, "per_notebook_s": median(times), "times_s": times, "wall_s": run["wall_s"],
            "peak_rss_mib": run["max_peak_rss_mib"], "rc": run["rc"]}


def bench(quick: bool, log=print) -> dict:
    notebooks = book_notebooks()
    log(f"  {len(notebooks)} notebooks: {', '.join(p.stem for p in notebooks)}")
    # floor before and after the serial suite, so a change of load shows up in both
    floor_a = floor(2 if quick else 3)
    log(f"  floor: {floor_a['per_notebook_s']:.1f} s per notebook")
    serial = run_nbmake(notebooks)
    log(f"  serial suite: {serial['wall_s']:.1f} s (rc {serial['rc']})")
    floor_b = floor(1 if quick else 3)
    parallel = None if quick else run_nbmake(notebooks, workers=2)
    if parallel:
        log(f"  -n 2 suite: {parallel['wall_s']:.1f} s (rc {parallel['rc']})")
    per_floor = median(floor_a["times_s"] + floor_b["times_s"])
    suite_sum = sum(c["time_s"] for c in serial["notebooks"])
    floor_total = per_floor * len(notebooks)
    return {
        "notebooks": [p.name for p in notebooks],
        "floor": {"per_notebook_s": per_floor, "total_s": floor_total, "runs": [floor_a, floor_b]},
        "serial": serial,
        "parallel": parallel,
        "suite_sum_s": suite_sum,
        "ratio_to_floor": suite_sum / floor_total if floor_total else None,
        "parallel_speedup": serial["wall_s"] / parallel["wall_s"] if parallel else None,
    }


if __name__ == "__main__":
    print(json.dumps(bench(quick="--quick" in sys.argv), indent=1))
