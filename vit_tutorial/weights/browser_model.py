"""The weights of the ViT that runs in the reader's browser (``js/vit.js``): export and cost.

The browser reads safetensors files under the Hub checkpoint's (transformers 4.x) names, in
float32, float16, or **int8 per output channel**: every weight matrix (the patch embedding's
kernel, read as ``(D, C*P*P)``, and each ``nn.Linear``'s ``(out, in)``) is stored as

* ``NAME``: int8 ``(out, in...)``, ``q = round(w / scale)`` clipped to -127..127, and
* ``NAME.scale``: float32 ``(out,)``, ``scale[o] = max_i |w[o, i]| / 127`` (1 for an all-zero row),

so that ``w[o, i] ~ q[o, i] * scale[o]`` (at most half a step, ``scale[o] / 2``, off). Biases,
LayerNorms, [CLS] and the position embeddings stay float32 (under 1 % of ViT-B/16). A ViT-B/16
is then 87 MB instead of 346 MB. Files are cut into shards of at most 50 MB, listed by a
manifest ``vit.json`` (the config's fields, the class names, the files with their SHA-256).

    >>> manifest = export(model, "web-weights", source=source)      # int8, shards <= 50 MB
    >>> cost = quantisation_cost(model, pixels)                     # what int8 changes in the logits

The book's build exports the checkpoint it runs with (:func:`export_for_book`): the Sphinx
extension ``book/_ext/explorers_host.py`` sets :data:`STORE_ENV` for the kernels and copies the
exported folder into the built site, where the chapter 9 explorer fetches it on request.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

DTYPES = ("int8", "float16", "float32")
SHARD_BYTES = 50_000_000
MANIFEST = "vit.json"
#: Set by the book's build: the folder where exported weights are kept, one subfolder per id.
STORE_ENV = "VIT_TUTORIAL_BROWSER_WEIGHTS"
#: Where the built site holds them, relative to its root.
SITE_FOLDER = "_static/vit-weights"
CONFIG_FIELDS = (
    "image_size",
    "patch_size",
    "num_channels",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "layer_norm_eps",
    "qkv_bias",
)


def is_matrix(name: str, tensor: torch.Tensor) -> bool:
    """True for the weights stored as int8: a linear layer's or the patch embedding's kernel."""
    return name.endswith(".weight") and tensor.dim() >= 2


def quantise_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(out, ...)`` float -> ``(q int8 (out, ...), scale float32 (out,))``, symmetric per output channel."""
    w = weight.detach().to("cpu", torch.float32)
    if w.dim() < 2:
        raise ValueError(f"quantise_int8 takes a weight matrix (out, in...), got shape {tuple(w.shape)}")
    peak = w.reshape(w.shape[0], -1).abs().amax(dim=1)  # (out,)
    scale = torch.where(peak > 0, peak / 127, torch.ones_like(peak))
    q = torch.round(w / scale.reshape(-1, *[1] * (w.dim() - 1))).clamp_(-127, 127).to(torch.int8)
    return q, scale


def dequantise(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``q * scale`` per output channel, float32: the weight the browser multiplies with."""
    return q.to(torch.float32) * scale.reshape(-1, *[1] * (q.dim() - 1))


def classic_state_dict(model) -> dict[str, torch.Tensor]:
    """``model``'s weights under the Hub checkpoint's names, float32, contiguous, on the CPU."""
    from .tiny import canonical_state_dict  # the classic-name table the shipped tiny weights use

    return {k: v.float() for k, v in canonical_state_dict(model).items()}


def browser_state(model, dtype: str = "int8") -> dict[str, torch.Tensor]:
    """The tensors the browser reads: every weight matrix int8 + ``.scale`` (``dtype="int8"``), or all float16/float32."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    out = {}
    for name, tensor in classic_state_dict(model).items():
        if dtype == "int8" and is_matrix(name, tensor):
            out[name], out[name + ".scale"] = quantise_int8(tensor)
        else:
            out[name] = tensor.to(torch.float16 if dtype == "float16" else torch.float32).contiguous()
    return out


@torch.no_grad()
def quantised_copy(model, dtype: str = "int8"):
    """A copy of ``model`` whose weights are what the browser computes with (int8 or float16 round trip)."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    twin = copy.deepcopy(model)
    for name, p in twin.named_parameters():
        if dtype == "int8" and is_matrix(name, p):
            p.copy_(dequantise(*quantise_int8(p)).to(p.device, p.dtype))
        elif dtype == "float16":
            p.copy_(p.half().float())
    return twin


def labels_of(model) -> list[str]:
    """The class names the book prints for ``model`` (ImageNet's for 1,000 classes, as ``head.top_k``)."""
    n = model.config.num_labels
    if n == 1000:
        from .checkpoint import imagenet_labels

        return list(imagenet_labels())
    return [str(model.config.id2label.get(i, i)) for i in range(n)]


def config_json(model) -> dict:
    """The ViTConfig fields the browser's forward pass reads, and the class names (``id2label``)."""
    return {**{f: getattr(model.config, f) for f in CONFIG_FIELDS}, "id2label": {str(i): label for i, label in enumerate(labels_of(model))}}


def _shards(state: dict[str, torch.Tensor], shard_bytes: int) -> list[dict[str, torch.Tensor]]:
    shards, size = [{}], 0
    for name, t in state.items():  # a weight and its .scale are adjacent and stay together
        nbytes = t.numel() * t.element_size()
        partner = name.endswith(".scale")
        if shards[-1] and not partner and size + nbytes > shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = t
        size += nbytes
    return shards


def export(model, folder, *, dtype: str = "int8", shard_bytes: int = SHARD_BYTES, source=None) -> dict:
    """Write ``model`` for the browser into ``folder`` (created; it must not exist yet, or be empty).

    Files: ``model-00001-of-0000N.safetensors`` ... (each at most ``shard_bytes``, unless one tensor
    alone is larger) and :data:`MANIFEST`. Returns the manifest: ``config``, ``dtype``, ``files``
    (name, bytes, sha256), ``bytes`` (total), ``id`` (16 hex digits of the files' hash), ``source``.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} exists and is not empty; export writes only into a new (or empty) folder")
    folder.mkdir(parents=True, exist_ok=True)
    shards = _shards(browser_state(model, dtype), shard_bytes)
    files, digest = [], hashlib.sha256()
    for i, shard in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(folder / name), metadata={"format": "pt"})
        (folder / name).chmod(0o644)  # safetensors writes 0600 (a temporary file): a web server must read it
        data = (folder / name).read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        digest.update(sha.encode())
        files.append({"name": name, "bytes": len(data), "sha256": sha})
    manifest = {
        "format": "vit_tutorial browser weights 1",
        "dtype": dtype,
        "config": config_json(model),
        "files": files,
        "bytes": sum(f["bytes"] for f in files),
        "id": digest.hexdigest()[:16],
        "source": getattr(source, "stamp", None) or (str(source) if source is not None else None),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def export_for_book(model, source=None, *, dtype: str = "int8") -> dict | None:
    """During the book's build (:data:`STORE_ENV` set), export ``model`` into the store, once per
    distinct weights; returns the manifest plus ``path`` (its address under the site's root).
    Outside a build, or when the store can't be written, returns ``None`` (nothing is written)."""
    store = os.environ.get(STORE_ENV)
    if not store:
        return None
    try:
        Path(store).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=store, prefix=".export-") as tmp:
            manifest = export(model, Path(tmp) / "w", dtype=dtype, source=source)
            target = Path(store) / manifest["id"]
            if not (target / MANIFEST).is_file():
                shutil.rmtree(target, ignore_errors=True)
                os.replace(Path(tmp) / "w", target)  # atomic: a folder appears complete or not at all
    except OSError as err:
        print(f"[vit_tutorial] the browser weights were not exported ({type(err).__name__}: {err})")
        return None
    return {**manifest, "path": f"{SITE_FOLDER}/{manifest['id']}/{MANIFEST}"}


@torch.no_grad()
def quantisation_cost(model, pixels: torch.Tensor, dtype: str = "int8", k: int = 5) -> dict:
    """What the browser's weights change, on ``pixels`` ``(B, 3, H, W)``: float32 model vs its
    ``dtype`` round trip (:func:`quantised_copy`), both in PyTorch.

    Keys: ``max_logit_diff`` (largest |difference| of any logit), ``logit_range`` (float32's
    largest minus smallest logit), ``top1`` (images whose most probable class is the same),
    ``topk`` (images whose ``k`` most probable classes are the same set), ``images``.
    """
    exact = model(pixels).logits.float()
    approx = quantised_copy(model, dtype)(pixels).logits.float()
    top_exact, top_approx = exact.topk(k, dim=-1).indices, approx.topk(k, dim=-1).indices
    return {
        "max_logit_diff": float((exact - approx).abs().max()),
        "logit_range": float(exact.max() - exact.min()),
        "top1": int((top_exact[:, 0] == top_approx[:, 0]).sum()),
        "topk": int(sum(set(a.tolist()) == set(b.tolist()) for a, b in zip(top_exact, top_approx))),
        "images": int(pixels.shape[0]),
        "k": k,
        "dtype": dtype,
    }
