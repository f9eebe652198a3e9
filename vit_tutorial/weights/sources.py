"""The weight sources, and the choice among them: fast, and never waiting on a missing network.

``pretrained``
    ``google/vit-base-patch16-224`` from the local HuggingFace cache, or from the Hub
    when it answers. Fails within about two seconds, with advice, when neither works.
``random``
    The same architecture and config (ImageNet-1k class names included) with seeded
    random weights. Every equivalence in the book holds; predictions are meaningless.
``trained-like``
    Synthetic: the random weights reshaped to a trained model's statistics (outlier channels,
    high-norm tokens, spread LayerNorm gamma, peaked attention, spread logits), so the book's
    checks can be tried on numbers like a real user's without a download. Meaningless too.
``trained-like-heavy``
    A second, harder synthetic profile: more high-norm tokens, of larger norm, earlier, that
    the other tokens attend to (see :mod:`vit_tutorial.weights.trained_like`). For testing.
``tiny-digits``
    The small ViT trained on scikit-learn's digits that ships with the package (appendix A2).
``auto`` (default)
    ``pretrained`` when cached, or when the Hub serves the checkpoint's config within about
    two seconds in all; otherwise ``random``, with the reason.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .hub import how_to_get_weights, is_cached, offline_by_env, pickle_only_cached, probe_hub

SOURCES = ("auto", "pretrained", "random", "trained-like", "trained-like-heavy", "tiny-digits")
WEIGHTS_ENV = "VIT_TUTORIAL_WEIGHTS"

RANDOM_NOTICE = (
    "These are RANDOM weights: the numbers flow through the real architecture, so every "
    "equality check holds, but predictions and pictures of learned structure are "
    f"meaningless. Set {WEIGHTS_ENV}=pretrained (with network once) for the trained model."
)


TRAINED_LIKE_NOTICE = (
    "These are SYNTHETIC trained-like weights (random weights reshaped to a trained ViT's statistics, "
    "for testing): every equality check holds, but predictions and pictures are meaningless."
)


class WeightsUnavailableError(OSError):
    """The pretrained weights are neither in the local cache nor reachable."""


@dataclass(frozen=True)
class WeightSource:
    """Where a model's weights came from."""

    name: str  # "pretrained", "random", or another registered source
    checkpoint: str  # what was loaded (a Hub id, or a description)
    trained: bool  # do predictions and attention maps mean anything?
    reason: str = ""  # why ``auto`` chose this source
    seed: int | None = None

    @property
    def notice(self) -> str:
        """A sentence to print under any output that depends on trained weights ("" when trained)."""
        if self.trained:
            return ""
        return TRAINED_LIKE_NOTICE if self.name.startswith("trained-like") else RANDOM_NOTICE

    @property
    def stamp(self) -> str:
        """A short label for figures: ``weights: pretrained google/vit-...``."""
        extra = f" (seed {self.seed}) - not trained" if self.seed is not None else ""
        return f"weights: {self.name} {self.checkpoint}{extra}"

    def describe(self) -> str:
        """What a reader should know about these weights: the notice, or the stamp when trained."""
        return self.notice or self.stamp

    def __str__(self) -> str:
        line = f"[vit_tutorial] weights: {self.name} ({self.checkpoint})"
        if self.reason:
            line += f" - {self.reason}"
        return line


def requested_source(source: str | None = None) -> str:
    """The source asked for: ``source``, else ``VIT_TUTORIAL_WEIGHTS``, else ``"auto"`` (lower case, trimmed)."""
    return str(source if source is not None else os.environ.get(WEIGHTS_ENV, "auto")).strip().lower()


def unavailable(details) -> WeightsUnavailableError:
    """The error for pretrained weights that can't be had, with the advice and ``details``."""
    return WeightsUnavailableError(how_to_get_weights(WEIGHTS_ENV) + f"\n(Details: {details})")


def resolve_source(source: str | None = None) -> tuple[str, str]:
    """Decide which weights to use, fast and without waiting on a missing network.

    Returns ``(name, reason)``; ``name`` is one of :data:`SOURCES` but ``"auto"``.
    """
    requested = source if source is not None else os.environ.get(WEIGHTS_ENV, "auto")
    origin = "source" if source is not None else WEIGHTS_ENV
    key = str(requested).strip().lower()
    if key not in SOURCES:
        raise ValueError(
            f"{origin}={requested!r} is not a weight source. Choose one of: {', '.join(SOURCES)}."
        )
    if key in ("random", "trained-like", "trained-like-heavy", "tiny-digits"):
        return key, "asked for"
    if is_cached():
        return "pretrained", "found in the local HuggingFace cache"
    pickle_note = ""
    if pickle_only_cached():
        pickle_note = (" (the cache holds only pytorch_model.bin, a pickle checkpoint; this book loads "
                       "safetensors only: download model.safetensors once with a network)")
    if offline_by_env():
        reason = "not cached" + pickle_note + ", and HF_HUB_OFFLINE is set"
    else:
        problem = probe_hub()
        if problem is None:
            return "pretrained", "downloading from the Hub"
        reason = "not cached" + pickle_note + ", and " + problem
    if key == "pretrained":
        raise unavailable(f"{reason}.")
    return "random", f"pretrained weights unavailable ({reason}); using random weights"
