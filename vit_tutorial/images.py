"""Images in, upright RGB out; and preprocessing by hand.

    >>> img = load_image("cat")                 # a bundled sample photo (offline)
    >>> img = load_image("photo.jpg")           # a file, a URL, a PIL image, an array, a tensor
    >>> x = preprocess(img)                     # (1, 3, 224, 224), like ViTImageProcessor
"""
from __future__ import annotations

import io
import os
import urllib.error
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
MAX_DOWNLOAD_BYTES = 50 * 2**20


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


def load_image(source="cat", *, timeout: float = URL_TIMEOUT_S) -> Image.Image:
    """Return ``source`` as an upright 8-bit RGB PIL image.

    ``source`` may be a sample name (``"cat"``, ``"coffee"``, ``"astronaut"``, ``"rocket"``),
    a file path, an ``http(s)://`` URL, raw bytes, a PIL image, a NumPy array
    (``(H, W)``, ``(H, W, 1|3|4)``) or a tensor (``(C, H, W)`` or ``(H, W, C)``, ``C`` in 1, 3, 4).
    Grayscale, palette, RGBA (composited on white), 16-bit, CMYK and EXIF-rotated images are
    converted. The input itself is never modified.
    """
    if isinstance(source, Image.Image):
        return _to_rgb(source, what="the PIL image")
    if isinstance(source, torch.Tensor):
        return _from_array(source.detach().cpu().numpy(), what="the tensor", channels_first_ok=True)
    if isinstance(source, np.ndarray):
        return _from_array(source, what="the array", channels_first_ok=False)
    if isinstance(source, (bytes, bytearray)):
        return _open_bytes(bytes(source), what="the bytes given")
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if isinstance(text, bytes):
            text = text.decode()
        if text.startswith(("http://", "https://")):
            return _open_bytes(_download(text, timeout), what=text)
        if text in SAMPLES and not os.path.exists(text):
            return _open_path(sample_path(text))
        return _open_path(Path(text).expanduser())
    raise ImageLoadError(
        f"can't make an image from a {type(source).__name__}; give a file path, URL, sample name "
        f"({', '.join(SAMPLES)}), PIL image, NumPy array or tensor"
    )


def _download(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "vit-tutorial"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(MAX_DOWNLOAD_BYTES + 1)
    except urllib.error.HTTPError as err:
        raise ImageLoadError(f"could not download {url}: the server answered {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise ImageLoadError(
            f"could not download {url} within {timeout:g} s ({reason}). Check the address and your "
            "connection, or download the file and pass its path."
        ) from None
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise ImageLoadError(f"{url} is larger than {MAX_DOWNLOAD_BYTES // 2**20} MiB; is it really an image?")
    return data


def _open_path(path: Path) -> Image.Image:
    if not path.exists():
        raise ImageLoadError(f"no such file: {path} (working directory: {Path.cwd()})")
    if path.is_dir():
        raise ImageLoadError(f"{path} is a folder, not an image file")
    return _open_bytes(path.read_bytes(), what=str(path))


def _open_bytes(data: bytes, what: str) -> Image.Image:
    if not data:
        raise ImageLoadError(f"{what} is empty (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except UnidentifiedImageError:
        raise ImageLoadError(f"{what} is not an image file PIL can read (PNG, JPEG, GIF, BMP, TIFF, WebP, ...)") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageLoadError(f"{what} looks like an image but could not be decoded: {err}") from None
    return _to_rgb(image, what=what)


def _to_rgb(image: Image.Image, what: str) -> Image.Image:
    if image.width == 0 or image.height == 0:
        raise ImageLoadError(f"{what} is empty ({image.width}x{image.height} pixels)")
    image = ImageOps.exif_transpose(image)  # a new, upright image; the input is untouched
    mode = image.mode
    if mode == "RGB":
        return image.copy()
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _from_array(np.asarray(image), what=what, channels_first_ok=False)
    if mode == "P":
        image = image.convert("RGBA")  # palette transparency becomes alpha
        mode = "RGBA"
    if mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def _from_array(array: np.ndarray, what: str, channels_first_ok: bool) -> Image.Image:
    a = np.asarray(array)
    if a.size == 0:
        raise ImageLoadError(f"{what} is empty (shape {a.shape})")
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and channels_first_ok and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)  # (C, H, W) -> (H, W, C)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4))):
        raise ImageLoadError(
            f"{what} has shape {tuple(array.shape)}; an image is (H, W), (H, W, C) or (C, H, W) "
            "with C = 1, 3 or 4 channels"
        )
    a = _to_uint8(a, what)
    if a.ndim == 2:
        return Image.fromarray(a, "L").convert("RGB")
    if a.shape[-1] == 4:
        return _to_rgb(Image.fromarray(a, "RGBA"), what)
    return Image.fromarray(a, "RGB")


def _to_uint8(a: np.ndarray, what: str) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ImageLoadError(f"{what} contains NaN or infinite values")
        lo, hi = float(a.min()), float(a.max())
        if lo < 0 or hi > 1:
            raise ImageLoadError(
                f"{what} is floating point with values in [{lo:.3g}, {hi:.3g}]; float images must lie "
                "in [0, 1] (divide 0-255 values by 255 first)"
            )
        return np.round(a * 255).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        lo, hi = int(a.min()), int(a.max())
        if lo < 0:
            raise ImageLoadError(f"{what} has negative pixel values (min {lo})")
        if hi <= 255:
            return a.astype(np.uint8)
        if hi <= 65535:  # 16-bit
            return (a.astype(np.float64) / 65535 * 255).round().astype(np.uint8)
        raise ImageLoadError(f"{what} has pixel values up to {hi}; expected 8- or 16-bit data")
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
