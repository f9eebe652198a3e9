"""Reading a submitted file: a notebook the grader can run, or :class:`Invalid` with the reason."""
from __future__ import annotations

import json
from pathlib import Path

MAX_BYTES = 20 * 2**20
MAX_DEPTH = 64


class Invalid(Exception):
    """The file can't be graded as a notebook."""


def _depth(value, limit: int) -> int:
    stack, deepest = [(value, 1)], 1
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def read_submission(path: Path, data: bytes | None = None):
    """The notebook at ``path`` (or its bytes ``data``, read before), outputs cleared; :class:`Invalid` with a reason
    if it can't be graded."""
    import nbformat

    size = path.stat().st_size if data is None else len(data)
    if size > MAX_BYTES:
        raise Invalid(f"too large ({size / 2**20:.0f} MiB; a notebook without outputs is well under {MAX_BYTES >> 20} MiB)")
    data = path.read_bytes() if data is None else data
    if data.startswith(b"\xef\xbb\xbf"):
        raise Invalid("starts with a byte-order mark (BOM): save it again as plain UTF-8 (Jupyter does)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Invalid(f"not a text file ({err.reason} at byte {err.start})") from None
    try:
        raw = json.loads(text)
    except RecursionError:
        raise Invalid(f"nested more than {MAX_DEPTH} levels deep: not a notebook") from None
    except json.JSONDecodeError as err:
        raise Invalid(f"not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
    if _depth(raw, MAX_DEPTH) > MAX_DEPTH:
        raise Invalid(f"nested more than {MAX_DEPTH} levels deep: not a notebook")
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise Invalid("not a Jupyter notebook (no cells)")
    major = raw.get("nbformat")
    if major is None:
        raise Invalid("not a Jupyter notebook (it has no 'nbformat' version)")
    if major != 4:
        raise Invalid(f"nbformat {major!r}: only version 4 notebooks (Jupyter 4 and later) are graded; "
                      "open it in a current Jupyter and save it again")
    try:
        nb = nbformat.reads(text, as_version=4)  # joins list-of-lines sources
        for cell in nb.get("cells", []):  # the grader runs it afresh; old outputs (often odd, from other tools) don't matter
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
        nbformat.validate(nb)
    except Exception as err:  # noqa: BLE001 - nbformat raises many kinds
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise Invalid(f"not a Jupyter notebook ({first[:200]})") from None
    return nb
