"""Where a picture's bytes come from: a file, a ``file://``, ``data:`` or ``http(s)://`` address.

Each reader checks before it reads (a regular file, not a folder, FIFO or device; at most
``limit`` bytes; a download within its deadline, see :mod:`.net`) and raises
:class:`~.decode.ImageLoadError` saying what was wrong and what to do.
"""
from __future__ import annotations

import base64
import binascii
import math
import os
import stat
import urllib.parse
import urllib.request
from pathlib import Path

from . import net
from .decode import ImageLoadError


def size_text(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:.3g} MiB"
    if n >= 2**10:
        return f"{n / 2**10:.3g} KiB"
    return f"{n} bytes"


def too_large(what: str, size: str, limit: int) -> ImageLoadError:
    return ImageLoadError(
        f"{what} is {size}, more than the {size_text(limit)} allowed for an image "
        "(vit_tutorial.images.MAX_DOWNLOAD_BYTES); is it really an image?"
    )


def check_timeout(timeout) -> float:
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        value = math.nan
    if not (value > 0 and math.isfinite(value)) or isinstance(timeout, bool):
        raise ImageLoadError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return value


def download(url: str, timeout, limit: int) -> bytes:
    """The body of an http(s) ``url``: all of it within ``timeout`` seconds and ``limit`` bytes (:func:`.net.fetch`)."""
    timeout = check_timeout(timeout)
    advice = "Check the address and your connection, or download the file and pass its path."
    try:
        return net.fetch(url, timeout, limit, thread_name="vit_tutorial-download")
    except net.TimedOut:
        raise ImageLoadError(
            f"could not download {url} within {timeout:g} s: the server did not send the whole file in time. "
            "Check the address and your connection, pass a larger timeout=, or download the file and pass its path."
        ) from None
    except net.TooLarge as err:
        size = size_text(err.size) if err.size is not None else f"more than {size_text(limit)}"
        raise too_large(url, size, limit) from None
    except net.HTTPStatus as err:
        raise ImageLoadError(f"could not download {url}: the server answered {err.code} {err.reason}") from None
    except net.Unreachable as err:
        raise ImageLoadError(f"could not download {url} ({err.reason}). {advice}") from None
    except net.NotHTTP as err:
        raise ImageLoadError(f"could not download {url}: the answer was not valid HTTP ({err})") from None
    except net.FetchError as err:
        raise ImageLoadError(f"could not download {url}: {err}") from None


def file_url_path(url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ImageLoadError(f"can't read {url}: a file:// URL must name a local file (file:///path/to/image.png)")
    return Path(urllib.request.url2pathname(parts.path))


def data_url(url: str, limit: int) -> bytes:
    """The bytes of a ``data:`` URL (base64 or percent-encoded), at most ``limit``."""
    header, comma, payload = url[5:].partition(",")
    if not comma:
        raise ImageLoadError("the data: URL has no ',' before its data; expected data:image/png;base64,....")
    if header.lower().endswith(";base64"):
        try:
            data = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError) as err:
            raise ImageLoadError(f"the data: URL's base64 payload is broken ({err})") from None
    else:
        data = urllib.parse.unquote_to_bytes(payload)
    if len(data) > limit:
        raise too_large("the data: URL", size_text(len(data)), limit)
    return data


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _check_regular(mode: int, path: Path):
    if not stat.S_ISREG(mode):
        kind = _kind(mode)
        if kind == "a folder":
            raise ImageLoadError(f"{path} is a folder, not an image file")
        raise ImageLoadError(f"{path} is {kind}, not a regular file; give the path of an image file")


def read_file(path: Path, limit: int, samples=()) -> bytes:
    """The bytes of a regular file, at most ``limit``; checked before it is opened.

    ``samples``: names to suggest when ``path`` is a bare word that names no file.
    """
    if not str(path) or str(path) == ".":
        raise ImageLoadError("the path is empty; give the path of an image file")
    try:
        info = os.stat(path)  # follows links; never opens, so a FIFO can't block here
    except FileNotFoundError:
        hint = f"; the bundled samples are: {', '.join(samples)}" if samples and len(path.parts) == 1 and not path.suffix else ""
        raise ImageLoadError(f"no such file: {path} (working directory: {Path.cwd()}){hint}") from None
    except NotADirectoryError:
        raise ImageLoadError(f"no such file: {path} (a part of the path is a file, not a folder)") from None
    except PermissionError:
        raise ImageLoadError(f"not allowed to look at {path} (permission denied)") from None
    except (OSError, ValueError) as err:
        raise ImageLoadError(f"can't read {path!s}: {err}") from None
    _check_regular(info.st_mode, path)
    if info.st_size > limit:
        raise too_large(str(path), size_text(info.st_size), limit)
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)  # non-blocking: if it became a FIFO since the stat, open returns at once
    except PermissionError:
        raise ImageLoadError(f"not allowed to read {path} (permission denied)") from None
    except OSError as err:
        raise ImageLoadError(f"can't open {path}: {err.strerror or err}") from None
    try:
        _check_regular(os.fstat(fd).st_mode, path)  # the file we opened, not the one we looked at
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(2**20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as err:
        raise ImageLoadError(f"can't read {path}: {err.strerror or err}") from None
    finally:
        os.close(fd)
    if total > limit:
        raise too_large(str(path), f"more than {size_text(limit)}", limit)
    return b"".join(chunks)
