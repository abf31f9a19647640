"""Running an ASGI app: on a socket bound first (so nothing takes the port in between), with
uvicorn, until SIGINT or SIGTERM; or in a background thread on loopback for a while. Shared by
``dlqa serve`` (a bundle) and ``dlqa ui`` (the dashboard)."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dlqa.core.errors import UsageError


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (0: a free port), or a UsageError naming the conflict;
    uvicorn then serves on this very socket, so nothing can take the port in between."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise UsageError(f"cannot resolve the host {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is free
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise UsageError(
                f"port {port} on {host} is in use", hint="choose another with --port"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _uvicorn_server(app: Any, sock: socket.socket, ready: threading.Event | None) -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if ready is not None and self.started:
                ready.set()

    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                            timeout_graceful_shutdown=5)  # fmt: skip
    return Server(config)


class _Stopped(Exception):
    pass


@contextmanager
def _signals_end_quietly() -> Iterator[None]:
    """uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again for the
    handler it replaced: here one that ends :func:`serve` normally instead of a
    KeyboardInterrupt (SIGINT) or death by signal (SIGTERM)."""
    import signal

    def stop(signum: int, frame: Any) -> None:
        raise _Stopped

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except (_Stopped, KeyboardInterrupt):
        pass
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


@contextmanager
def app_serving(app: Any, *, port: int = 0) -> Iterator[str]:
    """Serve the ASGI ``app`` on 127.0.0.1 in a background thread; yields its base URL."""
    sock = bind("127.0.0.1", port)
    started = threading.Event()
    server = _uvicorn_server(app, sock, started)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        if not started.wait(30):
            raise RuntimeError("the test server did not start within 30 s")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def run_app_until_stopped(app: Any, sock: socket.socket, ready: threading.Event | None) -> None:
    """Serve the ASGI ``app`` on the bound ``sock`` until SIGINT or SIGTERM, then return."""
    server = _uvicorn_server(app, sock, ready)
    with _signals_end_quietly():
        server.run(sockets=[sock])


__all__ = ["app_serving", "bind", "is_loopback", "run_app_until_stopped"]
