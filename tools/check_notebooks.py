"""Notebooks are committed without outputs: the book build executes them, and review reads the source.

    python tools/check_notebooks.py book/*.ipynb          # list code cells that carry outputs (exit 1)
    python tools/check_notebooks.py --clear book/04_attention.ipynb

The pre-commit hook runs the first form; it never changes a file. ``--clear`` removes outputs
and execution counts, and nothing else: the JSON is written back in the layout the repository
uses (indent 1, UTF-8 as is, a final newline), so the diff holds only the cleared cells.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def dirty_cells(nb: dict) -> list[int]:
    """Indices of code cells with outputs or an execution count."""
    return [i for i, c in enumerate(nb.get("cells", []))
            if c.get("cell_type") == "code" and (c.get("outputs") or c.get("execution_count") is not None)]


def clear(nb: dict) -> None:
    for i in dirty_cells(nb):
        nb["cells"][i]["outputs"] = []
        nb["cells"][i]["execution_count"] = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--clear", action="store_true", help="remove the outputs and execution counts (in place)")
    args = parser.parse_args(argv)
    status = 0
    for path in args.notebooks:
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            print(f"{path}: cannot read the notebook: {err}", file=sys.stderr)
            status = 1
            continue
        dirty = dirty_cells(nb)
        if not dirty:
            continue
        if args.clear:
            clear(nb)
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            print(f"{path}: cleared cells {dirty}")
        else:
            print(f"{path}: code cells {dirty} carry outputs or execution counts; "
                  f"clear them with: python tools/check_notebooks.py --clear {path}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
