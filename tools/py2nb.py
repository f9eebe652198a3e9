"""Authoring aid: turn a percent-format script into an output-free notebook.

    python tools/py2nb.py draft.py book/04_attention.ipynb

Cells start with ``# %%`` (code), ``# %% [markdown]`` (markdown; every line starts with
``# `` or is ``#``), and may carry JSON-valued options after the marker:

    # %% tags=["solution"]
    # %% caption="The cat, cut into patches." name="fig-02-grid"   (a numbered myst-nb figure)
    # %% metadata={"mystnb": {"figure": {"caption": "...", "name": "..."}}}

``caption``/``name`` become ``metadata.mystnb.figure``; ``metadata`` is merged in as given.
The ``.ipynb`` in ``book/`` is the source of truth; this only saves typing JSON by hand.
"""
from __future__ import annotations

import json
import re
import sys

HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?P<options>(?:\s.*)?)$")
OPTION = re.compile(r"\s*(tags|caption|name|metadata)=")


def parse_options(text: str) -> dict:
    """``tags=[...] caption="..." name="..." metadata={...}`` (values are JSON) -> cell metadata."""
    values, pos, decoder = {}, 0, json.JSONDecoder()
    while text[pos:].strip():
        m = OPTION.match(text, pos)
        if not m:
            raise ValueError(f"cannot parse cell options at: {text[pos:]!r}")
        values[m.group(1)], pos = decoder.raw_decode(text, m.end())
    meta = dict(values.get("metadata", {}))
    if values.get("tags"):
        meta["tags"] = values["tags"]
    figure = {k: values[k] for k in ("caption", "name") if k in values}
    if figure:
        meta.setdefault("mystnb", {}).setdefault("figure", {}).update(figure)
    return meta


def convert(text: str) -> dict:
    cells, current = [], None
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            if current is not None:
                cells.append(current)
            current = {"md": bool(m.group("md")), "meta": parse_options(m.group("options")), "lines": []}
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
        meta = cell["meta"]
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
