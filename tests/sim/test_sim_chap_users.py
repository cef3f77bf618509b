"""CHAP users, and access control records that name one."""

from __future__ import annotations

import re

from sim_testkit import Api

IQN = "iqn.1993-08.org.debian:01:chap-host"
SECRET = "Secret-0123456"  # 14 characters


def test_chap_user_create_read_never_returns_the_secret(api: Api) -> None:
    r = api.post(
        "/v1/chap_users",
        {"name": "glance", "password": SECRET, "description": "d", "initiator_iqns": [IQN]},
    )
    assert r.status == 201, r.json
    user = r.data
    assert re.fullmatch(r"1b[0-9a-f]{40}", user["id"])
    assert (user["name"], user["full_name"], user["search_name"]) == ("glance",) * 3
    assert user["description"] == "d"
    assert user["initiator_iqns"] == [{"name": IQN}]
    assert (user["vol_list"], user["vol_count"]) == (None, 0)
    for row in (
        user,
        api.get(f"/v1/chap_users/{user['id']}").data,
        *api.get("/v1/chap_users/detail").data,
    ):
        assert "password" not in row
        assert SECRET not in repr(row)
    assert api.get("/v1/chap_users", name="glance").data == [{"id": user["id"], "name": "glance"}]
    r = api.post("/v1/chap_users", {"name": "glance", "password": SECRET})
    assert (r.status, r.code) == (409, "SM_eexist")


def test_chap_secret_rules_and_no_echo(api: Api) -> None:
    for bad in ("short-11ch", "x" * 17, "has space 12345", "amp&ersand123", "semi;colon123", 7):
        r = api.post("/v1/chap_users", {"name": "u", "password": bad})
        assert (r.status, r.code) == (400, "SM_invalid_arg_value"), bad
        assert str(bad) not in repr(r.json)  # the array's error never repeats a secret
    for good in ("a" * 12, "b" * 16, "password_25-24"):
        assert (
            api.post("/v1/chap_users", {"name": f"ok{len(good)}", "password": good}).status == 201
        )
    r = api.post("/v1/chap_users", {"name": "nopw"})
    assert (r.status, r.code) == (400, "SM_missing_arg")
    r = api.post("/v1/chap_users", {"name": "-bad", "password": SECRET})
    assert (r.status, r.code) == (400, "SM_invalid_arg_value")


def test_chap_user_update_and_iqns_alone(api: Api) -> None:
    user = api.post("/v1/chap_users", {"name": "u1", "password": SECRET}).data
    path = f"/v1/chap_users/{user['id']}"
    r = api.put(path, {"password": "Another-secret1", "description": "new", "name": "u2"})
    assert r.status == 200, r.json
    assert (r.data["name"], r.data["description"]) == ("u2", "new")
    r = api.put(path, {"initiator_iqns": [{"name": IQN}], "description": "x"})
    assert (r.status, r.code) == (400, "SM_invalid_arg_value")
    r = api.put(path, {"initiator_iqns": [{"name": IQN}]})
    assert r.data["initiator_iqns"] == [{"name": IQN}]
    r = api.put(path, {"initiator_iqns": []})
    assert r.data["initiator_iqns"] is None
    r = api.put(path, {"password": "bad"})
    assert (r.status, r.code) == (400, "SM_invalid_arg_value")


def test_acr_names_its_chap_user_which_cannot_be_deleted_meanwhile(api: Api) -> None:
    vol = api.volume("v")
    ig = api.initiator_group("hosts", IQN)
    user = api.post("/v1/chap_users", {"name": "chapper", "password": SECRET}).data
    plain = api.acr(vol["id"], ig, apply_to="volume")
    assert (plain["chap_user_id"], plain["chap_user_name"]) == ("", "")
    acr = api.acr(vol["id"], ig, apply_to="snapshot", chap_user_id=user["id"])
    assert (acr["chap_user_id"], acr["chap_user_name"]) == (user["id"], "chapper")
    listed = api.get(f"/v1/chap_users/{user['id']}").data
    assert listed["vol_list"] == [{"id": vol["id"], "name": "v"}] and listed["vol_count"] == 1
    embedded = api.get(f"/v1/volumes/{vol['id']}").data["access_control_records"]
    assert {a["chap_user_name"] for a in embedded} == {"", "chapper"}
    r = api.delete(f"/v1/chap_users/{user['id']}")
    assert (r.status, r.code) == (409, "SM_ebusy")
    r = api.post(
        "/v1/access_control_records",
        {"vol_id": vol["id"], "initiator_group_id": ig, "chap_user_id": "1b" + "0" * 40},
    )
    assert (r.status, r.code) == (404, "SM_enoent")
    assert api.delete(f"/v1/access_control_records/{acr['id']}").status == 200
    assert api.delete(f"/v1/chap_users/{user['id']}").status == 200
    assert api.get(f"/v1/chap_users/{user['id']}").status == 404
