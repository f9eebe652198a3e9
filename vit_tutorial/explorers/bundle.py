"""The explorers' one build step: ES modules that import each other, linked into one text.

The sources in ``js/`` are ES modules sharing code by real imports
(``import { vtRoot } from "./_common.js"``). Two hosts need a single file instead:

* anywidget takes one ES module as a string (``_esm``): :func:`esm`;
* the book must work opened from disk (``file://``), where browsers refuse module scripts
  and cross-file imports: :func:`classic` gives a classic script (``<script src>``), which
  registers the explorer on ``globalThis.vitTutorial.explorers[name]``;
* a Web Worker made from text takes one classic script too: :func:`library` (the photo
  explorer's worker runs ``vit.js`` and its ``matmul.js`` so).

Both come from the same sources by the same linking, in Python (no Node, no minifier): each
module becomes one function scope, called once, in dependency order; its imports are bound
from the objects the modules it depends on return; its exports are what it returns. The
syntax understood (anything else at the start of a line, and any ``import(``, is refused
with the file and line):

    import { a, b as c } from "./x.js";      import x from "./x.js";      import * as x from "./x.js";
    export function f ...   export const a = ...   export let / var / class ...   (one name each)
    export default <expression>;   export default function f ...   export { a, b as c };

Paths are relative to the importing file and stay inside ``js/``. Imports are bound once, when
the importing module starts (no live bindings): export functions and constants, not counters.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

JS_DIR = Path(__file__).resolve().parent / "js"
NAME = r"[A-Za-z_$][\w$]*"

_IMPORT = re.compile(r"^import[ \t]+(?P<what>[^;'\"]*?)[ \t]+from[ \t]+(?P<q>[\"'])(?P<path>[^\"']+)(?P=q)[ \t]*;[ \t]*$", re.M)
_EXPORT_DECL = re.compile(rf"^export[ \t]+(?P<kind>(?:async[ \t]+)?function\*?|class|const|let|var)[ \t]+(?P<name>{NAME})", re.M)
_EXPORT_DEFAULT_DECL = re.compile(rf"^export[ \t]+default[ \t]+(?P<kind>(?:async[ \t]+)?function\*?|class)[ \t]+(?P<name>{NAME})", re.M)
_EXPORT_DEFAULT = re.compile(r"^export[ \t]+default[ \t]+", re.M)
_EXPORT_LIST = re.compile(r"^export[ \t]*\{(?P<names>[^}]*)\}[ \t]*;?[ \t]*$", re.M)
_LEFTOVER = re.compile(r"^[ \t]*(import|export)\b(?![ \t]*\.)|\bimport[ \t]*\(", re.M)
DEFAULT = "__default__"


class BundleError(ValueError):
    """A module uses syntax the linker does not handle, imports outside ``js/``, or a cycle."""


def _var(module_id: str) -> str:
    return "__vt_" + re.sub(r"[^\w$]", "_", module_id)


def _where(path: Path, text: str, pos: int) -> str:
    return f"{path.relative_to(JS_DIR.parent) if path.is_relative_to(JS_DIR.parent) else path}:{text.count(chr(10), 0, pos) + 1}"


def _pairs(names: str, path: Path, text: str, pos: int) -> list[tuple[str, str]]:
    """'a, b as c' -> [('a', 'a'), ('b', 'c')] (exported name, local name)."""
    out = []
    for item in filter(None, (n.strip() for n in names.split(","))):
        m = re.fullmatch(rf"({NAME})(?:\s+as\s+({NAME}))?", item)
        if not m:
            raise BundleError(f"{_where(path, text, pos)}: cannot read {item!r} in an import or export list")
        out.append((m.group(1), m.group(2) or m.group(1)))
    return out


class Module:
    """One parsed source file: its id (path in ``js/`` without ``.js``), imports, exports, body."""

    def __init__(self, module_id: str, root: Path = JS_DIR):
        self.id, self.root = module_id, root
        self.path = root / f"{module_id}.js"
        if not self.path.is_file():
            raise BundleError(f"no module {module_id!r}: {self.path} does not exist")
        text = self.path.read_text(encoding="utf-8")
        self.imports: list[tuple[str, str]] = []  # (module id, binding code with {mod} for the module's variable)
        self.exports: dict[str, str] = {}  # exported name -> local expression

        def take_import(m: re.Match) -> str:
            target = self._resolve(m.group("path"), text, m.start())
            what = " ".join(m.group("what").split())
            parts = []
            head, _, rest = what.partition("{") if "{" in what else (what, "", "")
            head = head.strip().rstrip(",").strip()
            if rest:
                names, close, tail = rest.partition("}")
                if not close or tail.strip():
                    raise BundleError(f"{_where(self.path, text, m.start())}: cannot read the import list {what!r}")
                listed = ", ".join(f"{a}: {b}" if a != b else a for a, b in _pairs(names, self.path, text, m.start()))
                parts.append(f"const {{ {listed} }} = {{mod}};")
            for piece in filter(None, (p.strip() for p in head.split(","))):
                if star := re.fullmatch(rf"\*\s+as\s+({NAME})", piece):
                    parts.append(f"const {star.group(1)} = {{mod}};")
                elif re.fullmatch(NAME, piece):
                    parts.append(f"const {piece} = {{mod}}.{DEFAULT};")
                else:
                    raise BundleError(f"{_where(self.path, text, m.start())}: cannot read the import {what!r}")
            self.imports.append((target, " ".join(parts)))
            return ""

        text = _IMPORT.sub(take_import, text)

        def take_decl(m: re.Match) -> str:
            self.exports[m.group("name")] = m.group("name")
            return f"{m.group('kind')} {m.group('name')}"

        def take_default_decl(m: re.Match) -> str:
            self.exports[DEFAULT] = m.group("name")
            return f"{m.group('kind')} {m.group('name')}"

        def take_list(m: re.Match) -> str:
            for local, exported in _pairs(m.group("names"), self.path, text, m.start()):
                self.exports[DEFAULT if exported == "default" else exported] = local
            return ""

        text = _EXPORT_DEFAULT_DECL.sub(take_default_decl, text)
        text = _EXPORT_DECL.sub(take_decl, text)
        if len(_EXPORT_DEFAULT.findall(text)) > 1:
            raise BundleError(f"{self.path}: more than one `export default`")
        if _EXPORT_DEFAULT.search(text):
            self.exports[DEFAULT] = DEFAULT
            text = _EXPORT_DEFAULT.sub(f"const {DEFAULT} = ", text)
        text = _EXPORT_LIST.sub(take_list, text)
        left = _LEFTOVER.search(text)
        if left:
            line = text[left.start() :].splitlines()[0].strip()
            raise BundleError(
                f"{_where(self.path, text, left.start())}: the explorers' linker does not handle {line!r} "
                "(see vit_tutorial/explorers/bundle.py for what it reads)"
            )
        self.body = text.strip("\n")

    def _resolve(self, spec: str, text: str, pos: int) -> str:
        if not spec.startswith(("./", "../")) or not spec.endswith(".js"):
            raise BundleError(
                f'{_where(self.path, text, pos)}: import {spec!r}: only relative paths to .js files in {self.root} ("./name.js"); no packages, no URLs'
            )
        target = (self.path.parent / spec).resolve()
        if not target.is_relative_to(self.root):
            raise BundleError(f"{_where(self.path, text, pos)}: import {spec!r} leaves {self.root}")
        return target.relative_to(self.root).with_suffix("").as_posix()

    def code(self) -> str:
        """The module as ``const __vt_<id> = (function (deps) { ... return exports; })(deps);``."""
        deps = list(dict.fromkeys(t for t, _ in self.imports))
        params = ", ".join(_var(d) for d in deps)
        binds = "\n".join(b.replace("{mod}", _var(t)) for t, b in self.imports)
        exported = ", ".join(f"{k}: {v}" if k != v else k for k, v in self.exports.items())
        return (
            f"// ---- {self.id}.js\nconst {_var(self.id)} = (function ({params}) {{\n"
            + (binds + "\n" if binds else "")
            + self.body
            + f"\nreturn {{ {exported} }};\n}})({params});\n"
        )


def order(entry: str, root: Path = JS_DIR) -> list[Module]:
    """``entry`` and every module it imports, each once, dependencies first; a cycle is refused."""
    done: dict[str, Module] = {}
    path: list[str] = []

    def visit(module_id: str) -> None:
        if module_id in done:
            return
        if module_id in path:
            raise BundleError("import cycle: " + " -> ".join(path[path.index(module_id) :] + [module_id]))
        path.append(module_id)
        module = Module(module_id, root)
        for dep, _ in module.imports:
            visit(dep)
        path.pop()
        done[module_id] = module

    visit(entry)
    return list(done.values())


def _linked(entry: str, root: Path) -> tuple[str, str]:
    modules = order(entry, root)
    files = ", ".join(f"{m.id}.js" for m in modules)
    head = f"// vit_tutorial explorer {entry!r}: {files}, linked by vit_tutorial/explorers/bundle.py\n"
    return head + "\n".join(m.code() for m in modules), _var(entry)


@lru_cache(maxsize=None)
def esm(entry: str, root: Path = JS_DIR) -> str:
    """One ES module holding ``entry`` and its imports; its default export is the entry's."""
    code, var = _linked(entry, root)
    if DEFAULT not in order(entry, root)[-1].exports:
        raise BundleError(f"{entry}.js has no `export default`")
    return code + f"export default {var}.{DEFAULT};\n"


@lru_cache(maxsize=None)
def classic(entry: str, root: Path = JS_DIR, *, then: str = "") -> str:
    """A classic script: ``entry`` and its imports in one function scope, then ``then`` (JavaScript
    that may use ``entry`` for the entry's exports and ``vt`` for ``globalThis.vitTutorial``)."""
    code, var = _linked(entry, root)
    return (
        '(function () {\n"use strict";\n'
        + code
        + "const vt = (globalThis.vitTutorial = globalThis.vitTutorial || { explorers: {} });\n"
        + f"const entry = {var};\n{then}\n}})();\n"
    )


@lru_cache(maxsize=None)
def library(entry: str, root: Path = JS_DIR) -> str:
    """A classic script that makes ``entry``'s exports global names (``globalThis``): for a Web Worker
    made from text, where the code that follows calls them by name (the photo explorer runs ``vit``
    and its ``matmul`` so)."""
    code, var = _linked(entry, root)
    return '(function () {\n"use strict";\n' + code + f"Object.assign(globalThis, {var});\n}})();\n"


def book_script(name: str, root: Path = JS_DIR) -> str:
    """The book's classic script for explorer ``name``: registers it, and mounts it if the host is there."""
    return classic(name, root, then=f"vt.explorers[{_js_string(name)}] = entry.{DEFAULT};\nif (vt.mountAll) vt.mountAll();")


def book_host(root: Path = JS_DIR) -> str:
    """The book's classic host script: mounts every registered explorer (see ``js/host.js``)."""
    return classic("host", root, then="vt.mountAll = () => entry.mountAll(vt.explorers);\nvt.mountAll();")


def _js_string(s: str) -> str:
    import json

    return json.dumps(s)
