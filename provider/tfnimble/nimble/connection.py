"""The configured provider's link to the array: the REST client, made at its first use.

Terraform starts the provider 3-5 times per command and configures it in two or three of
those processes, but some of them never ask the array anything: the plan process of an apply
that only creates, the destroy-planning process of a destroy. Building the client imports
``requests`` (most of a configured process's start-up CPU), and logging in costs a TLS
handshake and two requests (login, and logout at shutdown) on both sides. So ``configure``
checks everything it can without the network and returns an :class:`ArrayConnection`;
the first resource or data source that needs the array builds the client and logs in.

Rules:

1. One client and one login per process, whatever the number of threads asking at once:
   the first caller builds it under a lock, the others wait and share it.
2. A failed login is remembered: every later call raises the same diagnostic without
   contacting the array again, so a wrong password is tried once per process (an array
   that locks accounts after failed logins never sees a burst of them).
3. The diagnostic is the one a failed login at configure gave: the same summary and detail
   (it names the provider argument and its environment variable). It has no attribute path,
   since it is reported on the resource that needed the array, where the provider's
   attributes do not exist.
4. ``close`` logs out only if a client was made; a process that never needed the array
   sends nothing.
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

    def _login(self) -> NimbleClient:
        from .client import NimbleError

        client = self._make()
        try:
            client.login()
        except NimbleError as err:
            client.close()
            found = diag.client_error(err, *self._where)
            self._failure = DiagnosticError(found.summary, found.detail)  # rule 3
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
