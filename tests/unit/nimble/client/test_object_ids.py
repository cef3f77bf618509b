"""Hostile object IDs: an ID that is not 42 hex digits never reaches a URL (no request sent).

An ID from state or an import such as ``../../sim/stats`` would otherwise make the client call
another endpoint with the array session, and a crafted ID on destroy could DELETE an unrelated
object (``<vol id>/../../initiator_groups/<id>``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from nimble_fake_array import FakeArray
from tfnimble.nimble.client import (
    InvalidObjectID,
    NimbleClient,
    access_control_records,
    initiator_groups,
    snapshots,
    volumes,
)
from tfnimble.nimble.client.objects import is_object_id, object_path

GOOD = "06" + "0123456789abcdef" + "0" * 16 + "00000001"

HOSTILE = [
    "../../sim/stats",
    "%2e%2e/x",
    "%2e%2e%2fsim%2fstats",
    "..",
    ".",
    "",
    GOOD + "/../../sim/stats",
    GOOD[:41] + "/",
    GOOD[:41] + "?",
    GOOD[:41] + "#",
    GOOD[:41] + " ",
    GOOD + "\n",
    GOOD + "?force=true",
    GOOD + "#x",
    "a b",
    GOOD[:41],
    GOOD + "0",
    GOOD[:41] + "g",
    "\uff10" * 42,  # full-width digits: str.isdigit() would say yes
]


def test_good_id_is_accepted_and_path_built() -> None:
    assert is_object_id(GOOD)
    assert object_path("volumes", GOOD) == f"/volumes/{GOOD}"
    assert object_path("volumes", GOOD.upper(), "actions", "restore") == (
        f"/volumes/{GOOD.upper()}/actions/restore"
    )


@pytest.mark.parametrize("bad", HOSTILE)
def test_object_path_refuses(bad: str) -> None:
    assert not is_object_id(bad)
    with pytest.raises(InvalidObjectID) as exc:
        object_path("volumes", bad)
    assert "42 hexadecimal digits" in str(exc.value)
    assert "no request was sent" in str(exc.value)
    assert exc.value.value == bad and exc.value.object_set == "volumes"


@pytest.mark.parametrize("bad", [None, 42, b"0" * 42])
def test_object_path_refuses_non_strings(bad: object) -> None:
    with pytest.raises(InvalidObjectID):
        object_path("volumes", bad)


def test_object_set_names_are_plain() -> None:
    with pytest.raises(ValueError):
        object_path("../sim", GOOD)


Operation = Callable[[NimbleClient, str], object]

OPERATIONS: dict[str, Operation] = {
    "get volume": lambda c, i: volumes.get_volume(c, i),
    "update volume": lambda c, i: volumes.update_volume(c, i, description="x"),
    "online volume": lambda c, i: volumes.set_volume_online(c, i, False),
    "delete volume": lambda c, i: volumes.delete_volume(c, i),
    "delete volume missing_ok": lambda c, i: volumes.delete_volume(c, i, missing_ok=True),
    "restore volume": lambda c, i: volumes.restore_volume(c, i, GOOD),
    "get snapshot": lambda c, i: snapshots.get_snapshot(c, i),
    "delete snapshot": lambda c, i: snapshots.delete_snapshot(c, i),
    "get initiator group": lambda c, i: initiator_groups.get_initiator_group(c, i),
    "delete initiator group": lambda c, i: initiator_groups.delete_initiator_group(c, i),
    "delete acr": lambda c, i: access_control_records.delete_access_control_record(c, i),
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
@pytest.mark.parametrize(
    "bad", ["../../sim/stats", "%2e%2e/x", GOOD + "/x", GOOD + "?x", GOOD + "#x", "a b"]
)
def test_no_request_leaves_the_client(
    client: NimbleClient, fake: FakeArray, name: str, bad: str
) -> None:
    client.login()
    before = list(fake.calls)
    with pytest.raises(InvalidObjectID):
        OPERATIONS[name](client, bad)
    assert fake.calls == before, "a request left the client for a hostile ID"


def test_transport_refuses_any_path_with_dot_segments_or_specials(
    client: NimbleClient, fake: FakeArray
) -> None:
    client.login()
    before = list(fake.calls)
    for path in ("/volumes/../../sim/stats", "/volumes/%2e%2e", "/volumes?x", "/a b", "/v#x"):
        with pytest.raises(ValueError, match="refusing to send"):
            client.request("GET", path)
    assert fake.calls == before


def test_hostile_job_id_from_the_array_is_not_followed(client: NimbleClient) -> None:
    payload = {"messages": [{"arguments": {"job_id": "../../sim/stats"}}]}
    with pytest.raises(InvalidObjectID):
        client._wait_for_job("POST", "/volumes", payload, "create volume", "v")


def test_invalid_id_becomes_a_clear_diagnostic() -> None:
    from tfnimble.nimble import diagnostics as diag
    from tfnimble.plugin import AttributePath

    path = AttributePath.root().attr("snapshot_id")
    err = diag.api_error("find", "snapshot", "../x", InvalidObjectID("snapshots", "../x"), path)
    assert err.summary == "Invalid Nimble Object ID"
    assert "42 hexadecimal digits" in err.detail and "sent nothing" in err.detail
    assert err.path == path


def test_import_of_neither_id_nor_name_says_what_an_import_id_is() -> None:
    from tfnimble.nimble import diagnostics as diag

    err = diag.not_found("volume", "../../sim/stats")
    assert "42 hexadecimal digits" in err.detail and "a name" in err.detail
    assert "42 hexadecimal" not in diag.not_found("volume", "vol-1").detail
    assert "42 hexadecimal" not in diag.not_found("snapshot", "vol-1/snap.2").detail
