"""The HTTP session to one Nimble array: ``NimbleClient`` and its ``request``.

Rules this module keeps (the transport, retry, login and object modules keep their own):

1. ``request`` retries by the ``RetryPolicy`` (see ``retry``) and re-logs in once per request
   on a 401 (see ``auth``); a second 401 raises ``Unauthorized``.
2. A non-idempotent request whose response was lost raises ``ResponseLost``; a DELETE whose
   retry finds 404 after a lost response succeeded; other errors after a lost response are
   marked ``after_lost_response`` so callers can re-read and compare.
3. A 202 with a job id is awaited (polled every ``job_poll_interval`` seconds, at most
   ``job_timeout``); a failed job raises the job's error as a 409-class error.
4. Every request that may change the array (any method but GET and HEAD) is counted in
   ``writes`` when it has ended, whatever its outcome, so that an answer read earlier can tell
   whether a change has been made since (see ``reads``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
import requests.adapters

from .auth import Credentials, TokenKeeper
from .errors import ConnectionFailed, NimbleError, NotFound, ResponseLost, error_from_response
from .objects import ObjectRequests, object_path
from .retry import (
    IDEMPOTENT_METHODS,
    TRANSPORT_ERRORS,
    RetryPolicy,
    failure_reason,
    maybe_sent,
    tls_error,
)
from .transport import HTTPTransport, decode_json

__all__ = ["APP_NAME", "DEFAULT_PORT", "NimbleClient"]

log = logging.getLogger("tfnimble.nimble.client")

APP_NAME = "terraform-provider-nimble"
DEFAULT_PORT = 5392

JSON = dict[str, Any]


class NimbleClient(ObjectRequests):
    """A thread-safe client for one array's REST API (``https://host:port/v1``).

    ``transport`` replaces the HTTPS adapter (tests mount a fake there; it is the one seam in
    front of the network). ``sleep`` is the backoff sleeper, ``job_timeout`` bounds waiting on
    asynchronous (202) jobs.
    """

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        username: str = "admin",
        password: str = "",
        *,
        ca_file: str | None = None,
        insecure: bool = False,
        max_concurrency: int = 8,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        retries: int = 4,
        backoff: float = 0.5,
        backoff_max: float = 8.0,
        job_timeout: float = 300.0,
        job_poll_interval: float = 1.0,
        app_name: str = APP_NAME,
        transport: requests.adapters.BaseAdapter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.host = host.strip()
        self.port = int(port)
        self.ca_file = ca_file
        self.insecure = insecure
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.job_timeout = job_timeout
        self.job_poll_interval = job_poll_interval
        self.app_name = app_name
        host_part = (
            f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        )
        self.base_url = f"https://{host_part}:{self.port}/v1"
        self._transport = HTTPTransport(
            self.base_url,
            self.host,
            ca_file=ca_file,
            insecure=insecure,
            max_concurrency=max_concurrency,
            timeout=timeout,
            connect_timeout=connect_timeout,
            adapter=transport,
        )
        self._policy = RetryPolicy(retries, backoff, backoff_max, sleep)
        creds = Credentials(username, password, app_name)
        self._tokens = TokenKeeper(self._transport, self._policy, self.host, self.port, creds)
        self.writes = WriteClock()

    # ----------------------------------------------------------------------- lifecycle

    @property
    def username(self) -> str:
        return self._tokens.username

    @property
    def login_count(self) -> int:
        """Successful logins so far (the first one and every re-login)."""
        return self._tokens.login_count

    def __repr__(self) -> str:
        return (
            f"NimbleClient(host={self.host!r}, port={self.port}, username={self.username!r}, "
            f"ca_file={self.ca_file!r}, insecure={self.insecure})"
        )

    def __enter__(self) -> NimbleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Log out (best effort) and close the connection pool."""
        self._tokens.logout()
        self._transport.close()

    def login(self) -> None:
        """Log in now, replacing any current token (otherwise the first request logs in)."""
        self._tokens.login()

    # ----------------------------------------------------------------------- requests

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotent: bool | None = None,
        operation: str | None = None,
        object_name: str | None = None,
    ) -> JSON:
        """Send one API call and return the decoded JSON envelope (``{}`` for an empty body).

        ``path`` is relative to ``/v1`` (``"/volumes/detail"``). ``body`` is sent as JSON.
        ``idempotent`` defaults to true for GET, HEAD, PUT and DELETE.
        """
        method = method.upper()
        if method in ("GET", "HEAD"):
            return self._request(method, path, params, body, idempotent, operation, object_name)
        with self.writes.writing():
            return self._request(method, path, params, body, idempotent, operation, object_name)

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        idempotent: bool | None,
        operation: str | None,
        object_name: str | None,
    ) -> JSON:
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        attempt = 0
        relogged = False
        lost = False  # an earlier attempt may have reached the array
        while True:
            token, gen = self._tokens.token()
            try:
                resp = self._transport.send(method, path, params, body, token)
            except requests.exceptions.SSLError as exc:
                raise tls_error(self.host, self.port, exc) from exc
            except TRANSPORT_ERRORS as exc:
                sent = maybe_sent(exc)
                reason = failure_reason(exc)
                if sent and not idempotent:
                    raise ResponseLost(self.host, self.port, reason, operation) from exc
                lost = lost or sent
                if not self._policy.can_retry(attempt):
                    raise ConnectionFailed(self.host, self.port, reason, operation) from exc
                log.debug("%s %s: retry %d after %s", method, path, attempt + 1, type(exc).__name__)
                self._policy.pause(attempt)
                attempt += 1
                continue
            status = resp.status_code
            if status == 401 and not relogged:
                relogged = True
                self._tokens.refresh(gen)
                continue
            if self._policy.retries_status(status, idempotent, attempt):
                lost = lost or status != 503  # a 503 was not taken; other 5xx may have been
                self._policy.pause(attempt)
                attempt += 1
                continue
            payload = decode_json(resp)
            if status == 202:
                return self._wait_for_job(method, path, payload, operation, object_name)
            if 200 <= status < 300:
                return payload if isinstance(payload, dict) else {}
            err = error_from_response(
                status, payload, resp.text, resp.reason, operation, object_name
            )
            if lost:
                if method == "DELETE" and isinstance(err, NotFound):
                    return {}  # the lost first attempt deleted it
                err.after_lost_response = True
            raise err

    def _wait_for_job(
        self, method: str, path: str, payload: Any, operation: str | None, object_name: str | None
    ) -> JSON:
        if isinstance(payload, dict) and "data" in payload:
            return payload
        job_id = _job_id(payload)
        if job_id is None:
            return payload if isinstance(payload, dict) else {}
        deadline = time.monotonic() + self.job_timeout
        while True:
            job = self.request("GET", object_path("jobs", job_id)).get("data") or {}
            if job.get("state") in ("done", "canceled"):
                break
            if time.monotonic() > deadline:
                raise NimbleError(
                    f"{operation or method + ' ' + path}: job {job_id} did not "
                    f"finish within {self.job_timeout:.0f}s"
                )
            self._policy.sleep(self.job_poll_interval)
        response = job.get("response") or {}
        if job.get("result") != "succeeded":
            err = error_from_response(
                409, response, str(job.get("result")), "job failed", operation, object_name
            )
            raise err
        if isinstance(response, dict) and response.get("data"):
            return response
        object_id = job.get("object_id")
        object_set = path.strip("/").split("/")[0]
        if object_id and method != "DELETE":
            return self.request("GET", object_path(object_set, object_id))
        return {}


class WriteClock:
    """Counts the requests that may have changed the array (rule 4) once each has ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ended = 0

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        try:
            yield
        finally:
            with self._lock:
                self._ended += 1

    @property
    def ended(self) -> int:
        with self._lock:
            return self._ended


def _job_id(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    for message in payload.get("messages") or []:
        if isinstance(message, dict):
            args = message.get("arguments")
            if isinstance(args, dict) and args.get("job_id"):
                return str(args["job_id"])
    return None
