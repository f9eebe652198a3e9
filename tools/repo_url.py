"""The repository's address lives in one place: ``[project.urls] Source`` in pyproject.toml.

Everything else that names it follows from there:

- the Colab install cell of every notebook (``%pip install "vit_tutorial @ git+<url>"``),
- ``repository.url`` in _config.yml (the book's repository, issues and launch buttons),
- ``Issues`` (``<url>/issues``) and ``Book`` (``https://<owner>.github.io/<name>/``) in pyproject.toml,
- the ``git clone`` line of book/intro.md,
- ``repository-code`` and ``url`` (the book) in CITATION.cff.

    python tools/repo_url.py                                  # check: list what disagrees (exit 1)
    python tools/repo_url.py https://github.com/you/your-fork  # move everything to a new address

Rewriting changes only the address text, in place, so notebooks keep their exact JSON layout.
tests/test_packaging.py runs the check.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GITHUB = re.compile(r"^https://github\.com/(?P<owner>[\w.-]+)/(?P<name>[\w.-]+)$")


def _pyproject_url(text: str, key: str) -> str | None:
    """``key = "..."`` in pyproject's ``[project.urls]`` table (a regex, so Python 3.10 needs no tomli)."""
    table = re.search(r"(?ms)^\[project\.urls\]\s*\n(.*?)(?=^\[|\Z)", text)
    m = table and re.search(rf'(?m)^{key}\s*=\s*"([^"]*)"', table.group(1))
    return m.group(1) if m else None


def source_url(root: Path = ROOT) -> str:
    """The single source: pyproject.toml's ``[project.urls] Source``."""
    url = _pyproject_url((root / "pyproject.toml").read_text(encoding="utf-8"), "Source")
    if not url or not GITHUB.match(url):
        raise ValueError(f"pyproject.toml: [project.urls] Source should be https://github.com/<owner>/<name>, not {url!r}")
    return url


def derived(url: str) -> dict[str, str]:
    """The addresses that follow from the repository's."""
    m = GITHUB.match(url)
    return {"Issues": f"{url}/issues", "Book": f"https://{m['owner']}.github.io/{m['name']}/"}


# (file glob, pattern whose group 1 is the repository address, what it is)
PLACES = [
    ("book/*.ipynb", r'vit_tutorial @ git\+(https://github\.com/[^"\\@ ]+)', "the Colab install cell"),
    ("_config.yml", r"(?m)^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", "repository.url"),
    ("book/intro.md", r"git clone (https://github\.com/\S+)", "the git clone line"),
    ("CITATION.cff", r'(?m)^repository-code:\s*"?(https://github\.com/[^"\s]+)', "repository-code"),
]
# (file glob, pattern whose group 1 is the published book's address, what it is)
BOOK_PLACES = [
    ("CITATION.cff", r'(?m)^url:\s*"?(https://[^"\s]+)', "url (the book)"),
]


def _expected(url: str, book: bool) -> str:
    return derived(url)["Book"] if book else url


def mismatches(root: Path = ROOT) -> list[str]:
    """Every place whose address differs from pyproject's Source (empty when all agree)."""
    url = source_url(root)
    problems = []
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    for key, want in derived(url).items():
        got = _pyproject_url(pyproject, key)
        if got != want:
            problems.append(f"pyproject.toml: [project.urls] {key} is {got!r}, expected {want!r}")
    for book, places in ((False, PLACES), (True, BOOK_PLACES)):
        want = _expected(url, book)
        for pattern_glob, pattern, what in places:
            files = sorted(root.glob(pattern_glob))
            if not files:
                problems.append(f"{pattern_glob}: no such file")
            for path in files:
                found = re.findall(pattern, path.read_text(encoding="utf-8"))
                if not found:
                    problems.append(f"{path.relative_to(root)}: {what} does not name the {'book' if book else 'repository'}")
                problems += [f"{path.relative_to(root)}: {what} says {got}, pyproject.toml says {want}" for got in found if got != want]
    return problems


def move_to(new: str, root: Path = ROOT) -> list[Path]:
    """Point every place at ``new`` (whatever address each held before); returns the files changed."""
    if not GITHUB.match(new):
        raise ValueError(f"expected https://github.com/<owner>/<name>, got {new!r}")
    changed = []
    path = root / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    updated = text
    for key, want in {"Source": new, **derived(new)}.items():
        updated = re.sub(rf'(?m)^({key}\s*=\s*)"[^"]*"', lambda m: f'{m.group(1)}"{want}"', updated)
    if updated != text:
        path.write_text(updated, encoding="utf-8")
        changed.append(path)
    for book, places in ((False, PLACES), (True, BOOK_PLACES)):
        want = _expected(new, book)
        for pattern_glob, pattern, _ in places:
            for path in sorted(root.glob(pattern_glob)):
                text = path.read_text(encoding="utf-8")
                updated = re.sub(pattern, lambda m: m.group(0)[: m.start(1) - m.start(0)] + want + m.group(0)[m.end(1) - m.start(0):], text)
                if updated != text:
                    path.write_text(updated, encoding="utf-8")
                    if path not in changed:
                        changed.append(path)
    return changed


def main(argv: list[str]) -> int:
    if argv:
        for path in move_to(argv[0]):
            print(f"updated {path.relative_to(ROOT)}")
    problems = mismatches()
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f"the repository is {source_url()} everywhere")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
