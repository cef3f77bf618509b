"""Plan-time validation of nimble_volume_collection and nimble_protection_schedule: every
mistake knowable from the configuration is refused at validate, on the attribute written."""

from __future__ import annotations

from typing import Any

import pytest
from tfnimble.nimble.provider import NimbleProvider
from tfnimble.plugin import UNKNOWN, AttributePath
from tfnimble.plugin.engine import Engine

VC = "nimble_volume_collection"
PS = "nimble_protection_schedule"
VC_ID = "07" + "0" * 39 + "1"
VOL = "06" + "0" * 39 + "1"


def validate(type_name: str, **config: Any) -> list[Any]:
    e = Engine(NimbleProvider())
    schema = e.resource_schema(type_name)
    cfg = {**dict.fromkeys([*schema.attributes, *schema.blocks]), **config}
    return [d for d in e.validate_resource_config(type_name, cfg) if d.severity.name == "ERROR"]


def schedule(**config: Any) -> list[Any]:
    return validate(
        PS, **{"volume_collection_id": VC_ID, "name": "nightly", "num_retain": 7, **config}
    )


def test_a_good_schedule_and_collection_pass() -> None:
    assert schedule() == []
    assert schedule(period=2, period_unit="hours", at_time=28800, until_time=64800) == []
    assert schedule(days="monday,friday", at_time=UNKNOWN) == []
    assert validate(VC, name="images", volume_ids=[VOL]) == []
    assert validate(VC, name="app", app_sync="vss", app_server="sql1", app_id="sql2017") == []


@pytest.mark.parametrize(
    ("config", "attr", "words"),
    [
        ({"period_unit": "months"}, "period_unit", "must be one of"),
        ({"period": 0}, "period", "period"),
        ({"at_time": 86400}, "at_time", "86399"),
        ({"until_time": -5}, "until_time", "until_time"),
        ({"at_time": 7200, "until_time": 3600}, "until_time", "before at_time (7200)"),
        ({"at_time": 90000, "until_time": None}, "at_time", "86399"),
        ({"days": "Monday"}, "days", "'Monday' is not a weekday"),
        ({"days": "monday,monday"}, "days", "named twice"),
        ({"days": "mon, tue"}, "days", "not a weekday"),
        ({"volume_collection_id": "images"}, "volume_collection_id", "42"),
    ],
)
def test_schedule_mistakes_name_the_attribute(
    config: dict[str, Any], attr: str, words: str
) -> None:
    errs = schedule(**config)
    assert errs, config
    assert any(d.path == AttributePath.root().attr(attr) and words in d.detail for d in errs), [
        (d.path, d.detail) for d in errs
    ]


def test_num_retain_is_required_and_positive() -> None:
    assert validate(PS, volume_collection_id=VC_ID, name="s", num_retain=0)
    # Terraform itself refuses a missing required attribute before the provider sees it
    assert Engine(NimbleProvider()).resource_schema(PS).attributes["num_retain"].required


@pytest.mark.parametrize(
    ("config", "attr", "words"),
    [
        ({"app_id": "sql2017"}, "app_id", 'set app_sync = "vss"'),
        ({"app_sync": "vmware", "app_server": "h"}, "app_server", 'set app_sync = "vss"'),
        ({"app_sync": "oracle"}, "app_sync", "must be one of"),
        # the array refuses VSS without its server and application (SM_protpol_not_specified)
        ({"app_sync": "vss", "app_id": "sql2017"}, "app_server", 'app_sync = "vss" needs'),
        ({"app_sync": "vss", "app_server": "sql1"}, "app_id", 'app_sync = "vss" needs'),
        ({"volume_ids": ["vm-0"]}, "volume_ids", "'vm-0'"),
        ({"name": "bad name"}, "name", "letters, digits"),
    ],
)
def test_collection_mistakes_name_the_attribute(
    config: dict[str, Any], attr: str, words: str
) -> None:
    errs = validate(VC, **{"name": "images", **config})
    assert any(d.path == AttributePath.root().attr(attr) and words in d.detail for d in errs), [
        (d.path, d.detail) for d in errs
    ]


def test_unknown_app_sync_defers_the_check() -> None:
    assert validate(VC, name="images", app_sync=UNKNOWN, app_id="sql2017") == []
    # an unknown server (from another resource) is not a missing one
    assert validate(VC, name="images", app_sync="vss", app_server=UNKNOWN, app_id="sql2017") == []


def test_leaving_vss_clears_the_application_as_the_array_spells_it() -> None:
    """app_sync "vss" -> "none" (docs: changed in place) must clear app_server and app_id in
    one PUT; app_id is an enumeration whose "no application" value is "inval" ("" is refused),
    and an "inval" read back is null, so the next plan is empty."""
    from tfnimble.nimble.client.volume_collections import VolumeCollection
    from tfnimble.nimble.resource_volume_collection import (
        VolumeCollectionModel,
        VolumeCollectionResource,
        update_body,
    )

    vss = VolumeCollectionModel(
        id=VC_ID, name="app", app_sync="vss", app_server="sql1", app_id="sql2017"
    )
    plain = VolumeCollectionModel(id=VC_ID, name="app", app_sync="none")
    assert update_body(plain, vss) == {"app_sync": "none", "app_server": "", "app_id": "inval"}
    read = VolumeCollection(id=VC_ID, name="app", app_sync="none", app_id="inval")
    assert VolumeCollectionResource().to_model(read, plain).app_id is None


def test_importing_a_schedule_id_of_another_array_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """`terraform import` of a schedule through the wrong provider block names the array asked
    and that the ID was made by another group, as every other resource's import does."""
    import threading

    from tfnimble.nimble.client import NimbleClient, groups
    from tfnimble.nimble.client import protection_schedules as ps
    from tfnimble.nimble.client.models import Group
    from tfnimble.nimble.resource_protection_schedule import ProtectionScheduleResource
    from tfnimble.plugin import Context, DiagnosticError

    here, there = "aa" * 8, "bb" * 8
    monkeypatch.setattr(groups, "get_group", lambda c: Group(f"00{here}{'0' * 16}00000001", "a"))
    monkeypatch.setattr(ps, "get_protection_schedule", lambda c, ident: None)
    cl = NimbleClient("array-a.example", 5392, "admin", "pw")
    ctx = Context(provider_data=cl, stop_event=threading.Event(), timeout=60)
    with pytest.raises(DiagnosticError) as err:
        ProtectionScheduleResource().import_state(ctx, f"0c{there}{'0' * 16}00000001")
    assert err.value.summary == "Protection Schedule Not Found"
    assert "the import ID belongs to no protection schedule on the array at" in err.value.detail
    assert "belongs to another array" in err.value.detail


def test_importing_a_templates_schedule_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The array lists the predefined protection templates' schedules among its protection
    schedules, but keeps them read-only: importing one as a collection's schedule is refused
    at import, naming the template, instead of failing at the first change."""
    import threading

    from tfnimble.nimble.client import NimbleClient
    from tfnimble.nimble.client import protection_schedules as ps
    from tfnimble.nimble.resource_protection_schedule import ProtectionScheduleResource
    from tfnimble.plugin import Context, DiagnosticError

    tmpl_id, sched_id = "12" + "0" * 39 + "3", "0c" + "0" * 39 + "7"
    template_schedule = ps.ProtectionSchedule.from_api(
        {
            "id": sched_id,
            "name": "daily",
            "volcoll_or_prottmpl_type": "protection_template",
            "volcoll_or_prottmpl_id": tmpl_id,
            "num_retain": 30,
        }
    )
    monkeypatch.setattr(ps, "get_protection_schedule", lambda c, ident: template_schedule)
    cl = NimbleClient("array-a.example", 5392, "admin", "pw")
    ctx = Context(provider_data=cl, stop_event=threading.Event(), timeout=60)
    with pytest.raises(DiagnosticError) as err:
        ProtectionScheduleResource().import_state(ctx, sched_id)
    assert err.value.summary == "Cannot Import a Template's Schedule"
    assert f"belongs to protection template {tmpl_id}" in err.value.detail
    # a collection's own schedule imports
    own = ps.ProtectionSchedule.from_api(
        {**template_schedule.raw, "volcoll_or_prottmpl_type": "volume_collection"}
    )
    monkeypatch.setattr(ps, "get_protection_schedule", lambda c, ident: own)
    assert ProtectionScheduleResource().import_state(ctx, sched_id).id == sched_id
