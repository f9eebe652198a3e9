"""Self-checks for appendix A2 (a tiny ViT on digits): ``check_digits_to_pixels``, ``check_variant_config``."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ._core import Case, run_check

PIXEL_AXES = ("images", "channels", "height", "width")


def _pixels(images, size, *, scale=16.0, mode="bilinear", align_corners=False, normalise=True, multiply_std=False):
    """Digits -> pixel values, with one knob per classic mistake; the defaults are the right answer."""
    x = images.float()[:, None] / scale
    kwargs = {"align_corners": align_corners} if mode in ("bilinear", "bicubic") else {}
    x = F.interpolate(x, size=(size, size), mode=mode, **kwargs)
    if normalise:
        x = (x - 0.5) * 0.5 if multiply_std else (x - 0.5) / 0.5
    return x.expand(-1, 3, -1, -1)


PIXEL_MISTAKES = {
    "you did not divide by 16: sklearn's digits go from 0 to 16, so divide by 16 to get [0, 1] before normalising":
        lambda im, s: _pixels(im, s, scale=1.0),
    "your channels come last, (N, size, size, 3): the model reads channels first, (N, 3, size, size) - add the "
    "channel axis at position 1 (images[:, None]) and copy it there": lambda im, s: _pixels(im, s).permute(0, 2, 3, 1),
    "you multiplied by the standard deviation; normalising DIVIDES by it: (x - 0.5) / 0.5":
        lambda im, s: _pixels(im, s, multiply_std=True),
    "your values stay in [0, 1]: the model was trained on pixel values normalised like the image processor's, "
    "(x - 0.5) / 0.5, which maps [0, 1] to [-1, 1]": lambda im, s: _pixels(im, s, normalise=False),
    "you divided by 255, but sklearn's digits are integers from 0 to 16: divide by 16 to get [0, 1]":
        lambda im, s: _pixels(im, s, scale=255.0),
    "you divided by 255 and did not normalise: divide by 16 (the digits go from 0 to 16), then (x - 0.5) / 0.5":
        lambda im, s: _pixels(im, s, scale=255.0, normalise=False),
    "you upscaled with nearest-neighbour interpolation (blocky copies of each pixel); use mode='bilinear' "
    "like the image processor": lambda im, s: _pixels(im, s, mode="nearest"),
    "you upscaled with align_corners=True; the image processor (PIL) puts pixel centres at half-pixel "
    "positions, which is align_corners=False": lambda im, s: _pixels(im, s, align_corners=True),
    "you upscaled with bicubic interpolation; use mode='bilinear' like the image processor":
        lambda im, s: _pixels(im, s, mode="bicubic"),
    "the images come out transposed (x and y swapped): don't swap the last two axes":
        lambda im, s: _pixels(im.transpose(-1, -2), s),
    "you normalised with ImageNet's mean and standard deviation (0.485, 0.229, ...); this model's image "
    "processor uses mean 0.5 and std 0.5: (x - 0.5) / 0.5": lambda im, s: (_pixels(im, s, normalise=False) - 0.485) / 0.229,
}


def _real_digits(n: int = 6) -> torch.Tensor:
    from sklearn.datasets import load_digits

    return torch.tensor(load_digits().images[:n], dtype=torch.float32)  # (n, 8, 8)


def check_digits_to_pixels(fn):
    """Check ``fn(images (N, 8, 8) in 0..16, size) -> (N, 3, size, size)`` in [-1, 1], bilinear upscaling."""
    g = torch.Generator().manual_seed(72)
    random = torch.randint(0, 17, (3, 8, 8), generator=g).float()
    cases = [
        Case((random, 32), _pixels(random, 32), "3 random 8x8 digits upscaled to 32x32"),
        Case((random[:1], 24), _pixels(random[:1], 24), "one random digit upscaled to 24x24"),
    ]
    try:
        real = _real_digits()
        cases.append(Case((real, 32), _pixels(real, 32), f"the first {len(real)} of sklearn's digits"))
    except ImportError:  # pragma: no cover - scikit-learn missing
        pass
    return run_check("digits_to_pixels", fn, cases, mistakes=PIXEL_MISTAKES, axes=PIXEL_AXES, rtol=1e-5, atol=1e-5)


# --- a variant of the tiny config ------------------------------------------------------------------------

SUMMARY_FIELDS = ("image_size", "patch_size", "num_hidden_layers", "hidden_size", "num_attention_heads",
                  "intermediate_size", "num_labels", "num_channels", "patches", "logits")


def summarize(config) -> torch.Tensor:
    """The numbers that matter in a config, plus what a model built from it does: ``(len(SUMMARY_FIELDS),)``.

    Builds the model (tiny, a few ms) and runs one blank image through it, so a config that can't
    make a working model fails here with its own error.
    """
    from transformers import ViTConfig, ViTForImageClassification

    if not isinstance(config, ViTConfig):
        raise TypeError(f"return a transformers ViTConfig (e.g. from tiny.tiny_config(...)), not a {type(config).__name__}")
    size = config.image_size
    with torch.random.fork_rng(devices=[]):
        model = ViTForImageClassification(config).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, config.num_channels, size, size), output_hidden_states=True)
    patches = out.hidden_states[0].shape[1] - 1
    values = [getattr(config, name) for name in SUMMARY_FIELDS[:-2]] + [patches, out.logits.shape[-1]]
    return torch.tensor(values, dtype=torch.float64)


def _variant(patch_size, depth, **extra):
    from ..weights.tiny import tiny_config

    return tiny_config(patch_size=patch_size, num_hidden_layers=depth, **extra)


def _plain_vit(patch_size, depth):
    from transformers import ViTConfig

    return ViTConfig(patch_size=patch_size, num_hidden_layers=depth)


VARIANT_MISTAKES = {
    "you kept the tiny model's patch size (8): pass patch_size=patch_size": lambda p, d: summarize(_variant(8, d)),
    "you kept the tiny model's depth (4 layers): pass num_hidden_layers=depth": lambda p, d: summarize(_variant(p, 4)),
    "patch size and depth are swapped: patch_size=patch_size, num_hidden_layers=depth":
        lambda p, d: summarize(_variant(d, p)),
    "you changed the number of heads instead of the number of layers: depth is num_hidden_layers":
        lambda p, d: summarize(_variant(p, 4, num_attention_heads=d)),
    "you started from ViTConfig()'s defaults, which are ViT-B/16's (224 pixels, 768 wide, 2 labels): "
    "start from tiny.tiny_config(...) and change only the two fields": lambda p, d: summarize(_plain_vit(p, d)),
}


def check_variant_config(fn):
    """Check ``fn(patch_size, depth) -> ViTConfig``: the tiny config with only those two changed."""
    if not callable(fn):
        return run_check("variant_config", fn, [])  # raises: "pass your function itself"
    cases = []
    for patch, depth in ((4, 2), (16, 4), (8, 6)):
        cases.append(Case((patch, depth), summarize(_variant(patch, depth)), f"patch_size={patch}, depth={depth}",
                          value_names=SUMMARY_FIELDS))

    def summary_of_yours(patch_size, depth):
        return summarize(fn(patch_size, depth))

    result = run_check("variant_config", summary_of_yours, cases, mistakes=VARIANT_MISTAKES, rtol=0, atol=0, quiet=True)
    print(f"✔ variant_config: {result.message}. Fields compared: {', '.join(SUMMARY_FIELDS)}.")
    return result
