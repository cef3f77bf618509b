"""Test helper: a fake Nimble array behind a requests transport adapter (the network seam).

``FakeArray`` is a ``requests.adapters.BaseAdapter`` holding a tiny in-memory array (tokens,
volumes, snapshots, initiator groups, access control records, pools, policies, group,
network config); like the array it refuses a second volume or initiator group of one name and
a second access control record of one volume and group (SM_eexist). Faults are scripted per
(method, path prefix): a status to return without applying, a connection refused (never
sent), a response lost after (or without) applying the call, or a TLS failure. It counts
logins and requests in flight.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import requests.adapters
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

PASSWORD = "s3cr3t-Pa55word!"
USERNAME = "admin"

PROTOCOL = {
    400: ("SM_http_bad_request", "The request could not be understood by the server."),
    401: ("SM_http_unauthorized", "The request requires user authentication."),
    404: ("SM_http_not_found", "The requested resource could not be found."),
    409: ("SM_http_conflict", "The request could not be completed due to a conflict."),
    500: ("SM_http_internal_server_error", "Internal server error."),
    503: ("SM_http_service_unavailable", "The service is unavailable."),
}


def error_body(status: int, code: str | None = None, text: str | None = None) -> dict[str, Any]:
    pcode, ptext = PROTOCOL.get(status, ("SM_http_error", "Error."))
    messages = [{"code": pcode, "severity": "error", "text": ptext}]
    if code:
        messages.append({"code": code, "severity": "error", "text": text or code})
    return {"messages": messages}


@dataclass
class Fault:
    method: str
    path: str  # prefix of the path after /v1
    action: str | int  # "refused" | "lost" | "lost_noapply" | "ssl" | "html502" | status
    times: int = 1


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    token: str | None
    verify: Any


@dataclass(repr=False)
class FakeArray(requests.adapters.BaseAdapter):
    delay: float = 0.0
    page_size: int = 100
    username: str = USERNAME
    password: str = PASSWORD
    faults: list[Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    logins: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    #: when set, every request waits here after counting itself in flight
    gate: threading.Event | None = None
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    now: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        for s in (
            "volumes",
            "snapshots",
            "initiator_groups",
            "access_control_records",
            "pools",
            "performance_policies",
            "groups",
            "network_configs",
            "jobs",
        ):
            self.objects.setdefault(s, {})
        self.add("pools", {"name": "default", "capacity": 10 << 40, "is_default": True})
        self.add("performance_policies", {"name": "default", "block_size": 4096})
        self.add("groups", {"name": "group-sim", "version_current": "6.1.0.0-1"})

    # ------------------------------------------------------------------ state helpers

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{'ab' * 8}{'0' * 16}{next(self._ids):08x}"

    def add(self, object_set: str, obj: dict[str, Any]) -> dict[str, Any]:
        prefix = {
            "volumes": "06",
            "pools": "0a",
            "performance_policies": "03",
            "groups": "00",
            "access_control_records": "0d",
        }.get(object_set, "2a")
        obj = {"id": self.new_id(prefix), "creation_time": int(self.now()), **obj}
        self.objects[object_set][obj["id"]] = obj
        return obj

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def fault(self, method: str, path: str, action: str | int, times: int = 1) -> None:
        self.faults.append(Fault(method, path, action, times))

    def count(self, method: str, path: str) -> int:
        return sum(1 for c in self.calls if c.method == method and c.path.startswith(path))

    # ------------------------------------------------------------------ transport

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,  # type: ignore[override]
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        path = url.path.removeprefix("/v1")
        query = dict(parse_qsl(url.query))
        raw = request.body
        body = json.loads(raw) if raw else None
        token = request.headers.get("X-Auth-Token")
        with self._lock:
            self.calls.append(Call(request.method or "", path, query, body, token, verify))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            fault = self._take_fault(request.method or "", path)
        try:
            if self.delay:
                time.sleep(self.delay)
            if self.gate is not None:
                self.gate.wait(60)
            return self._respond(request, fault, path, query, body, token)
        finally:
            with self._lock:
                self.in_flight -= 1

    def close(self) -> None:
        pass

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for f in self.faults:
            if f.times > 0 and f.method == method and path.startswith(f.path):
                f.times -= 1
                return f
        return None

    def _respond(
        self,
        request: requests.PreparedRequest,
        fault: Fault | None,
        path: str,
        query: dict[str, str],
        body: Any,
        token: str | None,
    ) -> requests.Response:
        if fault is not None:
            if fault.action == "refused":
                err = urllib3.exceptions.NewConnectionError(
                    None,  # type: ignore[arg-type]
                    "Failed to establish a new connection: [Errno 111] Connection refused",
                )
                raise requests.exceptions.ConnectionError(
                    urllib3.exceptions.MaxRetryError(None, request.url or "", err),  # type: ignore[arg-type]
                    request=request,
                )
            if fault.action == "ssl":
                raise requests.exceptions.SSLError(
                    "HTTPSConnectionPool(host='array', port=5392): Max retries exceeded "
                    "(Caused by SSLError(SSLCertVerificationError(1, '[SSL: "
                    "CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
                    "certificate (_ssl.c:1006)')))",
                    request=request,
                )
            if fault.action == "html502":
                return self._response(
                    request, 502, b"<html><body>Bad Gateway</body></html>", "text/html"
                )
            if fault.action in ("lost", "lost_noapply", "chunked", "read_timeout"):
                if fault.action != "lost_noapply":
                    self._route(request.method or "", path, query, body, token)
                if fault.action == "chunked":
                    raise requests.exceptions.ChunkedEncodingError(
                        urllib3.exceptions.ProtocolError("Response ended prematurely"),
                        request=request,
                    )
                if fault.action == "read_timeout":
                    raise requests.exceptions.ReadTimeout("Read timed out.", request=request)
                raise requests.exceptions.ConnectionError(
                    urllib3.exceptions.ProtocolError(
                        "Connection aborted.",
                        http.client.RemoteDisconnected("Remote end closed connection"),
                    ),
                    request=request,
                )
            if isinstance(fault.action, int):
                return self._json(request, fault.action, error_body(fault.action))
        status, payload = self._route(request.method or "", path, query, body, token)
        return self._json(request, status, payload)

    def _json(
        self, request: requests.PreparedRequest, status: int, payload: Any
    ) -> requests.Response:
        data = b"" if payload is None else json.dumps(payload).encode()
        return self._response(request, status, data, "application/json")

    @staticmethod
    def _response(
        request: requests.PreparedRequest, status: int, content: bytes, ctype: str
    ) -> requests.Response:
        resp = requests.Response()
        resp.status_code = status
        resp._content = content
        resp.headers = CaseInsensitiveDict({"Content-Type": ctype})
        resp.request = request
        resp.url = request.url or ""
        resp.reason = http.client.responses.get(status, "")
        resp.encoding = "utf-8"
        return resp

    # ------------------------------------------------------------------ the fake API

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, token: str | None
    ) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if parts == ["tokens"] and method == "POST":
            data = (body or {}).get("data", {})
            if data.get("username") != self.username or data.get("password") != self.password:
                return 401, error_body(401)
            with self._lock:
                tok = f"tok{next(self._ids):029d}"
                self.tokens.add(tok)
                self.logins += 1
            return 201, {
                "data": {
                    "id": self.new_id("19"),
                    "session_token": tok,
                    "username": data["username"],
                }
            }
        with self._lock:
            authorised = token in self.tokens
        if not authorised:
            return 401, error_body(401)
        object_set = parts[0]
        store = self.objects.get(object_set)
        if store is None:
            return 404, error_body(404, "SM_enoent", "No such object.")
        if len(parts) == 1 or parts[1] == "detail":
            if method == "GET":
                return self._list(object_set, store, query, detail=len(parts) == 2)
            if method == "POST":
                return self._create(object_set, store, body["data"])
        obj = store.get(parts[1])
        if obj is None:
            return 404, error_body(404, "SM_enoent", "No such object.")
        if len(parts) == 4 and parts[2] == "actions":
            return 200, {"data": {}}
        if method == "GET":
            return 200, {"data": obj}
        if method == "PUT":
            changes = dict(body["data"])
            changes.pop("force", None)
            if "online" in changes and changes["online"] == obj.get("online"):
                return 409, error_body(409, "SM_ealready", "Object is already in requested state.")
            if (
                "size" in changes
                and changes["size"] < obj.get("size", 0)
                and not body["data"].get("force")
            ):
                return 409, error_body(409, "SM_vol_size_decreased", "Use force.")
            obj.update(changes)
            return 200, {"data": obj}
        if method == "DELETE":
            if object_set == "volumes" and obj.get("online"):
                return 409, error_body(409, "SM_eperm", "Operation not permitted.")
            del store[parts[1]]
            return 200, {}
        return 405, error_body(405)

    def _list(
        self, object_set: str, store: dict[str, dict[str, Any]], query: dict[str, str], detail: bool
    ) -> tuple[int, Any]:
        query = dict(query)
        start = int(query.pop("startRow", "0"))
        rows = [
            o
            for o in store.values()
            if all(
                str(o.get(k)).lower() == v.lower()
                if isinstance(o.get(k), bool)
                else str(o.get(k)) == v
                for k, v in query.items()
            )
        ]
        page = rows[start : start + self.page_size]
        if not detail:
            page = [{"id": o["id"], "name": o.get("name")} for o in page]
        return 200, {
            "data": page,
            "startRow": start,
            "endRow": start + len(page),
            "totalRows": len(rows),
        }

    def _create(
        self, object_set: str, store: dict[str, dict[str, Any]], data: dict[str, Any]
    ) -> tuple[int, Any]:
        if object_set in ("volumes", "initiator_groups") and any(
            o.get("name") == data.get("name") for o in store.values()
        ):
            return 409, error_body(409, "SM_eexist", "Object exists.")
        if object_set == "access_control_records" and any(
            (o.get("vol_id"), o.get("initiator_group_id"))
            == (data.get("vol_id"), data.get("initiator_group_id"))
            for o in store.values()
        ):
            return 409, error_body(409, "SM_eexist", "Object exists.")
        obj = dict(data)
        if object_set == "volumes":
            obj.setdefault("online", True)
            obj.setdefault("pool_id", next(iter(self.objects["pools"])))
            if obj.get("clone"):
                snap = self.objects["snapshots"].get(obj["base_snap_id"])
                if snap is None:
                    return 404, error_body(404, "SM_no_such_snap", "No such snapshot.")
                obj.setdefault("size", snap["size"])
                obj["parent_vol_id"] = snap["vol_id"]
            else:
                obj["clone"] = False
                obj["base_snap_id"] = ""
        if object_set == "snapshots":
            vol = self.objects["volumes"].get(obj["vol_id"])
            if vol is None:
                return 404, error_body(404, "SM_no_such_volume", "No such volume.")
            obj["size"] = vol["size"]
            obj["vol_name"] = vol["name"]
        return 201, {"data": self.add(object_set, obj)}
