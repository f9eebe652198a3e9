"""The hand-ins, copied away before any notebook runs and watched until the end; and what ``--resume`` keeps.

Without a sandbox a kernel runs with the instructor's permissions and could rewrite a classmate's hand-in
before it is graded. So, before the first notebook runs, every hand-in is read once, hashed (SHA-256)
and copied into a private folder (mode 0700) of the grader; each submission is then graded from its copy,
which is checked against that hash before use (a copy changed since is replaced by the original if that
still holds the hand-in as it was, else the submission is not graded and says why). The originals are
watched: after every finished submission their ``stat`` is compared (cheap), and a hand-in whose bytes
changed is flagged on the harmed submission (graded as it was handed in) and on the submission(s) that
were running meanwhile; at the end every original is hashed again. Kernels run in folders of their own,
with a HOME of their own: neither holds, nor lies above, a hand-in or its copy.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .results import GRADER_ERROR, INTERRUPTED, TOOL, SubmissionResult
from .submission import MAX_BYTES


class HandInChanged(Exception):
    """Neither the private copy nor the original holds the hand-in as it was read before grading."""


def _identity(path: Path) -> tuple | None:
    """What changes when a file's bytes do (a write: size, mtime, ctime; a replacement: inode, device)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_dev, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class HandIn:
    path: Path
    label: str
    copy: Path | None = None  # None: not a regular file, or too large to be a notebook (graded from the original: refused)
    sha256: str = ""
    identity: tuple | None = None
    changed: bool = False  # the original's bytes changed during grading (reported once)


class HandIns:
    """Every hand-in of a run, read and copied away at once (see the module's docstring)."""

    def __init__(self, paths, labels):
        self._folder = tempfile.TemporaryDirectory(prefix="vit-grade-handins-")  # 0700: mkdtemp's mode
        folder = Path(self._folder.name)
        self.items: list[HandIn] = []
        for i, (path, label) in enumerate(zip(paths, labels)):
            item = HandIn(Path(path), label)
            self.items.append(item)
            try:
                if not item.path.is_file() or item.path.stat().st_size > MAX_BYTES:
                    continue
                item.identity = _identity(item.path)
                data = item.path.read_bytes()
            except OSError:
                continue
            item.sha256, item.copy = _sha256(data), folder / f"{i}.ipynb"
            item.copy.write_bytes(data)
            item.copy.chmod(0o400)

    def data(self, i: int) -> bytes | None:
        """The bytes of hand-in ``i`` as they were read before grading (``None``: not copied, see :class:`HandIn`);
        :class:`HandInChanged` when neither the copy nor the original still holds them."""
        item = self.items[i]
        if item.copy is None:
            return None
        for source in (item.copy, item.path):
            try:
                data = source.read_bytes()
            except OSError:
                continue
            if _sha256(data) == item.sha256:
                return data
        raise HandInChanged("the hand-in changed during grading, after the grader read it, and its private copy too "
                            "(another submission's doing?): grade it again on its own")

    def check(self, everything: bool = False) -> list[int]:
        """The hand-ins whose original changed since it was read (each reported once). ``stat`` first; the bytes are
        hashed again only where it differs, or for all of them with ``everything`` (at the end)."""
        found = []
        for i, item in enumerate(self.items):
            if not item.sha256 or item.changed:
                continue
            now = _identity(item.path)
            if now == item.identity and not everything:
                continue
            try:
                same = _sha256(item.path.read_bytes()) == item.sha256
            except OSError:
                same = False
            if same:
                item.identity = now
            else:
                item.changed = True
                found.append(i)
        return found

    def close(self) -> None:
        for item in self.items:
            if item.copy is not None:
                try:
                    item.copy.chmod(0o600)
                except OSError:
                    pass
        self._folder.cleanup()


HARMED = ("its hand-in was changed on disk while the grader ran, after the grader had read it: graded as it was "
          "handed in (compare the file with the grade; another submission's doing?)")


def suspect(victims: list[str], others: list[str]) -> str:
    """The flag on a submission that was running when a classmate's hand-in changed."""
    also = f" (so were: {', '.join(others[:5])})" if others else ""
    return f"a classmate's hand-in changed on disk while this submission ran{also}: {', '.join(victims[:5])}"


# --------------------------------------------------------------------------- --resume

KEEP = "kept from --resume"


def earlier_results(json_path: Path, handins: HandIns) -> dict[int, SubmissionResult]:
    """The results of ``json_path`` (an earlier run of this grader, perhaps killed) that still hold: the same file
    (as given, or the same absolute path) with the same SHA-256; an interrupted or failed grading is done again.
    Raises ``ValueError`` when ``json_path`` is not such a file."""
    try:
        data = json.loads(Path(json_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"--resume {json_path}: can't read it ({err})") from None
    if not isinstance(data, dict) or data.get("tool") != TOOL or not isinstance(data.get("submissions"), list):
        raise ValueError(f"--resume {json_path}: not a result of this grader")
    earlier = {}
    for entry in data["submissions"]:
        if isinstance(entry, dict) and entry.get("sha256") and entry.get("status") not in (INTERRUPTED, GRADER_ERROR):
            for key in {str(entry.get("file")), os.path.abspath(str(entry.get("file")))}:
                earlier.setdefault(key, entry)
    kept = {}
    for i, item in enumerate(handins.items):
        entry = earlier.get(str(item.path)) or earlier.get(os.path.abspath(item.path))
        if entry and item.sha256 and entry["sha256"] == item.sha256:
            try:
                result = SubmissionResult.from_dict(entry)
            except (TypeError, KeyError):
                continue
            result.label = item.label
            if KEEP not in result.notes:
                result.notes.append(KEEP)
            kept[i] = result
    return kept
