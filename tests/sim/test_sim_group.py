"""Group settings, performance policies, network configuration."""

from __future__ import annotations

import pytest
from sim_testkit import Api


@pytest.mark.parametrize("target_scope", ["volume"])
def test_group_defaults_and_fields_cinder_reads(api: Api) -> None:
    summary = api.get("/v1/groups").data
    group = api.get(f"/v1/groups/{summary[0]['id']}").data
    assert group["name"] == "group-sim" and group["usage_valid"] is True
    assert group["access_protocol_list"] == ["iscsi"] and group["iscsi_enabled"] is True
    assert group["default_iscsi_target_scope"] == "volume"
    assert group["group_target_name"].startswith("iqn.2007-11.com.nimblestorage:group-sim-g")
    assert group["free_space"] == group["usable_capacity_bytes"] == 10 << 40


def test_group_scope_is_the_default_with_the_group_target_on(api: Api) -> None:
    """The pairing real groups have: group-scoped targets on and new volumes group-scoped."""
    group = api.get("/v1/groups/detail").data[0]
    assert group["group_target_enabled"] is True
    assert group["default_iscsi_target_scope"] == "group"
    assert (
        group["group_target_name"]
        == f"iqn.2007-11.com.nimblestorage:group-sim-g{group['id'][2:18]}"
    )
    vol = api.volume("v")
    assert vol["iscsi_target_scope"] == "group"
    assert vol["target_name"] == group["group_target_name"]
    # a rename keeps the group target's IQN, as a volume rename keeps its target's
    r = api.put(f"/v1/groups/{group['id']}", {"name": "renamed-grp"})
    assert r.status == 200 and r.data["group_target_name"] == group["group_target_name"]
    assert api.get(f"/v1/volumes/{vol['id']}").data["target_name"] == group["group_target_name"]


@pytest.mark.parametrize("target_scope", ["group", "volume"])
def test_target_scope_setting_is_applied_on_start(tmp_path, target_scope: str) -> None:
    from sim_testkit import PASSWORD, USER
    from tfnimble.sim.server import SimServer

    other = "volume" if target_scope == "group" else "group"
    with SimServer(tmp_path, username=USER, password=PASSWORD, target_scope=target_scope) as sim:
        api = Api(sim.url, sim.ca_file)
        first = api.volume("first")
        assert first["iscsi_target_scope"] == target_scope
    # restarted with the same setting, a group change made through the API survives
    with SimServer(tmp_path, username=USER, password=PASSWORD, target_scope=target_scope) as sim:
        api = Api(sim.url, sim.ca_file)
        group = api.get("/v1/groups").data[0]
        api.put(f"/v1/groups/{group['id']}", {"default_iscsi_target_scope": other})
    with SimServer(tmp_path, username=USER, password=PASSWORD, target_scope=target_scope) as sim:
        api = Api(sim.url, sim.ca_file)
        assert api.get("/v1/groups/detail").data[0]["default_iscsi_target_scope"] == other
    # a changed setting is applied; existing volumes keep their scope
    with SimServer(tmp_path, username=USER, password=PASSWORD, target_scope=other) as sim:
        api = Api(sim.url, sim.ca_file)
        group = api.get("/v1/groups/detail").data[0]
        assert (group["default_iscsi_target_scope"], group["group_target_enabled"]) == (other, True)
        assert api.get(f"/v1/volumes/{first['id']}").data["iscsi_target_scope"] == target_scope
    with pytest.raises(ValueError, match="target_scope must be one of group, volume"):
        SimServer(tmp_path, target_scope="fabric")


def test_group_scope_switch_changes_new_volumes_and_luns(api: Api) -> None:
    group = api.get("/v1/groups").data[0]
    r = api.put(
        f"/v1/groups/{group['id']}",
        {"default_iscsi_target_scope": "group", "default_volume_reserve": 10},
    )
    assert r.status == 200
    old = api.volume("third", 10)
    vols = [api.volume(f"gst-{i}", 10) for i in range(2)]
    assert all(v["iscsi_target_scope"] == "group" for v in vols)
    assert {v["target_name"] for v in vols} == {r.data["group_target_name"]}
    assert vols[0]["reserve"] == 10
    ig = api.post("/v1/initiator_groups", {"name": "g", "access_protocol": "iscsi"}).data
    luns = [
        api.post(
            "/v1/access_control_records", {"vol_id": v["id"], "initiator_group_id": ig["id"]}
        ).data["lun"]
        for v in (*vols, old)
    ]
    assert luns == [1, 2, 3]  # from 1: the simulator's target keeps LUN 0 for its controller
    r = api.put(f"/v1/groups/{group['id']}", {"default_iscsi_target_scope": "fabric"})
    assert (r.status, r.code) == (400, "SM_invalid_arg_value")
    r = api.put(f"/v1/groups/{group['id']}", {"name": "renamed-grp"})
    assert api.get(f"/v1/volumes/{old['id']}").data["owned_by_group"] == "renamed-grp"
    assert api.request("DELETE", f"/v1/groups/{group['id']}").status == 405


def test_performance_policy_lifecycle(api: Api) -> None:
    r = api.post(
        "/v1/performance_policies",
        {"name": "My DB Policy", "block_size": 8192, "compress": "false"},
    )
    assert r.status == 201
    pol = r.data
    assert pol["id"].startswith("03") and (pol["block_size"], pol["compress"]) == (8192, False)
    assert pol["predefined"] is False and pol["app_category"] == "Unassigned"
    r = api.post("/v1/performance_policies", {"name": "My DB Policy"})
    assert (r.status, r.code) == (409, "SM_eexist")
    r = api.post("/v1/performance_policies", {"name": "odd", "block_size": 1000})
    assert (r.status, r.code) == (400, "SM_invalid_arg_value")
    r = api.put(f"/v1/performance_policies/{pol['id']}", {"block_size": 4096})
    assert (r.status, r.code) == (400, "SM_invalid_arg_value")
    r = api.put(f"/v1/performance_policies/{pol['id']}", {"description": "db"})
    assert r.data["description"] == "db"
    vol = api.volume("db", 10, perfpolicy_id=pol["id"])
    assert vol["block_size"] == 8192
    assert api.get(f"/v1/performance_policies/{pol['id']}").data["volume_count"] == 1
    assert api.delete(f"/v1/performance_policies/{pol['id']}").code == "SM_ebusy"
    default = api.get("/v1/performance_policies", name="default").data[0]
    assert api.delete(f"/v1/performance_policies/{default['id']}").code == "SM_eperm"
    api.offline(vol["id"])
    api.delete(f"/v1/volumes/{vol['id']}")
    assert api.delete(f"/v1/performance_policies/{pol['id']}").status == 200


def test_network_config_describes_the_portal(api: Api) -> None:
    cfg = api.get("/v1/network_configs/detail", role="active").data
    assert len(cfg) == 1 and cfg[0]["role"] == "active"
    data = [s for s in cfg[0]["subnet_list"] if s["type"] == "data"]
    assert data[0]["discovery_ip"] == "127.0.0.1" and data[0]["allow_iscsi"] is True
    nics = cfg[0]["array_list"][0]["nic_list"]
    assert [n["data_ip"] for n in nics if n["subnet_label"] == data[0]["label"]] == ["127.0.0.1"]
    # only NICs on an iSCSI subnet carry a data_ip: the management NIC is no portal
    mgmt = [s for s in cfg[0]["subnet_list"] if s["type"] == "mgmt"]
    assert [(s["allow_iscsi"], s["allow_group"], s["discovery_ip"]) for s in mgmt] == [
        (False, False, "")
    ]
    assert data[0]["allow_group"] is True
    assert [n["data_ip"] for n in nics if n["subnet_label"] == mgmt[0]["label"]] == [""]
    assert [n["data_ip"] for n in nics if n["data_ip"]] == ["127.0.0.1"]
    assert api.get("/v1/network_configs", role="backup").data == []
    subnets = api.get("/v1/subnets/detail", type="data").data
    assert subnets[0]["discovery_ip"] == "127.0.0.1"
