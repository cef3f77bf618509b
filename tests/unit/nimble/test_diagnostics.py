"""Wording of the nimble provider's diagnostics."""

from __future__ import annotations

from tfnimble.nimble import diagnostics as diag
from tfnimble.nimble.client import (
    AuthenticationFailed,
    BadRequest,
    Conflict,
    ConnectionFailed,
    TLSVerificationFailed,
)
from tfnimble.plugin import AttributePath

ROOT = AttributePath.root()
ARGS = {"size": "size_mib", "name": "name"}


def _conflict(code: str, text: str) -> Conflict:
    return Conflict(409, code, text, (), "delete volume", "vm-0-boot", "SM_http_conflict")


def test_api_error_names_object_explains_code_and_quotes_original() -> None:
    err = _conflict("SM_vol_has_connections", "Initiators are connected to volume vm-0-boot.")
    d = diag.api_error("delete", "clone volume", "vm-0-boot", err)
    assert d.summary == "Error Deleting Clone Volume"
    assert d.detail.startswith(
        'Could not delete clone volume "vm-0-boot": the array answered '
        "SM_vol_has_connections: iSCSI initiators are still connected"
    )
    assert d.detail.endswith(f"Original error: {err}")
    assert "SM_vol_has_connections" in d.detail.split("Original error:")[1]


def test_api_error_points_at_the_argument_the_array_rejected() -> None:
    err = BadRequest(
        400,
        "SM_invalid_arg_value",
        "Invalid value '0' specified for the argument 'size'.",
        (),
        "create volume",
        "v",
    )
    d = diag.api_error("create", "volume", "v", err, args=ARGS)
    assert d.path == ROOT.attr("size_mib")
    assert d.summary == "Error Creating Volume"


def test_has_clones_lists_clones_in_plain_words() -> None:
    err = _conflict("SM_snap_has_clone", "Snapshot golden for volume m has a clone.")
    d = diag.has_clones("snapshot", "golden", ["a", "b", "c"], err)
    assert d.summary == "Snapshot Still Has Clones"
    assert 'Snapshot "golden" still has 3 clones not managed by this configuration: a, b, c.' in (
        d.detail
    )
    assert "Delete those clones" in d.detail and "Original error:" in d.detail


def test_has_clones_singular_and_long_lists() -> None:
    assert "still has 1 clone not" in diag.has_clones("volume", "m", ["x"]).detail
    many = diag.has_clones("snapshot", "s", [f"c{i}" for i in range(25)]).detail
    assert "c19 and 5 more" in many


def test_client_errors_one_clear_diagnostic_each() -> None:
    auth = diag.client_error(
        AuthenticationFailed("a", 5392, "admin", "SM_unauthorized", "bad", 401), "a", 5392, "admin"
    )
    assert auth.summary == "Nimble Array Login Failed" and auth.path == ROOT.attr("password")
    tls = diag.client_error(TLSVerificationFailed("a", 5392, "self-signed"), "a", 5392, "admin")
    assert tls.summary == "Untrusted Nimble Array Certificate" and "NIMBLE_CA_FILE" in tls.detail
    conn = diag.client_error(ConnectionFailed("a", 5392, "refused"), "a", 5392, "admin")
    assert conn.summary == "Cannot Reach The Nimble Array" and conn.path == ROOT.attr("host")


def test_summaries_are_title_case() -> None:
    for d in (
        diag.size_shrink("volume", "v", 2, 1),
        diag.size_below_snapshot("c", "s", 10, 5),
        diag.not_found("performance policy", "x"),
        diag.unknown_config("host", "NIMBLE_HOST"),
        diag.missing_config("username", "NIMBLE_USERNAME"),
    ):
        assert all(w[0].isupper() for w in d.summary.split()), d.summary
