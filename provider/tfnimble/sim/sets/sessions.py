"""Sessions (``/v1/tokens``: log in, list, log out) and jobs."""

from __future__ import annotations

import secrets
from typing import Any

from .. import validate as v
from ..errors import SimError
from ..fields import table
from ..model import Ctx, ObjectSet
from ..store import Doc

TOKEN_FIELDS = table(
    "app_name creation_time expiry_time id last_modified sdk_name server_uuid session_token "
    "source_ip username",
    "app_name creation_time id last_modified sdk_name session_token source_ip username",
    constants={"server_uuid": ""},
)
TOKEN_CREATE: dict[str, v.Validator] = {
    "username": v.v_str(104, allow_empty=False),
    "password": v.v_secret,
    "app_name": v.v_str(255),
    "source_ip": v.v_str(64),
    "sdk_name": v.v_str(255),
    "otp_code": v.v_str(64),
    "grant_type": v.v_str(255),
    "assertion": v.v_str(8192),
}
TOKEN_PRUNE_INTERVAL = 60.0


class TokenSet(ObjectSet, name="tokens", type="token", fields=TOKEN_FIELDS, summary_keys=("id",)):
    _last_prune = 0.0

    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        timeout = ctx.group["user_inactivity_timeout"]
        return {"expiry_time": self.m.token_expiry(d, timeout)}

    def login(self, ctx: Ctx, raw: dict[str, Any], peer_ip: str) -> Doc:
        data = v.check_body(raw, TOKEN_CREATE, ("username",))
        cfg = self.m.config
        if not (
            secrets.compare_digest(data["username"].encode(), cfg.username.encode())
            and secrets.compare_digest(
                str(data.get("password", "")).encode(), cfg.password.encode()
            )
        ):
            raise SimError("SM_http_unauthorized", status=401)
        self._prune(ctx)
        return self.m.add(
            ctx.tx,
            "token",
            session_token=secrets.token_hex(16),
            username=data["username"],
            app_name=data.get("app_name", ""),
            sdk_name=data.get("sdk_name", ""),
            source_ip=data.get("source_ip") or peer_ip,
        )

    def _prune(self, ctx: Ctx) -> None:
        """Forget expired sessions, at most once a minute, so CI runs that log in thousands of
        times do not grow the state without bound."""
        t = self.m.clock()
        if t - self._last_prune < TOKEN_PRUNE_INTERVAL:
            return
        self._last_prune = t
        timeout = ctx.group["user_inactivity_timeout"]
        for doc in ctx.tx.list("token"):
            if self.m.token_expiry(doc, timeout) < t:
                ctx.tx.delete(doc["id"])

    def delete(self, ctx: Ctx, doc: Doc) -> None:
        ctx.tx.delete(doc["id"])


JOB_FIELDS = table(
    "completion_time creation_time current_phase current_phase_description description id "
    "last_modified name object_id op_type parent_job_id percent_complete request response "
    "result state total_phases type"
)


class JobSet(ObjectSet, name="jobs", type="job", fields=JOB_FIELDS):
    """Every operation completes synchronously, so the array never has a job to report."""

    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        return {k: d.get(k) for k in JOB_FIELDS.order}
