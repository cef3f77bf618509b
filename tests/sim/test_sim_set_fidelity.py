"""Inventory sets and CHAP users answer as the array does, on the points a review against
HPE's SDKs found the simulator wrong (docs/nimble-array-facts.md, "Inventory object sets" and
"CHAP users")."""

from __future__ import annotations

from sim_testkit import Api
from tfnimble.sim.constants import SOFTWARE_VERSION


def test_a_software_version_is_addressed_by_its_version(api: Api) -> None:
    # Go SDK SoftwareVersion: "Software version, used as identifier in URL"; release_date is
    # an int64 (an epoch time), not text
    row = api.get("/v1/software_versions/detail").data[0]
    assert isinstance(row["release_date"], int) and not isinstance(row["release_date"], bool)
    one = api.get(f"/v1/software_versions/{SOFTWARE_VERSION}")
    assert one.status == 200 and one.data == row
    assert api.get(f"/v1/software_versions/{SOFTWARE_VERSION}", fields="status").data == {
        "status": "installed"
    }
    missing = api.get("/v1/software_versions/1.0.0.0-1-opt")
    assert (missing.status, missing.code) == (404, "SM_enoent")
    r = api.put(f"/v1/software_versions/{SOFTWARE_VERSION}", {"name": "x"})
    assert (r.status, r.code) == (405, "SM_http_method_not_allowed")


def test_an_initiator_iqn_moves_to_the_chap_user_it_is_given_to(api: Api) -> None:
    # HPE's SDK (ChapUser.initiator_iqns): "If any specified initiator is already associated
    # with another CHAP user, it will be replaced by this CHAP user"
    host1, host2 = "iqn.1994-05.com.redhat:h1", "iqn.1994-05.com.redhat:h2"
    a = api.post(
        "/v1/chap_users",
        {
            "name": "ua",
            "password": "secret-aaaa-1",
            "initiator_iqns": [{"name": host1}, {"name": host2}],
        },
    ).data
    b = api.post(
        "/v1/chap_users",
        {"name": "ub", "password": "secret-bbbb-1", "initiator_iqns": [{"name": host1}]},
    ).data
    assert b["initiator_iqns"] == [{"name": host1}]
    assert api.get(f"/v1/chap_users/{a['id']}").data["initiator_iqns"] == [{"name": host2}]
    r = api.put(f"/v1/chap_users/{a['id']}", {"initiator_iqns": [{"name": host1}, {"name": host2}]})
    assert r.status == 200
    assert api.get(f"/v1/chap_users/{b['id']}").data["initiator_iqns"] is None


def test_a_chap_user_of_a_group_initiator_is_not_deleted(api: Api) -> None:
    # HPE's Go SDK test (chapuser_test.go): a CHAP user whose initiator_iqns name an initiator
    # of an initiator group is not deleted; once the group is gone, it is
    iqn = "iqn.1994-05.com.redhat:48e040d53bf6"
    ig = api.initiator_group("chap-hosts", iqn)
    user = api.post(
        "/v1/chap_users", {"name": "chapiqn", "password": "secret-cccc-1", "description": "d"}
    ).data
    assert (
        api.put(f"/v1/chap_users/{user['id']}", {"initiator_iqns": [{"name": iqn}]}).status == 200
    )
    r = api.delete(f"/v1/chap_users/{user['id']}")
    assert r.status == 409, r.json
    assert api.delete(f"/v1/initiator_groups/{ig}").status == 200
    assert api.delete(f"/v1/chap_users/{user['id']}").status == 200


def test_an_initiator_names_the_chap_user_of_its_iqn(api: Api) -> None:
    # An initiator reports chapuser_id, "Identifier for the CHAP user" (HPE's SDK): the user
    # whose initiator_iqns name it
    iqn = "iqn.1994-05.com.redhat:gst-host"
    ig = api.initiator_group("gst-hosts", iqn)
    ini = api.get("/v1/initiators/detail", initiator_group_id=ig).data[0]
    assert ini["chapuser_id"] == ""
    user = api.post(
        "/v1/chap_users",
        {"name": "gst", "password": "secret-dddd-1", "initiator_iqns": [{"name": iqn}]},
    ).data
    assert api.get(f"/v1/initiators/{ini['id']}").data["chapuser_id"] == user["id"]
    api.put(f"/v1/chap_users/{user['id']}", {"initiator_iqns": []})
    assert api.get(f"/v1/initiators/{ini['id']}").data["chapuser_id"] == ""
