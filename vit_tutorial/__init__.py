"""vit_tutorial: the helpers behind the book "The Vision Transformer, line by line".

Importing the package is cheap; torch and transformers load on first use of a helper.
The top level reads like the book: one module per chapter (``model`` and ``images`` for
chapter 1, ``patches``, ``embeddings``, ``attention``, ``layernorm``, ``residual``, ``mlp``,
``encoder``, ``head``, ``scratch``, ``training``, ``tiny``, ``insights``), the shared pieces
(``primitives``, ``bridge``, ``tolerance``), and rooms: ``weights/``, ``inputs/``,
``figures/``, ``explorers/``, ``exercises/``, ``course/``. CONTRIBUTING.md has the map.

    >>> import vit_tutorial as vt
    >>> model, processor, source = vt.load_model()
    >>> image = vt.load_image("cat")
"""
from importlib import import_module

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "load_model": "model",
    "device": "model",
    "top_predictions": "model",
    "format_predictions": "model",
    "imagenet_labels": "weights.checkpoint",
    "image_processor": "weights.checkpoint",
    "vit_config": "weights.checkpoint",
    "MODEL_ID": "weights.checkpoint",
    "random_model": "weights.random_weights",
    "WeightSource": "weights.sources",
    "WeightsUnavailableError": "weights.sources",
    "load_image": "images",
    "sample_path": "images",
    "sample_credit": "images",
    "preprocess": "images",
    "pixel_values": "images",
    "ImageLoadError": "images",
    "layer_parts": "bridge",
    "encoder_layers": "bridge",
    "show_source": "listing",
    "show_code": "listing",
}

__all__ = sorted(_EXPORTS)


if __import__("os").environ.get("VIT_TUTORIAL_DARK_FIGURES") == "1":  # the book's build (book/_ext/dark_figures.py)
    from .figures.dark import install as _install_dark_figures

    _install_dark_figures()


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vit_tutorial' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
