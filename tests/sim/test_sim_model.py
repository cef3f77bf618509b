"""Model invariants checked in-process (no HTTP)."""

from __future__ import annotations

from sim_testkit import Api
from tfnimble.sim.server import SimServer


def test_raw_fields_render_unchanged(sim: SimServer, api: Api) -> None:
    """Lists filter and page on stored documents for raw_fields; that is only right if the
    stored value is exactly the rendered value."""
    vol = api.volume("v", 100, description="d", reserve=5, online=False)
    snap = api.snapshot(vol["id"], "s", online=True)
    api.clone("c", snap["id"])
    ig = api.post(
        "/v1/initiator_groups",
        {
            "name": "g",
            "access_protocol": "iscsi",
            "iscsi_initiators": [{"label": "a", "iqn": "iqn.2000-01.com.example:a"}],
        },
    ).data
    api.post("/v1/access_control_records", {"vol_id": vol["id"], "initiator_group_id": ig["id"]})
    assert sim.model is not None
    with sim.model.store.read() as tx:
        ctx = sim.model.ctx(tx)
        checked = 0
        for oset in sim.model.sets.values():
            raw = oset.raw_fields
            assert raw <= set(oset.known_fields()), oset.name
            for doc in oset.docs(ctx):
                rendered = oset.render(ctx, doc)
                for key in raw:
                    assert doc[key] == rendered[key], (oset.name, key)
                    checked += 1
    assert checked > 50


def test_known_fields_match_rendered_keys(sim: SimServer, api: Api) -> None:
    vol = api.volume("v")
    api.snapshot(vol["id"], "s")
    ig = api.post(
        "/v1/initiator_groups",
        {
            "name": "g",
            "access_protocol": "iscsi",
            "iscsi_initiators": [{"label": "a", "iqn": "iqn.2000-01.com.example:a"}],
        },
    ).data
    api.post("/v1/access_control_records", {"vol_id": vol["id"], "initiator_group_id": ig["id"]})
    assert sim.model is not None
    with sim.model.store.read() as tx:
        ctx = sim.model.ctx(tx)
        for oset in sim.model.sets.values():
            for doc in oset.docs(ctx):
                assert set(oset.render(ctx, doc)) == set(oset.known_fields()), oset.name
