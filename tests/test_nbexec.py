"""vit_tutorial.course.nbexec: no lost wake-ups while nbclient waits for a cell's reply.

The stress below is the race behind jupyter/nbclient#312, without a kernel: a client waits
for replies on a DEALER socket while it also sends ``comm_msg``s on that socket, as
nbclient's Output-widget stand-in does. With jupyter_client's own ``get_msg`` about 4% of the
waits slept until their timeout on this machine (13 of 300); with the sliced wait, none.
"""
from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

zmq = pytest.importorskip("zmq")
pytest.importorskip("jupyter_client")

import zmq.asyncio  # noqa: E402, F811  (zmq came from importorskip above)
from jupyter_client.channels import AsyncZMQSocketChannel  # noqa: E402
from jupyter_client.session import Session  # noqa: E402

from vit_tutorial.course import nbexec  # noqa: E402

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only

WAIT_S = 2.0  # each wait's timeout: a lost wake-up shows up as a wait this long


class SlicedChannel(AsyncZMQSocketChannel):
    get_msg = nbexec._sliced_get_msg


def _fake_kernel(socket, session: Session) -> None:
    """Answer each execute_request after up to 2 ms; ignore comm messages; stop on 'stop'."""
    rng = random.Random(1)
    while True:
        idents, msg = session.recv(socket, mode=0)
        if msg["msg_type"] == "stop":
            return
        if msg["msg_type"] == "execute_request":
            time.sleep(rng.random() * 0.002)
            session.send(socket, "execute_reply", {"status": "ok"}, parent=msg, ident=idents)


def _longest_waits(channel_cls, rounds: int) -> list[float]:
    """The time each round waited for its reply (sorted, longest last)."""

    async def run() -> list[float]:
        actx, ctx = zmq.asyncio.Context(), zmq.Context()
        client = actx.socket(zmq.DEALER)
        port = client.bind_to_random_port("tcp://127.0.0.1")
        kernel = ctx.socket(zmq.ROUTER)
        kernel.connect(f"tcp://127.0.0.1:{port}")
        session = Session(key=b"")
        thread = threading.Thread(target=_fake_kernel, args=(kernel, session), daemon=True)
        thread.start()
        channel = channel_cls(client, session)
        rng = random.Random(0)
        waits = []
        try:
            await asyncio.sleep(0.2)  # let the connection settle
            for _ in range(rounds):
                request = session.msg("execute_request", {})
                session.send(client, request)
                reply = asyncio.ensure_future(channel.get_msg(timeout=WAIT_S))
                for _ in range(rng.randint(0, 5)):  # the Output widget's comm_msgs, while we wait
                    await asyncio.sleep(rng.random() * 0.001)
                    session.send(client, "comm_msg", {"data": {}})
                start = time.monotonic()
                msg = await reply
                waits.append(time.monotonic() - start)
                assert msg["parent_header"]["msg_id"] == request["header"]["msg_id"]
        finally:
            session.send(client, "stop", {})
            thread.join(5)
            client.close(linger=0)
            kernel.close(linger=0)
            actx.term()
            ctx.term()
        return sorted(waits)

    return asyncio.run(run())


def test_sliced_wait_never_sleeps_through_a_reply():
    waits = _longest_waits(SlicedChannel, rounds=300)
    # a lost wake-up would cost WAIT_S; the slice bounds it by nbexec.SLICE_S (plus scheduling)
    assert waits[-1] < WAIT_S / 3, f"longest wait {waits[-1]:.2f} s; the 5 longest: {waits[-5:]}"


def test_sliced_wait_still_times_out():
    async def run():
        actx = zmq.asyncio.Context()
        sock = actx.socket(zmq.DEALER)
        sock.bind_to_random_port("tcp://127.0.0.1")
        try:
            channel = SlicedChannel(sock, Session(key=b""))
            start = time.monotonic()
            with pytest.raises(Exception) as caught:
                await channel.get_msg(timeout=0.35)
            elapsed = time.monotonic() - start
            zero_start = time.monotonic()
            with pytest.raises(Exception):
                await channel.get_msg(timeout=0)
            return caught.type.__name__, elapsed, time.monotonic() - zero_start
        finally:
            sock.close(linger=0)
            actx.term()

    name, elapsed, zero = asyncio.run(run())
    assert name == "Empty"
    # generous upper bounds: CI runs this on 2 loaded cores; a wait that ignored its timeout
    # would take far longer (or forever)
    assert 0.3 <= elapsed < 2.0, elapsed
    assert zero < 0.5, zero


def test_patch_is_installed_once_and_only_in_the_process_that_asks():
    code = (
        "from vit_tutorial.course import nbexec\n"
        "before = nbexec.patched()\n"
        "first, second = nbexec.patch(), nbexec.patch()\n"
        "print(before, first, second, nbexec.patched())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "False", "True"]


def test_pytest_runs_here_with_the_patch():
    # pyproject's addopts load vit_tutorial.course.nbexec as a plugin, so nbmake's runs are protected
    assert nbexec.patched()


def test_the_book_build_needs_no_patch():
    # The book's notebooks hold no ipywidgets Output widget any more (their widgets.interact
    # cells became vit_tutorial.explorers, which send nothing on the shell socket), so the
    # Sphinx build leaves jupyter_client alone. Should a notebook bring back an Output widget
    # (widgets.interact, widgets.Output), this fails: put nbexec.patch() back in book_fixes.setup.
    import json

    root = Path(__file__).resolve().parent.parent
    offenders = []
    for path in sorted((root / "book").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and ("widgets.interact" in source or "widgets.Output" in source
                                                or "interactive_output" in source):
                offenders.append(f"{path.name} {cell.get('id')}")
    assert not offenders, f"these cells use an Output widget, which needs nbexec.patch() in the book build: {offenders}"
    code = (
        "import sys; sys.path.insert(0, 'book/_ext')\n"
        "import book_fixes\n"
        "from vit_tutorial.course import nbexec\n"
        "class App:\n"
        "    def connect(self, *args, **kwargs): pass\n"
        "    def add_css_file(self, *args, **kwargs): pass\n"
        "    def add_js_file(self, *args, **kwargs): pass\n"
        "before = nbexec.patched()\n"
        "book_fixes.setup(App())\n"
        "print(before, nbexec.patched())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root).stdout.split()
    assert out == ["False", "False"]


@pytest.mark.parametrize(
    "env, workers, cores, expected",
    [
        ({}, 2, 2, "1"),  # two workers on two cores: one thread each
        ({}, 2, 16, "8"),
        ({}, 3, 2, "1"),  # never zero
        ({}, 1, 2, None),  # one worker: leave torch's default
        ({"OMP_NUM_THREADS": "2"}, 2, 2, "2"),  # the user's choice wins
    ],
)
def test_share_cores(env, workers, cores, expected):
    code = (
        "import os\n"
        "from vit_tutorial.course import nbexec\n"
        f"nbexec.share_cores({workers}, cores={cores})\n"
        "print(os.environ.get('OMP_NUM_THREADS'))\n"
    )
    clean = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**clean, **env}).stdout.strip()
    assert out == str(expected)


def test_xdist_workers_and_their_kernels_get_a_share():
    # this very run: under `pytest -n 2` (make test) each worker holds cores // 2 threads
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers <= 1:
        pytest.skip("not running under pytest-xdist with several workers")
    import torch

    assert "OMP_NUM_THREADS" in os.environ  # what the kernels this worker starts inherit
    assert torch.get_num_threads() == int(os.environ["OMP_NUM_THREADS"])
