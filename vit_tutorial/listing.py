"""Source code shown as a listing: highlighted Python, indentation intact, never wrapped.

The chapters show the code that actually runs (HuggingFace's installed source and this
package's helpers) with :func:`inspect.getsource`. Printed, a long line of it wraps back to
the left edge of the output box in the rendered book, where a trailing comment looks like a
line of code of its own. :func:`show_source` shows it as a Markdown code block instead: the
book renders it with Pygments, in a box that scrolls sideways; JupyterLab highlights it too;
a plain terminal gets the text.

    >>> show_source(patches.patchify)                   # one function, class or method
    >>> show_source(ViTPooler, head.pool_cls)           # several, one after the other
    >>> show_code(excerpt)                              # a piece of source you cut out yourself
"""

from __future__ import annotations

import inspect
import re
import textwrap


class Listing:
    """Code to display: ``text/markdown`` (a fenced block) for Jupyter and the book, the code as plain text elsewhere."""

    def __init__(self, code: str, language: str = "python"):
        if not isinstance(code, str):
            raise TypeError(f"a listing shows source text (str), got {type(code).__name__}; for an object use show_source(obj)")
        self.code = textwrap.dedent(code.expandtabs(4)).strip("\n")
        self.language = language

    def _repr_markdown_(self) -> str:
        longest = max((len(run) for run in re.findall(r"`+", self.code)), default=0)
        fence = "`" * max(3, longest + 1)  # longer than any run of backticks inside the code
        return f"{fence}{self.language}\n{self.code}\n{fence}\n"

    def __repr__(self) -> str:
        return self.code

    __str__ = __repr__


def source_of(obj) -> str:
    """The source of a function, class, method or module, dedented (``inspect.getsource``), with a clear
    error for things that have none (a built-in, an instance, a lambda typed at the prompt)."""
    target = obj.__func__ if inspect.ismethod(obj) else obj
    try:
        return textwrap.dedent(inspect.getsource(target))
    except (TypeError, OSError) as err:
        raise TypeError(
            f"no Python source for {obj!r} ({err}); show_source takes functions, classes, methods or modules "
            "defined in .py files (for an instance, pass its class: type(x))"
        ) from None


def _show(listing: Listing) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency of the notebooks
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(listing)
    else:
        print(listing.code)


def show_code(code: str, language: str = "python") -> None:
    """Display ``code`` (a string) as a highlighted listing."""
    _show(Listing(code, language))


def show_source(*objects) -> None:
    """Display the source of each object (function, class, method, module) as one highlighted Python listing."""
    if not objects:
        raise TypeError("show_source() needs at least one function, class, method or module")
    _show(Listing("\n\n".join(source_of(obj).rstrip() for obj in objects)))
