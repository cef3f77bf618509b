"""Whatever a client sends, the simulator answers with a client error, never a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim_testkit import Api
from tfnimble.sim.server import SimServer

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**65), 2**65)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = [
    "name",
    "size",
    "vol_id",
    "clone",
    "base_snap_id",
    "online",
    "force",
    "apply_to",
    "initiator_group_id",
    "access_protocol",
    "iscsi_initiators",
    "metadata",
    "lun",
    "reserve",
    "description",
    "perfpolicy_id",
    "block_size",
    "limit",
]
bodies = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6)
PATHS = [
    "/v1/volumes",
    "/v1/snapshots",
    "/v1/initiator_groups",
    "/v1/initiators",
    "/v1/access_control_records",
    "/v1/performance_policies",
    "/v1/volumes/detail",
]


def test_random_bodies_never_cause_a_500(tmp_path: Path) -> None:
    with SimServer(tmp_path, port=0) as sim:
        api = Api(sim.url, sim.ca_file, "admin", "admin")
        vol = api.volume("anchor")
        ids = [vol["id"], api.snapshot(vol["id"], "s")["id"], "", "06" + "0" * 40, "x"]

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(
            path=st.sampled_from(PATHS),
            body=bodies,
            id_index=st.integers(0, 4),
            wrap=st.booleans(),
            method=st.sampled_from(["POST", "PUT"]),
        )
        def check(path: str, body: dict[str, Any], id_index: int, wrap: bool, method: str) -> None:
            for key in ("vol_id", "base_snap_id", "initiator_group_id"):
                if key in body and isinstance(body[key], bool):
                    body[key] = ids[id_index]
            target = path if method == "POST" else f"/v1/volumes/{vol['id']}"
            r = api.request(method, target, raw={"data": body} if wrap else body)
            assert r.status < 500, (method, target, body, r.json)
            assert "messages" in r.json or "data" in r.json

        check()

        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(
            query=st.dictionaries(
                st.sampled_from(
                    [
                        "startRow",
                        "endRow",
                        "pageSize",
                        "sortBy",
                        "fields",
                        "name",
                        "online",
                        "size",
                        "zzz",
                    ]
                ),
                st.text(max_size=8),
                max_size=4,
            )
        )
        def check_query(query: dict[str, str]) -> None:
            r = api.request("GET", "/v1/volumes/detail", params=query)
            assert r.status < 500, (query, r.json)
            json.dumps(r.json)

        check_query()
