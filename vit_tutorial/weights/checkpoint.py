"""What the book's checkpoint is, built locally: ``google/vit-base-patch16-224``'s id, labels, config and processor.

    >>> config = vit_config()                 # ViT-B/16, ImageNet-1k labels, eager attention; no download
    >>> processor = image_processor()         # resize 224 (bilinear), x/255, (x - 0.5)/0.5
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

MODEL_ID = "google/vit-base-patch16-224"


@lru_cache(maxsize=1)
def imagenet_labels() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k class names, in the checkpoint's index order."""
    text = resources.files("vit_tutorial").joinpath("data/imagenet1k_labels.tsv").read_text("utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return tuple(row[2] for row in rows)


def vit_config(**overrides):
    """The ``google/vit-base-patch16-224`` config, built locally (no download)."""
    from transformers import ViTConfig

    labels = imagenet_labels()
    kwargs = dict(
        id2label={i: name for i, name in enumerate(labels)},
        label2id={name: i for i, name in enumerate(labels)},
        attn_implementation="eager",
    )
    kwargs.update(overrides)
    return ViTConfig(**kwargs)


def image_processor(size: int = 224):
    """An image processor equal to the checkpoint's: resize to ``size`` (bilinear), x/255, (x-0.5)/0.5.

    On transformers 5.x the PIL-backed processor is used, so no torchvision is needed
    and no fallback warning is printed.
    """
    import transformers

    cls = getattr(transformers, "ViTImageProcessorPil", None) or transformers.ViTImageProcessor
    from PIL import Image

    return cls(
        do_resize=True,
        size={"height": size, "width": size},
        resample=Image.BILINEAR,
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
