"""Appendix A4: the ViT that runs in the reader's browser, ``explorers/js/vit.js``, read from the shipped file.

    >>> print(function_source("vitTrace"))        # one function, exactly as the file has it
    >>> functions()[:3]                           # every top-level function, in the file's order
    ['preprocess', 'resizeBilinear', 'readSafetensors']

The proof that it computes what PyTorch computes is ``tests/test_vit_js.py`` (headless Chromium).
"""
from __future__ import annotations

import re
from pathlib import Path

VIT_JS = Path(__file__).resolve().parent / "explorers" / "js" / "vit.js"
_FUNCTION = re.compile(r"^(?:export )?function (\w+)\(", re.M)


def source() -> str:
    """The whole of ``vit.js``."""
    return VIT_JS.read_text(encoding="utf-8")


def functions() -> list[str]:
    """The names of ``vit.js``'s top-level functions, in the file's order."""
    return _FUNCTION.findall(source())


def function_source(name: str, comments: bool = True) -> str:
    """One top-level function of ``vit.js`` as the file writes it: from ``function name(`` to its
    closing brace (counted), with the comment lines right above it when ``comments``."""
    text = source()
    match = re.search(rf"^(?:export )?function {re.escape(name)}\(", text, re.M)
    if match is None:
        raise KeyError(f"vit.js has no top-level function {name!r}; it has: {', '.join(functions())}")
    depth, end = 0, text.index("{", match.start())
    for end in range(end, len(text)):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0:
            break
    above = text[:match.start()].split("\n")[:-1]
    kept = 0
    while comments and kept < len(above) and above[-1 - kept].startswith("//") and not above[-1 - kept].startswith("// ---"):
        kept += 1
    head = "\n".join(above[len(above) - kept:]) + "\n" if kept else ""
    return head + text[match.start():end + 1]
