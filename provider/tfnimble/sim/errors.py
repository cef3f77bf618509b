"""The array's error vocabulary: protocol codes, detail codes and their texts.

Rule 1: a failing call carries two messages: ``messages[0]`` is the protocol code for the
HTTP status (``SM_http_*``), ``messages[1]`` the detail code with the useful text.
Rule 2: authentication failures and bare protocol errors carry one message only.
"""

from __future__ import annotations

from typing import Any

# HTTP status -> (protocol code, text). Texts past 401 are not on HPE's pages; they follow the
# RFC 2616 phrases (clients such as the Proxmox plugin match "due to a conflict").
PROTOCOL: dict[int, tuple[str, str]] = {
    200: ("SM_http_ok", "The request has succeeded."),
    206: ("SM_http_partial_content", "The server has fulfilled the partial GET request."),
    400: ("SM_http_bad_request", "The request could not be understood by the server."),
    401: ("SM_http_unauthorized", "The request requires user authentication."),
    403: ("SM_http_forbidden", "The server understood the request, but is refusing to fulfill it."),
    404: ("SM_http_not_found", "The server has not found anything matching the URI given."),
    405: (
        "SM_http_method_not_allowed",
        "The method specified in the request is not allowed for the resource identified by the "
        "URI.",
    ),
    409: (
        "SM_http_conflict",
        "The request could not be completed due to a conflict with the current state of the "
        "resource.",
    ),
    500: (
        "SM_http_internal_server_error",
        "The server encountered an unexpected condition which prevented it from fulfilling the "
        "request.",
    ),
    503: (
        "SM_http_service_unavailable",
        "The server is currently unable to handle the request due to a temporary overloading or "
        "maintenance of the server.",
    ),
}

# Detail code -> (HTTP status, text template). Templates use the argument names of HPE's pages.
DETAIL: dict[str, tuple[int, str]] = {
    "SM_eexist": (409, "Object exists."),
    "SM_enoent": (404, "No such object."),
    "SM_invalid_arg_value": (400, "Invalid value '{value}' specified for the argument '{arg}'."),
    "SM_missing_arg": (400, "Missing the argument '{arg}' in the request."),
    "SM_unexpected_arg": (400, "Unexpected argument '{arg}'."),
    "SM_einval": (400, "Invalid argument."),
    "SM_invalid_path_variable": (
        400,
        "Invalid value '{value}' specified for path variable '{arg}'.",
    ),
    "SM_invalid_query_param": (400, "Invalid value '{value}' specified for the parameter '{arg}'."),
    "SM_unexpected_query_param": (400, "Unexpected query parameter '{arg}'."),
    "SM_malformed_url": (400, "Malformed URL."),
    "SM_eperm": (409, "Operation not permitted."),
    "SM_ebusy": (409, "Resource busy."),
    "SM_ealready": (409, "Object is already in requested state."),
    "SM_enospc": (409, "Available space insufficient for operation."),
    "SM_vol_has_online_snap": (409, "Volume {vol} has an online snapshot."),
    "SM_vol_has_clone": (409, "Volume {vol} has a clone."),
    # The code is HPE's (Go SDK error enum; HPE's Python SDK tests expect it when a volume still
    # in a volume collection is deleted); the text is ours.
    "SM_vol_assoc_volcoll": (409, "Volume {vol} is associated with a volume collection."),
    "SM_snap_has_clone": (409, "Snapshot {snap} for volume {vol} has a clone."),
    # Open question (no public source gives the exact text): only Cinder's substring "Initiators are
    # connected to" is known; the rest of the sentence is ours.
    "SM_vol_has_connections": (409, "Initiators are connected to volume {vol}."),
    "SM_vol_not_offline_on_restore": (409, "Volume {vol} must be offline to be restored."),
    "SM_vol_size_decreased": (
        409,
        "The operation will decrease the size of the volume. Use force option to proceed.",
    ),
    # Group-target LUN conflicts: the codes are HPE's (Go SDK error enum), the texts ours.
    "SM_in_use_lun": (409, "LUN {lun} is already in use on the group target."),
    "SM_lun_mismatch": (
        409,
        "Volume {vol} already has LUN {have} on the group target; it cannot also have LUN {lun}.",
    ),
    "SM_no_available_lun": (409, "No free LUN is left on the group target."),
    "SM_duplicate_initiator_with_args": (409, "Initiator with {name} {value} already exists."),
    "SM_invalid_initiator_iqn": (400, "Invalid Initiator iqn specified."),
    "SM_fc_svc_not_available": (409, "Fibre Channel service is not available."),
    # Protection policies (collections and templates) and replication partners: the codes are
    # HPE's (Go SDK error enum; HPE's Python SDK tests expect SM_protpol_not_specified for a
    # VSS policy without its application server), the texts and statuses ours.
    "SM_protpol_not_specified": (400, "Application synchronization needs the argument '{arg}'."),
    "SM_protpol_invalid_app_sync": (400, "Synchronization '{value}' cannot be validated."),
    "SM_no_such_partner": (404, "No such replication partner."),
    # HPE's Python SDK test expects SM_repl_no_partner_avail for a replicated snapshot
    # collection on a group without partners; SM_ext_trig_sched_not_present is a Go SDK code
    "SM_repl_no_partner_avail": (409, "No replication partner is available."),
    "SM_ext_trig_sched_not_present": (409, "The collection has no external-trigger schedule."),
    "SM_too_large_page_size": (
        206,
        "Page size {page_size} exceeds the server row limit {server_row_limit}. Please set a "
        "smaller page size.",
    ),
    "SM_start_row_beyond_total_rows": (
        200,
        "The parameter 'startRow' '{startRow}' is beyond 'totalRows' '{totalRows}'.",
    ),
    "SM_end_row_beyond_total_rows": (
        200,
        "The parameter 'endRow' '{endRow}' is beyond 'totalRows' '{totalRows}'.",
    ),
    "SM_start_row_beyond_end_row": (
        400,
        "The parameter 'startRow' '{startRow}' must not be beyond 'endRow' '{endRow}'.",
    ),
    "SM_missing_advanced_criteria_constructor": (
        400,
        "Missing the '_constructor' of the advanced criteria.",
    ),
    "SM_missing_criteria": (400, "Missing the 'criteria' of the advanced criteria."),
    "SM_missing_criteria_fieldName": (400, "Missing the 'fieldName' of a criterion."),
    "SM_missing_criteria_operator": (400, "Missing the 'operator' of a criterion."),
    "SM_unsupported_query_operator": (400, "Unsupported query operator '{operator}'."),
}


class SimError(Exception):
    """An API failure in the array's own terms; ``app`` renders it as the two-message body."""

    def __init__(self, code: str, status: int | None = None, **arguments: Any) -> None:
        default_status, template = DETAIL.get(code, (400, code))
        self.code = code
        self.status = status if status is not None else default_status
        self.arguments = {k: v for k, v in arguments.items() if v is not None}
        try:
            self.text = template.format(**{k: _short(v) for k, v in arguments.items()})
        except (KeyError, IndexError):
            self.text = template
        super().__init__(f"{self.code}: {self.text}")

    def messages(self) -> list[dict[str, Any]]:
        proto = protocol_message(self.status)
        detail: dict[str, Any] = {
            "code": self.code,
            "severity": "error" if self.status >= 400 else "warn",
            "text": self.text,
        }
        if self.arguments:
            detail["arguments"] = {k: _short(v) for k, v in self.arguments.items()}
        return [proto, detail]


class ProtocolError(SimError):
    """A bare protocol error (unknown route, wrong method): one message, no detail code."""

    def __init__(self, status: int) -> None:
        code, text = PROTOCOL.get(status, PROTOCOL[500])
        Exception.__init__(self, f"{code}: {text}")
        self.code, self.status, self.text, self.arguments = code, status, text, {}

    def messages(self) -> list[dict[str, Any]]:
        return [protocol_message(self.status)]


def protocol_message(status: int) -> dict[str, Any]:
    code, text = PROTOCOL.get(status, PROTOCOL[500])
    severity = "error" if status >= 400 else "info"
    return {"code": code, "severity": severity, "text": text}


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 300:
        return value[:300] + "..."
    if isinstance(value, (dict, list)):
        text = str(value)
        return text if len(text) <= 300 else text[:300] + "..."
    return value


# Single-message replies (the login 401 and bare protocol errors, as clients handle them).
def unauthorized_body() -> dict[str, Any]:
    return {"messages": [protocol_message(401)]}
