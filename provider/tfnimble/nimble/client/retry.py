"""When a failed call is sent again, how long to wait first, and how failures are named.

Rules this module keeps:

1. At most ``retries`` retries per call; before retry ``n`` (from 0) the wait is drawn
   uniformly from the upper half of ``min(backoff_max, backoff * 2**n)``.
2. Connection failures are retried for idempotent calls, and for any call that could not even
   connect, because it never reached the array (``maybe_sent`` tells the two apart). A
   non-idempotent call that may have been sent is not retried: it raises ``ResponseLost``.
3. 500/502/503/504 are retried for idempotent calls (GET, HEAD, PUT, DELETE), and 503 for any
   call: the array did not take the request. Other 5xx may follow a partial apply.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

import requests
import urllib3.exceptions

from .errors import ConnectionFailed, NimbleError, TLSVerificationFailed

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRY_STATUSES",
    "TRANSPORT_ERRORS",
    "RetryPolicy",
    "failure_reason",
    "maybe_sent",
    "tls_error",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})
#: Failures of the connection itself (as opposed to an HTTP error status). A body cut short
#: (ChunkedEncodingError) is not a ConnectionError in requests, but means the same here.
TRANSPORT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times a call is retried and how long to wait before each retry."""

    retries: int
    backoff: float
    backoff_max: float
    sleep: Callable[[float], None]

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries must be >= 0")

    def can_retry(self, attempt: int) -> bool:
        """Whether attempt ``attempt`` (from 0) may be followed by another."""
        return attempt < self.retries

    def retries_status(self, status: int, idempotent: bool, attempt: int) -> bool:
        """Whether an answer with this status is sent again (rule 3)."""
        if status not in RETRY_STATUSES or not self.can_retry(attempt):
            return False
        return idempotent or status == 503

    def pause(self, attempt: int) -> None:
        """Wait before retry ``attempt`` (rule 1)."""
        ceiling = min(self.backoff_max, self.backoff * (2**attempt))
        self.sleep(ceiling / 2 + random.uniform(0, ceiling / 2))  # jitter, not crypto


def tls_error(host: str, port: int, exc: Exception) -> NimbleError:
    """The error for a failed TLS handshake: untrusted certificate, or another TLS failure."""
    reason = failure_reason(exc)
    if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate" in reason.lower():
        return TLSVerificationFailed(host, port, _short_tls(reason))
    return ConnectionFailed(host, port, f"TLS handshake failed: {reason}")


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


def maybe_sent(exc: BaseException) -> bool:
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


def failure_reason(exc: BaseException) -> str:
    """A short human reason for a connection failure (no connection-object reprs)."""
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
