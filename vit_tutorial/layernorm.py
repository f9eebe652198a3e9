"""Chapter 5: LayerNorm by hand."""
from __future__ import annotations

import torch


def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Normalise each token over its last (hidden) axis, then scale by gamma and shift by beta.

    ``x``: ``(..., D)``; ``weight`` (gamma) and ``bias`` (beta): ``(D,)``. The variance is
    the *biased* one (divide by D), as in ``nn.LayerNorm``.
    """
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # (..., 1), biased
    return (x - mean) / torch.sqrt(var + eps) * weight + bias
