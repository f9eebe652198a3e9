"""Section 3: how long the package takes to decide on and build a model, in fresh interpreters."""
from __future__ import annotations

import json
import sys
import tempfile

from common import loadavg, median, run_python

IMPORT_PACKAGE = """
import json, sys, time
t = time.perf_counter(); import vit_tutorial; dt = time.perf_counter() - t
print(json.dumps({"s": dt, "torch_imported": "torch" in sys.modules, "transformers_imported": "transformers" in sys.modules}))
"""
IMPORT_STACK = """
import json, time
t = time.perf_counter(); import torch, transformers; print(json.dumps({"s": time.perf_counter() - t}))
"""
DECIDE = """
import json, time, torch, transformers
from vit_tutorial.weights.sources import resolve_source
t = time.perf_counter(); name, reason = resolve_source("auto"); dt = time.perf_counter() - t
print(json.dumps({"s": dt, "source": name, "reason": reason}))
"""
RANDOM_MODEL = """
import json, time, torch, transformers, vit_tutorial as vt
from transformers import ViTForImageClassification  # the modeling module loads lazily: not part of the timing
import safetensors.torch
config = vt.vit_config()
t = time.perf_counter(); model = vt.random_model(seed=0, config=config); dt = time.perf_counter() - t
print(json.dumps({"s": dt}))
"""
HF_INIT = """
import json, time, torch, transformers, vit_tutorial as vt
from transformers import ViTForImageClassification
config = vt.vit_config()
t = time.perf_counter(); torch.manual_seed(0); model = ViTForImageClassification(config).eval()
print(json.dumps({"s": time.perf_counter() - t}))
"""
LOAD_MODEL = """
import json, time
t = time.perf_counter()
import vit_tutorial as vt
model, processor, source = vt.load_model(verbose=False)
print(json.dumps({"s": time.perf_counter() - t, "source": source.name}))
"""


def _repeat(code: str, n: int, env: dict | None = None) -> dict:
    runs = [run_python(code, env) for _ in range(n)]
    out = {"median_s": median([r["s"] for r in runs]), "runs_s": [r["s"] for r in runs]}
    out.update({k: v for k, v in runs[-1].items() if k != "s"})
    return out


def bench(quick: bool, log=print) -> dict:
    n = 1 if quick else 3
    results = {"load_before": loadavg()}
    with tempfile.TemporaryDirectory(prefix="vit-startup-") as tmp:
        no_hub = {"HF_HOME": f"{tmp}/hf", "HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": "",
                  "VIT_TUTORIAL_WEIGHTS": "auto"}  # nothing cached; whatever network there is
        results["import_vit_tutorial"] = _repeat(IMPORT_PACKAGE, n)
        results["import_torch_transformers"] = _repeat(IMPORT_STACK, n)
        results["auto_decision_no_cache"] = _repeat(DECIDE, n, no_hub)
        results["auto_decision_offline_env"] = _repeat(DECIDE, n, {**no_hub, "HF_HUB_OFFLINE": "1"})
        log(f"  auto decision: {results['auto_decision_no_cache']['median_s']:.2f} s "
            f"({results['auto_decision_no_cache']['reason']})")
        cold = {"VIT_TUTORIAL_CACHE": f"{tmp}/cache"}
        results["random_model_cold_cache"] = run_python(RANDOM_MODEL, cold) | {"note": "draws and writes the cache"}
        results["random_model_warm_cache"] = _repeat(RANDOM_MODEL, n, cold)
        results["random_model_no_cache"] = _repeat(RANDOM_MODEL, n, {"VIT_TUTORIAL_CACHE": "off"})
        results["hf_init"] = _repeat(HF_INIT, n)
        results["load_model_random_total"] = _repeat(LOAD_MODEL, n, {**cold, "VIT_TUTORIAL_WEIGHTS": "random"})
        log(f"  random_model: warm cache {results['random_model_warm_cache']['median_s']:.2f} s, "
            f"no cache {results['random_model_no_cache']['median_s']:.2f} s, HF init {results['hf_init']['median_s']:.2f} s")
    results["load_after"] = loadavg()
    return results


if __name__ == "__main__":
    print(json.dumps(bench(quick="--quick" in sys.argv), indent=1))
