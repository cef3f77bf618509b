"""nimble_access_control_record: a LUN the array refuses points at `lun` (no array)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from tfnimble.nimble import _common
from tfnimble.nimble.client import Conflict, access_control_records
from tfnimble.nimble.client.models import AccessControlRecord
from tfnimble.nimble.resource_access_control_record import (
    AccessControlRecordModel,
    AccessControlRecordResource,
)
from tfnimble.plugin import Context, DiagnosticError

VOL, OTHER, IG = "06" + "a" * 40, "06" + "b" * 40, "02" + "c" * 40


def plan(lun: int | None) -> AccessControlRecordModel:
    return AccessControlRecordModel(
        volume_id=VOL, initiator_group_id=IG, apply_to="both", lun=lun, timeouts=None
    )


@pytest.fixture
def refused(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The array refuses the create; lists one record of another volume at LUN 3."""
    sent: list[Any] = []

    def create(cl: Any, vol_id: str, group_id: str, **kw: Any) -> AccessControlRecord:
        sent.append(kw.get("lun"))
        raise Conflict(409, "SM_lun_in_use", "LUN 3 is already in use on the group target")

    others = [AccessControlRecord("0d1", vol_id=OTHER, vol_name="boot-1", lun=3)]
    monkeypatch.setattr(access_control_records, "create_access_control_record", create)
    monkeypatch.setattr(
        access_control_records, "list_access_control_records", lambda cl, *a, **k: others
    )
    monkeypatch.setattr(_common, "client", lambda ctx: object())
    return sent


def ctx() -> Context:
    return Context(provider_data=object(), stop_event=threading.Event(), timeout=60)


def test_a_lun_another_volume_uses_is_refused_naming_lun(refused: list[Any]) -> None:
    with pytest.raises(DiagnosticError) as err:
        AccessControlRecordResource().create(ctx(), plan(3))
    assert refused == [3]
    assert str(err.value.path) == "lun"
    assert "SM_lun_in_use" in err.value.detail  # the array's own error
    assert "lun = 3 (already used by boot-1)" in err.value.detail
    assert "leave lun unset" in err.value.detail


def test_an_unset_lun_is_not_blamed(refused: list[Any]) -> None:
    with pytest.raises(DiagnosticError) as err:
        AccessControlRecordResource().create(ctx(), plan(None))
    assert err.value.path is None or str(err.value.path) != "lun"
