"""nimble_volumes and nimble_snapshots: plan-time checks of the filters, what is sent to the
array, what the provider filters on top, and the diagnostic for an ID of another array."""

from __future__ import annotations

from typing import Any

import pytest
from tfnimble.nimble import _filters as flt
from tfnimble.nimble import foreign_ids
from tfnimble.nimble.client import (
    NimbleClient,
    Snapshot,
    Volume,
    groups,
    pools,
    snapshots,
    volumes,
)
from tfnimble.nimble.client.models import Group, Pool
from tfnimble.nimble.provider import NimbleProvider
from tfnimble.plugin import AttributePath, DiagnosticError
from tfnimble.plugin.engine import Engine
from tfnimble.plugin.resource import check_model_matches_schema

HERE = "aa" * 8  # this group's part of every ID
THERE = "bb" * 8
SNAP = f"04{HERE}{'0' * 16}00000001"
VOL = f"06{HERE}{'0' * 16}00000001"
GROUP_ID = f"00{HERE}{'0' * 16}00000001"


def path(attr: str) -> AttributePath:
    return AttributePath.root().attr(attr)


def errors(diags: Any) -> list[Any]:
    return [d for d in diags if d.severity.name == "ERROR"]


def blank(e: Engine, type_name: str) -> dict[str, Any]:
    return dict.fromkeys(e.data_source_schema(type_name).attributes)


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> NimbleClient:
    cl = NimbleClient("array-a.example", 5392, "admin", "pw")
    monkeypatch.setattr(groups, "get_group", lambda c: Group(GROUP_ID, "group-a"))
    return cl


def engine(cl: object) -> Engine:
    e = Engine(NimbleProvider())
    e.provider_data = cl
    e.configured = True
    return e


def vol(name: str, **kw: Any) -> Volume:
    raw = {"volcoll_id": kw.pop("volcoll_id", "")}
    return Volume(f"06{HERE}{'0' * 16}{abs(hash(name)) % 10**8:08d}", name, 1024, raw=raw, **kw)


# --- the schemas ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls_name", ["VolumesDataSource", "SnapshotsDataSource"])
def test_models_match_their_schemas(cls_name: str) -> None:
    ds = next(d for d in NimbleProvider().data_sources() if d.__name__ == cls_name)
    assert check_model_matches_schema(ds.Model, ds().schema()) == []


# --- validate: the filters ----------------------------------------------------------------------


def test_an_invalid_regex_is_refused_at_validate_on_its_attribute() -> None:
    e = Engine(NimbleProvider())
    for type_name in ("nimble_volumes", "nimble_snapshots"):
        cfg = {**blank(e, type_name), "name_regex": "vm-(["}
        found = errors(e.validate_data_source_config(type_name, cfg))
        assert [(d.summary, d.path) for d in found] == [
            ("Invalid Regular Expression", path("name_regex"))
        ]
        assert "vm-([" in found[0].detail and "Python `re` syntax" in found[0].detail


def test_id_filters_must_have_the_form_of_an_id() -> None:
    e = Engine(NimbleProvider())
    for attr in ("base_snapshot_id", "parent_volume_id", "volume_collection_id"):
        cfg = {**blank(e, "nimble_volumes"), attr: "golden"}
        found = errors(e.validate_data_source_config("nimble_volumes", cfg))
        assert [d.path for d in found] == [path(attr)], attr
        assert "42" in found[0].detail


def test_snapshot_filters_that_conflict_are_refused() -> None:
    e = Engine(NimbleProvider())
    cfg = {**blank(e, "nimble_snapshots"), "volume_id": VOL, "volume_name": "base"}
    found = errors(e.validate_data_source_config("nimble_snapshots", cfg))
    assert [(d.summary, d.path) for d in found] == [
        ("Conflicting Snapshot Filters", path("volume_name"))
    ]
    cfg = {**blank(e, "nimble_snapshots"), "volume_name": "base", "pool": "default"}
    found = errors(e.validate_data_source_config("nimble_snapshots", cfg))
    assert [d.path for d in found] == [path("pool")]


def test_name_filters() -> None:
    assert flt.name_kept("vm-1-boot", "vm-", None)
    assert not flt.name_kept("db-1", "vm-", None)
    assert flt.name_kept("vm-12-boot", None, r"^vm-[0-9]+-boot$")
    assert not flt.name_kept("vm-12-boot-old", None, r"^vm-[0-9]+-boot$")
    assert flt.name_kept("old-vm-1", None, "vm-1")  # re.search: anywhere unless anchored
    assert not flt.name_kept("vm-1", "vm-", "^x")  # both filters apply


# --- read: what is sent, what is kept ----------------------------------------------------------


def test_volumes_sends_the_array_filters_and_filters_names_itself(
    client: NimbleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, Any]] = []
    fleet = [vol("vm-2-boot"), vol("vm-10-boot"), vol("vm-1-boot"), vol("vm-x-boot")]

    def list_volumes(cl: object, filters: dict[str, Any]) -> list[Volume]:
        sent.append(dict(filters))
        return fleet

    monkeypatch.setattr(volumes, "list_volumes", list_volumes)
    monkeypatch.setattr(snapshots, "get_snapshot", lambda c, i: Snapshot(SNAP, "base", VOL))
    monkeypatch.setattr(pools, "find_pool_by_name", lambda c, n: Pool(id="0a" + "1" * 40, name=n))
    e = engine(client)
    cfg = {
        **blank(e, "nimble_volumes"),
        "base_snapshot_id": SNAP,
        "pool": "default",
        "clone": True,
        "name_regex": "^vm-[0-9]+-boot$",
    }
    res = e.read_data_source("nimble_volumes", cfg)
    assert errors(res.diagnostics) == []
    assert len(sent) == 1
    query = sent[0]
    assert query["base_snap_id"] == SNAP and query["clone"] is True
    assert query["pool_id"] == "0a" + "1" * 40
    assert query["parent_vol_id"] is None and query["volcoll_id"] is None
    assert set(query["fields"].split(",")) >= {"id", "name", "size", "base_snap_id", "volcoll_id"}
    state = res.state
    assert state["names"] == ["vm-1-boot", "vm-10-boot", "vm-2-boot"]
    assert state["ids"] == [v["id"] for v in state["volumes"]]
    first = state["volumes"][0]
    assert first["name"] == "vm-1-boot" and first["size_mib"] == 1024
    assert first["volume_collection_id"] == "" and first["online"] is True
    assert first["description"] is None  # as the resources hold an unset one


def test_snapshots_of_every_volume_are_listed_volume_by_volume(
    client: NimbleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    vols = [vol("b"), vol("a")]

    def list_snapshots(cl: object, vol_id: str) -> list[Snapshot]:
        asked.append(vol_id)
        v = next(x for x in vols if x.id == vol_id)
        return [
            Snapshot(f"04{HERE}{'0' * 16}{len(asked):04d}{i:04d}", f"{p}-{i}", v.id, v.name)
            for i, p in enumerate(("nightly", "manual"))
        ]

    monkeypatch.setattr(volumes, "list_volumes", lambda cl, q: vols)
    monkeypatch.setattr(snapshots, "list_snapshots", list_snapshots)
    e = engine(client)
    cfg = {**blank(e, "nimble_snapshots"), "name_prefix": "nightly"}
    res = e.read_data_source("nimble_snapshots", cfg)
    assert errors(res.diagnostics) == []
    assert asked == [v.id for v in vols]
    got = [(s["volume_name"], s["name"]) for s in res.state["snapshots"]]
    assert got == [("a", "nightly-0"), ("b", "nightly-0")]


# --- an ID of another array ---------------------------------------------------------------------


def test_an_id_made_by_another_group_is_named_as_such(client: NimbleClient) -> None:
    other = f"04{THERE}{'0' * 16}00000001"
    base = DiagnosticError("Snapshot Not Found", "The array has no snapshot.", path("snapshot_id"))
    err = foreign_ids.explained(client, base, "snapshot", other, "snapshot_id")
    assert err.summary == "Snapshot Not Found" and err.path == path("snapshot_id")
    assert err.detail.startswith("The array has no snapshot.")
    assert 'array-a.example:5392 (group "group-a")' in err.detail
    assert f"its group part is {THERE}; this group's is {HERE}" in err.detail
    assert "belongs to another array" in err.detail and "provider = nimble.dr" in err.detail
    mine = foreign_ids.explained(client, base, "snapshot", SNAP, "snapshot_id")
    assert "made by this group" in mine.detail and "another array" not in mine.detail
    imported = foreign_ids.explained(
        client, DiagnosticError("Volume Not Found"), "volume", VOL, None
    )
    assert imported.path is None
    assert "the import ID belongs to no volume" in imported.detail


def test_without_a_client_the_diagnostic_is_unchanged() -> None:
    base = DiagnosticError("Snapshot Not Found", "x", path("snapshot_id"))
    assert foreign_ids.explained(None, base, "snapshot", SNAP, "snapshot_id") is base


@pytest.mark.parametrize(
    "type_name",
    [
        "nimble_snapshot",
        "nimble_initiator_group",
        "nimble_chap_user",
        "nimble_volume_collection",
    ],
)
def test_importing_an_id_of_another_array_says_so(
    client: NimbleClient, monkeypatch: pytest.MonkeyPatch, type_name: str
) -> None:
    from tfnimble.nimble.client import chap_users, initiator_groups
    from tfnimble.nimble.client import volume_collections as vcs

    monkeypatch.setattr(snapshots, "get_snapshot", lambda c, i: None)
    monkeypatch.setattr(initiator_groups, "get_initiator_group", lambda c, i: None)
    monkeypatch.setattr(initiator_groups, "find_initiator_group_by_name", lambda c, n: None)
    monkeypatch.setattr(chap_users, "get_chap_user", lambda c, i: None)
    monkeypatch.setattr(chap_users, "find_chap_user_by_name", lambda c, n: None)
    monkeypatch.setattr(vcs, "get_volume_collection", lambda c, i: None)
    monkeypatch.setattr(vcs, "find_volume_collection_by_name", lambda c, n: None)
    other = f"02{THERE}{'0' * 16}00000007"
    res = engine(client).import_resource_state(type_name, other)
    [err] = errors(res.diagnostics)
    assert err.summary.endswith("Not Found") and err.path is None
    assert "the import ID belongs to no" in err.detail and "array-a.example:5392" in err.detail
    assert "belongs to another array" in err.detail


def test_a_volume_name_that_names_nothing_is_refused_on_volume_name(
    client: NimbleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(volumes, "find_volume_by_name", lambda cl, name: None)
    e = engine(client)
    res = e.read_data_source(
        "nimble_snapshots", {**blank(e, "nimble_snapshots"), "volume_name": "gone"}
    )
    [d] = errors(res.diagnostics)
    assert (d.summary, d.path) == ("Volume Not Found", path("volume_name"))
    assert '"gone"' in d.detail and "volume_name" in d.detail
