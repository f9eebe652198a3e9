"""The pretrained checkpoint: in the local HuggingFace cache, or on a Hub that answers in time.

:func:`probe_hub` decides "does the Hub answer?" within about two seconds in all (see
:mod:`vit_tutorial.inputs.net`): a plain ``from_pretrained`` retries for 20-45 s offline.
"""
from __future__ import annotations

import json
import os
from urllib.parse import urlparse

from ..inputs import net
from .checkpoint import MODEL_ID

HUB_PROBE_TIMEOUT_S = 2.0  # the whole probe: connect, request, answer, all of it
_CONFIG_MAX_BYTES = 64 * 1024  # a model's config.json is a few KiB; a larger answer is some other page


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def offline_by_env() -> bool:
    """``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` is set to a true value."""
    return any(
        os.environ.get(var, "").strip().upper() in ("1", "ON", "YES", "TRUE")
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def is_cached(model_id: str = MODEL_ID) -> bool:
    """True when the config and safetensors weights of ``model_id`` are in the local HF cache."""
    from huggingface_hub import try_to_load_from_cache

    found = [try_to_load_from_cache(model_id, f) for f in ("config.json", "model.safetensors")]
    return all(isinstance(path, str) and os.path.exists(path) for path in found)


def pickle_only_cached(model_id: str = MODEL_ID) -> bool:
    """The cache holds the config and a ``pytorch_model.bin``, but no safetensors file."""
    from huggingface_hub import try_to_load_from_cache

    found = [try_to_load_from_cache(model_id, f) for f in ("config.json", "pytorch_model.bin")]
    return all(isinstance(path, str) and os.path.exists(path) for path in found)


def _config_url(model_id: str = MODEL_ID) -> str:
    return f"{hub_endpoint().rstrip('/')}/{model_id}/resolve/main/config.json"


def probe_hub(timeout: float = HUB_PROBE_TIMEOUT_S, model_id: str = MODEL_ID) -> str | None:
    """Does the Hub serve ``model_id``'s config within ``timeout`` seconds *in total*?

    Returns ``None`` when it does, else the reason it doesn't, in words. The whole exchange
    (name lookup, connect, request, every byte of the answer) must finish by the deadline
    (:func:`vit_tutorial.inputs.net.fetch`), so an endpoint that accepts connections and never
    answers, one that drips, and a captive portal that answers with a web page all fail fast.
    """
    url = _config_url(model_id)
    if urlparse(url).scheme not in ("http", "https"):
        return f"HF_ENDPOINT={hub_endpoint()!r} is not an http(s) address"
    portal = "the Hub address answered, but not with the model's config (a captive portal or proxy page?)"
    try:
        body = net.fetch(url, timeout, _CONFIG_MAX_BYTES, thread_name="vit_tutorial-hub-probe")
    except net.TimedOut:  # a silent or dripping server, or the socket's own timeout a moment before ours
        return f"the Hub did not answer within {timeout:g} s"
    except net.HTTPStatus as err:
        return f"the Hub answered HTTP {err.code} {err.reason}"
    except net.TooLarge:
        return portal
    except net.Unreachable as err:
        return f"the Hub could not be reached ({err.reason})"
    except net.FetchError as err:
        return f"the Hub could not be reached ({err})"
    try:
        config = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return portal
    if not isinstance(config, dict) or config.get("model_type") != "vit":
        return portal
    return None


def how_to_get_weights(weights_env: str) -> str:
    """What to do when the pretrained weights are neither cached nor reachable."""
    return (
        f"The pretrained weights of {MODEL_ID} are not in the local HuggingFace cache and the "
        f"Hub ({hub_endpoint()}) can't be reached. To get them, either:\n"
        f"  - connect to the internet once and run: python -c \"import vit_tutorial; "
        f"vit_tutorial.load_model('pretrained')\"  (they are cached for offline use), or\n"
        f"  - point HF_HOME at a HuggingFace cache that already holds {MODEL_ID}.\n"
        f"Or use random weights: load_model('random') / {weights_env}=random."
    )


def pretrained_model(local_only: bool):
    """``google/vit-base-patch16-224`` from the cache (``local_only``) or the Hub: safetensors, eager attention, eval mode."""
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
