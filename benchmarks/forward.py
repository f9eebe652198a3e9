"""Section 2: the from-scratch forward pass against HuggingFace's, on the same weights.

* ``vit_tutorial.scratch.vit_forward`` vs ``model(pixels)`` with eager attention;
* the SDPA variant: ``vit_forward(pixels, model, attention="sdpa")`` (chapter 4's
  ``self_attention_sdpa`` in every layer) vs ``model(pixels)`` with
  ``attn_implementation="sdpa"`` (same weights; HF reads the attention implementation from
  the config at each call), for the whole model and for one attention block.
"""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager

import torch

import vit_tutorial as vt
from common import interleaved, loadavg, ratio_summary
from vit_tutorial import bridge
from vit_tutorial.attention import self_attention_sdpa
from vit_tutorial.scratch import vit_forward


@contextmanager
def attn_implementation(model, name: str):
    """Switch the model's attention implementation for a while (same weights)."""
    configs = [m.config for m in model.modules() if hasattr(m, "config")]
    old = [c._attn_implementation for c in configs]
    for c in configs:
        c._attn_implementation = name
    try:
        yield model
    finally:
        for c, value in zip(configs, old):
            c._attn_implementation = value


def _one_device(model, dev: torch.device, batches, repeats: int, log) -> list[dict]:
    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    rows = []
    gen = torch.Generator().manual_seed(0)
    for batch in batches:
        pixels = torch.randn(batch, 3, 224, 224, generator=gen).to(dev)
        reps = max(6, repeats // 2) if dev.type == "cpu" and batch > 1 else repeats  # 12 rounds of ~1 s at batch 8
        with torch.no_grad():
            torch.testing.assert_close(vit_forward(pixels, model), model(pixels).logits, rtol=1e-4, atol=1e-4)
            fns = {"scratch": lambda: vit_forward(pixels, model), "hf_eager": lambda: model(pixels).logits}
            times = interleaved(fns, reps, sync=sync)
            row = {"device": dev.type, "batch": batch, "what": "vit_forward vs HF eager",
                   **ratio_summary(times["scratch"], times["hf_eager"]), "load": loadavg()}
            rows.append(row)
            log(f"  {dev.type} batch {batch}: scratch/HF eager = {row['ratio']:.3f}")
            with attn_implementation(model, "sdpa"):
                torch.testing.assert_close(vit_forward(pixels, model, attention="sdpa"), model(pixels).logits, rtol=1e-4, atol=1e-4)
                fns = {"scratch": lambda: vit_forward(pixels, model, attention="sdpa"), "hf_sdpa": lambda: model(pixels).logits}
                times = interleaved(fns, reps, sync=sync)
                row = {"device": dev.type, "batch": batch, "what": "SDPA from scratch vs HF sdpa",
                       **ratio_summary(times["scratch"], times["hf_sdpa"]), "load": loadavg()}
                rows.append(row)
                log(f"  {dev.type} batch {batch}: scratch SDPA/HF sdpa = {row['ratio']:.3f}")
                # one attention block: the helper itself, without the rest of the model around it
                parts = bridge.layer_parts(model, 0)
                hidden = torch.randn(batch, 197, model.config.hidden_size, generator=gen).to(dev)
                fns = {"scratch": lambda: self_attention_sdpa(hidden, parts),
                       "hf_sdpa": lambda: bridge.call_attention(model, 0, hidden)[0]}
                times = interleaved(fns, reps * 4, sync=sync)
                row = {"device": dev.type, "batch": batch, "what": "self_attention_sdpa vs HF sdpa (one block)",
                       **ratio_summary(times["scratch"], times["hf_sdpa"]), "load": loadavg()}
                rows.append(row)
                log(f"  {dev.type} batch {batch}: one attention block, SDPA = {row['ratio']:.3f}")
    return rows


def helpers(dev: torch.device, batch: int, repeats: int) -> list[dict]:
    """Where the from-scratch forward loses time: each helper against the fused PyTorch op it re-implements."""
    import torch.nn.functional as F

    from vit_tutorial.attention import linear
    from vit_tutorial.layernorm import layer_norm
    from vit_tutorial.mlp import gelu

    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 197, 768, generator=gen).to(dev)
    h = torch.randn(batch, 197, 3072, generator=gen).to(dev)
    w, b = torch.ones(768, device=dev), torch.zeros(768, device=dev)
    fc = torch.nn.Linear(768, 3072).to(dev)
    cases = {
        "layer_norm vs F.layer_norm": (lambda: layer_norm(x, w, b, 1e-12), lambda: F.layer_norm(x, (768,), w, b, 1e-12)),
        "gelu vs F.gelu": (lambda: gelu(h), lambda: F.gelu(h)),
        "linear vs F.linear": (lambda: linear(x, fc), lambda: F.linear(x, fc.weight, fc.bias)),
    }
    rows = []
    with torch.no_grad():
        for what, (ours, theirs) in cases.items():
            times = interleaved({"ours": ours, "torch": theirs}, repeats, sync=sync)
            rows.append({"device": dev.type, "batch": batch, "what": what, **ratio_summary(times["ours"], times["torch"])})
    return rows


def bench(quick: bool, log=print) -> dict:
    model = vt.random_model(seed=0)
    devices = [torch.device("cpu")] + ([vt.device("cuda")] if torch.cuda.is_available() else [])  # vt.device: TF32 off
    rows = []
    for dev in devices:
        model = model.to(dev)
        rows += _one_device(model, dev, (1, 8), 8 if quick else 24, log)
        parts = helpers(dev, 8, 10 if quick else 30)
        log("  helpers, batch 8: " + ", ".join(f"{r['what'].split()[0]} {r['ratio']:.2f}" for r in parts))
        rows += parts
    return {"rows": rows, "torch_threads": torch.get_num_threads()}


if __name__ == "__main__":
    print(json.dumps(bench(quick="--quick" in sys.argv), indent=1))
