"""Session tokens: login, re-login after a 401, logout.

Rules this module keeps:

1. Logins are serialised by a lock and versioned: the token is replaced together with a
   generation number, and a thread whose token was already replaced by another thread's
   login reuses the new one instead of logging in again.
2. A login is retried on connection failures and 500/502/503/504 (a token POST changes
   nothing that matters if it is sent twice).
3. The password appears in no log, exception or repr: it is kept in a field excluded from
   repr, and login errors are raised ``from None`` so the chained ``requests`` exception
   (whose prepared request holds the login body) is not attached.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import requests

from .errors import AuthenticationFailed, ConnectionFailed, NimbleError, error_from_response
from .objects import is_object_id, object_path
from .retry import TRANSPORT_ERRORS, RetryPolicy, failure_reason, tls_error
from .transport import HTTPTransport, decode_json

__all__ = ["Credentials", "TokenKeeper"]

log = logging.getLogger("tfnimble.nimble.client")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    app_name: str = ""


class TokenKeeper:
    """The current session token of one client and the logins that replace it."""

    def __init__(
        self,
        transport: HTTPTransport,
        policy: RetryPolicy,
        host: str,
        port: int,
        creds: Credentials,
    ) -> None:
        self._transport = transport
        self._policy = policy
        self._host = host
        self._port = port
        self._creds = creds
        self._lock = threading.Lock()
        # (session_token, token_id, generation): replaced as a whole, read without the lock.
        self._auth: tuple[str | None, str | None, int] = (None, None, 0)
        self.login_count = 0

    @property
    def username(self) -> str:
        return self._creds.username

    def token(self) -> tuple[str, int]:
        """The current token and its generation, logging in first if there is none."""
        token, _, gen = self._auth
        if token is None:
            return self.refresh(gen)
        return token, gen

    def login(self) -> None:
        """Log in now, replacing the current token."""
        _, _, gen = self._auth
        self.refresh(gen)

    def refresh(self, stale_gen: int) -> tuple[str, int]:
        """Log in again, unless another thread already replaced generation ``stale_gen``."""
        with self._lock:
            token, _, gen = self._auth
            if token is not None and gen != stale_gen:
                return token, gen
            token, token_id = self._login()
            self._auth = (token, token_id, gen + 1)
            return token, gen + 1

    def logout(self) -> None:
        """Delete the token on the array (best effort) and forget it."""
        token, token_id, gen = self._auth
        if token and token_id and is_object_id(token_id):
            try:
                self._transport.send("DELETE", object_path("tokens", token_id), None, None, token)
            except (requests.RequestException, OSError):
                pass
        self._auth = (None, None, gen + 1)

    def _login(self) -> tuple[str, str | None]:
        creds = self._creds
        body = {
            "data": {
                "username": creds.username,
                "password": creds.password,
                "app_name": creds.app_name,
            }
        }
        attempt = 0
        while True:
            try:
                resp = self._transport.send("POST", "/tokens", None, body, None)
            except requests.exceptions.SSLError as exc:
                raise tls_error(self._host, self._port, exc) from None
            except TRANSPORT_ERRORS as exc:
                if not self._policy.can_retry(attempt):
                    reason = failure_reason(exc)
                    raise ConnectionFailed(self._host, self._port, reason, "login") from None
                self._policy.pause(attempt)
                attempt += 1
                continue
            if self._policy.retries_status(resp.status_code, True, attempt):
                self._policy.pause(attempt)
                attempt += 1
                continue
            break
        payload = decode_json(resp)
        if resp.status_code in (200, 201):
            data = payload.get("data") if isinstance(payload, dict) else None
            token = data.get("session_token") if isinstance(data, dict) else None
            if not token:
                raise NimbleError(
                    f"login to {self._host}:{self._port}: the reply carried no session_token"
                )
            self.login_count += 1
            log.debug("logged in to %s:%s as %s", self._host, self._port, self.username)
            token_id = data.get("id") if isinstance(data, dict) else None
            return str(token), (str(token_id) if token_id else None)
        if resp.status_code in (401, 403):
            err = error_from_response(resp.status_code, payload, resp.text, resp.reason)
            raise AuthenticationFailed(
                self._host, self._port, self.username, err.code, err.text, resp.status_code
            )
        raise error_from_response(
            resp.status_code, payload, resp.text, resp.reason, "login", self.username
        )
