"""Exceptions raised by the Nimble REST client.

Hierarchy::

    NimbleError
    ├── NimbleAPIError            the array answered with an error status
    │   ├── BadRequest            400
    │   ├── Unauthorized          401 after one re-login (role does not permit the call)
    │   ├── NotFound              404
    │   └── Conflict              409
    ├── ConnectionFailed          the array could not be reached (host:port named)
    │   └── ResponseLost          a non-idempotent request was sent but its answer never came
    ├── TLSVerificationFailed     the array's certificate was not trusted
    ├── InvalidObjectID           an ID bound for a URL path is not 42 hex digits (not sent)
    ├── AuthenticationFailed      login refused (names the user, never the password)
    └── LostResponseMismatch      a lost create left an object that is not the one we asked for
        └── LostResponseConflict  ... one older than the call: also the array's Conflict

Invariant: no exception message, attribute or repr ever contains the password. The login
path raises with ``from None`` so the chained ``requests`` exception (whose prepared request
holds the login body) is not attached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "AuthenticationFailed",
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "InvalidObjectID",
    "LostResponseConflict",
    "LostResponseMismatch",
    "NimbleAPIError",
    "NimbleError",
    "NotFound",
    "ResponseLost",
    "TLSVerificationFailed",
    "Unauthorized",
    "error_from_response",
]


class NimbleError(Exception):
    """Base class of every error raised by the client."""


class InvalidObjectID(NimbleError, ValueError):
    """An object ID bound for a URL path is not a Nimble object ID (42 hexadecimal digits).

    Raised before anything is sent: an ID such as ``../../sim/stats`` taken from state or an
    import would otherwise address another endpoint with the array session.
    """

    def __init__(self, object_set: str, value: object) -> None:
        self.object_set = object_set
        self.value = value
        shown = repr(value) if len(repr(value)) <= 120 else repr(value)[:117] + "..."
        super().__init__(
            f"{shown} is not a Nimble object ID ({object_set}): an ID is 42 hexadecimal "
            "digits; no request was sent"
        )


class NimbleAPIError(NimbleError):
    """The array answered with an error status.

    ``code`` and ``text`` come from the detail message (``messages[1]`` when the array sends
    the usual protocol/detail pair, else ``messages[0]``); ``protocol_code`` is the
    ``SM_http_*`` code of ``messages[0]`` when a pair was sent.
    """

    def __init__(
        self,
        status: int,
        code: str | None,
        text: str,
        messages: Sequence[Mapping[str, Any]] = (),
        operation: str | None = None,
        object_name: str | None = None,
        protocol_code: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.text = text
        self.messages: tuple[Mapping[str, Any], ...] = tuple(messages)
        self.operation = operation
        self.object_name = object_name
        self.protocol_code = protocol_code
        #: True when an earlier attempt of the same call may have reached the array
        #: (its response was lost), so this error may describe our own first attempt.
        self.after_lost_response = False
        super().__init__(self._message())

    def _message(self) -> str:
        detail = f"{self.code}: {self.text}" if self.code else self.text
        http = f"HTTP {self.status}"
        if self.protocol_code:
            http += f" {self.protocol_code}"
        return f"{_context(self.operation, self.object_name)}{detail} ({http})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"text={self.text!r}, operation={self.operation!r}, "
            f"object_name={self.object_name!r})"
        )


class BadRequest(NimbleAPIError):
    """HTTP 400: the array rejected an argument."""


class Unauthorized(NimbleAPIError):
    """HTTP 401 even after a fresh login: the user's role does not permit the call."""


class NotFound(NimbleAPIError):
    """HTTP 404: the object does not exist."""


class Conflict(NimbleAPIError):
    """HTTP 409: the call conflicts with the object's state (exists, online, has a clone...)."""


class _ArrayEndpointError(NimbleError):
    """An error about the array's endpoint as a whole; the message names ``host:port``."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(self._message())

    @property
    def where(self) -> str:
        return _hostport(self.host, self.port)

    def _message(self) -> str:
        return f"the Nimble array at {self.where}: {self.reason}"


class ConnectionFailed(_ArrayEndpointError):
    """The array's REST endpoint could not be reached or stopped answering."""

    def __init__(self, host: str, port: int, reason: str, operation: str | None = None) -> None:
        self.operation = operation
        super().__init__(host, port, reason)

    def _message(self) -> str:
        return (
            f"{_context(self.operation, None)}cannot reach the Nimble array at "
            f"{self.where}: {self.reason}. Check the host and port "
            f"(the REST API listens on 5392 by default) and that no firewall blocks it."
        )


class ResponseLost(ConnectionFailed):
    """A non-idempotent request was sent, but the connection dropped before its answer.

    The array may or may not have applied it; callers that can identify the object (creates)
    look it up instead of failing.
    """

    def _message(self) -> str:
        return (
            f"{_context(self.operation, None)}the connection to the Nimble array at "
            f"{self.where} dropped after the request was sent "
            f"({self.reason}); the array may or may not have applied it."
        )


class TLSVerificationFailed(_ArrayEndpointError):
    """The array's TLS certificate is not trusted."""

    def _message(self) -> str:
        return (
            f"TLS verification of the Nimble array at {self.where} failed: {self.reason}. "
            f"Set ca_file to the array's CA certificate (Nimble arrays ship a self-signed one), "
            f"or, only if you accept the risk of talking to an impostor, set insecure = true."
        )


class AuthenticationFailed(_ArrayEndpointError):
    """Login was refused: wrong username or password. Names the user, never the password.

    ``reason`` is the array's answer (``code: text``)."""

    def __init__(
        self, host: str, port: int, username: str, code: str | None, text: str, status: int
    ) -> None:
        self.username = username
        self.code = code
        self.text = text
        self.status = status
        super().__init__(host, port, f"{code}: {text}" if code else text)

    def _message(self) -> str:
        return (
            f"login to the Nimble array at {self.where} as user {self.username!r} "
            f"failed: {self.reason} (HTTP {self.status}). Check the username and password."
        )


class LostResponseMismatch(NimbleError):
    """A create's response was lost and the object found under that name is not ours."""

    def __init__(self, kind: str, name: str, reason: str) -> None:
        self.kind = kind
        self.name = name
        self.reason = reason
        super().__init__(
            f"create {kind} {name!r}: the array's response was lost, and the {kind} now named "
            f"{name!r} does not match what was asked for ({reason}); refusing to adopt it. "
            f"Rename or remove that {kind} and retry."
        )


class LostResponseConflict(Conflict, LostResponseMismatch):
    """A create's response was lost and its name belongs to an object older than the call.

    It is the array's own ``Conflict`` (status, code and messages of the create sent again),
    and a ``LostResponseMismatch`` naming why the older object was not adopted.
    """

    def __init__(self, conflict: Conflict, kind: str, name: str, reason: str) -> None:
        self.status = conflict.status
        self.code = conflict.code
        self.text = conflict.text
        self.messages = conflict.messages
        self.operation = conflict.operation
        self.object_name = conflict.object_name
        self.protocol_code = conflict.protocol_code
        self.after_lost_response = True
        self.kind = kind
        self.name = name
        self.reason = reason
        NimbleError.__init__(
            self,
            f"{self._message()}; the response to the first attempt was lost and the {kind} "
            f"named {name!r} is not the one this call created ({reason})",
        )


def _context(operation: str | None, object_name: str | None) -> str:
    if operation and object_name:
        return f"{operation} {object_name!r}: "
    if operation:
        return f"{operation}: "
    return ""


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_BY_STATUS: dict[int, type[NimbleAPIError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
}


def parse_messages(
    payload: Any,
) -> tuple[tuple[Mapping[str, Any], ...], str | None, str | None, str | None]:
    """Split an error body into (messages, protocol_code, detail_code, detail_text).

    NimbleOS sends ``messages[0]`` = protocol code (``SM_http_conflict``) and ``messages[1]`` =
    detail code (``SM_eexist``); some replies carry only one message.
    """
    raw = payload.get("messages") if isinstance(payload, Mapping) else None
    messages = tuple(m for m in raw if isinstance(m, Mapping)) if isinstance(raw, list) else ()
    if not messages:
        return (), None, None, None
    if len(messages) >= 2:
        protocol, detail = messages[0], messages[1]
        return (
            messages,
            _str(protocol.get("code")),
            _str(detail.get("code")),
            _str(detail.get("text")),
        )
    only = messages[0]
    return messages, None, _str(only.get("code")), _str(only.get("text"))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def error_from_response(
    status: int,
    payload: Any,
    body_text: str,
    reason: str | None,
    operation: str | None = None,
    object_name: str | None = None,
) -> NimbleAPIError:
    """Build the NimbleAPIError subclass for an error reply (JSON or not)."""
    messages, protocol, code, text = parse_messages(payload)
    if text is None:
        snippet = " ".join(body_text.split())[:200]
        text = snippet or reason or "no error details in the response"
    cls = _BY_STATUS.get(status, NimbleAPIError)
    return cls(status, code, text, messages, operation, object_name, protocol)
