"""A real HTTP server on 127.0.0.1 that serves files only with the right Basic credentials
(what an image mirror behind authentication does), for the image-source download tests."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType


class ImageServer:
    """Serves the files of `root` at http://127.0.0.1:PORT/NAME to `username`:`password`;
    answers 401 with a WWW-Authenticate challenge otherwise. Records what it was sent."""

    def __init__(self, root: Path, username: str, password: str) -> None:
        self.root = root
        self.expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.seen_authorization: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                got = self.headers.get("Authorization")
                server.seen_authorization.append(got)
                target = server.root / self.path.lstrip("/")
                if got != server.expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="images"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if not target.is_file():
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(target.stat().st_size))
                self.end_headers()
                with open(target, "rb") as f:
                    shutil.copyfileobj(f, self.wfile)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def __enter__(self) -> ImageServer:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def small_qcow2(path: Path, size: str = "8M") -> Path:
    """A qcow2 made by qemu-img with some data in it. Without qemu-img the test fails under
    CI=true and is skipped elsewhere."""
    from testbed import caps

    caps.require_tools("qemu-img")
    raw = path.with_suffix(".raw")
    with open(raw, "wb") as f:
        f.truncate(int(size.rstrip("M")) << 20)
        f.seek(1 << 20)
        f.write(os.urandom(64 * 1024))
    subprocess.run(
        ["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(path)],
        check=True,
        timeout=60,
    )
    raw.unlink()
    return path
