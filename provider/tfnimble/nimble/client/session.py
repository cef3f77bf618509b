"""The HTTP session to one Nimble array: login, retries, concurrency limit, error mapping.

Rules this module keeps:

1. One ``requests.Session`` per ``NimbleClient``; per-request state (token, headers, body)
   travels in arguments, never in shared mutable session state, so any number of threads
   may call the client at once.
2. At most ``max_concurrency`` requests are in flight (a ``BoundedSemaphore`` held only
   around the socket I/O, never while waiting for a login, so waiters cannot deadlock).
3. A 401 triggers one re-login per request. Logins are serialised by a lock and versioned:
   a thread whose token was already replaced by another thread reuses the new one.
4. Retries (bounded, exponential backoff with jitter) happen on connection errors and on
   500/502/503/504 for idempotent calls, and on 503 for any call (the array did not take
   it). A request that could not even connect is retried whatever its method, because it
   never reached the array.
5. A non-idempotent request whose response was lost raises ``ResponseLost``; a DELETE whose
   retry finds 404 after a lost response succeeded; errors after a lost response are marked
   ``after_lost_response`` so callers can re-read and compare.
6. TLS is verified unless ``insecure=True``; then urllib3's warning is silenced for this
   host only. The password appears in no log, exception or repr.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
import requests.adapters
import urllib3.exceptions

from .errors import (
    AuthenticationFailed,
    Conflict,
    ConnectionFailed,
    LostResponseMismatch,
    NimbleAPIError,
    NimbleError,
    NotFound,
    ResponseLost,
    TLSVerificationFailed,
    error_from_response,
)

__all__ = ["APP_NAME", "DEFAULT_PORT", "NimbleClient"]

log = logging.getLogger("tfnimble.nimble.client")

APP_NAME = "terraform-provider-nimble"
DEFAULT_PORT = 5392
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})
#: Failures of the connection itself (as opposed to an HTTP error status). A body cut short
#: (ChunkedEncodingError) is not a ConnectionError in requests, but means the same here.
_TRANSPORT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
#: Upper bound on pages walked by one list call (a guard against a server that never ends).
MAX_PAGES = 1000

#: Seconds of clock difference tolerated between this host and the array when matching a
#: lost create's object by its creation_time.
CLOCK_SKEW = 120.0

JSON = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class _Credentials:
    username: str
    password: str = field(repr=False)


class NimbleClient:
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
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.host = host.strip()
        self.port = int(port)
        self._creds = _Credentials(username, password)
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
        self._sleep = sleep
        host_part = (
            f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        )
        self.base_url = f"https://{host_part}:{self.port}/v1"

        self._session = requests.Session()
        # Proxies, netrc and REQUESTS_CA_BUNDLE from the environment must not silently change
        # where we connect or what we trust.
        self._session.trust_env = False
        if insecure:
            self._session.verify = False
            warnings.filterwarnings(
                "ignore",
                message=rf".*host '{re.escape(self.host.strip('[]'))}'",
                category=urllib3.exceptions.InsecureRequestWarning,
            )
        else:
            self._session.verify = ca_file if ca_file else True
        adapter = transport or requests.adapters.HTTPAdapter(
            pool_connections=1, pool_maxsize=max_concurrency, max_retries=0
        )
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._auth_lock = threading.Lock()
        # (session_token, token_id, generation): replaced as a whole, read without the lock.
        self._auth: tuple[str | None, str | None, int] = (None, None, 0)
        self.login_count = 0

    # ----------------------------------------------------------------------- lifecycle

    @property
    def username(self) -> str:
        return self._creds.username

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
        token, token_id, _ = self._auth
        if token and token_id:
            try:
                self._send_once("DELETE", f"/tokens/{token_id}", None, None, token)
            except (requests.RequestException, OSError):
                pass
        self._auth = (None, None, self._auth[2] + 1)
        self._session.close()

    def login(self) -> None:
        """Log in now (otherwise the first request does)."""
        _, _, gen = self._auth
        self._refresh_token(gen)

    # ----------------------------------------------------------------------- auth

    def _token(self) -> tuple[str, int]:
        token, _, gen = self._auth
        if token is None:
            return self._refresh_token(gen)
        return token, gen

    def _refresh_token(self, stale_gen: int) -> tuple[str, int]:
        with self._auth_lock:
            token, _, gen = self._auth
            if token is not None and gen != stale_gen:
                return token, gen  # another thread already logged in again
            token, token_id = self._login()
            self._auth = (token, token_id, gen + 1)
            return token, gen + 1

    def _login(self) -> tuple[str, str | None]:
        body = {
            "data": {
                "username": self._creds.username,
                "password": self._creds.password,
                "app_name": self.app_name,
            }
        }
        attempt = 0
        while True:
            try:
                resp = self._send_once("POST", "/tokens", None, body, None)
            except requests.exceptions.SSLError as exc:
                raise self._tls_error(exc) from None
            except _TRANSPORT_ERRORS as exc:
                if attempt >= self.retries:
                    raise ConnectionFailed(self.host, self.port, _reason(exc), "login") from None
                self._backoff(attempt)
                attempt += 1
                continue
            if resp.status_code in RETRY_STATUSES and attempt < self.retries:
                self._backoff(attempt)
                attempt += 1
                continue
            break
        payload = _json(resp)
        if resp.status_code in (200, 201):
            data = payload.get("data") if isinstance(payload, dict) else None
            token = data.get("session_token") if isinstance(data, dict) else None
            if not token:
                raise NimbleError(
                    f"login to {self.host}:{self.port}: the reply carried no session_token"
                )
            self.login_count += 1
            log.debug("logged in to %s:%s as %s", self.host, self.port, self.username)
            token_id = data.get("id") if isinstance(data, dict) else None
            return str(token), (str(token_id) if token_id else None)
        if resp.status_code in (401, 403):
            err = error_from_response(resp.status_code, payload, resp.text, resp.reason)
            raise AuthenticationFailed(
                self.host, self.port, self.username, err.code, err.text, resp.status_code
            )
        raise error_from_response(
            resp.status_code, payload, resp.text, resp.reason, "login", self.username
        )

    # ----------------------------------------------------------------------- transport

    def _send_once(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any, token: str | None
    ) -> requests.Response:
        headers = {"Accept": "application/json"}
        if token:
            headers["X-Auth-Token"] = token
        url = self.base_url + path
        started = time.monotonic()
        with self._slots:
            try:
                resp = self._session.request(
                    method,
                    url,
                    params=params,
                    json=body,
                    headers=headers,
                    timeout=(self.connect_timeout, self.timeout),
                    allow_redirects=False,
                )
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

    def _backoff(self, attempt: int) -> None:
        ceiling = min(self.backoff_max, self.backoff * (2**attempt))
        self._sleep(ceiling / 2 + random.uniform(0, ceiling / 2))  # jitter, not crypto

    def _tls_error(self, exc: Exception) -> NimbleError:
        reason = _reason(exc)
        if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate" in reason.lower():
            return TLSVerificationFailed(self.host, self.port, _short_tls(reason))
        return ConnectionFailed(self.host, self.port, f"TLS handshake failed: {reason}")

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
        ``idempotent`` defaults to true for GET, PUT and DELETE.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        attempt = 0
        relogged = False
        maybe_sent = False
        while True:
            token, gen = self._token()
            try:
                resp = self._send_once(method, path, params, body, token)
            except requests.exceptions.SSLError as exc:
                raise self._tls_error(exc) from exc
            except _TRANSPORT_ERRORS as exc:
                sent = _maybe_sent(exc)
                if sent and not idempotent:
                    raise ResponseLost(self.host, self.port, _reason(exc), operation) from exc
                maybe_sent = maybe_sent or sent
                if attempt >= self.retries:
                    raise ConnectionFailed(self.host, self.port, _reason(exc), operation) from exc
                log.debug("%s %s: retry %d after %s", method, path, attempt + 1, type(exc).__name__)
                self._backoff(attempt)
                attempt += 1
                continue
            status = resp.status_code
            if status == 401 and not relogged:
                relogged = True
                self._refresh_token(gen)
                continue
            # 503 means the array did not take the request (busy, failing over): safe to
            # send again whatever the method. Other 5xx may follow a partial apply.
            retry_any = status == 503
            if status in RETRY_STATUSES and (idempotent or retry_any) and attempt < self.retries:
                maybe_sent = maybe_sent or status != 503
                self._backoff(attempt)
                attempt += 1
                continue
            payload = _json(resp)
            if status == 202:
                return self._wait_for_job(method, path, payload, operation, object_name)
            if 200 <= status < 300:
                return payload if isinstance(payload, dict) else {}
            err = error_from_response(
                status, payload, resp.text, resp.reason, operation, object_name
            )
            if maybe_sent:
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
            job = self.request("GET", f"/jobs/{job_id}").get("data") or {}
            if job.get("state") in ("done", "canceled"):
                break
            if time.monotonic() > deadline:
                raise NimbleError(
                    f"{operation or method + ' ' + path}: job {job_id} did not "
                    f"finish within {self.job_timeout:.0f}s"
                )
            self._sleep(self.job_poll_interval)
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
            return self.request("GET", f"/{object_set}/{object_id}")
        return {}

    # ----------------------------------------------------------------------- object helpers

    def get_object(
        self,
        object_set: str,
        object_id: str,
        *,
        kind: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> JSON | None:
        """GET one object's ``data``; ``None`` when the array answers 404."""
        try:
            payload = self.request(
                "GET",
                f"/{object_set}/{object_id}",
                params=params,
                operation=f"read {kind or object_set}",
                object_name=object_id,
            )
        except NotFound:
            return None
        data = payload.get("data")
        return data if isinstance(data, dict) else None

    def iter_objects(
        self,
        object_set: str,
        params: Mapping[str, Any] | None = None,
        *,
        detail: bool = True,
        kind: str | None = None,
    ) -> Iterator[JSON]:
        """Yield every row of a list, walking ``startRow`` until ``endRow == totalRows``."""
        path = f"/{object_set}/detail" if detail else f"/{object_set}"
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        start = 0
        for _ in range(MAX_PAGES):
            page = dict(query)
            if start:
                page["startRow"] = start
            payload = self.request("GET", path, params=page, operation=f"list {kind or object_set}")
            rows = payload.get("data")
            if not isinstance(rows, list):
                rows = []
            for row in rows:
                if isinstance(row, dict):
                    yield row
            end, total = payload.get("endRow"), payload.get("totalRows")
            if not rows or not isinstance(end, int) or not isinstance(total, int) or end >= total:
                return
            if end <= start:
                raise NimbleError(
                    f"list {object_set}: the array's pagination did not advance "
                    f"(startRow {start}, endRow {end}, totalRows {total})"
                )
            start = end
        raise NimbleError(f"list {object_set}: more than {MAX_PAGES} pages; giving up")

    def list_objects(
        self,
        object_set: str,
        params: Mapping[str, Any] | None = None,
        *,
        detail: bool = True,
        kind: str | None = None,
    ) -> list[JSON]:
        return list(self.iter_objects(object_set, params, detail=detail, kind=kind))

    def create_object(
        self, object_set: str, body: Mapping[str, Any], *, kind: str, name: str
    ) -> JSON:
        """POST a create and return the new object's ``data``. May raise ``ResponseLost``."""
        payload = self.request(
            "POST",
            f"/{object_set}",
            body={"data": dict(body)},
            idempotent=False,
            operation=f"create {kind}",
            object_name=name,
        )
        data = payload.get("data")
        if not isinstance(data, dict):
            raise NimbleError(f"create {kind} {name!r}: the array's reply carried no object")
        return data

    def create_or_adopt(
        self,
        object_set: str,
        body: Mapping[str, Any],
        *,
        kind: str,
        name: str,
        parse: Callable[[JSON], T],
        find: Callable[[], T | None],
        mismatch: Callable[[T, float, float], str | None],
    ) -> T:
        """Create an object so that a lost response neither fails nor duplicates it.

        If the POST's answer is lost, ``find()`` looks the object up by name. Found: it is
        adopted when ``mismatch(found, started, finished)`` returns ``None`` (the times are this
        call's wall-clock window, widened by ``CLOCK_SKEW``), else ``LostResponseMismatch``.
        Not found: the array never applied the POST, so it is sent once more.
        """
        started = time.time() - CLOCK_SKEW
        try:
            return parse(self.create_object(object_set, body, kind=kind, name=name))
        except ResponseLost as lost:
            log.warning(
                "create %s %s: response lost (%s); looking it up by name", kind, name, lost.reason
            )
            first: ResponseLost = lost
        found = find()
        if found is None:
            try:
                return parse(self.create_object(object_set, body, kind=kind, name=name))
            except Conflict:
                found = find()  # the first POST landed after our lookup
                if found is None:
                    raise
        problem = mismatch(found, started, time.time() + CLOCK_SKEW)
        if problem is not None:
            raise LostResponseMismatch(kind, name, problem) from first
        log.info("create %s %s: adopted the object the lost request created", kind, name)
        return found

    def update_object(
        self,
        object_set: str,
        object_id: str,
        changes: Mapping[str, Any],
        *,
        kind: str,
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> JSON:
        """PUT changes and return the updated object's ``data``.

        If the response to an earlier attempt was lost and the retry is refused (e.g. a
        shrink or rename that already happened), re-read the object and accept it when it
        already shows every requested change.
        """
        try:
            payload = self.request(
                "PUT",
                f"/{object_set}/{object_id}",
                params=params,
                body={"data": dict(changes)},
                operation=f"update {kind}",
                object_name=name or object_id,
            )
        except NimbleAPIError as err:
            if not err.after_lost_response:
                raise
            current = self.get_object(object_set, object_id, kind=kind)
            wanted = {k: v for k, v in changes.items() if k != "force"}
            if current is None or any(current.get(k) != v for k, v in wanted.items()):
                raise
            log.info(
                "update %s %s: response was lost; the array already shows the change",
                kind,
                name or object_id,
            )
            return current
        data = payload.get("data")
        if isinstance(data, dict):
            return data
        current = self.get_object(object_set, object_id, kind=kind)
        if current is None:
            raise NotFound(
                404,
                None,
                "the object disappeared during the update",
                (),
                f"update {kind}",
                name or object_id,
            )
        return current

    def delete_object(
        self,
        object_set: str,
        object_id: str,
        *,
        kind: str,
        name: str | None = None,
        missing_ok: bool = False,
    ) -> None:
        """DELETE one object. A 404 is an error unless ``missing_ok`` (or it follows a lost
        response of our own earlier attempt)."""
        try:
            self.request(
                "DELETE",
                f"/{object_set}/{object_id}",
                operation=f"delete {kind}",
                object_name=name or object_id,
            )
        except NotFound:
            if not missing_ok:
                raise


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _json(resp: requests.Response) -> Any:
    if not resp.content:
        return {}
    try:
        return resp.json()
    except ValueError:
        return None


def _job_id(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    for message in payload.get("messages") or []:
        if isinstance(message, dict):
            args = message.get("arguments")
            if isinstance(args, dict) and args.get("job_id"):
                return str(args["job_id"])
    return None


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    cur: BaseException = exc
    while id(cur) not in seen:
        seen.add(id(cur))
        nxt: BaseException | None = None
        if cur.args and isinstance(cur.args[0], BaseException):
            nxt = cur.args[0]
        elif isinstance(cur, urllib3.exceptions.MaxRetryError) and cur.reason is not None:
            nxt = cur.reason
        elif len(cur.args) > 1 and isinstance(cur.args[1], BaseException):
            nxt = cur.args[1]
        if nxt is None:
            break
        cur = nxt
    return cur


def _maybe_sent(exc: BaseException) -> bool:
    """False only when the request certainly never reached the array (connect failed)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    cur: BaseException | None = exc
    for _ in range(8):
        if cur is None:
            break
        if isinstance(cur, urllib3.exceptions.ConnectTimeoutError | ConnectionRefusedError):
            return False
        if isinstance(cur, urllib3.exceptions.MaxRetryError):
            cur = cur.reason
        elif cur.args and isinstance(cur.args[0], BaseException):
            cur = cur.args[0]
        else:
            break
    return True


def _reason(exc: BaseException) -> str:
    root = _root_cause(exc)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "timed out waiting for the response"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "timed out connecting"
    text = str(root) or type(root).__name__
    # urllib3 prefixes messages with the connection object repr; keep the useful tail.
    text = re.sub(r"<[^>]*(Connection|object)[^>]*>:\s*", "", text)
    text = re.sub(r"^HTTPS?Connection(Pool)?\([^)]*\):\s*", "", text)
    return text.strip() or type(exc).__name__


def _short_tls(reason: str) -> str:
    m = re.search(r"certificate verify failed:?\s*([^)\]'\"]*)", reason)
    return f"certificate verify failed: {m.group(1).strip()}" if m else reason
