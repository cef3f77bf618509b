"""The one seam in front of the network: a ``requests`` transport adapter and its limits.

Rules this module keeps:

1. One adapter (connection pool) per client; per-request state (token, headers, body)
   travels in arguments, never in shared mutable state, so any number of threads may send.
2. At most ``max_concurrency`` requests are in flight (a ``BoundedSemaphore`` held only
   around the socket I/O, never while waiting for a login, so waiters cannot deadlock).
3. TLS is verified (against ``ca_file`` when given) unless ``insecure=True``; then urllib3's
   warning is silenced for this host only. Proxies, netrc and ``REQUESTS_CA_BUNDLE`` from the
   environment are ignored.
4. Each request is sent exactly once here, without redirects; retrying is the caller's choice.
5. A path is made of plain segments (letters, digits, ``_``) only: no ``.``/``..``, ``%``,
   ``?``, ``#`` or space can reach the URL, whatever a caller built (object IDs are checked
   earlier, by ``objects.object_path``; this is the last line).
6. Requests go to the adapter directly, not through a ``requests.Session``: the session's
   per-request merging of settings, cookies and hooks cost about as much CPU as the rest of
   the request (the array's API carries its session in the ``X-Auth-Token`` header, never in
   cookies). The prepared request and the adapter's exceptions are the session's own, so
   retries and lost-response rules see exactly what they saw before.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import requests
import requests.adapters
import requests.utils
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

__all__ = ["HTTPTransport", "decode_json"]

log = logging.getLogger("tfnimble.nimble.client")

_PATH = re.compile(r"(?:/[A-Za-z0-9_]+)+")


class HTTPTransport:
    """Sends single requests to ``base_url`` over one connection pool.

    ``adapter`` replaces the HTTPS adapter (tests mount a fake array there).
    """

    def __init__(
        self,
        base_url: str,
        host: str,
        *,
        ca_file: str | None,
        insecure: bool,
        max_concurrency: int,
        timeout: float,
        connect_timeout: float,
        adapter: requests.adapters.BaseAdapter | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.base_url = base_url
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self._verify: bool | str
        if insecure:
            self._verify = False
            warnings.filterwarnings(
                "ignore",
                message=rf".*host '{re.escape(host.strip('[]'))}'",
                category=urllib3.exceptions.InsecureRequestWarning,
            )
        else:
            self._verify = ca_file if ca_file else True
        self._adapter = adapter or requests.adapters.HTTPAdapter(
            pool_connections=1, pool_maxsize=max_concurrency, max_retries=0
        )
        self._headers = dict(requests.utils.default_headers())
        self._slots = threading.BoundedSemaphore(max_concurrency)

    def send(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any, token: str | None
    ) -> requests.Response:
        """Send one request (``path`` relative to ``base_url``; ``body`` as JSON)."""
        if not _PATH.fullmatch(path):
            raise ValueError(f"refusing to send a request to the path {path[:200]!r} (rule 5)")
        request = self._prepare(method, path, params, body, token)
        started = time.monotonic()
        with self._slots:
            try:
                resp = self._adapter.send(
                    request,
                    stream=False,
                    timeout=(self.connect_timeout, self.timeout),
                    verify=self._verify,
                    cert=None,
                    proxies={},
                )
                resp.content  # noqa: B018 - read the body now: the connection goes back to the pool
            except requests.RequestException as exc:
                log.debug(
                    "%s %s -> %s after %.3fs",
                    method,
                    path,
                    type(exc).__name__,
                    time.monotonic() - started,
                )
                raise
        log.debug(
            "%s %s -> %s in %.3fs", method, path, resp.status_code, time.monotonic() - started
        )
        return resp

    def _prepare(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any, token: str | None
    ) -> requests.PreparedRequest:
        """The request as ``Session.request`` would prepare it (rule 6): default headers,
        query string, JSON body and its length."""
        url = self.base_url + path
        query = [(k, v) for k, v in (params or {}).items() if v is not None]
        if query:
            url += "?" + urlencode(query, doseq=True)
        headers = {**self._headers, "Accept": "application/json"}
        if token:
            headers["X-Auth-Token"] = token
        data: bytes | None = None
        if body is not None:
            data = json.dumps(body, allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
            headers["Content-Length"] = str(len(data))
        elif method not in ("GET", "HEAD"):
            headers["Content-Length"] = "0"
        request = requests.PreparedRequest()
        request.method = method
        request.url = url
        request.headers = CaseInsensitiveDict(headers)
        request.body = data
        request.hooks = {"response": []}
        return request

    def close(self) -> None:
        self._adapter.close()


def decode_json(resp: requests.Response) -> Any:
    """The response's JSON: ``{}`` for an empty body, ``None`` for one that is not JSON."""
    if not resp.content:
        return {}
    try:
        return resp.json()
    except ValueError:
        return None
