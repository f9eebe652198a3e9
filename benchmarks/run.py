"""Benchmarks of the book (issue 9): ``make bench`` or ``python benchmarks/run.py [--quick]``.

Sections (``--only`` picks some):
  notebooks  every book/*.ipynb under nbmake, serial and -n 2, against a floor notebook; each kernel's peak RSS
  forward    vit_tutorial.scratch.vit_forward vs HuggingFace (eager, and the SDPA variants), batch 1 and 8
  startup    import time, load_model()'s auto decision without network, random-weight model creation
  build      jupyter-book build, then a rebuild with a warm cache and nothing changed
  browser    the ViT that runs in the page (js/vit.js) in headless Chromium: the tiny digits model, ViT-B/16 int8

Writes benchmarks/results.json (a --quick run writes to the temp folder unless --out is given)
and prints a table. The machine is usually shared: every comparison is a ratio taken in the
same run, with interleaved repeats and medians, and the load average is recorded next to it.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

SECTIONS = ("startup", "forward", "notebooks", "build", "browser")
RESULTS = Path(__file__).resolve().with_name("results.json")


def targets(results: dict) -> list[dict]:
    """Each figure of issue 9 next to its target."""
    rows = []

    def add(name, value, limit, unit):
        if value is not None:
            rows.append({"name": name, "value": value, "target": limit, "unit": unit, "met": value <= limit})

    ok = lambda key: results.get(key) and "error" not in results[key]  # noqa: E731
    nb = results.get("notebooks") if ok("notebooks") else None
    if nb:
        add("book under nbmake, serial / floor", nb["ratio_to_floor"], 1.5, "×")
        add("book under nbmake, serial (wall)", nb["serial"]["wall_s"], 90, "s")
        rss = nb["serial"]["max_peak_rss_mib"]
        add("peak RSS of the largest notebook kernel", rss / 1024 if rss else None, 1.5, "GiB")
    for row in (results.get("forward") or {}).get("rows", []) if ok("forward") else []:
        if " vs F." in row["what"]:
            continue  # the helper breakdown has no target: it explains the others
        limit = 1.10 if "eager" in row["what"] else 1.05
        add(f"{row['what']}, {row['device']}, batch {row['batch']}", row["ratio"], limit, "×")
    st = results.get("startup") if ok("startup") else None
    if st:
        add("load_model() auto decision, no network", st["auto_decision_no_cache"]["median_s"], 1.0, "s")
    bd = results.get("build") if ok("build") else None
    if bd:
        add("book rebuild, warm cache, nothing changed", bd["rebuild"]["wall_s"], 15, "s")
    for row in (results.get("browser") or {}).get("rows", []) if ok("browser") else []:
        if row["path"] != "WebAssembly SIMD":
            continue  # the fallback has no target
        if row["what"].startswith("tiny"):
            add("in the page: tiny digits ViT, one drawing", row["median_ms"], 20, "ms")
        else:
            add("in the page: ViT-B/16 (int8), one photo", row["median_ms"] / 1000, 10, "s")
            add("in the page: ViT-B/16 (int8), one photo (stretch goal)", row["median_ms"] / 1000, 3, "s")
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"{'measure':<62} {'value':>9} {'target':>9}  ok"]
    for r in rows:
        lines.append(f"{r['name']:<62} {r['value']:>8.2f}{r['unit']:<1} {'<=' + format(r['target'], 'g') + r['unit']:>9}  "
                     f"{'yes' if r['met'] else 'NO'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no -n 2 run, no book build (~2-3 min)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--out", type=Path, help="where to write the JSON (default: benchmarks/results.json)")
    parser.add_argument("--note", default="", help="conditions of this run, stored with the results")
    args = parser.parse_args(argv)
    sections = args.only or [s for s in SECTIONS if not (args.quick and s == "build")]
    out = args.out or (Path(tempfile.gettempdir()) / "vit-bench-quick.json" if args.quick else RESULTS)

    import vit_tutorial as vt

    vt.random_model(seed=0)  # the notebooks' weights: fill the on-disk cache first, so no section pays for it
    results = {
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "note": args.note,
        "machine": common.machine(),
        "load_at_start": common.loadavg(),
    }
    if args.only and out.exists():  # keep the other sections' figures, and say where they came from
        try:
            previous = json.loads(out.read_text())
        except ValueError:
            previous = {}
        kept = [name for name in SECTIONS if name in previous and name not in sections]
        origin = previous.get("kept_from") or {}  # sections that were already older in that file
        when = {name: origin.get(name, previous.get("generated")) for name in kept}
        for name in kept:
            results[name] = previous[name]
        if kept:
            results["kept_from"] = when
            by_run = {}
            for name, generated in when.items():
                by_run.setdefault(generated, []).append(name)
            results["note"] = (f"{args.note} " if args.note else "") + " ".join(
                f"Sections {', '.join(names)} are from the run of {generated}." for generated, names in by_run.items())
    start = time.perf_counter()
    for name in sections:
        print(f"[{name}]", flush=True)
        t = time.perf_counter()
        try:
            results[name] = __import__(name).bench(args.quick, log=lambda msg: print(msg, flush=True))
        except Exception as err:  # one broken section must not lose the others' figures
            import traceback

            traceback.print_exc()
            results[name] = {"error": f"{type(err).__name__}: {err}"}
        results[name]["section_s"] = time.perf_counter() - t
        out.write_text(json.dumps(results, indent=1) + "\n")  # partial results survive an interrupted run
    results["total_s"] = time.perf_counter() - start
    results["load_at_end"] = common.loadavg()
    results["targets"] = targets(results)
    out.write_text(json.dumps(results, indent=1) + "\n")
    m = results["machine"]
    print(f"\n{m['cpu']}, {m['usable_cores']} cores, torch {m['versions']['torch']}, "
          f"transformers {m['versions']['transformers']}; load {results['load_at_start']} -> {results['load_at_end']}")
    print(table(results["targets"]))
    print(f"\nwrote {out} ({results['total_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
