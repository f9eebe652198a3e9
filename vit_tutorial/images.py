"""Images in, upright RGB out; and preprocessing by hand.

    >>> img = load_image("cat")                 # a bundled sample photo (offline)
    >>> img = load_image("photo.jpg")           # a file, a URL, a PIL image, an array, a tensor
    >>> x = preprocess(img)                     # (1, 3, 224, 224), like ViTImageProcessor
"""
from __future__ import annotations

import base64
import binascii
import http.client
import io
import math
import os
import re
import socket
import stat
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

SAMPLES = {
    "cat": ("chelsea.png", "Chelsea the cat - Stefan van der Walt, CC0 (via scikit-image)"),
    "coffee": ("coffee.png", "A cup of coffee - Rachel Michetti, CC0 (via scikit-image)"),
    "astronaut": ("astronaut.png", "Astronaut Eileen Collins - NASA, public domain (via scikit-image)"),
    "rocket": ("rocket.jpg", "Falcon 9 launch - SpaceX, public domain (via scikit-image)"),
}
URL_TIMEOUT_S = 10.0
MAX_DOWNLOAD_BYTES = 50 * 2**20  # the most bytes read from a URL or a file
_CHUNK = 2**16
# "scheme://": two or more characters, so that a Windows drive ("C://x") stays a path.
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://")
_CHANNELS = (1, 3, 4)


class ImageLoadError(ValueError):
    """An image could not be read or converted; the message says why."""


def sample_path(name: str = "cat") -> Path:
    """Path of a bundled sample photo (see ``SAMPLES``)."""
    if name not in SAMPLES:
        raise ImageLoadError(f"no sample image called {name!r}; the samples are: {', '.join(SAMPLES)}")
    return Path(str(resources.files("vit_tutorial").joinpath("data/images", SAMPLES[name][0])))


def sample_credit(name: str = "cat") -> str:
    """Who made a sample photo, and its licence."""
    sample_path(name)
    return SAMPLES[name][1]


def load_image(source="cat", *, timeout: float = URL_TIMEOUT_S, channels: str | None = None) -> Image.Image:
    """Return ``source`` as an upright 8-bit RGB PIL image.

    ``source`` may be
      - a sample name (``"cat"``, ``"coffee"``, ``"astronaut"``, ``"rocket"``);
      - a path to a regular file (not a folder, device, FIFO or socket), at most
        ``MAX_DOWNLOAD_BYTES`` long; ``file://`` URLs are read the same way;
      - an ``http://`` or ``https://`` URL (any case). The whole download, from connecting to
        the last byte, must finish within ``timeout`` seconds and ``MAX_DOWNLOAD_BYTES``;
      - a ``data:`` URL, raw bytes, a PIL image;
      - a NumPy array or a tensor: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)`` with ``C`` in 1, 3, 4,
        optionally with a leading batch axis of 1. The layout is read from the shape; when both
        readings fit (e.g. ``(3, 4, 3)``), pass ``channels="first"`` or ``channels="last"``.

    The bit depth comes from the dtype or PIL mode, never from the values:
    ``uint8`` and 8-bit modes are 0-255; ``uint16`` and the ``I;16`` modes are 0-65535; PIL
    mode ``I`` (32-bit, how some Pillow versions open 16-bit PNGs) is read as 0-65535 too;
    ``bool`` is 0/1; floating point (float16 and bfloat16 included) must lie in [0, 1].
    Other integer dtypes (int8 to int64, uint32, uint64) are refused: convert to uint8 or
    uint16 first, so that nothing has to guess the range.

    Grayscale, palette, RGBA (composited on white), 16-bit, CMYK and EXIF-rotated images are
    converted. The input itself is never modified. Every failure raises :class:`ImageLoadError`.
    """
    if channels not in (None, "first", "last"):
        raise ImageLoadError(f"channels must be None, 'first' (C, H, W) or 'last' (H, W, C), not {channels!r}")
    if isinstance(source, Image.Image):
        return _to_rgb(source, what="the PIL image")
    if isinstance(source, torch.Tensor):
        return _from_array(_tensor_to_array(source), what="the tensor", channels=channels)
    if isinstance(source, np.ndarray):
        return _from_array(source, what="the array", channels=channels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _open_bytes(bytes(source), what="the bytes given")
    if isinstance(source, (str, os.PathLike)):
        text = os.fsdecode(os.fspath(source))
        url = text.strip()
        scheme = _URL.match(url)
        if scheme:
            name = scheme.group(1).lower()
            if name in ("http", "https"):
                return _open_bytes(_download(url, timeout), what=url)
            if name == "file":
                return _open_path(_file_url_path(url))
            raise ImageLoadError(
                f"can't fetch {url}: only http:// and https:// URLs are downloaded (and file:// read). "
                f"Download it with another tool and pass the file's path."
            )
        if url[:5].lower() == "data:" and not os.path.lexists(text):
            return _open_bytes(_data_url(url), what="the data: URL")
        if text in SAMPLES and not os.path.exists(text):
            return _open_path(sample_path(text))
        return _open_path(Path(text).expanduser())
    raise ImageLoadError(
        f"can't make an image from a {type(source).__name__}; give a file path, URL, sample name "
        f"({', '.join(SAMPLES)}), PIL image, NumPy array or tensor"
    )


def _size(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:.3g} MiB"
    if n >= 2**10:
        return f"{n / 2**10:.3g} KiB"
    return f"{n} bytes"


def _too_large(what: str, size: str) -> ImageLoadError:
    return ImageLoadError(
        f"{what} is {size}, more than the {_size(MAX_DOWNLOAD_BYTES)} allowed for an image "
        "(vit_tutorial.images.MAX_DOWNLOAD_BYTES); is it really an image?"
    )


# --------------------------------------------------------------------------- URLs


def _check_timeout(timeout) -> float:
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        value = math.nan
    if not (value > 0 and math.isfinite(value)) or isinstance(timeout, bool):
        raise ImageLoadError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return value


def _tracked(http_class, on_socket):
    """``http_class``, but every socket it connects is handed to ``on_socket`` first."""

    def make(*args, **kwargs):
        connection = http_class(*args, **kwargs)
        create = getattr(connection, "_create_connection", None)  # http.client's hook, Python 3.x
        if create is None:  # untracked: the caller's deadline still holds, the worker ends later
            return connection

        def create_and_track(*a, **k):
            sock = create(*a, **k)
            on_socket(sock)
            return sock

        connection._create_connection = create_and_track
        return connection

    return make


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, on_socket):
        super().__init__()
        self._on_socket = on_socket

    def do_open(self, http_class, req, **kwargs):
        return super().do_open(_tracked(http_class, self._on_socket), req, **kwargs)


if hasattr(urllib.request, "HTTPSHandler"):  # absent when Python was built without ssl

    class _HTTPSHandler(urllib.request.HTTPSHandler):
        def __init__(self, on_socket):
            super().__init__()
            self._on_socket = on_socket

        def do_open(self, http_class, req, **kwargs):
            return super().do_open(_tracked(http_class, self._on_socket), req, **kwargs)

    _HANDLERS = (_HTTPHandler, _HTTPSHandler)
else:
    _HANDLERS = (_HTTPHandler,)


class _Download:
    """One download in a worker thread; the caller waits at most ``timeout`` seconds in all.

    Socket timeouts apply to each read, so a server that drips a byte now and then would never
    trip them. Instead the caller waits for the worker with a total deadline; when it passes,
    every socket the download opened is shut down, which ends the worker's blocked reads.
    """

    def __init__(self, url: str, timeout: float):
        self.url, self.timeout = url, timeout
        self.deadline = time.monotonic() + timeout
        self.lock = threading.Lock()
        self.sockets: list = []
        self.cancelled = False
        self.data: bytes | None = None
        self.error: str | None = None

    def run(self) -> bytes:
        worker = threading.Thread(target=self._work, name="vit_tutorial-download", daemon=True)
        worker.start()
        try:
            worker.join(self.timeout)
        except BaseException:  # e.g. KeyboardInterrupt: stop the download too
            self._cancel()
            raise
        if worker.is_alive():
            self._cancel()
            raise ImageLoadError(
                f"could not download {self.url} within {self.timeout:g} s: the server did not send the "
                "whole file in time. Check the address and your connection, pass a larger timeout=, "
                "or download the file and pass its path."
            )
        if self.error is not None:
            raise ImageLoadError(self.error)
        assert self.data is not None
        return self.data

    def _cancel(self):
        with self.lock:
            self.cancelled = True
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            _shut(sock)

    def _on_socket(self, sock):
        with self.lock:
            if not self.cancelled:
                self.sockets.append(sock)
                return
        _shut(sock)
        raise TimeoutError("download cancelled")

    def _work(self):
        try:
            self.data = self._fetch()
        except ImageLoadError as err:
            self.error = str(err)
        except urllib.error.HTTPError as err:
            self.error = f"could not download {self.url}: the server answered {err.code} {err.reason}"
            err.close()
        except urllib.error.URLError as err:
            self.error = (
                f"could not download {self.url} ({err.reason}). Check the address and your connection, "
                "or download the file and pass its path."
            )
        except (TimeoutError, OSError) as err:
            self.error = (
                f"could not download {self.url} within {self.timeout:g} s ({err or type(err).__name__}). "
                "Check the address and your connection, or download the file and pass its path."
            )
        except http.client.HTTPException as err:
            self.error = f"could not download {self.url}: the answer was not valid HTTP ({type(err).__name__}: {err})"
        except ValueError as err:
            self.error = f"could not download {self.url}: {err}"
        except Exception as err:  # noqa: BLE001 - the caller gets an ImageLoadError with the reason
            self.error = f"could not download {self.url} ({type(err).__name__}: {err})"

    def _fetch(self) -> bytes:
        opener = urllib.request.build_opener(*(handler(self._on_socket) for handler in _HANDLERS))
        request = urllib.request.Request(self.url, headers={"User-Agent": "vit-tutorial"})
        with opener.open(request, timeout=self.timeout) as response:
            length = response.headers.get("Content-Length", "").strip()
            if length.isdigit() and int(length) > MAX_DOWNLOAD_BYTES:
                raise _too_large(self.url, _size(int(length)))
            chunks, total = [], 0
            while not self.cancelled and time.monotonic() < self.deadline:
                chunk = response.read(min(_CHUNK, MAX_DOWNLOAD_BYTES + 1 - total))
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
                total += len(chunk)
                if total > MAX_DOWNLOAD_BYTES:
                    raise _too_large(self.url, f"more than {_size(MAX_DOWNLOAD_BYTES)}")
            raise TimeoutError("download too slow")


def _shut(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)  # blocked reads return at once
    except OSError:
        pass


def _download(url: str, timeout: float) -> bytes:
    return _Download(url, _check_timeout(timeout)).run()


def _file_url_path(url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ImageLoadError(f"can't read {url}: a file:// URL must name a local file (file:///path/to/image.png)")
    return Path(urllib.request.url2pathname(parts.path))


def _data_url(url: str) -> bytes:
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
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise _too_large("the data: URL", _size(len(data)))
    return data


# --------------------------------------------------------------------------- files


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


def _open_path(path: Path) -> Image.Image:
    return _open_bytes(_read_file(path), what=str(path))


def _read_file(path: Path) -> bytes:
    """The bytes of a regular file, at most ``MAX_DOWNLOAD_BYTES``; checked before it is opened."""
    if not str(path) or str(path) == ".":
        raise ImageLoadError("the path is empty; give the path of an image file")
    try:
        info = os.stat(path)  # follows links; never opens, so a FIFO can't block here
    except FileNotFoundError:
        hint = f"; the bundled samples are: {', '.join(SAMPLES)}" if len(path.parts) == 1 and not path.suffix else ""
        raise ImageLoadError(f"no such file: {path} (working directory: {Path.cwd()}){hint}") from None
    except NotADirectoryError:
        raise ImageLoadError(f"no such file: {path} (a part of the path is a file, not a folder)") from None
    except PermissionError:
        raise ImageLoadError(f"not allowed to look at {path} (permission denied)") from None
    except (OSError, ValueError) as err:
        raise ImageLoadError(f"can't read {path!s}: {err}") from None
    _check_regular(info.st_mode, path)
    if info.st_size > MAX_DOWNLOAD_BYTES:
        raise _too_large(str(path), _size(info.st_size))
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
        while total <= MAX_DOWNLOAD_BYTES:
            chunk = os.read(fd, min(2**20, MAX_DOWNLOAD_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as err:
        raise ImageLoadError(f"can't read {path}: {err.strerror or err}") from None
    finally:
        os.close(fd)
    if total > MAX_DOWNLOAD_BYTES:
        raise _too_large(str(path), f"more than {_size(MAX_DOWNLOAD_BYTES)}")
    return b"".join(chunks)


# --------------------------------------------------------------------------- decoding


def _open_bytes(data: bytes, what: str) -> Image.Image:
    if not data:
        raise ImageLoadError(f"{what} is empty (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except UnidentifiedImageError:
        raise ImageLoadError(f"{what} is not an image file PIL can read (PNG, JPEG, GIF, BMP, TIFF, WebP, ...)") from None
    except Image.DecompressionBombError as err:
        raise ImageLoadError(
            f"{what} has too many pixels to decode safely ({err}). If you trust the file, raise "
            "PIL.Image.MAX_IMAGE_PIXELS, or shrink the image first."
        ) from None
    except Exception as err:  # noqa: BLE001 - decoders of untrusted bytes raise all sorts
        raise ImageLoadError(f"{what} looks like an image but could not be decoded ({type(err).__name__}: {err})") from None
    return _to_rgb(image, what=what)


_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


def _to_rgb(image: Image.Image, what: str) -> Image.Image:
    if image.width == 0 or image.height == 0:
        raise ImageLoadError(f"{what} is empty ({image.width}x{image.height} pixels)")
    try:
        image = ImageOps.exif_transpose(image)  # a new, upright image; the input is untouched
        mode = image.mode
        if mode == "RGB":
            return image.copy()
        if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
            # by mode: I;16* are uint16 arrays; I is int32 read as 0-65535; F is float
            return _from_array(np.asarray(image), what=what, channels="last", sixteen_bit=mode == "I")
        if mode == "P":
            image = image.convert("RGBA")  # palette transparency becomes alpha
            mode = "RGBA"
        if mode in ("RGBA", "LA", "RGBa", "La", "PA"):
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(background, rgba).convert("RGB")
        return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV, RGBX
    except ImageLoadError:
        raise
    except Exception as err:  # noqa: BLE001
        raise ImageLoadError(f"{what} (mode {image.mode}) could not be converted to RGB ({type(err).__name__}: {err})") from None


def _tensor_to_array(t: torch.Tensor) -> np.ndarray:
    """A read-only NumPy view or copy of a tensor's values; the tensor is not modified."""
    what = "the tensor"
    if t.device.type == "meta":
        raise ImageLoadError(f"{what} is on the meta device: it has a shape {tuple(t.shape)} but no values")
    if t.layout != torch.strided:
        raise ImageLoadError(f"{what} is sparse ({t.layout}); call .to_dense() first")
    if getattr(t, "is_nested", False):
        raise ImageLoadError(f"{what} is a nested tensor; pass one image as a regular tensor")
    if t.is_quantized:
        raise ImageLoadError(f"{what} is quantized ({t.dtype}); call .dequantize() first")
    if t.is_complex():
        raise ImageLoadError(f"{what} has dtype {t.dtype}; complex numbers are not pixel values")
    try:
        t = t.detach()
        if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
            t = t.to(torch.float32)  # float16, bfloat16, float8: NumPy can't hold them all
        return t.cpu().resolve_conj().resolve_neg().numpy()
    except Exception as err:  # noqa: BLE001 - tensor subclasses and odd devices
        raise ImageLoadError(f"{what} could not be read as numbers ({type(err).__name__}: {err})") from None


def _layout(shape: tuple, channels: str | None, what: str) -> str:
    first, last = shape[0] in _CHANNELS, shape[-1] in _CHANNELS
    if channels == "first" and not first:
        raise ImageLoadError(f"{what} has shape {shape}; channels='first' needs 1, 3 or 4 channels in front")
    if channels == "last" and not last:
        raise ImageLoadError(f"{what} has shape {shape}; channels='last' needs 1, 3 or 4 channels at the end")
    if channels:
        return channels
    if first and last:
        raise ImageLoadError(
            f"{what} has shape {shape}, which could be (C, H, W) or (H, W, C); say which with "
            "load_image(..., channels='first') or channels='last'"
        )
    if first:
        return "first"
    if last:
        return "last"
    raise ImageLoadError(
        f"{what} has shape {shape}; an image is (H, W), (H, W, C) or (C, H, W) with C = 1, 3 or 4 channels"
    )


def _from_array(array: np.ndarray, what: str, channels: str | None, sixteen_bit: bool = False) -> Image.Image:
    a = np.asarray(array)
    shape = tuple(a.shape)
    if a.size == 0:
        raise ImageLoadError(f"{what} is empty (shape {shape})")
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ImageLoadError(f"{what} is a batch of {a.shape[0]} images (shape {shape}); pass one of them, e.g. x[0]")
        a = a[0]
    if a.ndim == 3:
        if _layout(tuple(a.shape), channels, what) == "first":
            a = np.moveaxis(a, 0, -1)  # (C, H, W) -> (H, W, C); a view, the input is untouched
        if a.shape[-1] == 1:
            a = a[..., 0]
    if a.ndim != 2 and not (a.ndim == 3 and a.shape[-1] in (3, 4)):
        raise ImageLoadError(
            f"{what} has shape {shape}; an image is (H, W), (H, W, C) or (C, H, W) with C = 1, 3 or 4 channels"
        )
    a = np.ascontiguousarray(_to_uint8(a, what, sixteen_bit))
    if a.base is not None or a is array:
        a = a.copy()  # the image must not share memory with the caller's array
    image = Image.fromarray(a)  # L, RGB or RGBA from the shape
    if a.ndim == 2:
        return image.convert("RGB")
    if a.shape[-1] == 4:
        return _to_rgb(image, what)
    return image


def _to_uint8(a: np.ndarray, what: str, sixteen_bit: bool = False) -> np.ndarray:
    """8-bit values; the scale comes from the dtype (and PIL mode), never from the values."""
    if sixteen_bit:  # PIL mode "I": int32 holding 16-bit data
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 65535:
            raise ImageLoadError(
                f"{what} is a 32-bit integer image (PIL mode I) with values in [{lo}, {hi}]; it is read "
                "as 16-bit (0-65535). Convert it to 8-bit (mode L) or 16-bit (I;16) yourself first."
            )
        a = a.astype(np.uint16)
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    if a.dtype.kind == "u" and a.dtype.itemsize == 2:  # uint16, either byte order: 0-65535
        return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if a.dtype.kind == "f":
        a = a.astype(np.float32) if a.dtype.itemsize < 4 else a
        if not np.isfinite(a).all():
            raise ImageLoadError(f"{what} contains NaN or infinite values")
        lo, hi = float(a.min()), float(a.max())
        if lo < 0 or hi > 1:
            raise ImageLoadError(
                f"{what} is floating point with values in [{lo:.3g}, {hi:.3g}]; float images must lie "
                "in [0, 1] (divide 0-255 values by 255 first)"
            )
        return np.round(a * 255).astype(np.uint8)
    if a.dtype.kind in "iu":
        lib = "tensor.to(torch.uint8)" if "tensor" in what else "array.astype(np.uint8)"
        raise ImageLoadError(
            f"{what} has dtype {a.dtype}; integer images must be uint8 (0-255) or uint16 (0-65535), "
            f"so that the range is known rather than guessed. If the values are 0-255, use {lib}; "
            "if 0-65535, uint16; or give floats in [0, 1]."
        )
    raise ImageLoadError(f"{what} has dtype {a.dtype}, which is not an image type")


def preprocess(image, size: int = 224, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)) -> torch.Tensor:
    """Preprocess like ``ViTImageProcessor``, step by step: resize, rescale, normalise.

    Returns pixel values ``(1, 3, size, size)``, float32.
    """
    steps = preprocess_steps(image, size=size, mean=mean, std=std)
    return steps["normalized"]


def preprocess_steps(image, size: int = 224, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)) -> dict:
    """Every intermediate of :func:`preprocess`, for the book to show.

    Keys: ``resized`` (PIL, size x size), ``array`` (uint8, (H, W, 3)),
    ``rescaled`` (float32 in [0, 1], (H, W, 3)), ``normalized`` ((1, 3, H, W) tensor).
    """
    image = load_image(image)
    resized = image.resize((size, size), resample=Image.BILINEAR)
    array = np.asarray(resized)  # (H, W, 3) uint8
    rescaled = array.astype(np.float32) * np.float32(1 / 255)  # (H, W, 3) in [0, 1]
    normalized = (rescaled - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    tensor = torch.from_numpy(np.ascontiguousarray(normalized.transpose(2, 0, 1)))[None]  # (1, 3, H, W)
    return {"resized": resized, "array": array, "rescaled": rescaled, "normalized": tensor}


def pixel_values(image, processor=None) -> torch.Tensor:
    """Pixel values ``(1, 3, 224, 224)`` for ``image`` from the HuggingFace processor."""
    if processor is None:
        from .model import image_processor

        processor = image_processor()
    return processor(images=load_image(image), return_tensors="pt")["pixel_values"]


def to_display(pixels: torch.Tensor, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)) -> np.ndarray:
    """Undo normalisation for plotting: ``(1|, 3, H, W)`` tensor -> ``(H, W, 3)`` array in [0, 1]."""
    x = pixels.detach().float().cpu()
    if x.dim() == 4:
        x = x[0]
    x = x * torch.tensor(std)[:, None, None] + torch.tensor(mean)[:, None, None]
    return x.clamp(0, 1).permute(1, 2, 0).numpy()
