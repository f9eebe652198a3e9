"""Loading the model: where the weights come from, on which device, offline-safe.

    >>> model, processor, source = load_model()     # auto: pretrained if at hand, else random
    >>> print(source)                                # one line: which weights these are

Sources (argument ``source=`` or the environment variable ``VIT_TUTORIAL_WEIGHTS``):

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
    the other tokens attend to (see :mod:`vit_tutorial.trained_like`). For testing.
``auto`` (default)
    ``pretrained`` when cached, or when the Hub serves the checkpoint's config within about
    two seconds in all; otherwise ``random``, with the reason.
"""
from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import NamedTuple
from urllib.parse import urlparse

import torch

MODEL_ID = "google/vit-base-patch16-224"
SOURCES = ("auto", "pretrained", "random", "trained-like", "trained-like-heavy", "tiny-digits")
WEIGHTS_ENV = "VIT_TUTORIAL_WEIGHTS"
DEVICE_ENV = "VIT_TUTORIAL_DEVICE"
HUB_PROBE_TIMEOUT_S = 2.0  # the whole probe: connect, request, answer, all of it

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


class LoadedModel(NamedTuple):
    model: torch.nn.Module
    processor: object
    source: WeightSource


# --------------------------------------------------------------------------- device


def device(name: str | None = None) -> torch.device:
    """The device to compute on: CUDA, then Apple MPS, then CPU.

    ``name`` (or ``VIT_TUTORIAL_DEVICE``) overrides: ``"cpu"``, ``"cuda"``, ``"cuda:1"``,
    ``"mps"`` or ``"auto"``.
    """
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


# --------------------------------------------------------------------------- labels


@lru_cache(maxsize=1)
def imagenet_labels() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k class names, in the checkpoint's index order."""
    text = resources.files("vit_tutorial").joinpath("data/imagenet1k_labels.tsv").read_text("utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return tuple(row[2] for row in rows)


# --------------------------------------------------------------------------- hub / cache


def _hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def _offline_by_env() -> bool:
    return any(
        os.environ.get(var, "").strip().upper() in ("1", "ON", "YES", "TRUE")
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def is_cached(model_id: str = MODEL_ID) -> bool:
    """True when the config and safetensors weights of ``model_id`` are in the local HF cache."""
    from huggingface_hub import try_to_load_from_cache

    found = [try_to_load_from_cache(model_id, f) for f in ("config.json", "model.safetensors")]
    return all(isinstance(path, str) and os.path.exists(path) for path in found)


def _config_url(model_id: str = MODEL_ID) -> str:
    return f"{_hub_endpoint().rstrip('/')}/{model_id}/resolve/main/config.json"


def probe_hub(timeout: float = HUB_PROBE_TIMEOUT_S, model_id: str = MODEL_ID) -> str | None:
    """Does the Hub serve ``model_id``'s config within ``timeout`` seconds *in total*?

    Returns ``None`` when it does, else the reason it doesn't, in words. The whole exchange
    (name lookup, connect, request, every byte of the answer) must finish by the deadline, so an
    endpoint that accepts connections and never answers, one that drips, and a captive portal
    that answers with a web page all fail fast. The request runs in a daemon thread: a DNS
    lookup can hang far longer than any socket timeout, and we simply stop waiting for it.
    """
    import json
    import urllib.error
    import urllib.request

    url = _config_url(model_id)
    if urlparse(url).scheme not in ("http", "https"):
        return f"HF_ENDPOINT={_hub_endpoint()!r} is not an http(s) address"
    outcome: list[str | None] = []
    silent = f"the Hub did not answer within {timeout:g} s"

    def fetch():
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "vit-tutorial"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = response.read(64 * 1024 + 1)
            config = json.loads(body.decode("utf-8"))
            if not isinstance(config, dict) or config.get("model_type") != "vit":
                outcome.append("the Hub address answered, but not with the model's config (a captive portal or proxy page?)")
            else:
                outcome.append(None)
        except urllib.error.HTTPError as err:
            outcome.append(f"the Hub answered HTTP {err.code} {err.reason}")
        except (ValueError, UnicodeDecodeError):
            outcome.append("the Hub address answered, but not with the model's config (a captive portal or proxy page?)")
        except Exception as err:  # URLError, OSError, timeouts, http.client errors: all mean "no"
            reason = getattr(err, "reason", err)
            if isinstance(err, TimeoutError) or isinstance(reason, TimeoutError):
                # the socket's own timeout can fire a moment before the join below gives up
                # (a loaded machine): it is the same event, so it gets the same words
                outcome.append(silent)
            else:
                outcome.append(f"the Hub could not be reached ({reason})")

    thread = threading.Thread(target=fetch, daemon=True, name="vit_tutorial-hub-probe")
    thread.start()
    thread.join(timeout)
    if thread.is_alive() or not outcome:
        return silent
    return outcome[0]


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """True when the Hub serves the checkpoint's config within ``timeout`` seconds (see :func:`probe_hub`)."""
    return probe_hub(timeout) is None


def _pickle_only_cached(model_id: str = MODEL_ID) -> bool:
    """The cache holds the config and a ``pytorch_model.bin``, but no safetensors file."""
    from huggingface_hub import try_to_load_from_cache

    found = [try_to_load_from_cache(model_id, f) for f in ("config.json", "pytorch_model.bin")]
    return all(isinstance(path, str) and os.path.exists(path) for path in found)


def _how_to_get_weights() -> str:
    return (
        f"The pretrained weights of {MODEL_ID} are not in the local HuggingFace cache and the "
        f"Hub ({_hub_endpoint()}) can't be reached. To get them, either:\n"
        f"  - connect to the internet once and run: python -c \"import vit_tutorial; "
        f"vit_tutorial.load_model('pretrained')\"  (they are cached for offline use), or\n"
        f"  - point HF_HOME at a HuggingFace cache that already holds {MODEL_ID}.\n"
        f"Or use random weights: load_model('random') / {WEIGHTS_ENV}=random."
    )


# --------------------------------------------------------------------------- building


def vit_config(**overrides):
    """The ``google/vit-base-patch16-224`` config, built locally (no download)."""
    from transformers import ViTConfig

    labels = imagenet_labels()
    kwargs = dict(
        id2label={i: name for i, name in enumerate(labels)},
        label2id={name: i for i, name in enumerate(labels)},
        attn_implementation="eager",
    )
    kwargs.update(overrides)
    return ViTConfig(**kwargs)


def image_processor(size: int = 224):
    """An image processor equal to the checkpoint's: resize to ``size`` (bilinear), x/255, (x-0.5)/0.5.

    On transformers 5.x the PIL-backed processor is used, so no torchvision is needed
    and no fallback warning is printed.
    """
    import transformers

    cls = getattr(transformers, "ViTImageProcessorPil", None) or transformers.ViTImageProcessor
    from PIL import Image

    return cls(
        do_resize=True,
        size={"height": size, "width": size},
        resample=Image.BILINEAR,
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )


RANDOM_WEIGHTS_SCHEME = 2  # bump when the way random weights are drawn changes (invalidates the cache)
CACHE_ENV = "VIT_TUTORIAL_CACHE"  # a folder for cached random weights, or "off"
_CACHE_MIN_PARAMETERS = 2_000_000  # smaller models are drawn faster than they are read back


def _random_weights_cache_dir() -> str | None:
    """Where seeded random weights are kept between runs (``None``: don't cache)."""
    setting = os.environ.get(CACHE_ENV, "").strip()
    if setting.lower() in ("off", "0", "no", "false", "none"):
        return None
    if setting:
        return os.path.join(os.path.expanduser(setting), "random-weights")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vit_tutorial", "random-weights")


def _draw_random_weights(model, seed: int, std: float) -> dict[str, torch.Tensor]:
    """Seeded random weights for every parameter, drawn from a private generator.

    Matrices, ``cls_token`` and ``position_embeddings`` ~ N(0, std), as HuggingFace
    initialises them. Unlike HuggingFace's init (biases 0, LayerNorm gamma 1 and beta 0),
    biases are also N(0, std), and LayerNorm gamma is 1 + N(0, std) and beta N(0, std):
    with all-zero biases and identity norms, a helper that forgot a bias, gamma or beta
    would still pass every equality check in the book. ``mask_token`` (unused here) is 0.
    """
    gen = torch.Generator().manual_seed(seed)
    weights = {}
    for prefix, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            full = f"{prefix}.{name}" if prefix else name
            value = torch.empty(param.shape, dtype=param.dtype).normal_(0.0, std, generator=gen)
            if name == "mask_token":
                value.zero_()
            elif isinstance(module, torch.nn.LayerNorm) and name == "weight":
                value += 1.0
            weights[full] = value
    return weights


def _notice(message: str) -> None:
    print(f"[vit_tutorial] {message}", file=sys.stderr)


_STALE_TMP_S = 300  # a .tmp older than this was left by a writer that died (a write takes seconds)


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


def _read_verified(path: str, shapes) -> dict[str, torch.Tensor] | None:
    """The cached weights at ``path`` when they are intact, else ``None`` (after a one-line notice).

    Intact: the file's SHA-256 equals the one recorded beside it when it was written, every
    tensor has the expected name, shape and dtype, and no value is NaN or infinite.
    """
    from safetensors.torch import load_file

    if not os.path.exists(path):
        return None
    if not os.path.exists(path + ".sha256"):
        _notice(f"the cached random weights in {path} have no checksum (an older version wrote them); drawing them again.")
        return None
    try:
        with open(path + ".sha256", encoding="ascii") as f:
            recorded = f.read().strip()
        if _file_sha256(path) != recorded:
            _notice(f"the cached random weights in {path} are damaged (checksum mismatch); drawing them again.")
            return None
        weights = load_file(path)
    except Exception as err:  # missing checksum, unreadable or malformed file
        _notice(f"the cached random weights in {path} can't be used ({type(err).__name__}); drawing them again.")
        return None
    if sorted((n, list(t.shape), str(t.dtype)) for n, t in weights.items()) != sorted(shapes):
        _notice(f"the cached random weights in {path} don't fit this model; drawing them again.")
        return None
    if not all(bool(torch.isfinite(t).all()) for t in weights.values()):
        _notice(f"the cached random weights in {path} contain NaN or infinite values; drawing them again.")
        return None
    return weights


def _write_cache(folder: str, path: str, weights: dict[str, torch.Tensor], seed: int) -> None:
    """Write ``weights`` and their checksum atomically; any failure is a one-line warning."""
    import tempfile

    from safetensors.torch import save_file

    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        os.close(fd)
        save_file(weights, tmp, metadata={"seed": str(seed), "scheme": str(RANDOM_WEIGHTS_SCHEME)})
        digest = _file_sha256(tmp)
        with open(tmp + ".sha256.tmp", "w", encoding="ascii") as f:
            f.write(digest + "\n")
        os.replace(tmp + ".sha256.tmp", path + ".sha256")
        os.replace(tmp, path)  # atomic: parallel kernels never read a half-written file
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


def _cached_random_weights(model, seed: int, std: float) -> dict[str, torch.Tensor]:
    """:func:`_draw_random_weights`, read from / written to a safetensors file in the user cache.

    Drawing 86 M normal numbers takes seconds on a small CPU; reading them back is a memory
    map. The file name hashes everything the values depend on (seed, std, every parameter's
    name/shape/dtype, the drawing scheme, torch's version). A SHA-256 of the file is kept beside
    it (``.sha256``); a file that is missing, damaged, mismatched or holds NaN is drawn again
    (with a one-line notice), a cache that can't be written is skipped (with a one-line warning),
    and ``.tmp`` files left by a writer that was killed are removed.
    """
    import hashlib
    import json

    shapes = [(n, list(p.shape), str(p.dtype)) for n, p in model.named_parameters()]
    folder = _random_weights_cache_dir()
    if folder is None or sum(p.numel() for p in model.parameters()) < _CACHE_MIN_PARAMETERS:
        return _draw_random_weights(model, seed, std)
    _remove_stale_tmp(folder)
    key = json.dumps([RANDOM_WEIGHTS_SCHEME, seed, std, torch.__version__.split("+")[0], shapes])
    path = os.path.join(folder, f"vit-seed{seed}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.safetensors")
    weights = _read_verified(path, shapes)
    if weights is not None:
        return weights
    weights = _draw_random_weights(model, seed, std)
    _write_cache(folder, path, weights, seed)
    return weights


def random_model(seed: int = 0, config=None):
    """A ViT with seeded random weights: same architecture, same labels, not trained.

    The weights are N(0, ``initializer_range``) (biases and LayerNorm parameters perturbed
    too, see :func:`_draw_random_weights`), drawn from a private generator (the caller's random
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
    weights = _cached_random_weights(model, seed, float(config.initializer_range))
    model.load_state_dict(weights, strict=True, assign=True)
    left = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
    if left:
        raise RuntimeError(f"random_model: no values for {left[:3]}; this ViT has parts the book does not know")
    return model.eval()


def _pretrained_model(local_only: bool):
    from transformers import ViTForImageClassification
    from transformers.utils import logging as hf_logging

    # transformers 5 shows a "Loading weights" progress bar (a widget in a notebook) for a
    # load that takes a second; keep it out of the book's outputs. Downloads keep their bars.
    was_enabled = hf_logging.is_progress_bar_enabled()
    if local_only:
        hf_logging.disable_progress_bar()
    try:
        return ViTForImageClassification.from_pretrained(
            MODEL_ID, attn_implementation="eager", use_safetensors=True, local_files_only=local_only
        ).eval()
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def resolve_source(source: str | None = None) -> tuple[str, str]:
    """Decide which weights to use, fast and without waiting on a missing network.

    Returns ``(name, reason)``; ``name`` is ``"pretrained"`` or ``"random"``.
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
    if _pickle_only_cached():
        pickle_note = (" (the cache holds only pytorch_model.bin, a pickle checkpoint; this book loads "
                       "safetensors only: download model.safetensors once with a network)")
    if _offline_by_env():
        reason = "not cached" + pickle_note + ", and HF_HUB_OFFLINE is set"
    else:
        problem = probe_hub()
        if problem is None:
            return "pretrained", "downloading from the Hub"
        reason = "not cached" + pickle_note + ", and " + problem
    if key == "pretrained":
        raise WeightsUnavailableError(_how_to_get_weights() + f"\n(Details: {reason}.)")
    return "random", f"pretrained weights unavailable ({reason}); using random weights"


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
    requested = str(source if source is not None else os.environ.get(WEIGHTS_ENV, "auto")).strip().lower()
    name, reason = resolve_source(source)
    dev = device(device_name)
    model = None
    if name == "pretrained":
        try:
            model = _pretrained_model(local_only=reason.startswith("found"))
        except Exception as err:  # OSError, a broken download, an unreadable cache file, ...
            if requested != "auto":
                raise WeightsUnavailableError(_how_to_get_weights() + f"\n(Details: {err})") from None
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            name, reason = "random", f"the pretrained weights could not be loaded ({first[:200]}); using random weights"
    if model is not None:
        info = WeightSource("pretrained", MODEL_ID, trained=True, reason=reason)
    elif name == "tiny-digits":  # appendix A2: a small ViT trained on scikit-learn's digits, shipped in the package
        from .tiny import WEIGHTS_PATH, load_tiny

        model = load_tiny()
        info = WeightSource("tiny-digits", f"vit_tutorial/{WEIGHTS_PATH}", trained=True, reason=reason)
    elif name in ("trained-like", "trained-like-heavy"):
        from .trained_like import trained_like_model

        model = trained_like_model(seed, profile="heavy" if name.endswith("heavy") else "standard")
        info = WeightSource(name, f"{MODEL_ID} architecture, synthetic", trained=False, reason=reason, seed=seed)
    else:
        model = random_model(seed)
        info = WeightSource("random", f"{MODEL_ID} architecture", trained=False, reason=reason, seed=seed)
    model = model.to(dev)
    if verbose:
        print(info, file=sys.stdout)
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
    from .bridge import encoder_layers, layer_parts, vit_model

    vit = vit_model(model)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    emb = vit.embeddings
    layers = encoder_layers(model)
    n = len(layers)
    parts = [layer_parts(model, i) for i in range(n)]
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
