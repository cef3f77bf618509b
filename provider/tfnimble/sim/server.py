"""The threaded HTTPS server and the in-process API used by tests.

One thread per connection; the TLS handshake runs in that thread, so a slow client never holds
up ``accept``. HTTP/1.1 keep-alive is supported; every reply carries Content-Length.

    from tfnimble.sim.server import SimServer
    with SimServer(tmp_path, "127.0.0.1", port=0) as sim:
        requests.get(sim.url + "/versions", verify=sim.ca_file)
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .app import App, Request
from .constants import DEFAULT_GROUP_NAME, DEFAULT_ISCSI_TARGET_SCOPE, DEFAULT_POOL_CAPACITY
from .faults import Faults, Rule
from .model import Config, Model
from .seam import DataPlane
from .store import Store
from .tls import ensure_certificates

log = logging.getLogger("nimble-sim")

HANDSHAKE_TIMEOUT = 30.0
IDLE_TIMEOUT = 120.0  # keep-alive connections idle longer than this are closed


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nimble-sim"
    sys_version = ""
    wbufsize = 1 << 16  # headers and body leave in one TLS record, flushed per request
    server: _HTTPSServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(IDLE_TIMEOUT)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _handle(self) -> None:
        length = self.headers.get("Content-Length")
        body = b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        elif length:
            try:
                n = int(length)
            except ValueError:
                n = -1
            if n < 0 or n > (16 << 20) + 1:
                self._send_raw(400, b'{"messages":[]}')
                self.close_connection = True
                return
            body = self.rfile.read(n)
        path, _, query = self.path.partition("?")
        req = Request(
            method=self.command,
            path=path,
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            peer_ip=self.client_address[0],
        )
        resp = self.server.app.handle(req)
        if resp.drop:
            log.info("fault: dropping the response to %s %s", self.command, path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send_raw(resp.status, resp.encode())

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > 16 << 20:
                raise ValueError("body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send_raw(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


class _HTTPSServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], app: App, context: ssl.SSLContext) -> None:
        self.app = app
        self.context = context
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            # Small replies must not wait for the peer's delayed ACK (Nagle): 40 ms each.
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request.settimeout(HANDSHAKE_TIMEOUT)
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        try:
            _Handler(tls, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class SimServer:
    """nimble-sim in this process: ``start()``, then ``url``/``ca_file``; ``stop()`` when done."""

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "admin",
        password: str = "admin",
        *,
        group_name: str = DEFAULT_GROUP_NAME,
        pool_capacity: int = DEFAULT_POOL_CAPACITY,
        iscsi_portal: str = "127.0.0.1:3260",
        session_timeout: int | None = None,
        fault_rules: list[Rule] | None = None,
        fault_seed: int | None = None,
        data_plane: DataPlane | None = None,
        tls_names: list[str] | None = None,
        durable: bool = True,
        clock: Callable[[], float] = time.time,
        target_scope: str = DEFAULT_ISCSI_TARGET_SCOPE,
    ) -> None:
        """``clock`` is the model's time (session expiry, timestamps): tests pass one they
        advance instead of sleeping. ``target_scope`` is the scope the group gives new volumes:
        "group" (every volume a LUN of the group target, as real groups default to) or
        "volume" (each volume its own target)."""
        self.state_dir = Path(state_dir)
        self.host = host
        self._port = port
        portal_ip, portal_port = parse_portal(iscsi_portal)
        self.config = Config(
            group_name=group_name,
            pool_capacity=pool_capacity,
            iscsi_portal_ip=portal_ip,
            iscsi_portal_port=portal_port,
            mgmt_ip=_advertised(host),
            session_timeout=session_timeout,
            username=username,
            password=password,
            target_scope=target_scope,
        )
        self.faults = Faults(fault_rules, fault_seed)
        self._data_plane = data_plane
        self._tls_names = tls_names or []
        self._durable = durable
        self._clock = clock
        self._httpd: _HTTPSServer | None = None
        self._thread: threading.Thread | None = None
        self.store: Store | None = None
        self.model: Model | None = None
        self.app: App | None = None
        self.ca_file = str(self.state_dir / "ca.pem")

    def start(self) -> SimServer:
        ca, cert, key = ensure_certificates(self.state_dir, self.host, self._tls_names)
        self.ca_file = str(ca)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        self.store = Store(self.state_dir, durable=self._durable)
        try:
            self.model = Model(self.store, self.config, self._data_plane, clock=self._clock)
            if self._data_plane is not None:
                self.model.replay_data_plane()
            self.app = App(self.model, self.faults)
            self._httpd = _HTTPSServer((self.host, self._port), self.app, context)
        except BaseException:
            self.store.close()
            raise
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="nimble-sim",
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        if self._httpd is None:
            return self._port
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = _advertised(self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{self.port}"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.model is not None:
            with contextlib.suppress(Exception):
                self.model.dp.close()
        if self.store is not None:
            self.store.close()
            self.store = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _advertised(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def parse_portal(text: str) -> tuple[str, int]:
    """``IP[:PORT]`` or ``[IPv6]:PORT`` -> (ip, port); port defaults to 3260."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "3260"
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, "3260"
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"invalid iSCSI portal {text!r}; expected IP[:PORT]")
    return host, int(port)
