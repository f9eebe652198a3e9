"""Chapter 7: GELU and the MLP."""
from __future__ import annotations

import math

import torch

from .attention import linear


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact GELU: ``x * Phi(x)``, with Phi the standard normal CDF (via erf)."""
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """The tanh approximation of GELU."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def mlp(x: torch.Tensor, parts) -> torch.Tensor:
    """``(B, N, D)`` -> 4D wide -> GELU -> back to ``(B, N, D)`` (no residual)."""
    return linear(gelu(linear(x, parts.mlp_in)), parts.mlp_out)
