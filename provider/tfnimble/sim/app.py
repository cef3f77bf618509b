"""HTTP semantics of the NimbleOS REST API v1 and of the simulator's /sim admin API.

``App.handle(Request) -> Response`` knows routes, envelopes, authentication, query parsing and
faults, but no sockets; ``server.py`` carries it over HTTPS.

Envelopes: single objects as ``{"data": {...}}``, lists as
``{"data": [...], "startRow", "endRow", "totalRows"}``, deletes as ``{}``, failures as
``{"messages": [protocol, detail]}`` (see ``errors.py``).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from . import query as q
from .constants import SOFTWARE_VERSION
from .errors import ProtocolError, SimError, unauthorized_body
from .faults import Faults
from .model import Model
from .validate import OBJECT_ID

log = logging.getLogger("nimble-sim")

# Open question 6: whether /versions needs a token. It answers without one (a discovery call).
VERSIONS_NEED_AUTH = False
_MAX_BODY = 16 << 20
_ID_SEGMENT = re.compile(r"^[0-9a-fA-F]{42}$")


@dataclass
class Request:
    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    peer_ip: str = "127.0.0.1"


@dataclass
class Response:
    status: int
    body: dict[str, Any] | None = None
    drop: bool = False

    def encode(self) -> bytes:
        return json.dumps(
            self.body if self.body is not None else {}, separators=(",", ":")
        ).encode()


def _error(exc: SimError) -> Response:
    return Response(exc.status, {"messages": exc.messages()})


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.started = time.time()

    def count(self, method: str, path: str, status: int) -> None:
        route = "/".join("{id}" if _ID_SEGMENT.match(p) else p for p in path.split("/"))
        with self._lock:
            self.requests[f"{method} {route}"] += 1
            self.statuses[str(status)] += 1

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self.requests.values()),
                "requests": dict(self.requests),
                "statuses": dict(self.statuses),
                "uptime": round(time.time() - self.started),
            }

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.statuses.clear()


class App:
    def __init__(self, model: Model, faults: Faults | None = None) -> None:
        self.model = model
        self.faults = faults or Faults()
        self.stats = Stats()

    # ----- entry point -----------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        path = req.path
        if path.startswith("/sim/") or path == "/sim":
            try:
                return self._admin(req)
            except SimError as exc:
                return _error(exc)
        decision = self.faults.decide(req.method, path)
        if decision.expire_sessions:
            self.model.expire_sessions()
        if decision.error_status:
            resp = Response(
                decision.error_status, {"messages": ProtocolError(decision.error_status).messages()}
            )
        else:
            try:
                self.model.run_schedules()  # the array's scheduler, on the model's clock
                resp = self._api(req)
            except SimError as exc:
                resp = _error(exc)
            except Exception:
                log.exception("internal error on %s %s", req.method, path)
                resp = _error(ProtocolError(500))
        resp.drop = decision.drop
        self.stats.count(req.method, path, resp.status)
        if decision.latency:
            # The array answers late: what the request did is done (and visible to others)
            # before its reply leaves, as on a slow link.
            self.faults.sleep(decision.latency)
        return resp

    # ----- /v1 ------------------------------------------------------------------------------
    def _api(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        if parts in (["versions"], ["v1", "versions"]):
            if VERSIONS_NEED_AUTH and not self._session(req):
                return Response(401, unauthorized_body())
            if req.method != "GET":
                raise ProtocolError(405)
            rows = [{"name": "v1", "software_version": SOFTWARE_VERSION}]
            return Response(200, {"data": rows, "startRow": 0, "endRow": 1, "totalRows": 1})
        if len(parts) < 2 or parts[0] != "v1":
            raise ProtocolError(404)
        set_name = parts[1]
        oset = self.model.object_set(set_name)
        if oset is None:
            raise ProtocolError(404)
        if set_name == "tokens" and len(parts) == 2 and req.method == "POST":
            return self._login(req)
        session = self._session(req)
        if session is None:
            return Response(401, unauthorized_body())
        rest = parts[2:]
        if not rest:
            if req.method == "GET":
                return self._list(req, oset, detail=False)
            if req.method == "POST":
                body = _json_body(req)
                if _is_fetch(body):
                    return self._list(req, oset, detail=False, fetch=body)
                return self._create(oset, body)
            raise ProtocolError(405)
        if rest == ["detail"]:
            if req.method == "GET":
                return self._list(req, oset, detail=True)
            if req.method == "POST":
                body = _json_body(req)
                if not _is_fetch(body):
                    raise SimError("SM_missing_advanced_criteria_constructor")
                return self._list(req, oset, detail=True, fetch=body)
            raise ProtocolError(405)
        if rest[0] == "actions" and len(rest) == 2:
            if req.method != "POST":
                raise ProtocolError(405)
            return self._action(oset, None, rest[1], _json_body(req))
        obj_id = rest[0] if oset.path_key else rest[0].lower()
        if not oset.path_key and not OBJECT_ID.match(obj_id):
            raise SimError("SM_invalid_path_variable", arg="id", value=rest[0])
        if len(rest) == 1:
            if req.method == "GET":
                return self._get(req, oset, obj_id)
            if req.method == "PUT":
                return self._update(req, oset, obj_id, _json_body(req))
            if req.method == "DELETE":
                return self._delete(oset, obj_id)
            raise ProtocolError(405)
        if len(rest) == 3 and rest[1] == "actions":
            if req.method != "POST":
                raise ProtocolError(405)
            return self._action(oset, obj_id, rest[2], _json_body(req))
        raise ProtocolError(404)

    def _session(self, req: Request) -> dict[str, Any] | None:
        return self.model.authenticate(req.headers.get("x-auth-token"))

    def _login(self, req: Request) -> Response:
        body = _json_body(req)
        oset = self.model.sets["tokens"]
        try:
            with self.model.store.write() as tx:
                doc = oset.login(self.model.ctx(tx), _data(body), req.peer_ip)  # type: ignore[attr-defined]
                out = oset.render(self.model.ctx(tx), doc)
        except SimError as exc:
            if exc.status == 401:
                return Response(401, unauthorized_body())
            raise
        self.model.mark_active(doc["id"])
        return Response(201, {"data": out})

    def _list(
        self, req: Request, oset: Any, detail: bool, fetch: dict[str, Any] | None = None
    ) -> Response:
        params, predicates = q.parse_query_string(req.query)
        known = oset.known_fields()
        criteria = None
        if fetch is not None:
            criteria = q.validate_criteria(fetch.get("data"), set(known))
            for key in ("startRow", "endRow", "pageSize"):
                if key in fetch and key not in params:
                    params[key] = str(fetch[key])
        oset.check_list_filter(params, criteria is not None)
        query = q.build_query(params, predicates, known)
        raw = oset.raw_fields
        early = [f for f in query.filters if f["fieldName"] in raw]
        query.filters = [f for f in query.filters if f["fieldName"] not in raw]
        by_id_only = all(f["fieldName"] == "id" for f in early) and all(
            k == "id" for k, _ in query.sort_by
        )
        with self.model.store.read() as tx:
            ctx = self.model.ctx(tx)
            if not query.filters and criteria is None and by_id_only:
                # Page on ids alone; parse and render only the documents returned.
                ids = [{"id": i} for i in tx.ids(oset.type)]
                ids = [r for r in ids if all(q.matches(r, f) for f in early)]
                page_ids, envelope = q.apply(ids, query)
                page = [d for d in (tx.get(r["id"]) for r in page_ids) if d is not None]
                return self._rows(oset, detail, query, oset.render_all(ctx, page), envelope)
            docs = oset.docs(ctx)
            if early:
                docs = [d for d in docs if all(q.matches(d, f) for f in early)]
            if not query.filters and criteria is None and all(k in raw for k, _ in query.sort_by):
                page, envelope = q.apply(docs, query)
                rows = oset.render_all(ctx, page)
            else:
                rows, envelope = q.apply(oset.render_all(ctx, docs), query, criteria)
        return self._rows(oset, detail, query, rows, envelope)

    @staticmethod
    def _rows(
        oset: Any,
        detail: bool,
        query: q.ListQuery,
        rows: list[dict[str, Any]],
        envelope: dict[str, Any],
    ) -> Response:
        if detail or query.fields is not None:
            data = [q.select_fields(r, query.fields) for r in rows]
        else:
            data = [{k: r[k] for k in oset.summary_keys if k in r} for r in rows]
        return Response(200, {"data": data, **envelope})

    def _get(self, req: Request, oset: Any, obj_id: str) -> Response:
        params, predicates = q.parse_query_string(req.query)
        for key in params:
            if key != "fields":
                raise SimError("SM_unexpected_query_param", arg=key)
        if predicates:
            raise SimError("SM_unexpected_query_param", arg=predicates[0]["fieldName"])
        fields = [f for f in params["fields"].split(",") if f] if "fields" in params else None
        with self.model.store.read() as tx:
            doc = oset.load(tx, obj_id)
            out = oset.render(self.model.ctx(tx), doc)
        return Response(200, {"data": q.select_fields(out, fields)})

    def _create(self, oset: Any, body: Any) -> Response:
        data = _data(body)
        with self.model.store.write() as tx:
            doc = oset.create(self.model.ctx(tx), data)
            out = oset.render(self.model.ctx(tx), doc)
        return Response(201, {"data": out})

    def _update(self, req: Request, oset: Any, obj_id: str, body: Any) -> Response:
        params, _ = q.parse_query_string(req.query)
        force = False
        for key, value in params.items():
            if key != "force":
                raise SimError("SM_unexpected_query_param", arg=key)
            if value.lower() not in ("true", "false"):
                raise SimError("SM_invalid_query_param", arg=key, value=value)
            force = value.lower() == "true"
        data = _data(body)
        with self.model.store.write() as tx:
            ctx = self.model.ctx(tx)
            doc = oset.update(ctx, oset.load(tx, obj_id), data, force)
            out = oset.render(self.model.ctx(tx), doc)
        return Response(200, {"data": out})

    def _delete(self, oset: Any, obj_id: str) -> Response:
        with self.model.store.write() as tx:
            doc = oset.load(tx, obj_id)
            oset.delete(self.model.ctx(tx), doc)
        return Response(200, {})

    def _action(self, oset: Any, obj_id: str | None, action: str, body: Any) -> Response:
        data = _data(body)
        with self.model.store.write() as tx:
            doc = oset.load(tx, obj_id) if obj_id else None
            result = oset.action(self.model.ctx(tx), doc, action, data)
            out = oset.render(self.model.ctx(tx), result) if isinstance(result, dict) else None
        return Response(200, {"data": out} if out is not None else {})

    # ----- /sim -----------------------------------------------------------------------------
    def _admin(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p][1:]
        if parts == ["health"] and req.method == "GET":
            return Response(200, {"status": "ok"})
        if not self._admin_auth(req):
            return Response(401, unauthorized_body())
        body = _json_body(req) if req.method in ("PUT", "POST") else None
        if parts == ["faults"]:
            if req.method == "GET":
                return Response(200, self.faults.to_json())
            if req.method == "PUT":
                try:
                    self.faults.configure(body)
                except ValueError as exc:
                    raise SimError("SM_invalid_arg_value", arg="faults", value=str(exc)) from None
                return Response(200, self.faults.to_json())
            if req.method == "DELETE":
                self.faults.clear()
                return Response(200, self.faults.to_json())
            raise ProtocolError(405)
        if parts == ["stats"]:
            if req.method == "GET":
                return Response(200, self.stats.to_json())
            if req.method == "DELETE":
                self.stats.reset()
                return Response(200, self.stats.to_json())
            raise ProtocolError(405)
        if parts == ["clock"]:
            return self._clock(req.method, body)
        if parts == ["sessions", "expire"] and req.method == "POST":
            return Response(200, {"expired": self.model.expire_sessions()})
        if len(parts) == 3 and parts[0] == "volumes":
            vol_id = parts[1].lower()
            if not OBJECT_ID.match(vol_id):
                raise SimError("SM_invalid_path_variable", arg="id", value=parts[1])
            if parts[2] == "write" and req.method == "POST":
                spec = body if isinstance(body, dict) else {}
                nbytes = spec.get("bytes")
                if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
                    raise SimError("SM_invalid_arg_value", arg="bytes", value=nbytes)
                overwrite = spec.get("overwrite", False)
                if not isinstance(overwrite, bool) or set(spec) - {"bytes", "overwrite"}:
                    raise SimError("SM_invalid_arg_value", arg="overwrite", value=overwrite)
                return Response(200, {"data": self.model.sim_write(vol_id, nbytes, overwrite)})
            if parts[2] == "connections":
                if req.method == "GET":
                    return Response(200, {"data": self.model.sim_connections(vol_id, None)})
                if req.method == "PUT":
                    count = body.get("count") if isinstance(body, dict) else None
                    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                        raise SimError("SM_invalid_arg_value", arg="count", value=count)
                    return Response(200, {"data": self.model.sim_connections(vol_id, count)})
                raise ProtocolError(405)
        raise ProtocolError(404)

    def _clock(self, method: str, body: Any) -> Response:
        """GET: the array's time. POST {"advance": seconds}: move it on (never back) and take
        the scheduled snapshots that fell due, so tests need not wait."""
        if method == "GET":
            return Response(200, {"now": int(self.model.clock())})
        if method != "POST":
            raise ProtocolError(405)
        spec = body if isinstance(body, dict) else {}
        seconds = spec.get("advance")
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int)
            or seconds < 0
            or len(spec) != 1
        ):
            raise SimError("SM_invalid_arg_value", arg="advance", value=seconds)
        return Response(200, self.model.advance_clock(seconds))

    def _admin_auth(self, req: Request) -> bool:
        auth = req.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            cfg = self.model.config
            return secrets.compare_digest(
                user.encode(), cfg.username.encode()
            ) and secrets.compare_digest(password.encode(), cfg.password.encode())
        return self._session(req) is not None


def _json_body(req: Request) -> Any:
    if not req.body.strip():
        return None
    if len(req.body) > _MAX_BODY:
        raise SimError("SM_einval")
    try:
        return json.loads(req.body)
    except (ValueError, UnicodeDecodeError):
        # Open question: the array's code for an unparsable body is undocumented; SM_einval is
        # its generic "Invalid argument."
        raise SimError("SM_einval") from None


def _data(body: Any) -> dict[str, Any]:
    if body is None:
        raise SimError("SM_missing_arg", arg="data")
    if not isinstance(body, dict):
        raise SimError("SM_einval")
    if "data" not in body:
        raise SimError("SM_missing_arg", arg="data")
    for key in body:
        if key != "data":
            raise SimError("SM_unexpected_arg", arg=key)
    if not isinstance(body["data"], dict):
        raise SimError("SM_invalid_arg_value", arg="data", value=body["data"])
    return body["data"]


def _is_fetch(body: Any) -> bool:
    return isinstance(body, dict) and (
        body.get("operationType") == "fetch"
        or (
            isinstance(body.get("data"), dict)
            and body["data"].get("_constructor") == "AdvancedCriteria"
        )
    )
