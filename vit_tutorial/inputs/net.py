"""One network call with a deadline: ``fetch(url, timeout, max_bytes)``, used by the Hub probe and by ``load_image``.

Socket timeouts apply to each read, so a server that drips a byte now and then, or a name
lookup that hangs, would never trip them. Here the request runs in a daemon thread and the
caller waits for it with one *total* deadline: connecting, the request, every byte of the
answer. When the deadline passes, every socket the request opened is shut down (its blocked
reads return at once) and the caller gets :class:`TimedOut`. Each way of failing is its own
exception, so that each caller can say what went wrong in its own words.

    >>> body = fetch("https://huggingface.co/google/vit-base-patch16-224/resolve/main/config.json", 2.0, 2**16)
"""
from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.error
import urllib.request

_CHUNK = 2**16


class FetchError(Exception):
    """The fetch failed; ``str(err)`` says why, without the address."""


class TimedOut(FetchError):
    """The whole answer did not arrive within the deadline (a silent, dripping or unreachable server)."""


class HTTPStatus(FetchError):
    """The server answered with an HTTP error status."""

    def __init__(self, code: int, reason: str):
        super().__init__(f"{code} {reason}")
        self.code, self.reason = code, reason


class Unreachable(FetchError):
    """The server could not be reached (refused, no route, name not found, TLS failure, ...)."""

    def __init__(self, reason):
        super().__init__(str(reason))
        self.reason = reason


class NotHTTP(FetchError):
    """What came back was not valid HTTP."""


class TooLarge(FetchError):
    """The answer is larger than ``max_bytes``; ``size`` is its announced size in bytes, or ``None`` when it only ran over."""

    def __init__(self, size: int | None):
        super().__init__("too large")
        self.size = size


def _tracked(http_class, on_socket):
    """``http_class``, but every socket it connects is handed to ``on_socket`` first."""

    def make(*args, **kwargs):
        connection = http_class(*args, **kwargs)
        create = getattr(connection, "_create_connection", None)  # http.client's hook, Python 3.x
        if create is None:  # untracked: the caller's deadline still holds, the worker ends later
            return connection

        def create_and_track(*a, **k):
            sock = create(*a, **k)
            on_socket(sock)
            return sock

        connection._create_connection = create_and_track
        return connection

    return make


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, on_socket):
        super().__init__()
        self._on_socket = on_socket

    def do_open(self, http_class, req, **kwargs):
        return super().do_open(_tracked(http_class, self._on_socket), req, **kwargs)


if hasattr(urllib.request, "HTTPSHandler"):  # absent when Python was built without ssl

    class _HTTPSHandler(urllib.request.HTTPSHandler):
        def __init__(self, on_socket):
            super().__init__()
            self._on_socket = on_socket

        def do_open(self, http_class, req, **kwargs):
            return super().do_open(_tracked(http_class, self._on_socket), req, **kwargs)

    _HANDLERS = (_HTTPHandler, _HTTPSHandler)
else:
    _HANDLERS = (_HTTPHandler,)


def _open(request: urllib.request.Request, timeout: float, on_socket):
    """Open ``request`` with handlers that report every socket they connect to ``on_socket``."""
    return urllib.request.build_opener(*(handler(on_socket) for handler in _HANDLERS)).open(request, timeout=timeout)


def _shut(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)  # blocked reads return at once
    except OSError:
        pass


class _Fetch:
    """One fetch in a worker thread; the caller waits at most ``timeout`` seconds in all."""

    def __init__(self, url: str, timeout: float, max_bytes: int):
        self.url, self.timeout, self.max_bytes = url, timeout, max_bytes
        self.deadline = time.monotonic() + timeout
        self.lock = threading.Lock()
        self.sockets: list = []
        self.cancelled = False
        self.data: bytes | None = None
        self.error: BaseException | None = None

    def run(self, thread_name: str) -> bytes:
        worker = threading.Thread(target=self._work, name=thread_name, daemon=True)
        worker.start()
        try:
            worker.join(self.timeout)
        except BaseException:  # e.g. KeyboardInterrupt: stop the request too
            self._cancel()
            raise
        if worker.is_alive():
            self._cancel()
            raise TimedOut(f"no complete answer within {self.timeout:g} s")
        if self.error is not None:
            raise self.error
        assert self.data is not None
        return self.data

    def _cancel(self):
        with self.lock:
            self.cancelled = True
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            _shut(sock)

    def _on_socket(self, sock):
        with self.lock:
            if not self.cancelled:
                self.sockets.append(sock)
                return
        _shut(sock)
        raise TimeoutError("request cancelled")

    def _work(self):
        try:
            self.data = self._read()
        except FetchError as err:
            self.error = err
        except urllib.error.HTTPError as err:
            self.error = HTTPStatus(err.code, err.reason)
            err.close()
        except urllib.error.URLError as err:
            reason = err.reason
            self.error = TimedOut(str(reason)) if isinstance(reason, TimeoutError) else Unreachable(reason)
        except TimeoutError as err:
            self.error = TimedOut(str(err) or type(err).__name__)
        except OSError as err:
            self.error = Unreachable(err)
        except http.client.HTTPException as err:
            self.error = NotHTTP(f"{type(err).__name__}: {err}")
        except ValueError as err:  # e.g. an address urllib can't parse
            self.error = FetchError(str(err))
        except Exception as err:  # noqa: BLE001 - the caller gets a FetchError with the reason
            self.error = FetchError(f"{type(err).__name__}: {err}")

    def _read(self) -> bytes:
        request = urllib.request.Request(self.url, headers={"User-Agent": "vit-tutorial"})
        with _open(request, self.timeout, self._on_socket) as response:
            length = response.headers.get("Content-Length", "").strip()
            if length.isdigit() and int(length) > self.max_bytes:
                raise TooLarge(int(length))
            chunks, total = [], 0
            while not self.cancelled and time.monotonic() < self.deadline:
                chunk = response.read(min(_CHUNK, self.max_bytes + 1 - total))
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
                total += len(chunk)
                if total > self.max_bytes:
                    raise TooLarge(None)
            raise TimeoutError("too slow")


def fetch(url: str, timeout: float, max_bytes: int, *, thread_name: str = "vit_tutorial-fetch") -> bytes:
    """The body of ``url`` (http or https), all of it within ``timeout`` seconds and at most ``max_bytes``.

    Raises :class:`TimedOut`, :class:`HTTPStatus`, :class:`Unreachable`, :class:`NotHTTP`,
    :class:`TooLarge` or :class:`FetchError` (anything else), each saying why.
    """
    return _Fetch(url, timeout, max_bytes).run(thread_name)
