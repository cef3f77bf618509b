"""Object-level requests shared by every REST object: read, paged list, create, update, delete.

Rules this module keeps:

1. A list walks ``startRow`` until ``endRow == totalRows``, at most ``MAX_PAGES`` pages, and
   fails if the array's pagination does not advance.
2. The creation-window rule: when a create's response is lost, an object found under its
   name is adopted only if its ``creation_time`` lies inside this call's window (from
   ``CLOCK_SKEW`` seconds before the first POST was sent to ``CLOCK_SKEW`` seconds after the
   lookup) and it matches what was asked. An older object is not ours: the create is sent
   again so that the array's own error (a ``Conflict`` naming the object) is what surfaces.
3. Every object ID that goes into a URL path passes :func:`object_path`: it must be a
   Nimble object ID (42 hexadecimal digits) or ``InvalidObjectID`` is raised and nothing is
   sent; it is percent-escaped all the same. An ID read from state or typed into an import
   therefore cannot address another endpoint (``../../sim/stats``) with the array session.
4. A PUT refused after a lost response is accepted when a re-read shows every requested
   change; a DELETE after a lost response that finds 404 succeeded (``NimbleClient.request``).
"""

from __future__ import annotations

import abc
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypedDict, TypeVar, Unpack
from urllib.parse import quote

from .errors import (
    Conflict,
    InvalidObjectID,
    LostResponseConflict,
    LostResponseMismatch,
    NimbleAPIError,
    NimbleError,
    NotFound,
    ResponseLost,
)

__all__ = [
    "ALREADY",
    "CLOCK_SKEW",
    "MAX_PAGES",
    "OBJECT_ID",
    "ObjectRequests",
    "ObjectSet",
    "gone",
    "is_object_id",
    "object_path",
]

log = logging.getLogger("tfnimble.nimble.client")

JSON = dict[str, Any]

#: The array's detail code for "the object is already in the requested state".
ALREADY = "SM_ealready"

#: Upper bound on pages walked by one list call (a guard against a server that never ends).
MAX_PAGES = 1000

#: Seconds of clock difference tolerated between this host and the array when matching a
#: lost create's object by its creation_time (rule 2).
CLOCK_SKEW = 120.0

#: A Nimble object ID (NsObjectID): 42 hexadecimal digits.
OBJECT_ID = re.compile(r"[0-9a-fA-F]{42}")

#: Object set names this client sends (``volumes``, ``initiator_groups``...).
_OBJECT_SET = re.compile(r"[a-z][a-z_]*")


def is_object_id(value: object) -> bool:
    """Whether ``value`` is a Nimble object ID (a str of exactly 42 hexadecimal digits)."""
    return isinstance(value, str) and OBJECT_ID.fullmatch(value) is not None


def object_path(object_set: str, object_id: object, *rest: str) -> str:
    """``/{object_set}/{object_id}[/rest...]`` for a URL, after checking that ``object_id``
    is a Nimble object ID (rule 3); raises ``InvalidObjectID`` otherwise."""
    if not _OBJECT_SET.fullmatch(object_set):
        raise ValueError(f"not an object set name: {object_set!r}")
    if not is_object_id(object_id):
        raise InvalidObjectID(object_set, object_id)
    assert isinstance(object_id, str)
    return "/".join(["", object_set, quote(object_id, safe=""), *(quote(r, safe="") for r in rest)])


class Created(Protocol):
    """What the creation-window rule reads from a found object."""

    @property
    def creation_time(self) -> int: ...


C = TypeVar("C", bound=Created)
M = TypeVar("M")


class RequestOptions(TypedDict, total=False):
    """The keyword arguments of ``NimbleClient.request``."""

    params: Mapping[str, Any] | None
    body: Any
    idempotent: bool | None
    operation: str | None
    object_name: str | None


class ObjectRequests(abc.ABC):
    """The object helpers of ``NimbleClient``, built on its ``request``."""

    @abc.abstractmethod
    def request(self, method: str, path: str, **options: Unpack[RequestOptions]) -> JSON:
        """Send one API call and return the decoded JSON envelope."""

    def _on_object(
        self,
        method: str,
        object_set: str,
        object_id: str,
        operation: str,
        object_name: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> JSON:
        """One call on one object's URL; the ID enters the path only through `object_path`."""
        return self.request(
            method,
            object_path(object_set, object_id),
            params=params,
            body=body,
            operation=operation,
            object_name=object_name,
        )

    def get_object(
        self,
        object_set: str,
        object_id: str,
        *,
        kind: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> JSON | None:
        """GET one object's ``data``; ``None`` when the array answers 404 or sends no object."""
        try:
            payload = self._on_object(
                "GET", object_set, object_id, f"read {kind or object_set}", object_id, params=params
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
        """Yield every row of a list, page by page (rule 1). ``None`` filters are dropped."""
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

    def list_objects(self, object_set: str, *args: Any, **kwargs: Any) -> list[JSON]:
        """``iter_objects`` as a list (same arguments)."""
        return list(self.iter_objects(object_set, *args, **kwargs))

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
        parse: Callable[[JSON], C],
        find: Callable[[], C | None],
        mismatch: Callable[[C], str | None],
    ) -> C:
        """Create an object so that a lost response neither fails nor duplicates it.

        If the POST's answer is lost, ``find()`` looks the object up by name, and the
        creation-window rule (rule 2) decides:

        - nothing found: the array presumably never applied the POST, so it is sent once more
          (if that meets a ``Conflict``, the first POST landed after the lookup: look again);
        - found, but created outside the window (before this call): sent once more, and the
          array's ``Conflict`` is raised as ``LostResponseConflict``;
        - found inside the window: adopted when ``mismatch(found)`` returns ``None``, else
          ``LostResponseMismatch`` with that reason.
        """
        since = time.time() - CLOCK_SKEW
        try:
            return parse(self.create_object(object_set, body, kind=kind, name=name))
        except ResponseLost as lost:
            log.warning(
                "create %s %s: response lost (%s); looking it up by name", kind, name, lost.reason
            )
            first: ResponseLost = lost

        def in_window(obj: C | None) -> C | None:
            """``obj`` if it was created during this call, else ``None``."""
            if obj is not None and since <= obj.creation_time <= time.time() + CLOCK_SKEW:
                return obj
            return None

        candidate = find()
        found = in_window(candidate)
        if found is None:
            try:
                return parse(self.create_object(object_set, body, kind=kind, name=name))
            except Conflict as conflict:
                if candidate is not None:
                    reason = (
                        f"it was created at {candidate.creation_time}, outside this call's "
                        f"time window ({since:.0f} to {time.time() + CLOCK_SKEW:.0f})"
                    )
                    raise LostResponseConflict(conflict, kind, name, reason) from first
                found = in_window(find())  # the first POST landed after our lookup
                if found is None:
                    raise
        problem = mismatch(found)
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
        already shows every requested change (``force`` aside).
        """
        label = name or object_id
        try:
            payload = self._on_object(
                "PUT",
                object_set,
                object_id,
                f"update {kind}",
                label,
                params=params,
                body={"data": dict(changes)},
            )
        except NimbleAPIError as err:
            if not err.after_lost_response:
                raise
            current = self.get_object(object_set, object_id, kind=kind)
            wanted = {k: v for k, v in changes.items() if k != "force"}
            if current is None or any(current.get(k) != v for k, v in wanted.items()):
                raise
            log.info(
                "update %s %s: response was lost; the array already shows the change", kind, label
            )
            return current
        data = payload.get("data")
        if isinstance(data, dict):
            return data
        current = self.get_object(object_set, object_id, kind=kind)
        if current is None:
            raise gone(f"update {kind}", label, "the object disappeared during the update")
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
            self._on_object("DELETE", object_set, object_id, f"delete {kind}", name or object_id)
        except NotFound:
            if not missing_ok:
                raise


def gone(operation: str, object_name: str, text: str) -> NotFound:
    """A ``NotFound`` for an object that vanished between two calls of one operation."""
    return NotFound(404, None, text, (), operation, object_name)


@dataclass(frozen=True)
class ObjectSet(Generic[M]):
    """The read, find, list and delete functions of one REST object set, typed by its model.

    ``kind`` names the object in errors ("initiator group"); ``parse`` builds the model.
    """

    name: str
    kind: str
    parse: Callable[[JSON], M]

    def get(self, client: ObjectRequests, object_id: str) -> M | None:
        """The object with that id, or ``None`` if the array has none."""
        data = client.get_object(self.name, object_id, kind=self.kind)
        return self.parse(data) if data is not None else None

    def list(
        self,
        client: ObjectRequests,
        filters: Mapping[str, Any] | None = None,
        *,
        detail: bool = True,
    ) -> list[M]:
        """Every object matching the exact-match ``filters``, all pages."""
        rows = client.iter_objects(self.name, filters, detail=detail, kind=self.kind)
        return [self.parse(r) for r in rows]

    def find_by_name(self, client: ObjectRequests, name: str, **scope: str) -> M | None:
        """The object with exactly that name (and the ``scope`` values, where a row carries
        them), filtered on the array and checked again here; ``None`` if there is none."""
        for row in client.iter_objects(self.name, {**scope, "name": name}, kind=self.kind):
            if row.get("name") == name and all(row.get(k, v) == v for k, v in scope.items()):
                return self.parse(row)
        return None

    def create_or_adopt(
        self: ObjectSet[C],
        client: ObjectRequests,
        body: Mapping[str, Any],
        *,
        name: str,
        find: Callable[[], C | None],
        mismatch: Callable[[C], str | None],
    ) -> C:
        """``ObjectRequests.create_or_adopt`` for this object set (creation-window rule)."""
        return client.create_or_adopt(
            self.name,
            body,
            kind=self.kind,
            name=name,
            parse=self.parse,
            find=find,
            mismatch=mismatch,
        )

    def update(self, client: ObjectRequests, object_id: str, changes: Mapping[str, Any]) -> M:
        """PUT ``changes`` and return the updated object."""
        return self.parse(client.update_object(self.name, object_id, changes, kind=self.kind))

    def set_online(
        self, client: ObjectRequests, object_id: str, online: bool, *, force: bool = False
    ) -> M:
        """Bring the object online or offline (``force`` is sent only when true); "already in
        that state" (SM_ealready) is success, answered with a fresh read."""
        changes: dict[str, Any] = {"online": online}
        if force:
            changes["force"] = True
        try:
            return self.update(client, object_id, changes)
        except Conflict as err:
            if err.code != ALREADY:
                raise
        current = self.get(client, object_id)
        if current is None:
            raise gone(f"set {self.kind} online", object_id, f"the {self.kind} disappeared")
        return current

    def delete(self, client: ObjectRequests, object_id: str, *, missing_ok: bool = False) -> None:
        """DELETE the object; a 404 is an error unless ``missing_ok``."""
        client.delete_object(self.name, object_id, kind=self.kind, missing_ok=missing_ok)


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
