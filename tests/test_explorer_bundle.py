"""The explorers' one build step (vit_tutorial.explorers.bundle): ES modules that import each other,
linked into one ES module (anywidget) or one classic script (the book, which must work from file://)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vit_tutorial.explorers import bundle

TREE = {
    "a.js": """// a: exports of every kind the linker reads
export function double(x) { return 2 * x; }
export const BASE = 10;
let hidden = 1;
function secret() { return hidden + 41; }
export { secret as answer };
export default { name: "a" };
""",
    "sub/c.js": """import { BASE } from "../a.js";
export function plusBase(x) { return x + BASE; }
""",
    "b.js": """import aDefault, { double, answer as theAnswer } from "./a.js";
import * as everything from "./a.js";
import {
  plusBase,
} from "./sub/c.js";
function render() {
  return [aDefault.name, double(4), theAnswer(), everything.BASE, plusBase(5)];
}
export default { render };
""",
}


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_links_every_import_form_in_dependency_order(tmp_path):
    root = _tree(tmp_path, TREE)
    assert [m.id for m in bundle.order("b", root)] == ["a", "sub/c", "b"]
    code = bundle.esm("b", root)
    assert code.index("// ---- a.js") < code.index("// ---- sub/c.js") < code.index("// ---- b.js")
    assert code.count("// ---- a.js") == 1  # imported twice by b and once by c, linked once
    assert "const aDefault = __vt_a.__default__;" in code
    assert "const { double, answer: theAnswer } = __vt_a;" in code
    assert "const everything = __vt_a;" in code
    assert "return { double, BASE, __default__, answer: secret };" in code
    assert code.rstrip().endswith("export default __vt_b.__default__;")
    assert not re.search(r"^\s*import\b", code, re.M)
    classic = bundle.classic("b", root, then="globalThis.out = entry.__default__.render();")
    assert not re.search(r"^\s*(import|export)\b", classic, re.M)


@pytest.mark.parametrize(
    "source, complaint",
    [
        ('import x from "lodash";\nexport default 1;\n', "only relative paths"),
        ('import x from "https://cdn.example/x.js";\nexport default 1;\n', "only relative paths"),
        ('import x from "../../outside.js";\nexport default 1;\n', "leaves"),
        ('import "./a.js";\nexport default 1;\n', "does not handle"),
        ('export * from "./a.js";\n', "does not handle"),
        ('const m = import("./a.js");\nexport default 1;\n', "does not handle"),
        ("export default 1;\nexport default 2;\n", "more than one"),
        ('import { a-b } from "./a.js";\nexport default 1;\n', "cannot read"),
    ],
)
def test_refuses_what_it_cannot_link_with_the_file_and_line(tmp_path, source, complaint):
    root = _tree(tmp_path, {"a.js": "export const a = 1;\n", "sub/bad.js": source})
    with pytest.raises(bundle.BundleError, match=complaint) as err:
        bundle.esm("sub/bad", root)
    assert "bad.js" in str(err.value)


def test_refuses_a_cycle_and_a_missing_module(tmp_path):
    root = _tree(
        tmp_path,
        {
            "p.js": 'import { q } from "./q.js";\nexport const p = 1;\n',
            "q.js": 'import { p } from "./p.js";\nexport const q = 2;\n',
            "r.js": 'import { z } from "./nowhere.js";\nexport default 1;\n',
            "s.js": "export const s = 1;\n",
        },
    )
    with pytest.raises(bundle.BundleError, match=r"import cycle: p -> q -> p"):
        bundle.order("p", root)
    with pytest.raises(bundle.BundleError, match="nowhere"):
        bundle.esm("r", root)
    with pytest.raises(bundle.BundleError, match="no `export default`"):
        bundle.esm("s", root)


@pytest.mark.browser
def test_linked_code_runs_as_the_modules_would(tmp_path, chromium):
    """The classic script and the ES module compute what the separate modules compute."""
    root = _tree(tmp_path, TREE)
    page = chromium.new_page()
    try:
        page.set_content("<!doctype html><title>bundle</title>")
        page.add_script_tag(content=bundle.classic("b", root, then="globalThis.out = entry.__default__.render();"))
        assert page.evaluate("globalThis.out") == ["a", 8, 42, 10, 15]
        page.add_script_tag(content=bundle.esm("b", root) + "\nglobalThis.esmOut = __vt_b.__default__.render();", type="module")
        page.wait_for_function("globalThis.esmOut !== undefined")
        assert page.evaluate("globalThis.esmOut") == ["a", 8, 42, 10, 15]
    finally:
        page.close()


def test_a_library_is_one_classic_script_that_makes_the_exports_global(tmp_path):
    root = _tree(tmp_path, TREE)
    text = bundle.library("sub/c", root)
    assert not re.search(r"^\s*(import|export)\b", text, re.M), "a classic script: no import or export left"
    assert "const __vt_a = " in text and text.rstrip().endswith("Object.assign(globalThis, __vt_sub_c);\n})();")


@pytest.mark.browser
def test_a_library_runs_in_a_worker_made_from_text(tmp_path, chromium):
    """As the photo explorer's Web Worker takes vit.js: the library's text, then code calling its exports by name."""
    root = _tree(tmp_path, TREE)
    page = chromium.new_page()
    try:
        page.set_content("<!doctype html><title>library</title>")
        program = bundle.library("sub/c", root) + "\npostMessage(plusBase(5));\n"
        got = page.evaluate("""(program) => new Promise((resolve, reject) => {
            const worker = new Worker(URL.createObjectURL(new Blob([program], { type: "text/javascript" })));
            worker.onmessage = (e) => resolve(e.data);
            worker.onerror = (e) => reject(new Error(e.message));
        })""", program)
        assert got == 15
    finally:
        page.close()
