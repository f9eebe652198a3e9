"""Any picture in, an upright 8-bit RGB PIL image out: the decoding behind ``vit_tutorial.load_image``.

Bytes (any format PIL reads), PIL images of any mode (grayscale, palette, RGBA, 16-bit, CMYK,
EXIF-rotated), NumPy arrays and tensors (``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``). The bit
depth comes from the dtype or the PIL mode, never from the values; every failure is an
:class:`ImageLoadError` that says what was wrong.
"""
from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

_CHANNELS = (1, 3, 4)


class ImageLoadError(ValueError):
    """An image could not be read or converted; the message says why."""


def open_bytes(data: bytes, what: str) -> Image.Image:
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
    return to_rgb(image, what=what)


_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


def to_rgb(image: Image.Image, what: str) -> Image.Image:
    if image.width == 0 or image.height == 0:
        raise ImageLoadError(f"{what} is empty ({image.width}x{image.height} pixels)")
    try:
        image = ImageOps.exif_transpose(image)  # a new, upright image; the input is untouched
        mode = image.mode
        if mode == "RGB":
            return image.copy()
        if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
            # by mode: I;16* are uint16 arrays; I is int32 read as 0-65535; F is float
            return from_array(np.asarray(image), what=what, channels="last", sixteen_bit=mode == "I")
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


def check_size(shape: tuple, what: str) -> None:
    """Refuse more values than ``PIL.Image.MAX_IMAGE_PIXELS`` pixels of 4 channels, before anything is read or
    copied: an ``expand()``ed tensor or a broadcast array looks small in memory but is materialised on conversion."""
    limit = Image.MAX_IMAGE_PIXELS
    count = int(np.prod(shape, dtype=object)) if shape else 1
    if limit and count > 4 * limit:
        raise ImageLoadError(
            f"{what} has shape {tuple(shape)}, {count:,} values: more than an image this tool converts safely "
            f"({limit:,} pixels of up to 4 channels, PIL.Image.MAX_IMAGE_PIXELS). Shrink it first (a crop, or "
            "torch.nn.functional.interpolate), or raise PIL.Image.MAX_IMAGE_PIXELS if you have the memory."
        )


def tensor_to_array(t: torch.Tensor) -> np.ndarray:
    """A read-only NumPy view or copy of a tensor's values; the tensor is not modified."""
    what = "the tensor"
    check_size(tuple(t.shape), what)
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


def from_array(array: np.ndarray, what: str, channels: str | None, sixteen_bit: bool = False) -> Image.Image:
    a = np.asarray(array)
    shape = tuple(a.shape)
    if a.size == 0:
        raise ImageLoadError(f"{what} is empty (shape {shape})")
    check_size(shape, what)
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
        return to_rgb(image, what)
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
        if lo < 0:
            raise ImageLoadError(
                f"{what} is floating point with values in [{lo:.3g}, {hi:.3g}]; float images must lie in [0, 1]. "
                "Negative values mean it is most likely already normalised (pixel values, (x - mean) / std): "
                "undo that first, e.g. vit_tutorial.images.to_display(x) for ViT's mean = std = 0.5, "
                "or pass the image from before preprocessing"
            )
        if hi > 1:
            scale = "divide 0-255 values by 255 first" if hi <= 255 else "divide by its largest possible value first"
            raise ImageLoadError(
                f"{what} is floating point with values in [{lo:.3g}, {hi:.3g}]; float images must lie in [0, 1] ({scale})"
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
