"""The exact-match filters nimble_volumes sends, as the simulator answers them: clones of a
snapshot, of any snapshot of a volume, by pool, clone or not, with fields= and row windows."""

from __future__ import annotations

from sim_testkit import Api


def test_clone_filters_fields_and_windows(api: Api) -> None:
    a, b = api.volume("flt-a"), api.volume("flt-b")
    sa1, sa2 = api.snapshot(a["id"], "s1"), api.snapshot(a["id"], "s2")
    sb = api.snapshot(b["id"], "s1")
    clones = {
        "c1": api.clone("flt-c1", sa1["id"]),
        "c2": api.clone("flt-c2", sa1["id"]),
        "c3": api.clone("flt-c3", sa2["id"]),
        "c4": api.clone("flt-c4", sb["id"]),
    }

    def names(**params: str) -> list[str]:
        r = api.get("/v1/volumes/detail", fields="name", **params)
        assert r.status == 200, r.json
        return sorted(d["name"] for d in r.data)

    assert names(base_snap_id=sa1["id"]) == ["flt-c1", "flt-c2"]
    assert names(parent_vol_id=a["id"]) == ["flt-c1", "flt-c2", "flt-c3"]
    assert names(parent_vol_id=a["id"], base_snap_id=sa2["id"]) == ["flt-c3"]
    assert names(clone="false") == ["flt-a", "flt-b"]
    assert names(clone="true", pool_id=api.pool()["id"]) == sorted(
        c["name"] for c in clones.values()
    )
    assert names(pool_id="0a" + "f" * 40) == []
    assert names(volcoll_id="") == sorted(["flt-a", "flt-b", *(c["name"] for c in clones.values())])
    coll = api.post("/v1/volume_collections", {"name": "flt-coll"}).data
    assert api.put(f"/v1/volumes/{b['id']}", {"volcoll_id": coll["id"]}).status == 200
    assert names(volcoll_id=coll["id"]) == ["flt-b"]
    assert names(volcoll_name="flt-coll") == ["flt-b"]
    fields = "id,name,size,base_snap_id,parent_vol_id,volcoll_id"
    r = api.get("/v1/volumes/detail", fields=fields, base_snap_id=sa1["id"])
    assert [set(d) for d in r.data] == [set(fields.split(","))] * 2
    page = api.get("/v1/volumes/detail", fields="name", clone="true", startRow=1, endRow=3)
    assert page.json["totalRows"] == 4 and len(page.data) == 2
    bad = api.get("/v1/volumes/detail", base_snapshot_id=sa1["id"])
    assert (bad.status, bad.code) == (400, "SM_unexpected_query_param")
