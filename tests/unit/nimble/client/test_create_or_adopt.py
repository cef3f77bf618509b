"""The creation-window rule of create_or_adopt, for volumes, initiator groups and ACRs.

A create whose response was lost looks the object up by name. It adopts what it finds only if
that object was created inside this call's window; a same-named object from before the call is
someone else's, and the array's own conflict error is what the call raises.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from nimble_fake_array import FakeArray
from tfnimble.nimble.client import (
    Conflict,
    LostResponseMismatch,
    NimbleClient,
    access_control_records,
    initiator_groups,
    volumes,
)
from tfnimble.nimble.client.objects import CLOCK_SKEW

IQN = "iqn.1993-08.org.debian:01:aaa"

#: What a case's setup returns: the create call, the fields of an object that matches it
#: exactly, and the name the create gives the object (the one errors must carry).
Setup = tuple[Callable[[NimbleClient], Any], dict[str, Any], str]


def _volume(fake: FakeArray) -> Setup:
    fields = {"name": "v1", "size": 2048, "online": True, "clone": False, "base_snap_id": ""}
    return (lambda c: volumes.create_volume(c, "v1", 2048)), fields, "v1"


def _initiator_group(fake: FakeArray) -> Setup:
    fields = {
        "name": "hosts",
        "access_protocol": "iscsi",
        "iscsi_initiators": [{"label": IQN, "iqn": IQN}],
    }
    return (lambda c: initiator_groups.create_initiator_group(c, "hosts", [IQN])), fields, "hosts"


def _acr(fake: FakeArray) -> Setup:
    vol = fake.add("volumes", {"name": "master", "size": 1024, "online": True, "clone": False})
    group = fake.add("initiator_groups", {"name": "hosts", "access_protocol": "iscsi"})
    fields = {"vol_id": vol["id"], "initiator_group_id": group["id"], "apply_to": "both"}
    return (
        (lambda c: access_control_records.create_access_control_record(c, vol["id"], group["id"])),
        fields,
        f"{vol['id']}/{group['id']}",
    )


CASES: dict[str, tuple[str, Callable[[FakeArray], Setup]]] = {
    "volume": ("volumes", _volume),
    "initiator_group": ("initiator_groups", _initiator_group),
    "access_control_record": ("access_control_records", _acr),
}


@pytest.mark.parametrize("kind", CASES)
@pytest.mark.parametrize("lost", ["lost", "read_timeout"])
def test_create_or_adopt_adopts_the_object_this_call_created(
    client: NimbleClient, fake: FakeArray, kind: str, lost: str
) -> None:
    object_set, setup = CASES[kind]
    create, _, _ = setup(fake)
    fake.fault("POST", f"/{object_set}", lost)  # applied, then the response never arrived
    made = create(client)
    (only,) = fake.objects[object_set].values()
    assert made.id == only["id"]
    assert fake.count("POST", f"/{object_set}") == 1  # looked up, not sent again


@pytest.mark.parametrize("kind", CASES)
@pytest.mark.parametrize("lost", ["lost", "lost_noapply"])
def test_create_or_adopt_refuses_a_same_named_object_older_than_the_call(
    client: NimbleClient, fake: FakeArray, kind: str, lost: str
) -> None:
    object_set, setup = CASES[kind]
    create, fields, name = setup(fake)
    # Everything asked for matches; only its age tells it is not this call's.
    created = int(time.time() - CLOCK_SKEW - 3600)
    old = fake.add(object_set, {**fields, "creation_time": created})
    fake.fault("POST", f"/{object_set}", lost)
    with pytest.raises(Conflict) as info:
        create(client)
    err = info.value
    assert err.status == 409 and err.code == "SM_eexist"
    assert err.object_name == name and repr(name) in str(err)
    assert "time window" in str(err)
    assert isinstance(err, LostResponseMismatch)
    assert list(fake.objects[object_set].values()) == [old]  # neither adopted nor duplicated
    assert fake.count("POST", f"/{object_set}") == 2  # sent again for the array's verdict


def test_create_or_adopt_window_allows_clock_skew(client: NimbleClient, fake: FakeArray) -> None:
    # The array's clock runs behind ours by less than CLOCK_SKEW: still this call's object.
    fake.now = lambda: time.time() - CLOCK_SKEW / 2
    fake.fault("POST", "/volumes", "lost")
    vol = volumes.create_volume(client, "v1", 2048)
    assert vol.name == "v1" and fake.count("POST", "/volumes") == 1


def test_create_or_adopt_window_ends_after_the_lookup(
    client: NimbleClient, fake: FakeArray
) -> None:
    # A creation time later than now plus CLOCK_SKEW cannot be this call's either.
    fake.add(
        "volumes",
        {"name": "v1", "size": 2048, "clone": False, "creation_time": int(time.time() + 3600)},
    )
    fake.fault("POST", "/volumes", "lost_noapply")
    with pytest.raises(Conflict, match="SM_eexist"):
        volumes.create_volume(client, "v1", 2048)
