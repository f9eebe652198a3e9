"""Seeded random weights for ViT-B/16: drawn once, then read back from a verified cache on disk.

Drawing 86 M normal numbers takes seconds on a small CPU; reading them back is a memory map.
The cache (``~/.cache/vit_tutorial/random-weights``; ``VIT_TUTORIAL_CACHE=<folder>`` moves it,
``=off`` turns it off) holds, per seed and architecture:

``vit-seed<S>-<key>.safetensors``           the weights
``vit-seed<S>-<key>.safetensors.sha256``    their SHA-256, recorded when they were written
``vit-seed<S>-<key>.safetensors.verified``  when the file was last proven intact: its size, mtime,
                                           ctime and inode then, and that SHA-256

A file is proven intact once, by a full pass: its SHA-256 matches the recorded one, every tensor
has the expected name, shape and dtype, and no value is NaN or infinite (the writer checks that
before writing, too). Every later load only compares the file's ``stat`` with the ``.verified``
record and reads the tensors' names and shapes, so a warm load costs a memory map, not a pass
over 346 MB. Any write to the file changes its mtime and ctime (and a copy or replacement its
inode), which sends the next load back to the full pass; a record taken within two seconds of the
file's last change is not trusted, so that a write in the same tick of a coarse file-system clock
can't hide (git's "racy" rule). The writer dates its file ten seconds back for that reason.
"""
from __future__ import annotations

import json
import os
import sys

import torch

from .checkpoint import vit_config

RANDOM_WEIGHTS_SCHEME = 4  # bump when the way random weights are drawn changes (invalidates the cache)
CACHE_ENV = "VIT_TUTORIAL_CACHE"  # a folder for cached random weights, or "off"
_CACHE_MIN_PARAMETERS = 2_000_000  # smaller models are drawn faster than they are read back
_STALE_TMP_S = 300  # a .tmp older than this was left by a writer that died (a write takes seconds)
_RACY_NS = 2_000_000_000  # a .verified record this close to the file's mtime is not trusted
_BACKDATE_NS = 10_000_000_000  # the writer dates its file this far back, so its first record is not racy


def random_weights_cache_dir() -> str | None:
    """Where seeded random weights are kept between runs (``None``: don't cache)."""
    setting = os.environ.get(CACHE_ENV, "").strip()
    if setting.lower() in ("off", "0", "no", "false", "none"):
        return None
    if setting:
        return os.path.join(os.path.expanduser(setting), "random-weights")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vit_tutorial", "random-weights")


# The parts of an encoder layer in the order transformers 5 builds them (4.57 builds the MLP before the
# two LayerNorms): the weights are drawn in this order on both, so a seed means one model on both.
_LAYER_PART_ORDER = ["query", "key", "value", "attention output projection", "layernorm_before", "layernorm_after",
                     "MLP in (768 -> 3072)", "MLP out (3072 -> 768)"]


def draw_order(names: list[str]) -> list[str]:
    """``names`` (parameter names, in the model's own order) in the order their values are drawn.

    The model's own order, except that inside each encoder layer the parts follow
    :data:`_LAYER_PART_ORDER` whatever the installed transformers calls them.
    """
    from ..bridge import NAME_MAP

    spelled = {part: NAME_MAP.get(part, (part, part)) for part in _LAYER_PART_ORDER}
    layer_prefixes = [f"vit.{name}." for name in NAME_MAP["layers (relative to model.vit)"]]

    def key(item):
        position, name = item
        prefix = next((p for p in layer_prefixes if name.startswith(p)), None)
        if prefix is None:
            return (0 if name.startswith("vit.embeddings.") else 2, 0, 0, position)
        index, rest = name[len(prefix):].split(".", 1)
        rank = next((r for r, part in enumerate(_LAYER_PART_ORDER) if any(rest.startswith(s + ".") for s in spelled[part])), None)
        if rank is None:
            raise RuntimeError(f"random_model: {name!r} is no part of an encoder layer the book knows")
        return (1, int(index), rank, position)

    return [name for _, name in sorted(enumerate(names), key=key)]


def draw_random_weights(model, seed: int, std: float) -> dict[str, torch.Tensor]:
    """Seeded random weights for every parameter, drawn from a private generator.

    Matrices, ``cls_token`` and ``position_embeddings`` ~ N(0, std), as HuggingFace
    initialises them. Unlike HuggingFace's init (biases 0, LayerNorm gamma 1 and beta 0),
    biases are also N(0, std), and LayerNorm gamma is 1 + N(0, std) and beta N(0, std):
    with all-zero biases and identity norms, a helper that forgot a bias, gamma or beta
    would still pass every equality check in the book. ``mask_token`` (unused here) is 0.

    The values are drawn in :func:`draw_order`, so transformers 4.57 and 5.x, which name and
    order a layer's modules differently, get the same model from the same seed.
    """
    gen = torch.Generator().manual_seed(seed)
    params = {}
    for prefix, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            params[f"{prefix}.{name}" if prefix else name] = (name, isinstance(module, torch.nn.LayerNorm), param)
    weights = {}
    for full in draw_order(list(params)):
        name, in_layernorm, param = params[full]
        value = torch.empty(param.shape, dtype=param.dtype).normal_(0.0, std, generator=gen)
        if name == "mask_token":
            value.zero_()
        elif in_layernorm and name == "weight":
            value += 1.0
        weights[full] = value
    return weights


def _notice(message: str) -> None:
    print(f"[vit_tutorial] {message}", file=sys.stderr)


def _remove_stale_tmp(folder: str) -> None:
    import time

    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name.endswith(".tmp"):
            try:
                if time.time() - entry.stat().st_mtime > _STALE_TMP_S:
                    os.remove(entry.path)
            except OSError:
                pass


def _file_sha256(path: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _all_finite(weights: dict[str, torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in weights.values())


def _identity(info: os.stat_result) -> dict:
    """What changes when a file's bytes do: size, mtime and ctime (a write), inode and device (a replacement)."""
    return {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "ctime_ns": info.st_ctime_ns,
            "inode": info.st_ino, "device": info.st_dev}


def _write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="ascii") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _record_verified(path: str, before: os.stat_result, digest: str) -> None:
    """Record that ``path``, as ``before`` describes it, was proven intact; nothing if it changed meanwhile."""
    import time

    try:
        if _identity(os.stat(path)) != _identity(before):
            return
        record = {"sha256": digest, "verified_ns": time.time_ns(), **_identity(before)}
        _write_atomically(path + ".verified", json.dumps(record) + "\n")
    except OSError:
        pass  # a read-only cache: every load takes the full pass, as it did before records existed


def _recorded_digest(path: str) -> str | None:
    with open(path + ".sha256", encoding="ascii") as f:
        return f.read().strip()


def _still_verified(path: str, recorded: str) -> bool:
    """``path`` is as it was when last proven intact (its ``.verified`` record), and not racily so."""
    try:
        with open(path + ".verified", encoding="ascii") as f:
            record = json.load(f)
        info = os.stat(path)
    except (OSError, ValueError):
        return False
    return (isinstance(record, dict) and record.get("sha256") == recorded
            and {k: record.get(k) for k in ("size", "mtime_ns", "ctime_ns", "inode", "device")} == _identity(info)
            and isinstance(record.get("verified_ns"), int) and record["verified_ns"] - info.st_mtime_ns >= _RACY_NS)


def _read_verified(path: str, shapes) -> dict[str, torch.Tensor] | None:
    """The cached weights at ``path`` when they are intact, else ``None`` (after a one-line notice).

    Intact: the file's SHA-256 equals the one recorded beside it when it was written, every
    tensor has the expected name, shape and dtype, and no value is NaN or infinite. The
    SHA-256 and the values are checked in full once; then only while the file's ``stat``
    differs from its ``.verified`` record (see the module's docstring).
    """
    from safetensors.torch import load_file

    if not os.path.exists(path):
        return None
    if not os.path.exists(path + ".sha256"):
        _notice(f"the cached random weights in {path} have no checksum (an older version wrote them); drawing them again.")
        return None
    try:
        recorded = _recorded_digest(path)
        trusted = _still_verified(path, recorded)
        before = os.stat(path)
        if not trusted and _file_sha256(path) != recorded:
            _notice(f"the cached random weights in {path} are damaged (checksum mismatch); drawing them again.")
            return None
        weights = load_file(path)
    except Exception as err:  # unreadable or malformed file
        _notice(f"the cached random weights in {path} can't be used ({type(err).__name__}); drawing them again.")
        return None
    if sorted((n, list(t.shape), str(t.dtype)) for n, t in weights.items()) != sorted(shapes):
        _notice(f"the cached random weights in {path} don't fit this model; drawing them again.")
        return None
    if not trusted:
        if not _all_finite(weights):
            _notice(f"the cached random weights in {path} contain NaN or infinite values; drawing them again.")
            return None
        _record_verified(path, before, recorded)
    return weights


def _write_cache(folder: str, path: str, weights: dict[str, torch.Tensor], seed: int) -> None:
    """Write ``weights``, their checksum and their ``.verified`` record atomically; any failure is a one-line warning."""
    import tempfile
    import time

    from safetensors.torch import save_file

    if not _all_finite(weights):  # never cache a bad draw: readers trust a verified file without a pass
        _notice(f"the random weights drawn for {path} hold NaN or infinite values; not caching them.")
        return
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        os.close(fd)
        save_file(weights, tmp, metadata={"seed": str(seed), "scheme": str(RANDOM_WEIGHTS_SCHEME)})
        digest = _file_sha256(tmp)
        back = time.time_ns() - _BACKDATE_NS
        os.utime(tmp, ns=(back, back))  # so that the record taken just below is not racy
        with open(tmp + ".sha256.tmp", "w", encoding="ascii") as f:
            f.write(digest + "\n")
        os.replace(tmp + ".sha256.tmp", path + ".sha256")
        os.replace(tmp, path)  # atomic: parallel kernels never read a half-written file
        _record_verified(path, os.stat(path), digest)
    except Exception as err:  # read-only, full disk (SafetensorError), ...: the cache is only an optimisation
        _notice(f"could not save the random weights to {folder} ({type(err).__name__}: {err}); "
                f"running without the cache (set {CACHE_ENV}=off to silence this).")
    finally:
        for leftover in (tmp, tmp and tmp + ".sha256.tmp"):
            if leftover and os.path.exists(leftover):
                try:
                    os.remove(leftover)
                except OSError:
                    pass


def cached_random_weights(model, seed: int, std: float) -> dict[str, torch.Tensor]:
    """:func:`draw_random_weights`, read from / written to a safetensors file in the user cache.

    The file name hashes everything the values depend on (seed, std, every parameter's
    name/shape/dtype, the drawing scheme, torch's version). A file that is missing, damaged,
    mismatched or holds NaN is drawn again (with a one-line notice), a cache that can't be
    written is skipped (with a one-line warning), and ``.tmp`` files left by a writer that was
    killed are removed.
    """
    import hashlib

    shapes = [(n, list(p.shape), str(p.dtype)) for n, p in model.named_parameters()]
    folder = random_weights_cache_dir()
    if folder is None or sum(p.numel() for p in model.parameters()) < _CACHE_MIN_PARAMETERS:
        return draw_random_weights(model, seed, std)
    _remove_stale_tmp(folder)
    key = json.dumps([RANDOM_WEIGHTS_SCHEME, seed, std, torch.__version__.split("+")[0], shapes])
    path = os.path.join(folder, f"vit-seed{seed}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.safetensors")
    weights = _read_verified(path, shapes)
    if weights is not None:
        return weights
    weights = draw_random_weights(model, seed, std)
    _write_cache(folder, path, weights, seed)
    return weights


def random_model(seed: int = 0, config=None):
    """A ViT with seeded random weights: same architecture, same labels, not trained.

    The weights are N(0, ``initializer_range``) (biases and LayerNorm parameters perturbed
    too, see :func:`draw_random_weights`), drawn from a private generator (the caller's random
    stream is left alone) and, for full-size models, cached on disk as safetensors
    (``~/.cache/vit_tutorial``; ``VIT_TUTORIAL_CACHE=<folder>`` moves it, ``=off`` disables it),
    so that every notebook after the first gets its model in a fraction of a second.
    """
    from transformers import ViTForImageClassification

    config = config if config is not None else vit_config()
    if getattr(config, "_attn_implementation", None) != "eager":
        config._attn_implementation = "eager"
    with torch.device("meta"):  # build the module tree without allocating or initialising
        model = ViTForImageClassification(config)
    weights = cached_random_weights(model, seed, float(config.initializer_range))
    model.load_state_dict(weights, strict=True, assign=True)
    left = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
    if left:
        raise RuntimeError(f"random_model: no values for {left[:3]}; this ViT has parts the book does not know")
    return model.eval()
