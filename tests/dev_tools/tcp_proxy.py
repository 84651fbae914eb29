"""A small TCP proxy on 127.0.0.1 that can be made to go silent, for fault tests.

``TcpProxy(upstream_port)`` forwards every connection to ``127.0.0.1:upstream_port``.
``silent()`` makes it behave like a database host that stopped answering while its TCP
stack still works: new connections are accepted and get no reply, and bytes on open
connections are held back (not dropped) until ``forward()`` lets them through again,
as after a network partition heals. An optional ``on_request`` hook sees each HTTP
request line and the time its response started, which is how the deployment test times
the task SDK's start requests from outside the api-server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

# (request line, seconds from the request's first byte to the response's first byte)
RequestHook = Callable[[str, float], None]


@dataclass
class TcpProxy:
    upstream_port: int
    on_request: RequestHook | None = None
    port: int = 0
    _open: threading.Event = field(default_factory=threading.Event)
    _server: socket.socket | None = None
    _sockets: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> TcpProxy:
        self._open.set()
        self._server = socket.create_server(("127.0.0.1", self.port), backlog=128)
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, name="tcp-proxy-accept", daemon=True).start()
        return self

    def silent(self) -> None:
        """Accept connections, answer nothing, hold every byte until :meth:`forward`."""
        self._open.clear()

    def forward(self) -> None:
        self._open.set()

    def stop(self) -> None:
        self._open.set()
        with self._lock:
            for sock in [self._server, *self._sockets]:
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()
            self._sockets.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            started: list[tuple[str, float]] = []  # requests waiting for their response
            threading.Thread(target=self._pump, args=(client, upstream, started, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, started, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, started: list, requests: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                now = time.monotonic()
                self._open.wait()  # silent: hold the bytes
                if self.on_request is not None:
                    self._observe(data, now, started, requests)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _observe(self, data: bytes, now: float, started: list, requests: bool) -> None:
        # HTTP/1.1 without pipelining: one request at a time on a connection.
        if requests:
            line = data.split(b"\r\n", 1)[0].decode("latin-1")
            if line.split(" ", 1)[0] in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}:
                started.append((line, now))
        elif started:
            line, t0 = started.pop(0)
            self.on_request(line, now - t0)


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A socket on 127.0.0.1 that accepts every connection and never answers; yields its port."""
    server = socket.create_server(("127.0.0.1", 0), backlog=256)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, name="silent-server", daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        for conn in held:
            conn.close()
