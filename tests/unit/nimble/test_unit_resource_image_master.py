"""nimble_image_master: validation, plan logic, and create/read/delete with the REST client and
imagewrite faked (what happens to temporary access and the volume when a step fails)."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest
from tfnimble.nimble import image_master_ops as ops
from tfnimble.nimble import imagewrite as iw
from tfnimble.nimble import lunprobe
from tfnimble.nimble import resource_image_master as rim
from tfnimble.nimble.client import (
    Conflict,
    ConnectionFailed,
    InitiatorGroup,
    Snapshot,
    Volume,
    access_control_records,
    initiator_groups,
    network,
    snapshots,
    volumes,
)
from tfnimble.nimble.client.models import AccessControlRecord, Discovery, Initiator
from tfnimble.nimble.provider import NimbleProvider
from tfnimble.nimble.resource_image_master import ImageMasterModel, ImageMasterResource
from tfnimble.plugin import UNKNOWN, Context, DiagnosticError, check_model_matches_schema
from tfnimble.plugin.engine import Engine

TYPE = "nimble_image_master"
VOL = "06" + "0" * 39 + "1"
SNAP = "04" + "0" * 39 + "1"
SHA = "ab" * 32
INIT = "iqn.2026-11.io.ito:unit"

STATE: dict[str, Any] = {
    "id": VOL,
    "name": "ubuntu-master",
    "source": "images/ubuntu.qcow2",
    "source_username": None,
    "source_password": None,
    "glance_image_id": None,
    "glance_endpoint": None,
    "glance_token_wo": None,
    "glance_ca_file": None,
    "source_format": "qcow2",
    "sha256": None,
    "size_mib": 64,
    "pool": "default",
    "performance_policy": "default",
    "description": None,
    "snapshot_name": "ito-base",
    "initiator_name": INIT,
    "portal": "127.0.0.1:3260",
    "chap_username": None,
    "chap_secret_wo": None,
    "chap_secret_wo_version": None,
    "volume_id": VOL,
    "snapshot_id": SNAP,
    "target_name": "iqn.2007-11.com.nimblestorage:ubuntu-master-v1.1.1",
    "serial_number": "abc",
    "image_sha256": SHA,
    "image_format": "qcow2",
    "image_virtual_size": 64 << 20,
    "timeouts": None,
}


# --- schema and validation ------------------------------------------------------------------


def test_model_matches_schema_and_every_attribute_is_described() -> None:
    schema = ImageMasterResource().schema()
    assert check_model_matches_schema(ImageMasterModel, schema) == []
    for name, attr in schema.attributes.items():
        assert attr.description and attr.description.endswith((".", ")")), name


def test_only_secrets_are_write_only_and_the_glance_token_is_one() -> None:
    """A Keystone token lives an hour: kept in state it would plan a change on every run."""
    attrs = ImageMasterResource().schema().attributes
    assert attrs["glance_token_wo"].write_only and attrs["glance_token_wo"].sensitive
    assert attrs["chap_secret_wo"].write_only and attrs["chap_secret_wo"].sensitive
    # exactly the secrets: the Glance token and the image write's CHAP secret
    assert sorted(n for n, a in attrs.items() if a.write_only) == [
        "chap_secret_wo",
        "glance_token_wo",
    ]


def test_registered_with_the_provider() -> None:
    assert ImageMasterResource in NimbleProvider().resources()


def config(**changes: Any) -> dict[str, Any]:
    cfg = dict.fromkeys(STATE)
    cfg.update(name=STATE["name"], source=STATE["source"])
    cfg.update(changes)
    return cfg


@pytest.mark.parametrize(
    ("attr", "value", "words"),
    [
        ("sha256", "abc", "SHA-256 digest"),
        ("sha256", "g" * 64, "SHA-256 digest"),
        ("initiator_name", "my-host", "initiator name"),
        ("source_format", "iso", "must be one of"),
        ("size_mib", 0, "whole number"),
        ("name", "-bad", "must start with a letter"),
        ("portal", "10.0.0.1/24", "address"),
    ],
)
def test_invalid_arguments_are_refused(attr: str, value: Any, words: str) -> None:
    diags = Engine(NimbleProvider()).validate_resource_config(TYPE, config(**{attr: value}))
    errors = [d for d in diags if d.severity.name == "ERROR"]
    assert errors and words in errors[0].detail, [e.detail for e in errors]
    assert str(errors[0].path).endswith(attr)


def test_valid_arguments_pass() -> None:
    cfg = config(sha256=SHA.upper(), initiator_name=INIT, source_format="vmdk", portal="[fd00::1]")
    assert not Engine(NimbleProvider()).validate_resource_config(TYPE, cfg).has_error()


# --- plan -----------------------------------------------------------------------------------


def proposed(cfg: dict[str, Any], prior: dict[str, Any] | None = STATE) -> dict[str, Any]:
    base = prior or dict.fromkeys(STATE)
    return {k: (base[k] if cfg[k] is None else cfg[k]) for k in STATE}


def plan(prior: dict[str, Any] | None = STATE, **changes: Any):  # type: ignore[no-untyped-def]
    cfg = config(**changes)
    return Engine(NimbleProvider()).plan_resource_change(
        TYPE, None if prior is None else dict(prior), proposed(cfg, prior), cfg, b""
    )


def test_unchanged_config_plans_nothing() -> None:
    result = plan()
    assert not result.diagnostics.has_error(), list(result.diagnostics)
    assert result.planned_state == STATE and result.requires_replace == []


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        ("source", "https://images.example/noble.img"),
        ("sha256", SHA),
        ("source_format", "raw"),
        ("size_mib", 128),
        ("pool", "fast"),
    ],
)
def test_new_image_arguments_replace(attr: str, value: Any) -> None:
    result = plan(**{attr: value})
    assert [str(p) for p in result.requires_replace] == [attr]


def test_removing_the_sha256_pin_does_not_replace() -> None:
    result = plan(prior={**STATE, "sha256": SHA})
    assert result.requires_replace == []


def test_rename_description_and_snapshot_name_are_in_place() -> None:
    result = plan(name="noble-master", description="golden", snapshot_name="golden")
    assert not result.diagnostics.has_error()
    assert result.requires_replace == []
    for attr in ("snapshot_id", "image_sha256", "target_name", "initiator_name", "portal"):
        assert result.planned_state[attr] == STATE[attr], attr


def test_imported_master_without_provenance_adopts_the_source() -> None:
    imported = {**STATE, "source": None, "source_format": None, "image_sha256": None}
    result = plan(prior=imported)
    assert result.requires_replace == []


def test_create_plan_knows_size_and_format_of_a_local_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    img = tmp_path / "x.qcow2"
    img.write_bytes(b"q")
    monkeypatch.setattr(iw, "probe", lambda path, fmt=None, timeout=0: ("qcow2", (64 << 20) + 1))
    result = plan(prior=None, source=str(img))
    assert not result.diagnostics.has_error(), list(result.diagnostics)
    p = result.planned_state
    assert (p["size_mib"], p["image_format"], p["source_format"]) == (65, "qcow2", "qcow2")
    assert p["image_virtual_size"] == (64 << 20) + 1
    assert p["image_sha256"] is UNKNOWN and p["snapshot_id"] is UNKNOWN


def test_create_plan_refuses_a_volume_smaller_than_the_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    img = tmp_path / "x.qcow2"
    img.write_bytes(b"q")
    monkeypatch.setattr(iw, "probe", lambda path, fmt=None, timeout=0: ("qcow2", 64 << 20))
    result = plan(prior=None, source=str(img), size_mib=63)
    errors = [d for d in result.diagnostics if d.summary == "Volume Smaller Than Image"]
    assert errors and "64 MiB" in errors[0].detail and str(errors[0].path) == "size_mib"


def test_create_plan_reports_an_unreadable_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    img = tmp_path / "x.qcow2"
    img.write_bytes(b"q")

    def bad(path: str, fmt: str | None = None, timeout: float = 0) -> tuple[str, int]:
        raise iw.ImageError("Image Not Readable", "Image is not in qcow2 format")

    monkeypatch.setattr(iw, "probe", bad)
    result = plan(prior=None, source=str(img), source_format="qcow2")
    assert [d.summary for d in result.diagnostics] == ["Image Not Readable"]


def test_create_plan_of_a_url_leaves_size_to_apply() -> None:
    result = plan(prior=None, source="https://images.example/noble.img")
    assert not result.diagnostics.has_error()
    assert result.planned_state["size_mib"] is UNKNOWN


# --- create, read, delete with a fake array ----------------------------------------------------


class FakeArray:
    """Records every client call; `fail` names calls that raise."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail: dict[str, Exception] = {}
        self.volumes: dict[str, Volume] = {}
        self.groups: list[InitiatorGroup] = []
        self.acr_groups: list[str] = []
        self.clones: list[Volume] = []
        self.snapshot: Snapshot | None = None
        self.acr_lun: int | None = 0  # what the array gives the temporary record
        self.written_to: list[tuple[int, str]] = []  # (LUN, serial) confirmed, then written

    def _do(self, name: str) -> None:
        self.calls.append(name)
        if name in self.fail:
            raise self.fail[name]


@pytest.fixture
def array(monkeypatch: pytest.MonkeyPatch) -> FakeArray:
    a = FakeArray()

    def create_volume(cl: Any, name: str, size_mib: int, **kw: Any) -> Volume:
        a._do("create_volume")
        vol = Volume(VOL, name, size_mib, target_name="iqn.t:1", serial_number="s", pool_name="p")
        a.volumes[VOL] = vol
        return vol

    def offline_and_delete_volume(cl: Any, vol_id: str, **kw: Any) -> None:
        a._do("delete_volume")
        a.volumes.pop(vol_id, None)

    def create_group(cl: Any, name: str, iqns: Any, **kw: Any) -> InitiatorGroup:
        a._do("create_initiator_group")
        g = InitiatorGroup("02g", name, iscsi_initiators=(Initiator("l", iqn=iqns[0]),))
        return g

    def create_acr(cl: Any, vol_id: str, group_id: str, **kw: Any) -> AccessControlRecord:
        a._do("create_acr")
        a.acr_groups.append(group_id)
        return AccessControlRecord(
            "0dacr", vol_id=vol_id, initiator_group_id=group_id, lun=a.acr_lun
        )

    def create_snapshot(cl: Any, vol_id: str, name: str, **kw: Any) -> Snapshot:
        a._do("create_snapshot")
        a.snapshot = Snapshot(SNAP, name, vol_id, description=kw.get("description", ""))
        return a.snapshot

    m = monkeypatch.setattr
    m(volumes, "create_volume", create_volume)
    m(volumes, "offline_and_delete_volume", offline_and_delete_volume)
    m(volumes, "get_volume", lambda cl, vid: a.volumes.get(vid))
    m(volumes, "set_volume_online", lambda cl, vid, on, force=False: a._do("offline"))
    m(volumes, "delete_volume", lambda cl, vid, missing_ok=False: a._do("delete_volume"))
    m(initiator_groups, "list_initiator_groups", lambda cl: list(a.groups))
    m(initiator_groups, "create_initiator_group", create_group)
    m(initiator_groups, "delete_initiator_group", lambda cl, gid, **kw: a._do("delete_group"))
    m(access_control_records, "create_access_control_record", create_acr)
    m(access_control_records, "delete_access_control_record", lambda cl, i, **kw: a._do("del_acr"))
    m(snapshots, "create_snapshot", create_snapshot)
    m(snapshots, "get_snapshot", lambda cl, sid: a.snapshot)
    m(snapshots, "list_clones_of_snapshot", lambda cl, sid: list(a.clones))
    m(snapshots, "delete_snapshot", lambda cl, sid, **kw: a._do("delete_snapshot"))
    m(network, "get_discovery", lambda cl: Discovery("g", "10.0.0.5"))
    return a


@pytest.fixture
def image(monkeypatch: pytest.MonkeyPatch, array: FakeArray) -> dict[str, Any]:
    """Fake imagewrite: records the steps in array.calls; `fail` names a failing step."""
    fails: dict[str, Any] = {}
    src = iw.Source("img.qcow2", "qcow2", (64 << 20) - 512, SHA, 1000, 7)

    def step(name: str, result: Any = None) -> Any:
        array.calls.append(name)
        if name in fails:
            raise fails[name]
        return result

    monkeypatch.setattr(iw, "prepare_source", lambda *a, **k: step("prepare", src))

    def confirm(portal: str, target: str, init: str, lun: int, serial: str, *a: Any) -> int:
        array.written_to.append((lun, serial))
        return int(step("discover", lun))

    def write(src: Any, target: iw.Target, *a: Any, **k: Any) -> None:
        assert target.lun == array.written_to[-1][0], "writes to the LUN it confirmed"
        step("write")

    monkeypatch.setattr(lunprobe, "confirm_lun", confirm)
    monkeypatch.setattr(iw, "write", write)
    monkeypatch.setattr(iw, "verify", lambda *a, **k: step("verify"))
    monkeypatch.setattr(iw, "fingerprint", lambda path: (1000, 7))
    monkeypatch.setattr(iw, "default_initiator_name", lambda: INIT)
    return fails


def ctx() -> Context:
    return Context(provider_data=object(), stop_event=threading.Event(), timeout=600)


def planned(**changes: Any) -> ImageMasterModel:
    m = ImageMasterModel(**{k: UNKNOWN for k in STATE})
    m.name, m.source, m.sha256, m.description = "ubuntu-master", "img.qcow2", None, None
    m.snapshot_name, m.timeouts = "ito-base", None
    for k, v in changes.items():
        setattr(m, k, v)
    return m


def test_create_writes_verifies_revokes_then_snapshots(array: FakeArray, image: dict) -> None:
    c = ctx()
    model = ImageMasterResource().create(c, planned())
    assert array.calls == [
        "prepare",
        "create_volume",
        "create_initiator_group",
        "create_acr",
        "discover",
        "write",
        "verify",
        "del_acr",
        "delete_group",
        "create_snapshot",
    ]
    assert (model.id, model.volume_id, model.snapshot_id) == (VOL, VOL, SNAP)
    assert model.size_mib == 64  # virtual size rounded up to a MiB
    assert (model.image_sha256, model.image_format, model.portal) == (SHA, "qcow2", "10.0.0.5:3260")
    assert model.initiator_name == INIT
    assert c.private[rim.FINGERPRINT] == [1000, 7, SHA]
    assert array.snapshot is not None
    assert ops.parse_provenance(array.snapshot.description)["source"] == "img.qcow2"


def test_create_never_uses_a_production_group_that_holds_the_initiator(
    array: FakeArray, image: dict
) -> None:
    # Formerly the group holding this host's IQN was reused; it may be a production group,
    # so the write now always makes (and removes) a temporary group of its own.
    array.groups = [InitiatorGroup("02h", "hosts", iscsi_initiators=(Initiator("x", iqn=INIT),))]
    ImageMasterResource().create(ctx(), planned())
    assert "create_initiator_group" in array.calls
    assert "delete_group" in array.calls and "del_acr" in array.calls
    assert array.acr_groups == ["02g"]  # the temporary group, not "02h"


@pytest.mark.parametrize("lun", [0, 1, 5, 2047])
def test_create_writes_to_the_lun_its_access_record_was_given(
    array: FakeArray, image: dict, lun: int
) -> None:
    # Group-scoped target: the record's LUN, whatever else the target exports.
    array.acr_lun = lun
    ImageMasterResource().create(ctx(), planned())
    assert array.written_to == [(lun, "s")]  # that LUN, checked against the volume's serial


def test_an_access_record_without_a_lun_writes_nothing(
    array: FakeArray, image: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    array.acr_lun = None
    monkeypatch.setattr(access_control_records, "get_access_control_record", lambda cl, i: None)
    with pytest.raises(DiagnosticError) as err:
        ImageMasterResource().create(ctx(), planned())
    assert err.value.summary == "Access Record Has No LUN"
    assert "Nothing was written" in err.value.detail
    assert "write" not in array.calls and "discover" not in array.calls
    assert array.calls[-3:] == ["del_acr", "delete_group", "delete_volume"]


def test_a_lun_that_holds_another_volume_is_refused_before_the_write(
    array: FakeArray, image: dict
) -> None:
    image["discover"] = iw.ImageError("LUN Holds Another Volume", "LUN 3 is the volume with x")
    with pytest.raises(DiagnosticError) as err:
        ImageMasterResource().create(ctx(), planned())
    assert err.value.summary == "LUN Holds Another Volume"
    assert "write" not in array.calls
    assert array.calls[-3:] == ["del_acr", "delete_group", "delete_volume"]


def test_sha256_mismatch_creates_nothing(array: FakeArray, image: dict) -> None:
    with pytest.raises(DiagnosticError) as err:
        ImageMasterResource().create(ctx(), planned(sha256="cd" * 32))
    assert err.value.summary == "Image Checksum Mismatch"
    assert "Nothing was created" in err.value.detail
    assert array.calls == ["prepare"]


@pytest.mark.parametrize("failing", ["discover", "write", "verify"])
def test_failed_write_removes_access_and_the_volume(
    array: FakeArray, image: dict, failing: str
) -> None:
    image[failing] = iw.ImageError("Image Write Failed", "qemu-img: boom")
    c = ctx()
    with pytest.raises(DiagnosticError) as err:
        ImageMasterResource().create(c, planned())
    assert err.value.summary == "Image Write Failed"
    assert "was deleted: nothing was left" in err.value.detail
    tail = array.calls[array.calls.index(failing) :]
    assert tail == [failing, "del_acr", "delete_group", "delete_volume"]
    assert "create_snapshot" not in array.calls
    assert c.partial_state is None and not array.volumes


def test_failed_access_record_removes_the_group_and_the_volume(
    array: FakeArray, image: dict
) -> None:
    array.fail["create_acr"] = ConnectionFailed("array", 5392, "gone")
    with pytest.raises(DiagnosticError) as err:
        ImageMasterResource().create(ctx(), planned())
    assert "Access Control Record" in err.value.summary
    assert array.calls[-3:] == ["create_acr", "delete_group", "delete_volume"]
    assert "write" not in array.calls


def test_failed_cleanup_leaves_a_tainted_partial_state(array: FakeArray, image: dict) -> None:
    image["write"] = iw.ImageError("Image Write Failed", "qemu-img: boom")
    array.fail["delete_volume"] = ConnectionFailed("array", 5392, "gone")
    c = ctx()
    with pytest.raises(DiagnosticError) as err:
        ImageMasterResource().create(c, planned())
    assert "tainted" in err.value.detail
    assert c.partial_state is not None and c.partial_state.id == VOL
    assert c.partial_state.snapshot_id is None  # no snapshot: nothing to clone from


def test_failed_revoke_after_a_good_write_takes_no_snapshot(array: FakeArray, image: dict) -> None:
    array.fail["del_acr"] = ConnectionFailed("array", 5392, "gone")
    with pytest.raises(DiagnosticError) as err:
        ImageMasterResource().create(ctx(), planned())
    assert err.value.summary == "Temporary Access Not Removed"
    assert "create_snapshot" not in array.calls and array.calls[-1] == "delete_volume"


def test_cancel_during_write_cleans_up(array: FakeArray, image: dict) -> None:
    image["write"] = iw.ImageError("Operation Cancelled", "Terraform asked the provider to stop")
    with pytest.raises(DiagnosticError) as err:
        ImageMasterResource().create(ctx(), planned())
    assert err.value.summary == "Operation Cancelled"
    assert array.calls[-3:] == ["del_acr", "delete_group", "delete_volume"]


def state_model(**changes: Any) -> ImageMasterModel:
    return dataclasses.replace(ImageMasterModel(**STATE), **changes)


def test_read_marks_a_changed_source_for_replacement(
    array: FakeArray, monkeypatch: pytest.MonkeyPatch
) -> None:
    array.volumes[VOL] = Volume(VOL, "ubuntu-master", 64, pool_name="default")
    array.snapshot = Snapshot(SNAP, "ito-base", VOL)
    monkeypatch.setattr(iw, "fingerprint", lambda path: (2000, 9))
    monkeypatch.setattr(iw, "sha256_file", lambda path, cancel=None: "cd" * 32)
    c = Context(provider_data=object(), private={rim.FINGERPRINT: [1000, 7, SHA]})
    got = ImageMasterResource().read(c, state_model())
    assert got is not None and got.source.startswith(STATE["source"] + " [changed since written")


def test_read_does_not_rehash_an_unchanged_file(
    array: FakeArray, monkeypatch: pytest.MonkeyPatch
) -> None:
    array.volumes[VOL] = Volume(VOL, "ubuntu-master", 64, pool_name="default")
    array.snapshot = Snapshot(SNAP, "ito-base", VOL)
    monkeypatch.setattr(iw, "fingerprint", lambda path: (1000, 7))

    def no(*a: Any, **k: Any) -> str:
        raise AssertionError("hashed an unchanged file")

    monkeypatch.setattr(iw, "sha256_file", no)
    c = Context(provider_data=object(), private={rim.FINGERPRINT: [1000, 7, SHA]})
    got = ImageMasterResource().read(c, state_model())
    assert got is not None and got.source == STATE["source"]


def test_read_touched_but_identical_file_keeps_the_master(
    array: FakeArray, monkeypatch: pytest.MonkeyPatch
) -> None:
    array.volumes[VOL] = Volume(VOL, "ubuntu-master", 64, pool_name="default")
    array.snapshot = Snapshot(SNAP, "ito-base", VOL)
    monkeypatch.setattr(iw, "fingerprint", lambda path: (1000, 8))
    monkeypatch.setattr(iw, "sha256_file", lambda path, cancel=None: SHA)
    c = Context(provider_data=object(), private={rim.FINGERPRINT: [1000, 7, SHA]})
    got = ImageMasterResource().read(c, state_model())
    assert got is not None and got.source == STATE["source"]
    assert c.private[rim.FINGERPRINT] == [1000, 8, SHA]


def test_read_gone_volume_is_drift(array: FakeArray) -> None:
    assert ImageMasterResource().read(Context(provider_data=object()), state_model()) is None


def test_delete_refuses_while_outside_clones_exist(array: FakeArray) -> None:
    array.clones = [Volume("06c2", "vm-b", 64), Volume("06c1", "vm-a", 64)]
    with pytest.raises(DiagnosticError) as err:
        ImageMasterResource().delete(ctx(), state_model())
    assert err.value.summary == "Image Master Still Has Clones"
    assert "vm-a, vm-b" in err.value.detail and "ubuntu-master" in err.value.detail
    assert "delete_snapshot" not in array.calls and "delete_volume" not in array.calls


def test_delete_removes_snapshot_then_volume(array: FakeArray) -> None:
    ImageMasterResource().delete(ctx(), state_model())
    assert array.calls == ["delete_snapshot", "offline", "delete_volume"]


def test_delete_race_with_a_new_clone_names_it(
    array: FakeArray, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(cl: Any, sid: str, **kw: Any) -> None:
        array.clones = [Volume("06c3", "vm-late", 64)]
        raise Conflict(409, "SM_snap_has_clone", "has clones", (), "delete snapshot", sid)

    monkeypatch.setattr(snapshots, "delete_snapshot", refuse)
    with pytest.raises(DiagnosticError, match="vm-late"):
        ImageMasterResource().delete(ctx(), state_model())


def test_provenance_round_trip_and_secrets_stay_off_the_array() -> None:
    src = iw.Source("p", "qcow2", 123, SHA, 1, 1)
    text = ops.provenance(src, "images/u.qcow2", pinned=True)
    assert len(text) <= 255
    assert ops.parse_provenance(text) == {
        "sha256": SHA,
        "format": "qcow2",
        "virtual_size": 123,
        "pinned": True,
        "source": "images/u.qcow2",
    }
    secret = ops.provenance(src, "https://u:pw@h/x.img?sig=1", pinned=False)
    assert "pw" not in secret and "sig" not in secret
    assert ops.parse_provenance(secret)["source"] is None
    assert ops.parse_provenance("made by hand") == {}
