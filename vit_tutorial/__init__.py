"""vit_tutorial: the helpers behind the book "The Vision Transformer, line by line".

Importing the package is cheap; torch and transformers load on first use of a helper.

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
    "imagenet_labels": "model",
    "image_processor": "model",
    "random_model": "model",
    "vit_config": "model",
    "top_predictions": "model",
    "format_predictions": "model",
    "WeightSource": "model",
    "WeightsUnavailableError": "model",
    "MODEL_ID": "model",
    "load_image": "images",
    "sample_path": "images",
    "sample_credit": "images",
    "preprocess": "images",
    "pixel_values": "images",
    "ImageLoadError": "images",
    "layer_parts": "bridge",
    "encoder_layers": "bridge",
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
