"""Built-ins an exercise asks the learner to write themselves, caught while the learner's function runs.

An exercise that says "not ``torch.nn.functional.gelu``" or "without any convolution" declares
what it forbids with the constants below (``run_check(..., forbidden=(GELU,))``). The learner's
function then runs under a :class:`Recorder`:

- a ``TorchFunctionMode`` sees every torch function the function calls (``fn:<name>``), and
- a ``TorchDispatchMode`` sees every ATen operator the function reaches, whatever the route:
  ``F.gelu``, ``nn.GELU``, the model's activation module and ``torch._C._nn.gelu`` all end in
  ``aten.gelu``; ``F.layer_norm``, ``nn.LayerNorm`` and ``torch.layer_norm`` in
  ``aten.native_layer_norm``; ``F.conv2d``, ``nn.Conv2d`` and ``torch.convolution`` in
  ``aten.convolution``; ``F.scaled_dot_product_attention`` in one of the fused
  ``aten._scaled_dot_product_*`` kernels (torch 2.13) - except where it falls back to its math
  path, which decomposes into plain matmuls and softmax before the dispatcher: there the function
  mode's ``fn:scaled_dot_product_attention`` gives it away. Reading the source would miss an
  alias, a module or a call made from a helper; these two do not.
- a global forward pre-hook sees every ``nn.Module`` call, for exercises that build a model's
  forward from its weight tensors ("don't call the model's modules").

Where the learner's function runs elsewhere (the grader calls it in the notebook's kernel), the
caller records there with the same two tools and hands the names back with :func:`report`.
A learner who sets out to defeat the recorder inside their own kernel can; this catches the
built-in a learner reaches for, not a deliberate attack on the grader.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode


@dataclass(frozen=True)
class Forbidden:
    """A built-in an exercise asks the learner not to use.

    ``name``: how the verdict names it; ``ops``: prefixes of the ATen operator names it reaches
    (``str(op)``, e.g. ``"aten.gelu."``); ``via``: the other routes to it, for the message;
    ``modules``: any call of a module of the model given to the function counts.
    """

    name: str
    ops: tuple[str, ...] = ()  # ATen operator names ("aten.gelu.") and torch function names ("fn:gelu"), as prefixes
    via: str = ""
    modules: bool = False


GELU = Forbidden("torch.nn.functional.gelu", ("aten.gelu.", "fn:gelu"), via="directly, or through nn.GELU or a model's activation module")
LAYER_NORM = Forbidden("torch.nn.functional.layer_norm", ("aten.native_layer_norm.", "aten.layer_norm.", "fn:layer_norm"),
                       via="directly, or through nn.LayerNorm or a model's LayerNorm modules")
OTHER_NORMS = Forbidden("a built-in normalisation (torch.nn.functional.group_norm, batch_norm or instance_norm)",
                        ("aten.native_group_norm.", "aten.group_norm.", "aten.native_batch_norm.", "aten._native_batch_norm",
                         "aten.batch_norm.", "aten._batch_norm", "aten.cudnn_batch_norm.", "aten.miopen_batch_norm.",
                         "fn:group_norm", "fn:batch_norm", "fn:instance_norm"),
                        via="directly, or through nn.GroupNorm, nn.BatchNorm1d and the like")
CONVOLUTION = Forbidden("a convolution (torch.nn.functional.conv2d)",
                        ("aten.convolution.", "aten._convolution.", "aten.conv", "aten.cudnn_convolution", "aten.mkldnn_convolution",
                         "aten.miopen_convolution", "aten._slow_conv", "aten.slow_conv", "aten.thnn_conv", "aten._nnpack_spatial_convolution",
                         "fn:conv"),
                        via="directly, or through nn.Conv2d or the model's patch projection")
SDPA = Forbidden("torch.nn.functional.scaled_dot_product_attention",
                 ("aten.scaled_dot_product_attention", "aten._scaled_dot_product", "aten._fused_sdp", "aten._flash_attention",
                  "aten._efficient_attention", "aten._cudnn_attention", "fn:scaled_dot_product_attention",
                  "fn:multi_head_attention_forward"),
                 via="directly, or through nn.MultiheadAttention or a model's attention module")
CROSS_ENTROPY = Forbidden("torch.nn.functional.cross_entropy", ("aten.cross_entropy_loss.", "aten.nll_loss", "fn:cross_entropy", "fn:nll_loss"),
                          via="or nll_loss, directly or through nn.CrossEntropyLoss")
MODEL_MODULES = Forbidden("the model's own modules", modules=True)


class _OpRecorder(TorchDispatchMode):
    def __init__(self, ops: set):
        super().__init__()
        self.ops = ops

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(str(func))
        return func(*args, **(kwargs or {}))


class _FunctionRecorder(TorchFunctionMode):
    def __init__(self, ops: set):
        super().__init__()
        self.ops = ops

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.ops.add(f"fn:{getattr(func, '__name__', '')}")
        return func(*args, **(kwargs or {}))


_ACTIVE: list["Recorder"] = []


def report(ops=(), modules=()) -> None:
    """Add operators and ``(name, class)`` module calls recorded where the function really ran (the grader's
    kernel) to the recorder that is active here, if any. Anything that is not a string is ignored."""
    if not _ACTIVE:
        return
    recorder = _ACTIVE[-1]
    recorder.remote_ops.update(op for op in list(ops)[:10000] if isinstance(op, str))
    for entry in list(modules)[:1000]:
        if isinstance(entry, (list, tuple)) and len(entry) == 2 and all(isinstance(e, str) for e in entry):
            if tuple(entry) not in recorder.modules:
                recorder.modules.append(tuple(entry))


class Recorder:
    """Records the ATen operators and the modules of ``models`` called inside ``with Recorder(...)``."""

    def __init__(self, models=()):
        self._names = {id(m): (name or type(model).__name__, type(m).__name__)
                       for model in models for name, m in model.named_modules()}
        self.ops: set[str] = set()
        self.modules: list[tuple[str, str]] = []  # (qualified name, class) of each model module called, in order
        self.remote_ops: set[str] = set()  # reported by the process the function ran in (see report)

    def _hook(self, module, args):
        entry = self._names.get(id(module))
        if entry is not None and entry not in self.modules:
            self.modules.append(entry)

    def __enter__(self):
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(torch.nn.modules.module.register_module_forward_pre_hook(self._hook))  # removed on exit
        self._stack.enter_context(_FunctionRecorder(self.ops))
        self._stack.enter_context(_OpRecorder(self.ops))
        _ACTIVE.append(self)
        self._stack.callback(_ACTIVE.remove, self)
        return self

    def __exit__(self, *exc):
        self._stack.__exit__(*exc)
        self.ops |= self.remote_ops
        return False

    def used(self, forbidden) -> list[str]:
        """How the function broke each rule of ``forbidden`` it broke, in words (empty: none)."""
        found = []
        for rule in forbidden:
            if rule.modules and self.modules:
                shown = ", ".join(f"`{name}` ({cls})" for name, cls in self.modules[:3]) + (", ..." if len(self.modules) > 3 else "")
                found.append(f"your function calls {rule.name} ({shown}) instead of using their weight tensors")
            elif rule.ops and any(op.startswith(rule.ops) for op in self.ops):
                found.append(f"your function uses {rule.name}" + (f" ({rule.via})" if rule.via else ""))
        return found


def verdict(used: list[str]) -> str:
    """The message for a function that used forbidden built-ins."""
    return ("; ".join(used) + " - the exercise asks you to write that part yourself, so a built-in that does the work "
            "gets no credit: replace it with your own tensor operations")
