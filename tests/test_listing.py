"""Source listings: a fenced Python block for Jupyter and the book, the text elsewhere, indentation kept."""

import textwrap

import pytest

import vit_tutorial as vt
from vit_tutorial import listing, patches

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only


class Holder:
    def method(self, x):
        if x:  # a trailing comment that must stay on its line, however long the line gets: ..........................
            return x
        return None


def test_markdown_is_one_fenced_python_block_with_the_indentation_kept():
    md = listing.Listing(listing.source_of(Holder.method))._repr_markdown_()
    assert md.startswith("```python\ndef method(self, x):\n    if x:  # a trailing comment")  # dedented out of the class
    assert "\n        return x\n" in md
    assert md.endswith("\n```\n") and md.count("```") == 2


def test_a_fence_longer_than_any_backticks_inside():
    md = listing.Listing('s = """```python\nx\n```"""')._repr_markdown_()
    assert md.startswith("````python\n") and md.endswith("\n````\n")


def test_plain_text_is_the_code():
    code = listing.source_of(patches.patchify)
    shown = listing.Listing(code)
    assert repr(shown) == str(shown) == code.strip("\n")
    assert code.startswith("def patchify(")


def test_show_source_prints_outside_ipython(capsys, monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)  # as in a plain Python process
    vt.show_source(Holder.method, Holder)
    out = capsys.readouterr().out
    assert out.startswith("def method(self, x):")
    assert "\n\nclass Holder:\n    def method(self, x):\n" in out  # the two, one after the other


def test_bound_methods_and_tabs():
    assert listing.source_of(Holder().method).startswith("def method(self, x):")
    assert listing.Listing("def f():\n\treturn 1").code == "def f():\n    return 1"


def test_show_source_displays_markdown_in_ipython(ipython_shell):
    shell = ipython_shell
    data, _ = shell.display_formatter.format(listing.Listing("x = 1"))
    assert data["text/markdown"] == "```python\nx = 1\n```\n" and data["text/plain"] == "x = 1"
    published = []
    original = shell.display_pub.publish
    shell.display_pub.publish = lambda data, *a, **k: published.append(data)
    try:
        vt.show_code("  y = 2\n  z = 3")
    finally:
        shell.display_pub.publish = original
    assert published == [{"text/plain": "y = 2\nz = 3", "text/markdown": "```python\ny = 2\nz = 3\n```\n"}]


@pytest.mark.parametrize("bad", [3, "text", None])
def test_no_source_is_a_clear_error(bad):
    with pytest.raises(TypeError, match="show_source takes functions, classes, methods or modules"):
        vt.show_source(bad)


def test_wrong_arguments():
    with pytest.raises(TypeError, match="at least one"):
        vt.show_source()
    with pytest.raises(TypeError, match=r"for an object use show_source\(obj\)"):
        listing.Listing(Holder)
    assert textwrap.dedent(listing.source_of(listing)).startswith('"""Source code shown as a listing')
