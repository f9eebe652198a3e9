"""Chapter 1: loading the model, on which device, and reading its predictions.

    >>> model, processor, source = load_model()     # auto: pretrained if at hand, else random
    >>> print(source)                                # one line: which weights these are
    >>> top_predictions(model(pixels).logits)        # [(label, probability), ...]

Where the weights come from (``source=`` or ``VIT_TUTORIAL_WEIGHTS``: ``auto``, ``pretrained``,
``random``, ``trained-like``, ``trained-like-heavy``, ``tiny-digits``) is decided in :mod:`vit_tutorial.weights`; this
module puts model, processor and device together.
"""
from __future__ import annotations

import os
import sys
from typing import NamedTuple

import torch

from .bridge import vit_model
from .primitives import each_layer
from .weights.checkpoint import MODEL_ID, image_processor, imagenet_labels
from .weights.hub import pretrained_model
from .weights.random_weights import random_model
from .weights.sources import WeightSource, requested_source, resolve_source, unavailable

DEVICE_ENV = "VIT_TUTORIAL_DEVICE"


class LoadedModel(NamedTuple):
    model: torch.nn.Module
    processor: object
    source: WeightSource


def device(name: str | None = None) -> torch.device:
    """The device to compute on: CUDA, then Apple MPS, then CPU.

    ``name`` (or ``VIT_TUTORIAL_DEVICE``) overrides: ``"cpu"``, ``"cuda"``, ``"cuda:1"``,
    ``"mps"`` or ``"auto"``. Choosing a CUDA device also switches TF32 off (:func:`exact_float32`):
    every model the book and its tests put on a GPU gets there through this function.
    """
    dev = _requested_device(name)
    if dev.type == "cuda":
        exact_float32()
    return dev


def exact_float32() -> None:
    """Make float32 mean float32 on NVIDIA GPUs: no TF32 in cuDNN's convolutions nor in matrix products.

    Since the Ampere generation, PyTorch may round the inputs of float32 convolutions and matrix
    products to TF32's 10-bit mantissa (float32 has 23), about one part in a thousand; its defaults
    allow it for convolutions. The patch embedding is a convolution and the book's version of it a
    matrix product, so with TF32 the two would differ by far more than float32 rounding, and every
    equality check downstream would inherit that. :func:`device` calls this whenever it picks a
    CUDA device; on other devices the two settings do nothing (appendix A3).
    """
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def _requested_device(name: str | None) -> torch.device:
    requested = (name if name is not None else os.environ.get(DEVICE_ENV, "auto")).strip().lower()
    origin = "argument" if name is not None else DEVICE_ENV
    if requested in ("", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(requested)
    except RuntimeError:
        raise ValueError(
            f"{origin}={requested!r} is not a device name. Use one of: auto, cpu, cuda, cuda:N, mps."
        ) from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{origin}={requested!r}: this book runs on cpu, cuda or mps, not {dev.type}.")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"{origin}={requested!r} asks for a GPU, but PyTorch sees no CUDA device here. "
                f"Unset {DEVICE_ENV} (or set it to 'cpu') to run on the CPU."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"{origin}={requested!r}: there are only {torch.cuda.device_count()} CUDA device(s)."
            )
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError(f"{origin}={requested!r}: Apple MPS is not available on this machine.")
    return dev


def load_model(source: str | None = None, *, device_name: str | None = None, seed: int = 0, verbose: bool = True) -> LoadedModel:
    """Load ViT-B/16 for image classification, its image processor, and where its weights came from.

    Args:
        source: ``"auto"`` (default), ``"pretrained"``, ``"random"``, ``"trained-like"`` (synthetic
            weights with a trained model's statistics, for testing), ``"trained-like-heavy"`` (a
            harder such profile) or ``"tiny-digits"`` (the small
            ViT trained on digits that ships with the package, appendix A2); falls back to
            ``VIT_TUTORIAL_WEIGHTS``.
        device_name: passed to :func:`device` (default: ``VIT_TUTORIAL_DEVICE`` or the best one).
        seed: the seed of the random weights.
        verbose: print one line saying which weights were chosen.

    Returns:
        ``LoadedModel(model, processor, source)``; the model is in eval mode, with eager
        attention so that attention maps are available.
    """
    requested = requested_source(source)
    name, reason = resolve_source(source)
    dev = device(device_name)
    model = None
    if name == "pretrained":
        try:
            model = pretrained_model(local_only=reason.startswith("found"))
        except Exception as err:  # OSError, a broken download, an unreadable cache file, ...
            if requested != "auto":
                raise unavailable(err) from None
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            name, reason = "random", f"the pretrained weights could not be loaded ({first[:200]}); using random weights"
    if model is not None:
        info = WeightSource("pretrained", MODEL_ID, trained=True, reason=reason)
    elif name == "tiny-digits":  # appendix A2: a small ViT trained on scikit-learn's digits, shipped in the package
        from .weights.tiny import WEIGHTS_PATH, load_tiny

        model = load_tiny()
        info = WeightSource("tiny-digits", f"vit_tutorial/{WEIGHTS_PATH}", trained=True, reason=reason)
    elif name in ("trained-like", "trained-like-heavy"):
        from .weights.trained_like import trained_like_model

        model = trained_like_model(seed, profile="heavy" if name.endswith("heavy") else "standard")
        info = WeightSource(name, f"{MODEL_ID} architecture, synthetic", trained=False, reason=reason, seed=seed)
    else:
        model = random_model(seed)
        info = WeightSource("random", f"{MODEL_ID} architecture", trained=False, reason=reason, seed=seed)
    model = model.to(dev)
    if verbose:
        print(info, file=sys.stdout)
        if dev.type == "cuda":
            print(f"[vit_tutorial] on {dev}: TF32 switched off, so float32 is computed in float32 (appendix A3)")
        if info.notice:
            print("[vit_tutorial] " + info.notice)
    return LoadedModel(model, image_processor(model.config.image_size), info)


def top_predictions(logits: torch.Tensor, k: int = 5, labels=None) -> list[tuple[str, float]]:
    """The ``k`` most probable classes of one image's logits ``(num_classes,)`` or ``(1, num_classes)``.

    Returns ``[(label, probability), ...]``, most probable first.
    """
    if logits.dim() == 2:
        if logits.shape[0] != 1:
            raise ValueError(f"top_predictions takes one image's logits; got a batch of {logits.shape[0]}. Index it first: logits[i].")
        logits = logits[0]
    if logits.dim() != 1:
        raise ValueError(f"expected logits of shape (num_classes,), got {tuple(logits.shape)}")
    labels = labels if labels is not None else imagenet_labels()
    if len(labels) != logits.shape[0]:
        raise ValueError(f"{len(labels)} labels for {logits.shape[0]} logits")
    probs = logits.detach().float().softmax(-1).cpu()
    values, indices = probs.topk(min(k, probs.numel()))
    return [(labels[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]


def format_predictions(preds: list[tuple[str, float]], source: WeightSource) -> str:
    """Predictions as a small text table, with the weight-source notice when it matters."""
    lines = [f"{p * 100:6.2f}%  {label}" for label, p in preds]
    if not source.trained:
        lines.append("(" + source.stamp + ": these predictions are meaningless)")
    return "\n".join(lines)


def parameter_table(model: torch.nn.Module) -> dict[str, int]:
    """Parameter counts of the parts of a ViT classifier, plus ``"total"``."""
    vit = vit_model(model)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    emb = vit.embeddings
    parts = list(each_layer(model))
    n = len(parts)
    table = {
        "patch embedding (Conv2d)": count(emb.patch_embeddings),
        "[CLS] token + position embeddings": emb.cls_token.numel() + emb.position_embeddings.numel(),
        f"attention, {n} layers (Q, K, V, output)": sum(count(p.attention) for p in parts),
        f"MLP, {n} layers (fc1 + fc2)": sum(count(p.mlp_in) + count(p.mlp_out) for p in parts),
        f"LayerNorms in the {n} layers": sum(count(p.layernorm_before) + count(p.layernorm_after) for p in parts),
        "final LayerNorm": count(vit.layernorm),
    }
    if getattr(vit, "pooler", None) is not None:
        table["pooler"] = count(vit.pooler)
    if hasattr(model, "classifier"):
        table["classifier (linear)"] = count(model.classifier)
    table["total"] = count(model)
    if sum(v for k, v in table.items() if k != "total") != table["total"]:
        raise RuntimeError("parameter_table missed some parameters; the model has parts this book does not know")
    return table
