"""Authoring aid: turn a percent-format script into an output-free notebook.

    python tools/py2nb.py draft.py book/04_attention.ipynb

Cells start with ``# %%`` (code), ``# %% [markdown]`` (markdown; every line starts with
``# `` or is ``#``), and may carry tags: ``# %% tags=["solution"]``. The ``.ipynb`` in
``book/`` is the source of truth; this only saves typing JSON by hand.
"""
from __future__ import annotations

import json
import re
import sys

HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")


def convert(text: str) -> dict:
    cells, current = [], None
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            if current is not None:
                cells.append(current)
            current = {"md": bool(m.group("md")), "tags": json.loads(m.group("tags")) if m.group("tags") else [], "lines": []}
            continue
        if current is None:
            continue
        if current["md"]:
            if line.startswith("# "):
                line = line[2:]
            elif line.strip() == "#":
                line = ""
        current["lines"].append(line)
    if current is not None:
        cells.append(current)
    out = []
    for cell in cells:
        lines = cell["lines"]
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        source = [l + "\n" for l in lines]
        if source:
            source[-1] = source[-1].rstrip("\n")
        meta = {"tags": cell["tags"]} if cell["tags"] else {}
        if cell["md"]:
            out.append({"cell_type": "markdown", "metadata": meta, "source": source})
        else:
            out.append({"cell_type": "code", "execution_count": None, "metadata": meta, "outputs": [], "source": source})
    return {
        "cells": out,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    src, dst = argv
    nb = convert(open(src, encoding="utf-8").read())
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"c{i:03d}"
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {dst}: {len(nb['cells'])} cells")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
