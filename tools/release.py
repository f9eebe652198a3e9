"""Release chores for the workflows (.github/workflows/release.yml and book.yml), runnable by hand.

    python tools/release.py version                  # the package's version (vit_tutorial/__init__.py)
    python tools/release.py check-tag v0.2.0         # the tag names that version, and CHANGELOG.md dates it
    python tools/release.py notes 0.2.0              # that version's CHANGELOG section (the GitHub release's text)
    python tools/release.py book-version REF         # refs/heads/main -> latest, refs/tags/v0.2.1 -> v0.2
    python tools/release.py site SITE_DIR            # switcher.json, index.html and .nojekyll for the published books

The published site (the gh-pages branch, deployed to GitHub Pages) holds one folder per book
version: ``latest/`` (main) and ``vMAJOR.MINOR/`` (the newest release of that line), each a whole
built book. ``site`` lists them in ``switcher.json`` (newest release first after ``latest``; the
footer's version switcher reads it, see book/_ext/release.py) and makes the site's ``index.html``
send readers to ``latest/``. It never overwrites an ``index.html`` it did not write.

Standard library only (it runs before any environment is set up).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import repo_url  # noqa: E402

SECTION = re.compile(r"^## (?P<version>\d+\.\d+\.\d+\S*) \((?P<date>unreleased|\d{4}-\d{2}-\d{2})\)\s*$", re.M)
BOOK_VERSION = re.compile(r"^(latest|v(\d+)\.(\d+))$")
INDEX_MARK = "<!-- written by tools/release.py site -->"


class ReleaseError(Exception):
    """Something a maintainer must fix before releasing; the message says what."""


def package_version(root: Path = ROOT) -> str:
    match = re.search(r'^__version__ = "([^"]+)"', (root / "vit_tutorial" / "__init__.py").read_text(encoding="utf-8"), re.M)
    if not match:
        raise ReleaseError('vit_tutorial/__init__.py has no line __version__ = "..."')
    return match.group(1)


def changelog_sections(root: Path = ROOT) -> list[dict[str, str]]:
    """CHANGELOG.md's release sections, in file order: ``{"version", "date", "body"}``."""
    text = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    found = list(SECTION.finditer(text))
    sections = []
    for i, match in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        sections.append({"version": match["version"], "date": match["date"], "body": text[match.end() : end].strip()})
    return sections


def section(version: str, root: Path = ROOT) -> dict[str, str]:
    for entry in changelog_sections(root):
        if entry["version"] == version:
            return entry
    raise ReleaseError(f"CHANGELOG.md has no section '## {version} (YYYY-MM-DD)' (or '(unreleased)'): add one, newest first")


def check_tag(tag: str, root: Path = ROOT) -> str:
    """The tag is ``v<package version>`` and CHANGELOG.md gives that version a date; returns the version."""
    version = package_version(root)
    if tag != f"v{version}":
        raise ReleaseError(
            f"the tag is {tag!r} but vit_tutorial/__init__.py says __version__ = {version!r}: tag v{version}, or bump __version__ (and CHANGELOG.md) first"
        )
    if section(version, root)["date"] == "unreleased":
        raise ReleaseError(f"CHANGELOG.md's section for {version} still says (unreleased): give it the release date")
    return version


def book_version(ref: str) -> str:
    """Where a build of ``ref`` is published: main -> ``latest``; a tag v0.2.1 -> ``v0.2``."""
    tag = re.fullmatch(r"refs/tags/v(\d+)\.(\d+)\.\d+\S*", ref)
    if tag:
        return f"v{tag[1]}.{tag[2]}"
    if ref in ("refs/heads/main", "main"):
        return "latest"
    raise ReleaseError(f"{ref!r}: the book is published for main and for tags vMAJOR.MINOR.PATCH only")


def _order(name: str) -> tuple:
    match = BOOK_VERSION.match(name)
    return (1, 0, 0) if match[1] == "latest" else (0, int(match[2]), int(match[3]))


def versions(site: Path, base_url: str) -> list[dict]:
    """The switcher's entries for the book folders of ``site``: latest first, then newest release first."""
    folders = sorted((p.name for p in site.iterdir() if p.is_dir() and BOOK_VERSION.match(p.name)), key=_order, reverse=True)
    entries = []
    for name in folders:
        info_path = site / name / "release.json"
        info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
        label = f"{name} ({info['version']})" if info.get("version") else name
        entries.append({"name": label, "version": name, "url": f"{base_url}{name}/"})
    releases = [e for e in entries if e["version"] != "latest"]
    if releases:
        releases[0]["preferred"] = True
    return entries


def write_site(site: Path, base_url: str | None = None) -> list[Path]:
    """switcher.json, index.html (to latest/) and .nojekyll in ``site``; returns what was written."""
    base_url = base_url or repo_url.derived(repo_url.source_url())["Book"]
    if not base_url.endswith("/"):
        base_url += "/"
    entries = versions(site, base_url)
    if not entries:
        raise ReleaseError(f"{site} holds no book folder (latest/ or vMAJOR.MINOR/)")
    index = site / "index.html"
    if index.exists() and INDEX_MARK not in index.read_text(encoding="utf-8", errors="replace"):
        raise ReleaseError(f"{index} exists and was not written by this tool: move it away first")
    first = "latest/" if any(e["version"] == "latest" for e in entries) else entries[0]["version"] + "/"
    (site / "switcher.json").write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    index.write_text(
        f'<!DOCTYPE html>\n{INDEX_MARK}\n<html lang="en"><head><meta charset="utf-8">\n'
        f'<title>The Vision Transformer, line by line</title>\n<meta http-equiv="refresh" content="0; url={first}">\n'
        f'<link rel="canonical" href="{base_url}{first}"></head>\n'
        f'<body><p>The book is at <a href="{first}">{first}</a>.</p></body></html>\n',
        encoding="utf-8",
    )
    (site / ".nojekyll").touch()  # GitHub Pages serves _static/ as it is
    return [site / "switcher.json", index, site / ".nojekyll"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the package's version")
    sub.add_parser("check-tag", help="the tag names the package's version, dated in CHANGELOG.md").add_argument("tag")
    sub.add_parser("notes", help="print a version's CHANGELOG section").add_argument("version")
    sub.add_parser("book-version", help="where the book built from a git ref is published").add_argument("ref")
    site = sub.add_parser("site", help="write switcher.json, index.html and .nojekyll into the published site")
    site.add_argument("site", type=Path)
    site.add_argument("--base-url", help="the published book's address (default: pyproject.toml's, see tools/repo_url.py)")
    args = parser.parse_args(argv)
    try:
        if args.command == "version":
            print(package_version())
        elif args.command == "check-tag":
            print(f"releasing {check_tag(args.tag)}")
        elif args.command == "notes":
            print(section(args.version)["body"])
        elif args.command == "book-version":
            print(book_version(args.ref))
        else:
            for path in write_site(args.site, args.base_url):
                print(f"wrote {path}")
    except ReleaseError as err:
        print(f"release: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
