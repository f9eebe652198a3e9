"""Appendix A4: the ViT that runs in the reader's browser, read from the files the package ships.

The forward pass is ``explorers/js/vit.js``; its one heavy operation, the matrix product (plain
JavaScript and WebAssembly SIMD), is ``explorers/js/matmul.js``, which ``vit.js`` imports.

    >>> print(function_source("vitTrace"))        # one function, exactly as its file has it
    >>> functions()[:3]                           # every top-level function, file by file (FILES)
    ['preprocess', 'resizeBilinear', 'readSafetensors']

The proof that it computes what PyTorch computes is ``tests/test_vit_js.py`` (headless Chromium).
"""

from __future__ import annotations

import re
from pathlib import Path

JS_DIR = Path(__file__).resolve().parent / "explorers" / "js"
FILES = ("vit.js", "matmul.js")  # the forward pass, then the matrix product it imports
_FUNCTION = re.compile(r"^(?:export )?function (\w+)\(", re.M)


def source(file: str = "vit.js") -> str:
    """The whole of one of :data:`FILES`."""
    if file not in FILES:
        raise ValueError(f"the browser's ViT is {' and '.join(FILES)}; got {file!r}")
    return (JS_DIR / file).read_text(encoding="utf-8")


def functions(file: str | None = None) -> list[str]:
    """The names of the top-level functions of ``file`` (default: of every file in :data:`FILES`), in order."""
    return [name for f in ([file] if file else FILES) for name in _FUNCTION.findall(source(f))]


def file_of(name: str) -> str:
    """The file of :data:`FILES` that defines the top-level function ``name``."""
    for file in FILES:
        if name in functions(file):
            return file
    raise KeyError(f"{' and '.join(FILES)} have no top-level function {name!r}; they have: {', '.join(functions())}")


def function_source(name: str, comments: bool = True) -> str:
    """One top-level function as its file writes it: from ``function name(`` to its closing brace
    (counted), with the comment lines right above it when ``comments``."""
    text = source(file_of(name))
    match = re.search(rf"^(?:export )?function {re.escape(name)}\(", text, re.M)
    depth, end = 0, text.index("{", match.start())
    for end in range(end, len(text)):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0:
            break
    above = text[: match.start()].split("\n")[:-1]
    kept = 0
    while comments and kept < len(above) and above[-1 - kept].startswith("//") and not above[-1 - kept].startswith("// ---"):
        kept += 1
    head = "\n".join(above[len(above) - kept :]) + "\n" if kept else ""
    return head + text[match.start() : end + 1]
