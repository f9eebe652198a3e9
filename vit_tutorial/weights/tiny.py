"""The tiny digits ViT of appendix A2: its config, and the weights that ship with the package.

The file stores the classic (transformers 4.x, Hub-checkpoint) parameter names, so it loads
under both 4.57 and 5.x (:func:`canonical_state_dict`, :func:`load_canonical_state_dict`), and
the architecture in its metadata. ``scripts/train_tiny_digits.py`` writes it with
:func:`save_tiny`; :func:`load_tiny` reads it (``load_model("tiny-digits")`` too). Training
and the data are the chapter's: :mod:`vit_tutorial.tiny`.
"""
from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import torch

WEIGHTS_PATH = "data/weights/tiny-digits.safetensors"  # inside the package
METRICS_PATH = "data/weights/tiny-digits.json"
IMAGE_SIZE = 32  # the 8 x 8 digits are upscaled to this


def tiny_config(**overrides):
    """The tiny ViT's config: 32 x 32 images, 8 x 8 patches, 4 layers, width 64, 4 heads, MLP 128, 10 classes.

    Any field can be overridden (``patch_size=4``, ``num_hidden_layers=2``, ...); attention is eager
    so that attention maps are returned.
    """
    from transformers import ViTConfig

    labels = [str(d) for d in range(10)]
    kwargs = dict(
        image_size=IMAGE_SIZE,
        patch_size=8,
        num_channels=3,
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=128,
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        attn_implementation="eager",
    )
    kwargs.update(overrides)
    config = ViTConfig(**kwargs)
    if config.image_size % config.patch_size:
        raise ValueError(
            f"image_size {config.image_size} does not divide into {config.patch_size} x {config.patch_size} patches; "
            f"choose a patch size that divides {config.image_size} (e.g. 2, 4, 8, 16)"
        )
    if config.hidden_size % config.num_attention_heads:
        raise ValueError(f"hidden_size {config.hidden_size} does not divide into {config.num_attention_heads} heads")
    return config



# --------------------------------------------------------------------------- saving / loading

# The two functions below translate the classic names through the bridge's name table.
_LAYER_KEY = re.compile(r"^vit\.(?:encoder\.layer|layers)\.(\d+)\.(.+)\.(weight|bias)$")


def _rename(state: dict, to_new: bool) -> dict:
    from ..bridge import NAME_MAP

    pairs = [pair for key, pair in NAME_MAP.items() if key.startswith(("query", "key", "value", "attention output", "MLP in", "MLP out"))]
    src, dst = (0, 1) if to_new else (1, 0)
    prefix = "vit.layers." if to_new else "vit.encoder.layer."
    out = {}
    for key, value in state.items():
        m = _LAYER_KEY.match(key)
        if m:
            index, module, kind = m.groups()
            for pair in pairs:
                if module == pair[src]:
                    module = pair[dst]
                    break
            key = f"{prefix}{index}.{module}.{kind}"
        out[key] = value
    return out


def canonical_state_dict(model) -> dict:
    """``model``'s weights under the classic 4.x names (what the shipped file stores), contiguous, on the CPU."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return _rename(state, to_new=False)


def load_canonical_state_dict(model, state: dict) -> None:
    """Load weights stored under the classic names into ``model``, whichever transformers runs."""
    from ..bridge import uses_new_names  # by the model's own module names: 5.0 still has the classic ones

    model.load_state_dict(_rename(state, to_new=True) if uses_new_names(model) else state, strict=True)


def _package_file(relative: str):
    return resources.files("vit_tutorial").joinpath(relative)


ARCHITECTURE_FIELDS = (
    "image_size", "patch_size", "num_channels", "hidden_size", "num_hidden_layers", "num_attention_heads",
    "intermediate_size", "hidden_act", "layer_norm_eps", "qkv_bias",
)


def architecture(config) -> dict:
    """The fields of ``config`` that fix the shapes and the computation (stored with the weights)."""
    return {name: getattr(config, name) for name in ARCHITECTURE_FIELDS}


def save_tiny(model, path, metrics: dict | None = None, metrics_path=None) -> None:
    """Write ``model`` as safetensors (classic names, architecture in the metadata) and ``metrics`` as JSON."""
    from safetensors.torch import save_file

    meta = {"architecture": json.dumps(architecture(model.config)), "format": "pt"}
    save_file(canonical_state_dict(model), str(path), metadata=meta)
    if metrics is not None and metrics_path is not None:
        with open(metrics_path, "w", encoding="utf-8") as f:
            json.dump(metrics, f, indent=1)
            f.write("\n")


def tiny_metrics() -> dict:
    """The JSON saved with the shipped weights: recipe, held-out accuracy, time, loss per step, accuracy per epoch."""
    return json.loads(_package_file(METRICS_PATH).read_text("utf-8"))


def _read(path: Path):
    from safetensors import safe_open

    if not path.is_file():
        raise FileNotFoundError(f"no tiny-digits weights at {path}; run scripts/train_tiny_digits.py to make them")
    with safe_open(str(path), framework="pt") as f:
        fields = json.loads((f.metadata() or {}).get("architecture", "{}"))
        state = {k: f.get_tensor(k) for k in f.keys()}
    return fields, state


def load_tiny(path=None, device=None):
    """The shipped tiny-digits ViT (or one saved with :func:`save_tiny` at ``path``), in eval mode."""
    from transformers import ViTForImageClassification

    if path is None:
        with resources.as_file(_package_file(WEIGHTS_PATH)) as real:
            fields, state = _read(Path(real))
    else:
        fields, state = _read(Path(path))
    with torch.random.fork_rng(devices=[]):  # the throwaway initialisation leaves the caller's seed alone
        model = ViTForImageClassification(tiny_config(**fields))
    load_canonical_state_dict(model, state)
    model.eval()
    return model.to(device) if device is not None else model


def tiny_processor():
    """An image processor for the tiny model: resize to 32 x 32 (bilinear), x/255, (x - 0.5)/0.5."""
    from .checkpoint import image_processor

    return image_processor(IMAGE_SIZE)
