"""An IPython kernel that records its own peak memory (RSS) for the notebook benchmark.

Started by Jupyter through a temporary kernelspec (see notebooks.py) exactly like the usual
``python -m ipykernel_launcher -f <connection file>``. At exit it writes
``{"start": ..., "pid": ..., "peak_rss_mib": ...}`` into ``$VIT_BENCH_RSS_DIR``.
"""
import atexit
import json
import os
import resource
import time

_OUT = os.environ.get("VIT_BENCH_RSS_DIR")
_START = time.time()


def _write() -> None:
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    record = {"start": _START, "pid": os.getpid(), "cwd": os.getcwd(), "peak_rss_mib": peak_kib / 1024}
    path = os.path.join(_OUT, f"{_START:.6f}-{os.getpid()}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(record, f)
    os.replace(path + ".tmp", path)


if _OUT:
    atexit.register(_write)  # (a sampling thread here made some kernels hang under nbmake: not used)

if __name__ == "__main__":
    import sys

    # like ``python -m ipykernel_launcher``: the notebook must not import this folder's modules
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
