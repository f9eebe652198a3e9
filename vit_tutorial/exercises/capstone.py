"""The capstone self-check (chapter 9): ``check_vit_forward`` - the learner's own functions from
chapters 2-9 assembled into the whole forward pass, matched against HuggingFace's logits."""
from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

from ._core import Case, run_check
from ._forbidden import CONVOLUTION, GELU, LAYER_NORM, MODEL_MODULES, OTHER_NORMS, SDPA
from ._shared import cat_pixels, gelu, gelu_tanh
from ._shared import layer_reference as _layer


@lru_cache(maxsize=1)
def _small_model():
    """A random 2-layer ViT (32-pixel images, 8-pixel patches, width 32, 4 heads, 7 classes) with weights large
    enough, and LayerNorm gammas/betas far enough from 1/0, that every classic mistake changes the logits."""
    from ..weights.checkpoint import vit_config
    from ..weights.random_weights import random_model

    config = vit_config(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, num_labels=7, id2label={i: str(i) for i in range(7)},
                        label2id={str(i): i for i in range(7)})
    model = random_model(3, config)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layernorm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.4 * torch.randn(p.shape, generator=g))
            elif p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p[0].numel()))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
    return model.eval().requires_grad_(False)


def _forward(pixels, model, *, positions=True, final_norm=True, pool="cls", order="pre", layers=None, same_layer=False,
             pooler=False, probabilities=False, second=True, act=None):
    """The forward pass, with one knob per classic mistake; the defaults are ViTForImageClassification's."""
    from ..bridge import encoder_layers, layer_parts, vit_model

    emb = vit_model(model).embeddings
    conv = emb.patch_embeddings.projection
    patches = F.conv2d(pixels, conv.weight, conv.bias, stride=conv.weight.shape[-1]).flatten(2).transpose(1, 2)
    x = torch.cat([emb.cls_token.expand(pixels.shape[0], -1, -1), patches], dim=1)
    if positions:
        x = x + emb.position_embeddings
    depth = len(encoder_layers(model)) if layers is None else layers
    for i in range(depth):
        x = _layer(x, layer_parts(model, 0 if same_layer else i), order=order, second=second, act=act or gelu)
    if final_norm:
        x = vit_model(model).layernorm(x)
    summary = x[:, 0] if pool == "cls" else x[:, 1:].mean(1)
    if pooler:
        summary = torch.tanh(summary)
    logits = model.classifier(summary)
    return logits.softmax(-1) if probabilities else logits


FORWARD_MISTAKES = {
    "your MLPs use the tanh approximation of GELU; this model's hidden_act is 'gelu', the exact x·Φ(x) with erf (chapter 7)":
        lambda px, m: _forward(px, m, act=_tanh_gelu),
    "the position embeddings are missing: after prepending [CLS], add position_embeddings (chapter 3)":
        lambda px, m: _forward(px, m, positions=False),
    "the final LayerNorm is missing: after the last layer, normalise with the model's final LayerNorm "
    "(vit.layernorm) before taking [CLS] (chapter 8)": lambda px, m: _forward(px, m, final_norm=False),
    "you averaged the patch tokens; this model classifies the [CLS] token, index 0 (chapter 8)":
        lambda px, m: _forward(px, m, pool="mean"),
    "your layers are post-norm (LN(x + sublayer(x))); ViT is pre-norm: x + sublayer(LN(x)) (chapters 6-7)":
        lambda px, m: _forward(px, m, order="post"),
    "the last encoder layer is skipped: run every layer, range(num_hidden_layers)":
        lambda px, m: _forward(px, m, layers=len(_layers(m)) - 1),
    "every step uses layer 0's weights: layer i must use layer_parts(model, i)": lambda px, m: _forward(px, m, same_layer=True),
    "you applied tanh to the [CLS] vector (the pooler's activation); ViTForImageClassification has no pooler: "
    "the classifier reads the normalised [CLS] vector": lambda px, m: _forward(px, m, pooler=True),
    "you returned probabilities (softmax); return the logits, as model(pixels).logits does":
        lambda px, m: _forward(px, m, probabilities=True),
    "the second residual is missing in your encoder layer: return h + mlp(layernorm_after(h)) (chapter 7)":
        lambda px, m: _forward(px, m, second=False),
}


# "built only from your own code of chapters 2-9 ... and the model's weight tensors. Don't call the model's modules."
FORWARD_FORBIDDEN = (CONVOLUTION, LAYER_NORM, OTHER_NORMS, GELU, SDPA, MODEL_MODULES)


_tanh_gelu = gelu_tanh
@torch.no_grad()
def _float64_logits(model, pixels):
    from ..tolerance import as_float64

    return as_float64(model)(pixels.double()).logits


def _layers(model):
    from ..bridge import encoder_layers

    return encoder_layers(model)


def check_vit_forward(fn, model=None):
    """Check ``fn(pixels (B, 3, H, W), model) -> logits (B, num_labels)`` against ``model(pixels).logits``.

    Runs on a small random ViT with two random images and, given ``model``, on that model with the cat photo.
    Logits within float32 rounding of HuggingFace's pass; so do logits as close to a float64 run of the
    same model as HuggingFace's are (the float64 referee of chapter 7: twelve layers of rounding).
    """
    cases = []
    small = _small_model()
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        cases.append(Case((pixels, small), small(pixels).logits, "a small random ViT (2 layers, width 32, 7 classes) on 2 random images",
                          truth=lambda: _float64_logits(small, pixels)))
    if model is not None:
        cat = cat_pixels().to(next(model.parameters()).device)
        with torch.no_grad():
            cases.append(Case((cat, model), model(cat).logits, f"the model on the cat photo {tuple(cat.shape)}",
                              truth=lambda: _float64_logits(model, cat)))
    with torch.no_grad():
        return run_check("vit_forward", fn, cases, mistakes=FORWARD_MISTAKES, axes=("batch", "classes"), rtol=1e-4, atol=1e-4,
                         forbidden=FORWARD_FORBIDDEN)
