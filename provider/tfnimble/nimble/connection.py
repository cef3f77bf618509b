"""The configured provider's link to the array: the logged-in REST client of one process.

``configure`` logs in through it at once (:meth:`ArrayConnection.login`): a wrong password, an
unreachable host or an untrusted certificate is then one diagnostic on the provider block, at
plan time, rather than one per resource, or an apply that fails on every resource after a
plan that asked the array nothing. (Logging in lazily, at the first resource that needs the
array, saved a configured process ~85 ms of CPU when it asked the array nothing, but it made
exactly those two failures: measured and rejected.)

Rules:

1. One client and one login per process, whatever the number of threads asking at once:
   the first caller builds it under a lock, the others wait and share it.
2. A failed login is remembered: every later call raises the same diagnostic without
   contacting the array again, so a wrong password is tried once per process (an array
   that locks accounts after failed logins never sees a burst of them).
3. The diagnostic of a failed login names the provider argument and its environment
   variable; raised at configure it points at the argument (``password``, ``ca_file``,
   ``host``); raised again later, on a resource, it has no attribute path, since the
   provider's attributes do not exist there.
4. ``close`` logs out only if a client was made.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from tfnimble.plugin import DiagnosticError

from . import diagnostics as diag

if TYPE_CHECKING:
    from .client import NimbleClient


class ArrayConnection:
    """Makes (rule 1), logs in and keeps the client of one configured provider."""

    def __init__(
        self, make: Callable[[], NimbleClient], host: str, port: int, username: str
    ) -> None:
        self._make = make
        self._where = (host, port, username)
        self._lock = threading.Lock()
        self._client: NimbleClient | None = None
        self._failure: DiagnosticError | None = None
        self._found: DiagnosticError | None = None  # the failure as configure reports it

    def __repr__(self) -> str:
        host, port, username = self._where
        return f"ArrayConnection(host={host!r}, port={port}, username={username!r})"

    @property
    def made(self) -> bool:
        """Whether the client has been made (and logged in)."""
        return self._client is not None

    def client(self) -> NimbleClient:
        """The logged-in client; a diagnostic if the login failed, now or before (rule 2)."""
        found = self._client
        if found is not None:
            return found
        with self._lock:
            if self._client is None:
                if self._failure is not None:
                    raise _copy(self._failure)
                self._client = self._login()
            return self._client

    def login(self) -> None:
        """Log in now (what ``configure`` does): a failure raises the diagnostic that points
        at the provider's argument (rule 3)."""
        try:
            self.client()
        except DiagnosticError as exc:
            if self._found is None:
                raise
            raise _copy(self._found) from exc.__cause__

    def _login(self) -> NimbleClient:
        from .client import NimbleError

        client = self._make()
        try:
            client.login()
        except NimbleError as err:
            client.close()
            self._found = diag.client_error(err, *self._where)
            self._failure = DiagnosticError(self._found.summary, self._found.detail)  # rule 3
            raise _copy(self._failure) from err
        return client

    def close(self) -> None:
        """Log out and close the connection pool, if the client was ever made (rule 4)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def _copy(err: DiagnosticError) -> DiagnosticError:
    """A fresh exception per raise: threads never share one traceback."""
    return DiagnosticError(err.summary, err.detail, err.path)


def resolve(provider_data: object) -> NimbleClient:
    """The client behind ``ctx.provider_data``: an :class:`ArrayConnection`'s (made now if
    needed), or the object itself (unit tests hand a client or a fake one in directly)."""
    if isinstance(provider_data, ArrayConnection):
        return provider_data.client()
    return provider_data  # type: ignore[return-value]
