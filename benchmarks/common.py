"""What every benchmark section shares: the machine record, robust timing, running commands."""
from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def loadavg() -> float | None:
    """The 1-minute load average (how busy the machine was), or None where unknown."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    """CPU model, cores, memory, GPU, and the versions that matter."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "torch_threads": torch.get_num_threads(),
        "memory_gib": memory_gib,
        "gpu": gpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in ("torch", "transformers", "jupyter-book", "nbmake", "safetensors")},
    }


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def interleaved(fns: dict, repeats: int, warmup: int = 1, sync=None, seed: int = 0) -> dict[str, list[float]]:
    """Time each zero-argument function ``repeats`` times, in a shuffled order each round.

    Interleaving (rather than all of A, then all of B) means a burst of load from other
    processes hits every candidate alike, so ratios of medians stay meaningful on a noisy
    machine. ``sync`` (e.g. ``torch.cuda.synchronize``) is called around each timing.
    """
    sync = sync or (lambda: None)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    sync()
    times = {name: [] for name in fns}
    order = list(fns)
    rng = random.Random(seed)
    for _ in range(repeats):
        rng.shuffle(order)
        for name in order:
            start = time.perf_counter()
            fns[name]()
            sync()
            times[name].append(time.perf_counter() - start)
    return times


def ratio_summary(ours: list[float], theirs: list[float]) -> dict:
    """Medians, and two ratio estimates: median of paired ratios and ratio of the minima."""
    pairs = [a / b for a, b in zip(ours, theirs)]
    return {
        "ours_median_s": median(ours),
        "theirs_median_s": median(theirs),
        "ratio": median(pairs),  # the headline figure: median of per-round ratios
        "ratio_of_minima": min(ours) / min(theirs),
        "repeats": len(pairs),
    }


def run_python(code: str, env: dict | None = None, timeout: float = 600) -> dict:
    """Run ``code`` in a fresh interpreter; it must print one JSON object as its last line."""
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed_command(cmd: list[str], env: dict | None = None, timeout: float = 1800) -> dict:
    """Run a command; its wall time, return code, and the tail of its output."""
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=ROOT, timeout=timeout)
        rc, out = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as err:
        rc, out = "timeout", str(err.stdout or "")
    return {"wall_s": time.perf_counter() - start, "rc": rc, "tail": out[-1500:]}
