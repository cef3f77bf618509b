"""Listing: summary vs detail, fields, filters, pagination, sorting, advanced criteria."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_testkit import Api
from tfnimble.sim import query as q


@pytest.fixture
def vols(api: Api) -> list[dict]:
    out = []
    for i, (name, size) in enumerate(
        [("alpha", 100), ("beta", 300), ("gamma", 200), ("delta", 400), ("vol-e", 500)]
    ):
        out.append(api.volume(name, size, online=i % 2 == 0, description=f"d{i}"))
    return out


def test_summary_list_has_id_and_name_only(api: Api, vols: list[dict]) -> None:
    r = api.get("/v1/volumes")
    assert r.status == 200
    assert r.json == {
        "data": [{"id": v["id"], "name": v["name"]} for v in vols],
        "startRow": 0,
        "endRow": 5,
        "totalRows": 5,
    }


def test_detail_list_and_fields(api: Api, vols: list[dict]) -> None:
    r = api.get("/v1/volumes/detail")
    assert [d["size"] for d in r.data] == [100, 300, 200, 400, 500]
    assert len(r.data[0]) > 90
    r = api.get("/v1/volumes/detail", fields="name,size")
    assert r.data[0] == {"name": "alpha", "size": 100}


def test_simple_filters_are_exact_and_anded(api: Api, vols: list[dict]) -> None:
    assert [d["name"] for d in api.get("/v1/volumes", name="beta").data] == ["beta"]
    assert api.get("/v1/volumes", name="bet").data == []
    online = api.get("/v1/volumes/detail", online="true", fields="name").data
    assert [d["name"] for d in online] == ["alpha", "gamma", "vol-e"]
    both = api.get("/v1/volumes", online="false", size="400").data
    assert [d["name"] for d in both] == ["delta"]
    assert api.get("/v1/volumes", online="false", size="100").data == []
    r = api.get("/v1/volumes", colour="red")
    assert (r.status, r.code) == (400, "SM_unexpected_query_param")


def test_raw_predicate_id_greater_than(api: Api, vols: list[dict]) -> None:
    r = api.request("GET", f"/v1/volumes?pageSize=2&id%3E{vols[1]['id']}")
    assert [d["name"] for d in r.data] == ["gamma", "delta"]
    assert r.json["totalRows"] == 3


def test_pagination_windows(api: Api, vols: list[dict]) -> None:
    r = api.get("/v1/volumes", startRow=1, endRow=3)
    assert [d["name"] for d in r.data] == ["beta", "gamma"]
    assert (r.json["startRow"], r.json["endRow"], r.json["totalRows"]) == (1, 3, 5)
    r = api.get("/v1/volumes", pageSize=2)
    assert (len(r.data), r.json["endRow"]) == (2, 2)
    r = api.get("/v1/volumes", startRow=4, pageSize=2)
    assert [d["name"] for d in r.data] == ["vol-e"]
    r = api.get("/v1/volumes", startRow=3, endRow=2)
    assert (r.status, r.code) == (400, "SM_start_row_beyond_end_row")
    r = api.get("/v1/volumes", startRow=0, endRow=10)
    assert r.status == 200 and len(r.data) == 5
    assert r.codes == ["SM_http_ok", "SM_end_row_beyond_total_rows"]
    r = api.get("/v1/volumes", startRow=9)
    assert r.status == 200 and r.data == []
    assert r.code == "SM_start_row_beyond_total_rows"
    r = api.get("/v1/volumes", pageSize=5000)
    assert (r.status, r.codes) == (206, ["SM_http_partial_content", "SM_too_large_page_size"])
    for bad in ({"startRow": "x"}, {"pageSize": 0}, {"endRow": -1}):
        r = api.get("/v1/volumes", **bad)
        assert (r.status, r.code) == (400, "SM_invalid_query_param")


def test_sort_by(api: Api, vols: list[dict]) -> None:
    names = [d["name"] for d in api.get("/v1/volumes", sortBy="name").data]
    assert names == sorted(names)
    sizes = [d["size"] for d in api.get("/v1/volumes/detail", sortBy="-size").data]
    assert sizes == [500, 400, 300, 200, 100]
    multi = api.get("/v1/volumes/detail", sortBy="online,-size", fields="name").data
    assert [d["name"] for d in multi] == ["delta", "beta", "vol-e", "gamma", "alpha"]
    r = api.get("/v1/volumes", sortBy="nope")
    assert (r.status, r.code) == (400, "SM_invalid_query_param")


def _criteria(operator: str, *criteria: dict) -> dict:
    return {
        "data": {
            "_constructor": "AdvancedCriteria",
            "operator": operator,
            "criteria": list(criteria),
        },
        "operationType": "fetch",
    }


@pytest.mark.parametrize(
    ("crit", "expected"),
    [
        ({"fieldName": "name", "operator": "equals", "value": "beta"}, ["beta"]),
        ({"fieldName": "name", "operator": "iEquals", "value": "BETA"}, ["beta"]),
        (
            {"fieldName": "name", "operator": "notEqual", "value": "beta"},
            ["alpha", "gamma", "delta", "vol-e"],
        ),
        (
            {"fieldName": "name", "operator": "iNotEqual", "value": "ALPHA"},
            ["beta", "gamma", "delta", "vol-e"],
        ),
        ({"fieldName": "name", "operator": "contains", "value": "ta"}, ["beta", "delta"]),
        ({"fieldName": "name", "operator": "iContains", "value": "TA"}, ["beta", "delta"]),
        (
            {"fieldName": "name", "operator": "inSet", "values": ["alpha", "vol-e", "zzz"]},
            ["alpha", "vol-e"],
        ),
        (
            {"fieldName": "name", "operator": "notInSet", "values": ["alpha", "vol-e"]},
            ["beta", "gamma", "delta"],
        ),
        (
            {"fieldName": "size", "operator": "between", "value1": 100, "value2": 400},
            ["beta", "gamma"],
        ),
        (
            {"fieldName": "size", "operator": "betweenInclusive", "value1": "100", "value2": "400"},
            ["alpha", "beta", "gamma", "delta"],
        ),
        ({"fieldName": "size", "operator": "greaterThan", "value": "300"}, ["delta", "vol-e"]),
        (
            {"fieldName": "size", "operator": "greaterOrEqual", "value": 300},
            ["beta", "delta", "vol-e"],
        ),
        ({"fieldName": "size", "operator": "lessThan", "value": 200}, ["alpha"]),
        ({"fieldName": "size", "operator": "lessOrEqual", "value": "200"}, ["alpha", "gamma"]),
        ({"fieldName": "name", "operator": "regexp", "value": "^[ab]"}, ["alpha", "beta"]),
        (
            {"fieldName": "online", "operator": "equals", "value": "true"},
            ["alpha", "gamma", "vol-e"],
        ),
        (
            {"fieldName": "access_control_records", "operator": "equals", "value": "null"},
            ["alpha", "beta", "gamma", "delta", "vol-e"],
        ),
    ],
)
def test_advanced_criteria_operators(
    api: Api, vols: list[dict], crit: dict, expected: list[str]
) -> None:
    r = api.request("POST", "/v1/volumes", raw=_criteria("and", crit))
    assert r.status == 200, r.json
    assert [d["name"] for d in r.data] == expected
    assert set(r.data[0]) == {"id", "name"}


def test_advanced_criteria_nesting_detail_and_metadata(api: Api, vols: list[dict]) -> None:
    api.put(f"/v1/volumes/{vols[2]['id']}", {"metadata": [{"key": "k", "value": "v"}]})
    body = _criteria(
        "or",
        {"fieldName": "metadata.k", "operator": "equals", "value": "v"},
        {
            "operator": "and",
            "criteria": [
                {"fieldName": "name", "operator": "iContains", "value": "E"},
                {"fieldName": "online", "operator": "equals", "value": "false"},
            ],
        },
    )
    r = api.request("POST", "/v1/volumes/detail", raw=body, params={"fields": "name,size"})
    assert r.data == [
        {"name": "beta", "size": 300},
        {"name": "gamma", "size": 200},
        {"name": "delta", "size": 400},
    ]
    body["startRow"], body["endRow"] = 1, 2
    assert [d["name"] for d in api.request("POST", "/v1/volumes/detail", raw=body).data] == [
        "gamma"
    ]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"operator": "and", "criteria": []}, "SM_missing_advanced_criteria_constructor"),
        ({"_constructor": "AdvancedCriteria", "operator": "and"}, "SM_missing_criteria"),
        (
            {
                "_constructor": "AdvancedCriteria",
                "operator": "and",
                "criteria": [{"operator": "equals", "value": "x"}],
            },
            "SM_missing_criteria_fieldName",
        ),
        (
            {
                "_constructor": "AdvancedCriteria",
                "operator": "and",
                "criteria": [{"fieldName": "name", "value": "x"}],
            },
            "SM_missing_criteria_operator",
        ),
        (
            {
                "_constructor": "AdvancedCriteria",
                "operator": "and",
                "criteria": [{"fieldName": "name", "operator": "like", "value": "x"}],
            },
            "SM_unsupported_query_operator",
        ),
    ],
)
def test_advanced_criteria_errors(api: Api, data: dict, code: str) -> None:
    r = api.request("POST", "/v1/volumes/detail", raw={"data": data, "operationType": "fetch"})
    assert (r.status, r.code) == (400, code)


def test_other_sets_list_and_filter(api: Api) -> None:
    names = [p["name"] for p in api.get("/v1/performance_policies").data]
    assert names[0] == "default" and len(names) >= 4
    default = api.get("/v1/performance_policies/detail", name="default").data[0]
    assert (
        default["block_size"],
        default["compress"],
        default["cache"],
        default["predefined"],
    ) == (4096, True, True, True)
    assert api.get("/v1/groups").json["totalRows"] == 1
    assert api.get("/v1/arrays/detail").data[0]["role"] == "leader"
    assert api.get("/v1/jobs").json == {"data": [], "startRow": 0, "endRow": 0, "totalRows": 0}
    assert api.get(f"/v1/jobs/1c{'0' * 40}").status == 404
    assert [s["type"] for s in api.get("/v1/subnets/detail").data] == ["mgmt", "data"]


@settings(max_examples=60, deadline=None)
@given(total=st.integers(0, 40), start=st.integers(0, 45), size=st.integers(1, 50))
def test_pages_tile_the_result(total: int, start: int, size: int) -> None:
    rows = [{"id": f"{i:04d}", "name": str(i)} for i in range(total)]
    query = q.build_query({"startRow": str(start), "pageSize": str(size)}, [], ["id", "name"])
    page, env = q.apply(rows, query)
    assert env["totalRows"] == total
    assert page == rows[min(start, total) : min(start, total) + size]
    assert env["endRow"] - env["startRow"] == len(page)
    walked, cursor = [], 0
    while cursor < total:  # the SDK's walk: startRow += len(data) until endRow == totalRows
        chunk, env = q.apply(rows, q.build_query({"startRow": str(cursor)}, [], ["id"]))
        walked += chunk
        cursor = env["endRow"]
    assert walked == rows
