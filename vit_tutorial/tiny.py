"""Appendix A2: a tiny ViT trained on scikit-learn's handwritten digits, on a CPU.

The digits (1,797 grey 8 x 8 images, values 0-16) ship inside scikit-learn, so nothing is
downloaded. They are upscaled to 32 x 32 RGB pixel values in [-1, 1] (what the book's
image processor produces), cut into 8 x 8 patches (a 4 x 4 grid), and read by a 4-layer
ViT 64 wide: about 150,000 parameters, trained in well under a minute on two cores.

    >>> split = load_digits_split()                       # 1,437 train / 360 held out
    >>> run = train(epochs=30)                            # the recipe of the shipped weights
    >>> evaluate(run.model, digits_to_pixels(split.test_images), split.test_labels)
    >>> model = load_tiny()                               # the shipped weights (no training)

``scripts/train_tiny_digits.py`` reproduces the shipped weights from the seed.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F

# The tiny model's config and its shipped files live with the other weights (vit_tutorial.weights.tiny);
# the appendix reads them through this module, next to the data and the training that made them.
from .weights.tiny import IMAGE_SIZE, load_tiny, tiny_config, tiny_metrics  # noqa: F401 - load_tiny, tiny_metrics: the appendix's

SEED = 0
DIGIT_SIZE = 8
DIGIT_MAX = 16.0  # sklearn's digits are integers 0..16
TEST_FRACTION = 0.2
THREADS = 1  # training threads: fixed, so the result is the same bit for bit (one thread is also the
# fastest for matrices this small, and immune to other programs competing for the cores)

# The recipe of the shipped weights (scripts/train_tiny_digits.py passes exactly these).
RECIPE = dict(epochs=30, batch_size=32, lr=1.5e-3, weight_decay=0.05, warmup_epochs=2, max_shift=1, seed=SEED)


# --------------------------------------------------------------------------- data


class DigitsSplit(NamedTuple):
    """The digits, split once (stratified, seeded): images ``(N, 8, 8)`` float in 0..16, labels ``(N,)``."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def load_digits_split(test_fraction: float = TEST_FRACTION, seed: int = SEED) -> DigitsSplit:
    """scikit-learn's 1,797 digits, split into train / held-out test (stratified, ``random_state=seed``).

    The default split (20 % held out: 1,437 / 360 images) is the one the shipped weights were
    trained and measured on. Needs scikit-learn (it ships the data; nothing is downloaded).
    """
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("the digits come with scikit-learn: pip install scikit-learn") from None
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32)  # (1797, 8, 8)
    labels = torch.tensor(digits.target, dtype=torch.long)  # (1797,)
    train_idx, test_idx = train_test_split(
        range(len(labels)), test_size=test_fraction, random_state=seed, stratify=digits.target
    )
    train_idx, test_idx = torch.tensor(train_idx), torch.tensor(test_idx)
    return DigitsSplit(images[train_idx], labels[train_idx], images[test_idx], labels[test_idx])


def digits_to_pixels(images: torch.Tensor, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Grey digits ``(N, 8, 8)`` in 0..16 -> pixel values ``(N, 3, size, size)`` in [-1, 1].

    Scale to [0, 1], upscale (bilinear, half-pixel centres, like PIL and the image processor),
    normalise with mean 0.5 and std 0.5, and copy the grey channel into R, G and B.
    """
    if not isinstance(images, torch.Tensor):
        images = torch.as_tensor(images, dtype=torch.float32)
    if images.dim() == 2:
        images = images[None]
    if images.dim() != 3:
        raise ValueError(f"digits must be (N, height, width) grey images; got shape {tuple(images.shape)}")
    x = images.float()[:, None] / DIGIT_MAX  # (N, 1, 8, 8) in [0, 1]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)  # (N, 1, size, size)
    x = (x - 0.5) / 0.5  # [-1, 1]
    return x.expand(-1, 3, -1, -1).contiguous()  # (N, 3, size, size)


def digit_image(image8x8):
    """One digit ``(8, 8)`` in 0..16 as an RGB PIL image (what a reader would hand the image processor)."""
    import numpy as np
    from PIL import Image

    grey = np.clip(np.asarray(image8x8, dtype=np.float32) / DIGIT_MAX * 255.0, 0, 255).round().astype(np.uint8)
    return Image.fromarray(grey, mode="L").convert("RGB")


def shift_digits(images: torch.Tensor, generator: torch.Generator, max_shift: int = 1) -> torch.Tensor:
    """Move each digit by up to ``max_shift`` pixels in x and y (zero fill): ``(N, 8, 8)`` -> ``(N, 8, 8)``."""
    if max_shift <= 0:
        return images
    n, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4)  # (N, h + 2s, w + 2s)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]  # (N, h, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, :]  # (N, 1, w)
    return padded[torch.arange(n)[:, None, None], rows, cols]


# --------------------------------------------------------------------------- training


@contextlib.contextmanager
def deterministic(threads: int = THREADS):
    """Fixed thread count and deterministic kernels for the duration of the block."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)


@torch.no_grad()
def evaluate(model, pixels: torch.Tensor, labels: torch.Tensor, batch_size: int = 512) -> float:
    """Accuracy (0..1) of ``model`` on pixel values ``(N, 3, H, W)`` with labels ``(N,)``."""
    if len(pixels) != len(labels):
        raise ValueError(f"{len(pixels)} images but {len(labels)} labels")
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    correct = 0
    for i in range(0, len(pixels), batch_size):
        logits = model(pixels[i : i + batch_size].to(dev)).logits  # (b, classes)
        correct += (logits.argmax(-1).cpu() == labels[i : i + batch_size].cpu()).sum().item()
    model.train(was_training)
    return correct / max(len(labels), 1)


@dataclass
class TrainResult:
    """What :func:`train` returns: the model (eval mode) and its history."""

    model: torch.nn.Module
    losses: list[float] = field(default_factory=list)  # one per step
    test_accuracy: list[float] = field(default_factory=list)  # one per epoch (or at the end when steps= is given)
    seconds: float = 0.0
    steps: int = 0


def train(
    config=None,
    *,
    epochs: int = RECIPE["epochs"],
    steps: int | None = None,
    batch_size: int = RECIPE["batch_size"],
    lr: float = RECIPE["lr"],
    weight_decay: float = RECIPE["weight_decay"],
    warmup_epochs: float = RECIPE["warmup_epochs"],
    max_shift: int = RECIPE["max_shift"],
    seed: int = RECIPE["seed"],
    split: DigitsSplit | None = None,
    threads: int | None = THREADS,
    progress: bool = True,
    evaluate_every_epoch: bool = True,
) -> TrainResult:
    """Train a tiny ViT on the digits, reproducibly (seeded, fixed threads, deterministic kernels).

    AdamW, linear warm-up then cosine decay of the learning rate, random shifts of up to
    ``max_shift`` pixels, cross-entropy. ``steps`` stops early after that many optimiser steps
    (the schedule is then laid out over ``steps``), for demos and tests. Runs on the CPU.
    A ``tqdm`` bar shows the loss when ``progress`` (the default); in a notebook it is tqdm's
    widget, so the book passes ``progress=False``: on a static page the widget is an empty box.
    """
    from tqdm.auto import tqdm
    from transformers import ViTForImageClassification

    config = config if config is not None else tiny_config()
    if config.num_labels != 10:
        raise ValueError(f"the digits have 10 classes; the config has num_labels={config.num_labels}")
    split = split if split is not None else load_digits_split()
    steps_per_epoch = math.ceil(len(split.train_labels) / batch_size)
    total = steps if steps is not None else epochs * steps_per_epoch
    if total <= 0:
        raise ValueError(f"nothing to train: epochs={epochs}, steps={steps}")
    warmup = max(1, min(round(warmup_epochs * steps_per_epoch), total // 4 or 1))
    test_pixels = digits_to_pixels(split.test_images, config.image_size)
    context = deterministic(threads) if threads else contextlib.nullcontext()
    with context:
        torch.manual_seed(seed)
        model = ViTForImageClassification(config).train()
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total))
        )
        result = TrainResult(model)
        start = time.perf_counter()
        bar = tqdm(total=total, desc="training", unit="step", disable=not progress, leave=True)
        while result.steps < total:
            order = torch.randperm(len(split.train_labels), generator=generator)
            for i in range(0, len(order), batch_size):
                batch = order[i : i + batch_size]
                images = shift_digits(split.train_images[batch], generator, max_shift)  # (b, 8, 8)
                logits = model(digits_to_pixels(images, config.image_size)).logits  # (b, 10)
                loss = F.cross_entropy(logits, split.train_labels[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                result.losses.append(loss.item())
                result.steps += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
                if result.steps >= total:
                    break
            if evaluate_every_epoch or result.steps >= total:
                result.test_accuracy.append(evaluate(model, test_pixels, split.test_labels))
                bar.set_postfix(loss=f"{result.losses[-1]:.3f}", test_acc=f"{result.test_accuracy[-1]:.3f}")
        bar.close()
        result.seconds = time.perf_counter() - start
    model.eval()
    return result
