"""What every chapter from 4 on shares: one linear layer, and the walk over the encoder's layers.

    >>> y = linear(x, parts.mlp_in)              # x @ W.T + b with an nn.Linear's weights: (..., in) -> (..., out)
    >>> for parts in each_layer(model):           # layer 0, 1, ..., 11: their LayerParts
    ...     x, _ = encoder_layer(x, parts)
"""
from __future__ import annotations

from collections.abc import Iterator

import torch

from .bridge import LayerParts, encoder_layers, layer_parts


def linear(x: torch.Tensor, layer) -> torch.Tensor:
    """``x @ W.T + b`` with the weights of an ``nn.Linear``: ``(..., in_features)`` -> ``(..., out_features)``."""
    out = x @ layer.weight.T
    if layer.bias is not None:
        out += layer.bias  # in place: no second (..., out_features) tensor
    return out


def each_layer(model) -> Iterator[LayerParts]:
    """The parts of every encoder layer of ``model``, first to last (see :func:`vit_tutorial.bridge.layer_parts`)."""
    for index in range(len(encoder_layers(model))):
        yield layer_parts(model, index)
