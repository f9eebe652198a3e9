"""Images in, upright RGB out; and preprocessing by hand.

    >>> img = load_image("cat")                 # a bundled sample photo (offline)
    >>> img = load_image("photo.jpg")           # a file, a URL, a PIL image, an array, a tensor
    >>> x = preprocess(img)                     # (1, 3, 224, 224), like ViTImageProcessor
"""
from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .inputs.decode import ImageLoadError, from_array, open_bytes, tensor_to_array, to_rgb
from .inputs.reading import data_url, download, file_url_path, read_file

SAMPLES = {
    "cat": ("chelsea.png", "Chelsea the cat - Stefan van der Walt, CC0 (via scikit-image)"),
    "coffee": ("coffee.png", "A cup of coffee - Rachel Michetti, CC0 (via scikit-image)"),
    "astronaut": ("astronaut.png", "Astronaut Eileen Collins - NASA, public domain (via scikit-image)"),
    "rocket": ("rocket.jpg", "Falcon 9 launch - SpaceX, public domain (via scikit-image)"),
}
URL_TIMEOUT_S = 10.0
MAX_DOWNLOAD_BYTES = 50 * 2**20  # the most bytes read from a URL or a file
# "scheme://": two or more characters, so that a Windows drive ("C://x") stays a path.
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://")

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
        return to_rgb(source, what="the PIL image")
    if isinstance(source, torch.Tensor):
        return from_array(tensor_to_array(source), what="the tensor", channels=channels)
    if isinstance(source, np.ndarray):
        return from_array(source, what="the array", channels=channels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return open_bytes(bytes(source), what="the bytes given")
    if isinstance(source, (str, os.PathLike)):
        text = os.fsdecode(os.fspath(source))
        url = text.strip()
        scheme = _URL.match(url)
        if scheme:
            name = scheme.group(1).lower()
            if name in ("http", "https"):
                return open_bytes(download(url, timeout, MAX_DOWNLOAD_BYTES), what=url)
            if name == "file":
                return _open_path(file_url_path(url))
            raise ImageLoadError(
                f"can't fetch {url}: only http:// and https:// URLs are downloaded (and file:// read). "
                f"Download it with another tool and pass the file's path."
            )
        if url[:5].lower() == "data:" and not os.path.lexists(text):
            return open_bytes(data_url(url, MAX_DOWNLOAD_BYTES), what="the data: URL")
        if text in SAMPLES and not os.path.exists(text):
            return _open_path(sample_path(text))
        return _open_path(Path(text).expanduser())
    raise ImageLoadError(
        f"can't make an image from a {type(source).__name__}; give a file path, URL, sample name "
        f"({', '.join(SAMPLES)}), PIL image, NumPy array or tensor"
    )


def _open_path(path: Path) -> Image.Image:
    return open_bytes(read_file(path, MAX_DOWNLOAD_BYTES, samples=SAMPLES), what=str(path))


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
        from .weights.checkpoint import image_processor

        processor = image_processor()
    return processor(images=load_image(image), return_tensors="pt")["pixel_values"]


def to_display(pixels: torch.Tensor, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)) -> np.ndarray:
    """Undo normalisation for plotting: ``(1|, 3, H, W)`` tensor -> ``(H, W, 3)`` array in [0, 1]."""
    x = pixels.detach().float().cpu()
    if x.dim() == 4:
        x = x[0]
    x = x * torch.tensor(std)[:, None, None] + torch.tensor(mean)[:, None, None]
    return x.clamp(0, 1).permute(1, 2, 0).numpy()
