"""The DataPlane seam: which calls the model makes, when, and what a failure does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sim_testkit import Api
from tfnimble.sim.seam import DataPlane, NullDataPlane
from tfnimble.sim.server import SimServer

MIB = 1 << 20
IQN = "iqn.1993-08.org.debian:01:host1"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail_on: str | None = None
        self.usage_bytes: dict[str, int] = {}
        self.serials: dict[str, str] = {}  # object id -> the serial its LUN was told to report
        self.owns_shared: dict[str, bool] = {}
        self.session_counts: dict[str, int] = {}  # target -> connections
        self.initiators: dict[str, list[str]] = {}  # target -> initiator of each connection
        self.chap: dict[str, dict[str, str]] = {}  # target -> CHAP accounts it asks for

    def _rec(self, *call: Any) -> None:
        if call[0] == self.fail_on:
            raise RuntimeError(f"data plane failure in {call[0]}")
        self.calls.append(call)

    def create_volume(self, vol_id: str, size_bytes: int) -> None:
        self._rec("create_volume", vol_id, size_bytes)

    def snapshot(self, vol_id: str, snap_id: str) -> None:
        self._rec("snapshot", vol_id, snap_id)

    def clone(self, snap_id: str, vol_id: str, size_bytes: int) -> None:
        self._rec("clone", snap_id, vol_id, size_bytes)

    def restore(self, vol_id: str, snap_id: str) -> None:
        self._rec("restore", vol_id, snap_id)

    def resize(self, vol_id: str, size_bytes: int) -> None:
        self._rec("resize", vol_id, size_bytes)

    def delete(self, object_id: str) -> None:
        self._rec("delete", object_id)

    def set_online(self, target_name: str, object_id: str, online: bool, serial: str = "") -> None:
        self._rec("set_online", target_name, object_id, online)
        self.serials[object_id] = serial

    def set_acl(self, target_name: str, object_id: str, initiator_iqns: list[str]) -> None:
        self._rec("set_acl", target_name, object_id, initiator_iqns)

    def set_chap(self, target_name: str, object_id: str, accounts: dict[str, str]) -> None:
        # kept apart from `calls`: which ACL and export calls are made is asserted on its own
        self.chap[target_name] = dict(accounts)

    def set_target(
        self,
        target_name: str,
        luns: dict[int, str],
        initiator_iqns: list[str],
        serials: dict[str, str] | None = None,
    ) -> None:
        self._rec("set_target", target_name, luns, initiator_iqns)
        self.serials.update(serials or {})

    def usage(self, object_id: str, *, owns_shared: bool = False) -> int | None:
        self.owns_shared[object_id] = owns_shared
        return self.usage_bytes.get(object_id)

    def connections(self, target_name: str) -> int | None:
        return self.session_counts.get(target_name)

    def sessions(self, target_name: str) -> list[str] | None:
        return self.initiators.get(target_name)

    def close(self) -> None:
        self.calls.append(("close",))


@pytest.fixture
def rec_sim(tmp_path: Path, target_scope: str) -> Iterator[tuple[Recorder, Api]]:
    rec = Recorder()
    dp: DataPlane = rec
    with SimServer(tmp_path, port=0, data_plane=dp, target_scope=target_scope) as sim:
        yield rec, Api(sim.url, sim.ca_file, "admin", "admin")
    assert rec.calls[-1] == ("close",)


@pytest.mark.parametrize("target_scope", ["volume"])
def test_calls_follow_the_volume_lifecycle(rec_sim: tuple[Recorder, Api]) -> None:
    rec, api = rec_sim
    vol = api.volume("v", 64)
    vid, tgt = vol["id"], vol["target_name"]
    assert rec.calls == [
        ("create_volume", vid, 64 * MIB),
        ("set_acl", tgt, vid, []),
        ("set_online", tgt, vid, True),
    ]
    rec.calls.clear()
    snap = api.snapshot(vid, "s")
    clone = api.clone("c", snap["id"])
    assert rec.calls == [
        ("snapshot", vid, snap["id"]),
        ("clone", snap["id"], clone["id"], 64 * MIB),
        ("set_acl", clone["target_name"], clone["id"], []),
        ("set_online", clone["target_name"], clone["id"], True),
    ]
    # a volume's own target reports the volume's serial too
    assert (rec.serials[vid], rec.serials[clone["id"]]) == (
        vol["serial_number"],
        clone["serial_number"],
    )
    rec.calls.clear()
    ig = api.post(
        "/v1/initiator_groups",
        {"name": "g", "access_protocol": "iscsi", "iscsi_initiators": [{"label": "h", "iqn": IQN}]},
    )
    acr = api.post(
        "/v1/access_control_records", {"vol_id": vid, "initiator_group_id": ig.data["id"]}
    )
    assert rec.calls == [("set_acl", tgt, vid, [IQN])]
    rec.calls.clear()
    api.put(
        f"/v1/initiator_groups/{ig.data['id']}",
        {"iscsi_initiators": [{"label": "h2", "iqn": IQN + "x"}]},
    )
    assert rec.calls == [("set_acl", tgt, vid, [IQN + "x"])]
    rec.calls.clear()
    api.delete(f"/v1/access_control_records/{acr.data['id']}")
    api.put(f"/v1/volumes/{vid}", {"size": 128})
    api.offline(vid)
    api.post(f"/v1/volumes/{vid}/actions/restore", {"id": vid, "base_snap_id": snap["id"]})
    assert rec.calls == [
        ("set_acl", tgt, vid, []),
        ("resize", vid, 128 * MIB),
        ("set_online", tgt, vid, False),
        ("restore", vid, snap["id"]),
    ]
    rec.calls.clear()
    api.offline(clone["id"])
    api.delete(f"/v1/volumes/{clone['id']}")
    api.delete(f"/v1/volumes/{vid}")
    assert rec.calls == [
        ("set_online", clone["target_name"], clone["id"], False),
        ("delete", clone["id"]),
        ("delete", snap["id"]),
        ("delete", vid),
    ]


@pytest.mark.parametrize("target_scope", ["group", "volume"])
def test_a_failing_data_plane_rolls_the_change_back(rec_sim: tuple[Recorder, Api]) -> None:
    rec, api = rec_sim
    rec.fail_on = "create_volume"
    r = api.post("/v1/volumes", {"name": "nope", "size": 8})
    assert (r.status, r.codes) == (500, ["SM_http_internal_server_error"])
    assert api.get("/v1/volumes").json["totalRows"] == 0
    rec.fail_on = "delete"
    vol = api.volume("keep", online=False)
    r = api.delete(f"/v1/volumes/{vol['id']}")
    assert r.status == 500
    assert api.get(f"/v1/volumes/{vol['id']}").status == 200


@pytest.mark.parametrize("target_scope", ["volume"])
def test_usage_and_connections_reported_by_the_data_plane(rec_sim: tuple[Recorder, Api]) -> None:
    rec, api = rec_sim
    vol = api.volume("v", 64)
    rec.usage_bytes[vol["id"]] = 5 * MIB
    rec.session_counts[vol["target_name"]] = 1
    got = api.get(f"/v1/volumes/{vol['id']}").data
    assert (got["vol_usage_uncompressed_bytes"], got["num_connections"]) == (5 * MIB, 1)
    assert api.pool()["usage"] == 5 * MIB
    # a plain volume owns the blocks it shares with its snapshots; a clone only what it wrote
    assert rec.owns_shared[vol["id"]] is True
    snap = api.post("/v1/snapshots", {"vol_id": vol["id"], "name": "s"}).data
    clone = api.post("/v1/volumes", {"name": "c", "clone": True, "base_snap_id": snap["id"]}).data
    api.get(f"/v1/volumes/{clone['id']}")
    assert rec.owns_shared[clone["id"]] is False
    r = api.put(f"/v1/volumes/{vol['id']}", {"online": False})
    assert r.code == "SM_vol_has_connections"


def test_calls_state_the_group_target_whole(rec_sim: tuple[Recorder, Api]) -> None:
    rec, api = rec_sim
    gst = api.get("/v1/groups/detail").data[0]["group_target_name"]
    a = api.volume("a", 64)
    assert a["target_name"] == gst
    assert rec.calls == [("create_volume", a["id"], 64 * MIB), ("set_target", gst, {}, [])]
    b = api.volume("b", 64)
    rec.calls.clear()
    ig = api.post(
        "/v1/initiator_groups",
        {"name": "g", "access_protocol": "iscsi", "iscsi_initiators": [{"label": "h", "iqn": IQN}]},
    ).data
    api.post("/v1/access_control_records", {"vol_id": a["id"], "initiator_group_id": ig["id"]})
    api.post("/v1/access_control_records", {"vol_id": b["id"], "initiator_group_id": ig["id"]})
    assert rec.calls == [
        ("set_target", gst, {1: a["id"]}, [IQN]),
        ("set_target", gst, {1: a["id"], 2: b["id"]}, [IQN]),
    ]
    # each LUN reports its volume's serial, as the array's do
    assert rec.serials == {v["id"]: v["serial_number"] for v in (a, b)}
    rec.calls.clear()
    # a changed initiator group restates the target once, however many volumes it reaches
    api.put(
        f"/v1/initiator_groups/{ig['id']}",
        {"iscsi_initiators": [{"label": "h2", "iqn": IQN + "x"}]},
    )
    assert rec.calls == [("set_target", gst, {1: a["id"], 2: b["id"]}, [IQN + "x"])]
    rec.calls.clear()
    # an offline volume leaves the target, onlining brings it back at its LUN
    api.offline(a["id"])
    api.put(f"/v1/volumes/{a['id']}", {"online": True})
    assert rec.calls == [
        ("set_target", gst, {2: b["id"]}, [IQN + "x"]),
        ("set_target", gst, {1: a["id"], 2: b["id"]}, [IQN + "x"]),
    ]
    # connections: the sessions to the group target of initiators that may see the volume
    rec.initiators[gst] = [IQN + "x", "iqn.1993-08.org.debian:01:stranger"]
    assert api.admin("GET", f"/sim/volumes/{a['id']}/connections").json["data"]["connections"] == 1
    r = api.put(f"/v1/volumes/{a['id']}", {"online": False})
    assert (r.status, r.code) == (409, "SM_vol_has_connections")
    c = api.volume("c", 64)
    assert api.admin("GET", f"/sim/volumes/{c['id']}/connections").json["data"]["connections"] == 0
    rec.initiators.clear()
    rec.calls.clear()
    for acr in api.get("/v1/access_control_records", vol_id=b["id"]).data:
        api.delete(f"/v1/access_control_records/{acr['id']}")
    for acr in api.get("/v1/access_control_records", vol_id=a["id"]).data:
        api.delete(f"/v1/access_control_records/{acr['id']}")
    assert rec.calls == [
        ("set_target", gst, {1: a["id"]}, [IQN + "x"]),
        ("set_target", gst, {}, []),
    ]


@pytest.mark.parametrize("target_scope", ["group", "volume"])
def test_volume_targets_ask_for_the_chap_users_their_records_name(
    rec_sim: tuple[Recorder, Api],
) -> None:
    rec, api = rec_sim
    vol = api.volume("v", 64)
    vid, tgt = vol["id"], vol["target_name"]
    scoped = vol["iscsi_target_scope"] == "volume"
    assert rec.chap.get(tgt) == ({} if scoped else None)
    user = api.post("/v1/chap_users", {"name": "writer", "password": "Secret-123456"}).data
    ig = api.post(
        "/v1/initiator_groups",
        {"name": "g", "access_protocol": "iscsi", "iscsi_initiators": [{"label": "h", "iqn": IQN}]},
    ).data
    body = {"vol_id": vid, "initiator_group_id": ig["id"], "chap_user_id": user["id"]}
    acr = api.post("/v1/access_control_records", {**body, "apply_to": "volume"}).data
    assert rec.chap.get(tgt) == ({"writer": "Secret-123456"} if scoped else None)
    api.put(f"/v1/chap_users/{user['id']}", {"password": "Rotated-654321"})
    assert rec.chap.get(tgt) == ({"writer": "Rotated-654321"} if scoped else None)
    api.delete(f"/v1/access_control_records/{acr['id']}")
    assert rec.chap.get(tgt) == ({} if scoped else None)
    # the group target is never bound to CHAP accounts (docs/nimble-array-facts.md, "CHAP")
    assert scoped or rec.chap == {}


def test_null_data_plane_has_every_method_of_the_protocol() -> None:
    wanted = {n for n in DataPlane.__dict__ if not n.startswith("_")}
    assert wanted <= set(dir(NullDataPlane))
    assert wanted <= set(dir(Recorder))
    assert NullDataPlane().usage("x") is None and NullDataPlane().connections("t") is None


def test_adapter_drives_the_file_data_plane(tmp_path: Path) -> None:
    from tfnimble.sim.attach import open_tgt_data_plane

    adapter = open_tgt_data_plane(tmp_path, "127.0.0.1:3260", iscsi=False, pool_mode="dir")
    with SimServer(tmp_path, port=0, data_plane=adapter) as sim:
        api = Api(sim.url, sim.ca_file, "admin", "admin")
        vol = api.volume("image", 4)
        files = adapter.dp.pool_dir
        vol_file = files / "volumes" / vol["id"]
        assert vol_file.stat().st_size == 4 * MIB
        with open(vol_file, "r+b") as f:
            f.write(b"x" * (2 * MIB))
            f.flush()
        assert api.get(f"/v1/volumes/{vol['id']}").data["vol_usage_mapped_bytes"] >= 2 * MIB
        snap = api.snapshot(vol["id"], "s")
        clone = api.clone("c", snap["id"], size=8)
        clone_file = files / "volumes" / clone["id"]
        assert clone_file.read_bytes()[: 2 * MIB] == b"x" * (2 * MIB)
        assert clone_file.stat().st_size == 8 * MIB
        api.offline(clone["id"])
        assert api.delete(f"/v1/volumes/{clone['id']}").status == 200
        assert not clone_file.exists()
        api.offline(vol["id"])
        assert api.delete(f"/v1/volumes/{vol['id']}").status == 200
        assert not vol_file.exists() and not (files / "snapshots" / snap["id"]).exists()
