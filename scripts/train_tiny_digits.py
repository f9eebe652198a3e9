"""Train the tiny-digits ViT that ships with vit_tutorial, from the seed.

    python scripts/train_tiny_digits.py            # writes vit_tutorial/data/weights/tiny-digits.{safetensors,json}
    python scripts/train_tiny_digits.py --check    # trains again and compares with the shipped file, writes nothing

Training is seeded, runs on 2 CPU threads with deterministic kernels, so on the same machine and
the same torch / transformers versions it gives the same weights bit for bit. (Other CPUs or
library versions may round differently in the last bits; the accuracy stays about the same.)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402

from vit_tutorial import tiny  # noqa: E402
from vit_tutorial.weights import tiny as tiny_files  # noqa: E402

WEIGHTS_DIR = Path(tiny.__file__).parent / "data" / "weights"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="retrain and compare with the shipped weights; write nothing")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="folder to write tiny-digits.safetensors/.json into")
    args = parser.parse_args(argv)

    split = tiny.load_digits_split()
    config = tiny.tiny_config()
    run = tiny.train(config, split=split, **tiny.RECIPE)
    model = run.model
    accuracy = tiny.evaluate(model, tiny.digits_to_pixels(split.test_images), split.test_labels)
    print(f"held-out accuracy {accuracy:.4f} on {len(split.test_labels)} digits; "
          f"{run.steps} steps in {run.seconds:.1f} s on {tiny.THREADS} threads")

    if args.check:
        shipped = tiny_files.load_tiny()
        ours, theirs = tiny_files.canonical_state_dict(model), tiny_files.canonical_state_dict(shipped)
        same = ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
        worst = max((ours[k] - theirs[k]).abs().max().item() for k in ours) if ours.keys() == theirs.keys() else float("nan")
        print("identical to the shipped weights, bit for bit" if same else f"DIFFERENT from the shipped weights (largest difference {worst:.3g})")
        return 0 if same else 1

    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / "tiny-digits.safetensors"
    metrics = {
        "description": "tiny ViT trained on scikit-learn's digits by scripts/train_tiny_digits.py",
        "architecture": tiny_files.architecture(config),
        "num_labels": config.num_labels,
        "parameters": sum(p.numel() for p in model.parameters()),
        "recipe": tiny.RECIPE,
        "split": {"test_fraction": tiny.TEST_FRACTION, "seed": tiny.SEED, "train": len(split.train_labels), "test": len(split.test_labels)},
        "test_accuracy": accuracy,
        "steps": run.steps,
        "steps_per_epoch": run.steps // tiny.RECIPE["epochs"],
        "train_seconds": round(run.seconds, 1),
        "threads": tiny.THREADS,
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__},
        "test_accuracy_per_epoch": [round(a, 4) for a in run.test_accuracy],
        "loss_per_step": [round(v, 4) for v in run.losses],
    }
    tiny_files.save_tiny(model, weights)
    metrics["sha256"] = sha256(weights)
    metrics["file_bytes"] = weights.stat().st_size
    with open(args.out / "tiny-digits.json", "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=1)
        f.write("\n")
    print(f"wrote {weights} ({metrics['file_bytes'] / 1024:.0f} KiB, sha256 {metrics['sha256'][:12]}...) and tiny-digits.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
