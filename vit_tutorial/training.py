"""Chapter 10: training and fine-tuning, measured on the tiny digits ViT (CPU, seconds).

The loss HuggingFace computes, a new head, a linear probe against full fine-tuning, a new
resolution, and a small CNN trained on the same digits with the same budget.

    >>> model = tiny.load_tiny()
    >>> train_x, train_y, test_x, test_y = rotation_task(tiny.load_digits_split())
    >>> head = linear_probe(cls_features(model, train_x), train_y, num_classes=4)
    >>> ours = parameter_gradients(model, x, y, forward=lambda px, m: scratch.vit_forward(px, m, grad=True))
    >>> assert_same_gradients(ours, parameter_gradients(model, x, y))   # equal to HuggingFace's

Everything is seeded and runs under :func:`vit_tutorial.tiny.deterministic` (one thread,
deterministic kernels), so the chapter's numbers are the same on every run of a machine.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from . import tiny

# The recipe of the tiny model (tiny.RECIPE), shared by every run of the chapter.
LR = tiny.RECIPE["lr"]
WEIGHT_DECAY = tiny.RECIPE["weight_decay"]
BATCH_SIZE = 64


# --------------------------------------------------------------------------- the loss


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits`` ``(B, K)`` against integer ``labels`` ``(B,)``: a scalar.

    ``-log softmax(logits)[label]``, averaged over the batch; the log-softmax subtracts each
    row's maximum first, so large logits do not overflow. Equals ``F.cross_entropy``.
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must be (batch, classes); got shape {tuple(logits.shape)}")
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"labels must be (batch,) = ({logits.shape[0]},); got shape {tuple(labels.shape)}")
    shifted = logits - logits.max(dim=-1, keepdim=True).values  # (B, K)
    log_probs = shifted - shifted.exp().sum(dim=-1, keepdim=True).log()  # (B, K)
    return -log_probs.gather(1, labels[:, None]).mean()


# --------------------------------------------------------------------------- gradients


def parameter_gradients(model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor, forward=None) -> dict[str, torch.Tensor]:
    """Every trainable parameter's gradient of the mean cross-entropy on one batch: ``{name: grad}``.

    ``forward(pixels, model) -> logits (B, K)``; by default the model's own (HuggingFace's) forward.
    Any gradients the parameters held are dropped, and none are left behind.
    """
    forward = forward if forward is not None else (lambda px, m: logits_of(m(px)))
    model.zero_grad(set_to_none=True)
    with torch.enable_grad():
        F.cross_entropy(forward(pixels, model), labels).backward()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return grads


def gradient_units(grads: dict[str, torch.Tensor], floor: float = 1e-2) -> dict[str, torch.Tensor]:
    """The size each parameter's gradient is measured in: its RMS, at least ``floor`` x the largest such RMS.

    Gradients are small numbers (1e-4 to 1e-2 here), and the book's rule is made for numbers of
    size 1. A gradient that is zero in exact arithmetic (the key's bias: softmax ignores a shift
    of a whole row of scores, chapter 4) is measured against the model's typical gradient instead.
    """
    rms = {name: g.double().pow(2).mean().sqrt() for name, g in grads.items()}
    least = floor * max(float(r) for r in rms.values())
    return {name: r.clamp_min(least).to(grads[name].dtype) for name, r in rms.items()}


def assert_same_gradients(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor], *,
                          rtol: float = 1e-4, atol: float = 1e-4) -> dict[str, float]:
    """Each parameter's gradient ``ours[name]`` equal to ``theirs[name]`` by the book's rule
    (:func:`vit_tutorial.tolerance.assert_equivalent`), both in units of :func:`gradient_units` of ``theirs``.

    Returns ``{name: margin}`` (largest difference / allowed; below 1 passes).
    """
    from .tolerance import assert_equivalent, equivalence_margin

    if set(ours) != set(theirs):
        raise AssertionError(f"different parameters have gradients: only ours {sorted(set(ours) - set(theirs))}, "
                             f"only theirs {sorted(set(theirs) - set(ours))}")
    units = gradient_units(theirs)
    margins = {}
    for name, unit in units.items():
        a, b = ours[name] / unit, theirs[name] / unit
        assert_equivalent(a, b, rtol=rtol, atol=atol, what=f"gradient of {name} (in units of {float(unit):.2g})")
        margins[name] = equivalence_margin(a, b, rtol, atol)
    return margins


# --------------------------------------------------------------------------- data


def rotate_digits(images: torch.Tensor, quarter_turns: int) -> torch.Tensor:
    """Digits ``(N, 8, 8)`` turned by ``quarter_turns`` x 90 degrees, counter-clockwise."""
    return torch.rot90(images, quarter_turns, dims=(-2, -1))


def rotation_task(split: tiny.DigitsSplit, size: int = tiny.IMAGE_SIZE):
    """A new task on the same digits: which way up is the digit? Four classes: 0, 90, 180, 270 degrees.

    Every digit appears in all four rotations. Returns ``(train_pixels, train_labels, test_pixels,
    test_labels)``: pixels ``(4N, 3, size, size)``, labels ``(4N,)`` in 0..3 (the number of quarter turns).
    The held-out digits of the split stay held out.
    """
    out = []
    for images in (split.train_images, split.test_images):
        turned = torch.cat([rotate_digits(images, k) for k in range(4)])  # (4N, 8, 8)
        labels = torch.arange(4).repeat_interleave(len(images))  # (4N,)
        out += [tiny.digits_to_pixels(turned, size), labels]
    return tuple(out)


# --------------------------------------------------------------------------- models


def logits_of(output) -> torch.Tensor:
    """The logits of a HuggingFace output (``.logits``) or of a plain module's tensor output."""
    return output.logits if hasattr(output, "logits") else output


@torch.no_grad()
def accuracy(model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor, batch_size: int = 512, **forward_kwargs) -> float:
    """Accuracy (0..1) of ``model`` on ``pixels`` ``(N, C, H, W)``; ``forward_kwargs`` go to the model
    (e.g. ``interpolate_pos_encoding=True`` at a new resolution)."""
    if len(pixels) != len(labels):
        raise ValueError(f"{len(pixels)} images but {len(labels)} labels")
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(pixels), batch_size):
        logits = logits_of(model(pixels[i : i + batch_size], **forward_kwargs))  # (b, K)
        correct += (logits.argmax(-1) == labels[i : i + batch_size]).sum().item()
    model.train(was_training)
    return correct / max(len(labels), 1)


@torch.no_grad()
def cls_features(model: nn.Module, pixels: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """The [CLS] vector after the final LayerNorm — what the classifier reads: ``(N, D)``."""
    from .bridge import vit_model

    vit = vit_model(model)
    was_training = vit.training
    vit.eval()
    out = torch.cat([vit(pixels[i : i + batch_size]).last_hidden_state[:, 0] for i in range(0, len(pixels), batch_size)])
    vit.train(was_training)
    return out


def freeze_all_but_head(model: nn.Module, head: str = "classifier") -> list[str]:
    """Switch off the gradients of every parameter outside ``model.<head>``; return the names still trained."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith(head + "."))
    return trainable_names(model)


def trainable_names(model: nn.Module) -> list[str]:
    """The names of the parameters of ``model`` that have ``requires_grad``."""
    return [name for name, p in model.named_parameters() if p.requires_grad]


class SmallCNN(nn.Module):
    """A small convolutional network for 32 x 32 images: three 3 x 3 conv blocks, global average pool, a linear layer.

    ``(B, C, 32, 32)`` -> ``(B, num_classes)``; the first two blocks halve the grid (max-pool), the third keeps it.

    Its built-in assumptions are the ones a ViT lacks: each filter sees a 3 x 3 neighbourhood
    (locality) and the same filter slides everywhere (translation equivariance).
    """

    def __init__(self, num_classes: int = 10, width: int = 32, channels: int = 3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.GELU(), nn.MaxPool2d(2),  # (B, w, 16, 16)
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.GELU(), nn.MaxPool2d(2),  # (B, 2w, 8, 8)
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.GELU(),  # (B, 2w, 8, 8)
        )
        self.classifier = nn.Linear(2 * width, num_classes)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(pixels).mean(dim=(-2, -1)))  # (B, K)


# --------------------------------------------------------------------------- training loops


@dataclass
class Run:
    """What a training run returns: the trained module and its history."""

    model: nn.Module
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0


def _schedule(optimizer, steps: int, warmup: int):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )


def fit(
    model: nn.Module,
    pixels: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int,
    batch_size: int = BATCH_SIZE,
    lr: float = LR,
    weight_decay: float = WEIGHT_DECAY,
    seed: int = tiny.SEED,
    loss_fn=None,
    **forward_kwargs,
) -> Run:
    """Train the parameters of ``model`` that require gradients on ``(pixels, labels)``, in place.

    The shape of the tiny model's recipe (appendix A2), not its exact schedule: AdamW, a linear
    warm-up over the first tenth of the steps (A2 warms up for 2 of its 30 epochs), then a cosine
    decay; ``lr`` defaults to A2's; random batches (seeded). ``loss_fn(logits, labels)`` defaults
    to cross-entropy; ``forward_kwargs`` go to every forward call (``interpolate_pos_encoding=True``).
    Deterministic (one thread); leaves the model in eval mode.
    """
    if steps <= 0:
        raise ValueError(f"nothing to train: steps={steps}")
    if len(pixels) != len(labels):
        raise ValueError(f"{len(pixels)} images but {len(labels)} labels")
    loss_fn = loss_fn or F.cross_entropy
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("no parameter of the model requires a gradient: there is nothing to train")
    run = Run(model)
    with tiny.deterministic():
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
        schedule = _schedule(optimizer, steps, warmup=max(1, steps // 10))
        model.train()
        start = time.perf_counter()
        while run.steps < steps:
            batch = torch.randint(0, len(labels), (batch_size,), generator=generator)
            loss = loss_fn(logits_of(model(pixels[batch], **forward_kwargs)), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            run.losses.append(loss.item())
            run.steps += 1
        run.seconds = time.perf_counter() - start
    model.eval()
    return run


def linear_probe(features: torch.Tensor, labels: torch.Tensor, num_classes: int, *, steps: int = 300,
                 lr: float = 1e-2, seed: int = tiny.SEED) -> nn.Linear:
    """A linear classifier trained on frozen ``features`` ``(N, D)`` (full batch, AdamW, cross-entropy)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = nn.Linear(features.shape[-1], num_classes)
    features = features.detach()
    with tiny.deterministic():
        optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.0)
        for _ in range(steps):
            loss = F.cross_entropy(head(features), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return head.eval()


def digits_run(model: nn.Module, split: tiny.DigitsSplit, *, steps: int, seed: int = tiny.SEED,
               batch_size: int = 32) -> tuple[Run, float]:
    """Train ``model`` (a ViT or the CNN) from its current weights on the digits with :func:`fit`'s
    optimiser and schedule, ``steps`` batches of ``batch_size`` with random one-pixel shifts; return the
    run and the held-out accuracy. The same budget for every model passed in."""
    generator = torch.Generator().manual_seed(seed)
    shifted = torch.cat([tiny.shift_digits(split.train_images, generator, 1) for _ in range(4)])  # 4 shifted copies
    pixels = tiny.digits_to_pixels(shifted)
    labels = split.train_labels.repeat(4)
    run = fit(model, pixels, labels, steps=steps, batch_size=batch_size, seed=seed)
    return run, accuracy(model, tiny.digits_to_pixels(split.test_images), split.test_labels)
