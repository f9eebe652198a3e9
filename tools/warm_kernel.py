"""Notebook kernels forked from a warm process (the Makefile's nbmake runs use them).

Every notebook kernel spends about 4 s of CPU importing torch and transformers' modelling stack before its first
cell. Here a fork server per (Python, environment) does those imports once, and each kernel is a fork of it:

    python tools/warm_kernel.py spec DIR     # writes DIR/kernels/python3/kernel.json, whose argv runs `launch`
    JUPYTER_PATH=DIR pytest --nbmake book    # every python3 kernel now starts as a fork

``launch -f CONNECTION_FILE`` (what jupyter_client starts) connects to the server (starting it if there is none),
hands it its stdin/stdout/stderr, environment and working folder, and waits for the forked kernel to end, passing
on SIGINT/SIGTERM. The kernel ends when its launcher is killed (it watches it with a pidfd). Whatever fails, the
launcher runs the plain kernel instead. The server ends after IDLE_S seconds with no kernel alive.
"""
from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback

IDLE_S = 60
# longest the launcher waits for a server it starts (the imports take 4-10 s; nbmake waits 60 s for a kernel)
START_S = float(os.environ.get("WARM_KERNEL_START_S", 30))


def _key() -> str:
    env = sorted((k, v) for k, v in os.environ.items() if not k.startswith("JPY_") and k != "PYTEST_CURRENT_TEST")
    return hashlib.sha256(repr((sys.executable, sys.path[1:], env)).encode()).hexdigest()[:16]


def _socket_path() -> str:
    return os.path.join("/tmp", f"vit-warm-kernel-{os.getuid()}-{_key()}.sock")


def _connect(path: str):
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        return conn
    except OSError:
        conn.close()
        return None


def _plain(argv: list[str]):
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv])


def launch(argv: list[str]) -> None:
    if not (hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")):  # Linux only: elsewhere a plain kernel
        _plain(argv)
    path = _socket_path()
    conn = _connect(path)
    if conn is None and START_S > 0:
        server = subprocess.Popen([sys.executable, __file__, "serve", path], start_new_session=True,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_S
        while conn is None and time.monotonic() < deadline and server.poll() is None:  # a server that ended: plain
            time.sleep(0.05)
            conn = _connect(path)
        conn = conn or _connect(path)  # another launcher's server may have answered
    if conn is None:
        _plain(argv)
    request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    try:
        socket.send_fds(conn, [struct.pack("!I", len(request)) + request], [0, 1, 2])
        conn.settimeout(START_S)
        pid = int(conn.recv(32).decode() or 0)
    except (OSError, ValueError):
        pid = 0
    conn.close()
    if not pid:
        _plain(argv)
    kernel = os.pidfd_open(pid)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: signal.pidfd_send_signal(kernel, signum))
    select.select([kernel], [], [])  # readable once the kernel has ended
    sys.exit(0)


def _recv_request(conn) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    size = struct.unpack("!I", data[:4])[0]
    data = data[4:]
    while len(data) < size:
        more = conn.recv(size - len(data))
        if not more:
            raise ConnectionError("the launcher went away")
        data += more
    return json.loads(data), fds


def _child(request: dict, fds: list[int], launcher: int) -> None:
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        import torch

        if os.environ.get("OMP_NUM_THREADS", "").isdigit():  # libgomp read the server's value when it loaded
            torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        watch = os.pidfd_open(launcher)

        def orphaned():
            select.select([watch], [], [])
            os._exit(1)

        import threading

        threading.Thread(target=orphaned, daemon=True).start()
        import ipykernel_launcher  # noqa: F401 - its file is what sys.argv[0] names for `python -m`

        sys.argv = [ipykernel_launcher.__file__, *request["argv"]]
        sys.path[0] = request["cwd"]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 0
    except BaseException:  # noqa: BLE001 - a child must never return into the server's loop
        traceback.print_exc()
    finally:
        os._exit(code)


# what the server imports once for every kernel: torch, ipykernel, transformers' modelling stack. Not matplotlib: it
# takes its backend from MPLBACKEND when first imported, and ipykernel sets that (the inline backend) only as the
# kernel starts; imported here, every figure would go to Agg and never reach the notebook (a test shows one).
WARM_IMPORTS = ("torch", "ipykernel.kernelapp", "transformers.models.vit.modeling_vit")


def warm_up(modules: tuple[str, ...]) -> str:
    """Import ``modules`` here; what they printed (to stdout or stderr, from Python or C), or "" if nothing.

    A fresh kernel would show that text in the notebook cell that first imports them; a forked one would not, so
    a server whose imports print anything serves no kernel (the book build's outputs must be what a reader's own
    kernel shows)."""
    import importlib
    import tempfile

    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as said:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(said.fileno(), 1)
        os.dup2(said.fileno(), 2)
        try:
            for name in modules:
                importlib.import_module(name)
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
        said.seek(0)
        return said.read().decode(errors="replace")


def serve(path: str) -> None:
    import threading

    if warm_up(WARM_IMPORTS):
        return  # the imports printed something a fresh kernel would show: no server, the launchers run plain kernels
    if threading.active_count() != 1:  # (native threads, OpenBLAS's pool, reset themselves at fork, as for multiprocessing)
        return  # a Python thread would not survive fork: no server, the launchers run plain kernels
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    mine = os.stat(path).st_ino  # at the end, remove the socket file only if another server has not replaced it
    server.listen(64)
    server.settimeout(1.0)
    children: set[int] = set()
    last = time.monotonic()
    try:
        while True:
            for pid in list(children):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    children.discard(pid)
            if not children and time.monotonic() - last > IDLE_S:
                return
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            last = time.monotonic()
            with conn:
                try:
                    conn.settimeout(10)
                    request, fds = _recv_request(conn)
                    launcher = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                                   struct.calcsize("3i")))[0]
                except (OSError, ValueError, ConnectionError):
                    continue
                pid = os.fork()
                if pid == 0:
                    server.close()
                    _child(request, fds, launcher)
                for fd in fds:
                    os.close(fd)
                children.add(pid)
                try:
                    conn.sendall(str(pid).encode())
                except OSError:
                    pass
    finally:
        server.close()
        try:
            if os.stat(path).st_ino == mine:
                os.unlink(path)
        except FileNotFoundError:
            pass


def spec(folder: str) -> None:
    target = os.path.join(folder, "kernels", "python3")
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "kernel.json"), "w") as f:
        json.dump({"argv": [sys.executable, os.path.abspath(__file__), "launch", "-f", "{connection_file}"],
                   "display_name": "Python 3 (warm)", "language": "python"}, f)


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    {"launch": launch, "serve": lambda args: serve(args[0]), "spec": lambda args: spec(args[0])}[command](rest)
