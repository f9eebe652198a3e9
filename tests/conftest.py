"""Shared fixtures. Nothing here touches the network.

torch and the package are imported by the fixtures that use them, not here: xdist's controller loads this file too,
and would import them for nothing (about 2.5 s of CPU in each of make test's four pytest runs that load it).
"""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported anywhere
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import tqdm  # noqa: E402

# no monitor thread: tqdm starts one with its first bar and keeps it after the bar closes (transformers 5's
# save_pretrained shows "Writing model shards"), and a module must leave no thread running (no_thread_left_running)
tqdm.tqdm.monitor_interval = 0

from _module_order import longest_first, pytest_configure_node  # noqa: E402, F401 - xdist's hook, in the controller

if TYPE_CHECKING:
    import torch


@pytest.fixture(scope="module", autouse=True)
def no_thread_left_running(request):
    """A module whose tests leave a Python thread running fails. The grader forks its workers only from a
    process without threads (course.isolation._threaded): after a leftover thread, every grader test later on
    that xdist worker started each worker as a fresh subprocess, and the attack catalogue took 185 s instead of 44."""
    before = set(threading.enumerate())
    yield
    left = [thread for thread in threading.enumerate() if thread not in before]
    for thread in left:
        thread.join(timeout=5)
    if running := [thread.name for thread in left if thread.is_alive()]:
        pytest.fail(f"{request.module.__name__} left Python threads running: {running}. Stop them in the test or its "
                    "fixture (an IPython shell: use the ipython_shell fixture, whose history has no saving thread)")


@pytest.fixture
def ipython_shell():
    """An IPython shell, as a kernel has one, for tests of display formatters and extensions; without the SQLite
    history, whose saving thread would outlive the test (see no_thread_left_running). Cleared afterwards."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    InteractiveShell.clear_instance()
    yield InteractiveShell.instance(config=config)
    InteractiveShell.clear_instance()


@pytest.fixture(scope="session")
def dev() -> torch.device:
    """The device tests run on (VIT_TUTORIAL_DEVICE, else the best available)."""
    import vit_tutorial as vt

    return vt.device()


@pytest.fixture(scope="session")
def model(dev):
    """ViT-B/16 with seeded random weights (the exact checkpoint architecture), eval mode."""
    import vit_tutorial as vt

    return vt.random_model(seed=0).to(dev)


@pytest.fixture(scope="session")
def pretrained_model(dev):
    """The pretrained checkpoint, when it is in the local HF cache; otherwise the test is skipped."""
    import vit_tutorial as vt
    from vit_tutorial.weights.hub import is_cached

    if not is_cached():
        pytest.skip("pretrained google/vit-base-patch16-224 is not in the local HuggingFace cache")
    model, _, _ = vt.load_model("pretrained", verbose=False)
    return model.to(dev)


@pytest.fixture(scope="session")
def trained_like(dev):
    """ViT-B/16 with synthetic trained-like statistics (outlier channels, high-norm tokens,
    spread gamma, peaked attention, spread logits): see vit_tutorial.weights.trained_like."""
    from vit_tutorial.weights.trained_like import trained_like_model

    return trained_like_model(seed=0).to(dev)


@pytest.fixture(scope="session")
def trained_like_heavy(dev):
    """The harder trained-like profile: six tokens of norm ~4000 that the others attend to, small
    outlier channels (see vit_tutorial.weights.trained_like, ``profile="heavy"``)."""
    from vit_tutorial.weights.trained_like import trained_like_model

    return trained_like_model(seed=0, profile="heavy").to(dev)


@pytest.fixture(params=["random", "trained-like", "trained-like-heavy", pytest.param("pretrained", marks=pytest.mark.pretrained)])
def any_model(request, model):
    """Each test using this runs on random weights, on both trained-like profiles, and on the
    pretrained checkpoint when it is cached (``pytest -m pretrained`` selects just those)."""
    if request.param == "random":
        return model
    if request.param == "trained-like":
        return request.getfixturevalue("trained_like")
    if request.param == "trained-like-heavy":
        return request.getfixturevalue("trained_like_heavy")
    return request.getfixturevalue("pretrained_model")


@pytest.fixture(scope="session")
def cat_pixels(dev) -> torch.Tensor:
    """The sample cat photo as pixel values (1, 3, 224, 224)."""
    import vit_tutorial as vt

    return vt.preprocess(vt.load_image("cat")).to(dev)


@pytest.fixture(scope="session")
def batch_pixels(dev) -> torch.Tensor:
    """The four sample photos as one batch (4, 3, 224, 224)."""
    import torch

    import vit_tutorial as vt

    return torch.cat([vt.preprocess(vt.load_image(n)) for n in ("cat", "coffee", "astronaut", "rocket")]).to(dev)


def pytest_collection_modifyitems(config, items):
    """Tests that run on the pretrained checkpoint carry the `pretrained` marker, so
    `pytest -m pretrained` (the book workflow) selects them; under ``--dist loadfile`` the longest modules go first
    (tests/_module_order.py)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        uses_pretrained = "pretrained_model" in getattr(item, "fixturenames", ())
        if uses_pretrained or (callspec is not None and callspec.params.get("any_model") == "pretrained"):
            item.add_marker(pytest.mark.pretrained)
    longest_first(config, items)


CHROMIUM = os.environ.get("VIT_TUTORIAL_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium (Debian's, through Playwright); skipped where there is none, a failure
    where VIT_TUTORIAL_REQUIRE_BROWSER=1 (CI)."""
    import shutil
    from pathlib import Path

    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        if os.environ.get("VIT_TUTORIAL_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()
