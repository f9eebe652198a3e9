"""vit_tutorial.javascript (appendix A4): the listings it reads are the shipped files' functions, whole."""

from __future__ import annotations

import re

import pytest

from vit_tutorial import javascript

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only


def test_the_functions_are_read_file_by_file():
    vit, matmul = javascript.functions("vit.js"), javascript.functions("matmul.js")
    assert vit[:3] == ["preprocess", "resizeBilinear", "readSafetensors"] and "vitTrace" in vit and "matmul" not in vit
    assert "matmul" in matmul and "useSimd" in matmul
    assert javascript.functions() == vit + matmul
    assert (javascript.file_of("vitTrace"), javascript.file_of("matmul")) == ("vit.js", "matmul.js")


@pytest.mark.parametrize("name", ["vitTrace", "matmul", "erf", "softmaxInPlace"])
def test_a_function_source_is_one_whole_function_with_its_comments(name):
    text = javascript.function_source(name)
    body = javascript.function_source(name, comments=False)
    assert re.match(rf"(export )?function {name}\(", body) and body.endswith("}")
    assert body.count("{") == body.count("}"), "counted to its own closing brace"
    assert text.endswith(body) and text.startswith("//"), "the comment lines right above it"
    assert body in javascript.source(javascript.file_of(name))


def test_unknown_names_and_files_say_what_there_is():
    with pytest.raises(KeyError, match="vitTrace"):
        javascript.function_source("noSuchFunction")
    with pytest.raises(ValueError, match="vit.js and matmul.js"):
        javascript.source("host.js")
