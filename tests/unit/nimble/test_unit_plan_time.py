"""Plan-time refusal (issue 11): what is knowable at plan is refused at validate or in
modify_plan, on the attribute the user wrote, with one memoised read per distinct value;
unknown values are not read; apply-time array errors point at the attribute too."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tfnimble.nimble import _common as c
from tfnimble.nimble import _plancheck as pc
from tfnimble.nimble.client import (
    BadRequest,
    InitiatorGroup,
    NotFound,
    Snapshot,
    Volume,
    initiator_groups,
    performance_policies,
    pools,
    snapshots,
    volumes,
)
from tfnimble.nimble.client.models import PerformancePolicy, Pool
from tfnimble.nimble.provider import NimbleProvider
from tfnimble.plugin import UNKNOWN, AttributePath, DiagnosticError
from tfnimble.plugin.engine import Engine

SNAP = "04" + "0" * 39 + "1"
VOL = "06" + "0" * 39 + "1"
GROUP = "02" + "0" * 39 + "1"
GONE = "04" + "f" * 40
SECRET = "s3cr3t-Pa55"
MEMBERS = [f"06{'0' * 32}{n + 2:08x}" for n in range(300)]  # volumes the array has


def path(attr: str) -> AttributePath:
    return AttributePath.root().attr(attr)


# --- a fake array behind the client functions the checks call ---------------------------------


class FakeArray:
    """Counts every read; holds one snapshot, one volume, one group, pool and policy."""

    def __init__(self) -> None:
        self.reads: Counter[str] = Counter()
        self.lock = threading.Lock()

    def count(self, what: str) -> None:
        with self.lock:
            self.reads[what] += 1


@pytest.fixture
def array(monkeypatch: pytest.MonkeyPatch) -> FakeArray:
    a = FakeArray()

    def get_snapshot(cl: object, ident: str) -> Snapshot | None:
        a.count("snapshot")
        return Snapshot(SNAP, "golden", VOL, size=2048 << 20) if ident == SNAP else None

    def get_volume(cl: object, ident: str) -> Volume | None:
        a.count("volume")
        return Volume(VOL, "base", 2048) if ident == VOL else None

    def list_volumes(cl: object, filters: object = None, *, detail: bool = True) -> list[Volume]:
        a.count("volume list")
        return [Volume(v, f"vol-{n}", 64) for n, v in enumerate([VOL, *MEMBERS])]

    def get_group(cl: object, ident: str) -> InitiatorGroup | None:
        a.count("group")
        return InitiatorGroup(GROUP, "hosts") if ident == GROUP else None

    def list_pools(cl: object) -> list[Pool]:
        a.count("pools")
        return [Pool(id="0a" + "0" * 40, name="default")]

    def list_policies(cl: object) -> list[PerformancePolicy]:
        a.count("policies")
        return [PerformancePolicy(id="03" + "0" * 40, name="default")]

    monkeypatch.setattr(snapshots, "get_snapshot", get_snapshot)
    monkeypatch.setattr(volumes, "get_volume", get_volume)
    monkeypatch.setattr(volumes, "list_volumes", list_volumes)
    monkeypatch.setattr(initiator_groups, "get_initiator_group", get_group)
    monkeypatch.setattr(pools, "list_pools", list_pools)
    monkeypatch.setattr(performance_policies, "list_performance_policies", list_policies)
    return a


class FakeClient:
    """Stands for the configured NimbleClient (the memo is keyed by it)."""


def engine(client: object | None = None) -> Engine:
    e = Engine(NimbleProvider())
    e.provider_data = FakeClient() if client is None else client
    return e


def blank(type_name: str) -> dict[str, Any]:
    schema = Engine(NimbleProvider()).resource_schema(type_name)
    return dict.fromkeys([*schema.attributes, *schema.blocks])


def plan_create(e: Engine, type_name: str, **config: Any):  # type: ignore[no-untyped-def]
    cfg = {**blank(type_name), **config}
    return e.plan_resource_change(type_name, None, dict(cfg), cfg, b"")


def errors(result: Any) -> list[Any]:
    diags = result.diagnostics if hasattr(result, "diagnostics") else result
    return [d for d in diags if d.severity.name == "ERROR"]


def validate(type_name: str, **config: Any) -> list[Any]:
    return list(Engine(NimbleProvider()).validate_resource_config(type_name, config))


# --- validate: the form of IDs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "attr", "config"),
    [
        ("nimble_clone_volume", "snapshot_id", {"name": "vm", "snapshot_id": "golden"}),
        ("nimble_snapshot", "volume_id", {"name": "s", "volume_id": "my-volume"}),
        (
            "nimble_access_control_record",
            "volume_id",
            {"volume_id": "vol-1", "initiator_group_id": GROUP},
        ),
        (
            "nimble_access_control_record",
            "initiator_group_id",
            {"volume_id": VOL, "initiator_group_id": "hosts"},
        ),
    ],
)
def test_a_malformed_id_is_refused_at_validate_on_its_attribute(
    type_name: str, attr: str, config: dict[str, Any]
) -> None:
    found = errors(validate(type_name, **{**blank(type_name), **config}))
    assert len(found) == 1, found
    assert found[0].path == path(attr)
    assert f"{attr} must be the array's ID" in found[0].detail
    assert "42 hexadecimal digits" in found[0].detail
    assert "base_snap_id" not in found[0].detail and "vol_id" not in found[0].detail


def test_an_unknown_or_well_formed_id_passes_validate() -> None:
    for value in (UNKNOWN, SNAP, SNAP.upper()):
        cfg = {**blank("nimble_clone_volume"), "name": "vm", "snapshot_id": value}
        assert not errors(validate("nimble_clone_volume", **cfg)), value


# --- validate: image sources --------------------------------------------------------------------

MASTER = "nimble_image_master"


def validate_source(source: Any, **extra: Any) -> list[Any]:
    return validate(MASTER, **{**blank(MASTER), "name": "m", "source": source, **extra})


@pytest.mark.parametrize(
    ("source", "summary", "words"),
    [
        ("ftp://mirror.example/ubuntu.qcow2", "Unsupported Image Source", "ftp:// URL"),
        ("s3://bucket/ubuntu.qcow2", "Unsupported Image Source", "http:// or https://"),
        ("https:///ubuntu.qcow2", "Image Source URL Has No Host", "must name a server"),
        ("http://", "Image Source URL Has No Host", "must name a server"),
        ("https://host:99999/x.img", "Invalid Image Source URL", "port"),
        ("", "Empty Image Source", "local path or an http(s):// URL"),
    ],
)
def test_a_bad_source_is_refused_at_validate(source: str, summary: str, words: str) -> None:
    found = errors(validate_source(source))
    assert [d.summary for d in found] == [summary]
    assert words in found[0].detail and found[0].path == path("source")


def test_credentials_in_the_url_are_refused_without_repeating_them() -> None:
    found = errors(validate_source(f"https://admin:{SECRET}@images.example/x.qcow2"))
    assert [d.summary for d in found] == ["Credentials In Image Source URL"]
    assert "source_username and source_password" in found[0].detail
    assert SECRET not in found[0].detail and "admin" not in found[0].detail
    assert found[0].path == path("source")
    assert errors(validate_source("https://admin@images.example/x.qcow2"))


def test_credentials_need_a_url_and_a_username() -> None:
    local = errors(validate_source("images/x.qcow2", source_username="u", source_password="p"))
    # The engine's rule 8 takes the path off a diagnostic on a sensitive attribute, so
    # Terraform never prints that line of the configuration; the detail still names it.
    assert {str(d.path) for d in local} == {"source_username", "None"}
    assert any("source_password" in d.detail for d in local if d.path is None)
    assert all(d.summary == "Credentials For A Local Source" for d in local)
    lone = errors(validate_source("https://images.example/x.qcow2", source_password=SECRET))
    assert [(d.summary, d.path) for d in lone] == [
        ("Missing Source Username", path("source_username"))
    ]
    assert SECRET not in lone[0].detail


def test_credentials_over_plain_http_warn_and_https_passes_clean() -> None:
    plain = validate_source(
        "http://images.example/x.qcow2", source_username="u", source_password="p"
    )
    assert not errors(plain)
    assert [d.summary for d in plain] == ["Credentials Sent In Clear Text"]
    assert validate_source("https://images.example/x.qcow2?sig=1", source_username="u") == []
    assert validate_source(UNKNOWN, source_username="u", source_password=UNKNOWN) == []


def test_the_password_is_a_sensitive_attribute_and_the_username_is_not() -> None:
    schema = Engine(NimbleProvider()).resource_schema(MASTER)
    assert schema.attributes["source_password"].sensitive
    assert not schema.attributes["source_username"].sensitive
    assert not schema.attributes["source_password"].plan_modifiers  # no replacement


# --- modify_plan: references to objects --------------------------------------------------------


def test_a_collection_of_many_known_members_is_checked_with_one_list(array: FakeArray) -> None:
    """300 existing members and one missing: one summary list of the array's volumes, then the
    per-ID read only for the one the list lacks, reported on volume_ids."""
    members = [*MEMBERS, GONE.replace("04", "06", 1)]
    result = plan_create(engine(), "nimble_volume_collection", name="images", volume_ids=members)
    assert [(d.summary, str(d.path)) for d in errors(result)] == [
        ("Volume Not Found", "volume_ids")
    ]
    assert GONE.replace("04", "06", 1) in errors(result)[0].detail
    assert array.reads == {"volume list": 1, "volume": 1}
    # one member alone is one GET, as any single reference
    array.reads.clear()
    assert not errors(plan_create(engine(), "nimble_volume_collection", name="i", volume_ids=[VOL]))
    assert array.reads == {"volume": 1}


def test_a_nonexistent_snapshot_is_refused_at_plan_without_size_mib(array: FakeArray) -> None:
    result = plan_create(engine(), "nimble_clone_volume", name="vm", snapshot_id=GONE)
    found = errors(result)
    assert [(d.summary, d.path) for d in found] == [("Snapshot Not Found", path("snapshot_id"))]
    assert GONE in found[0].detail and "nimble_image_master.NAME.snapshot_id" in found[0].detail
    assert array.reads["snapshot"] == 1


def test_a_clone_smaller_than_its_snapshot_is_refused_at_plan(array: FakeArray) -> None:
    result = plan_create(
        engine(), "nimble_clone_volume", name="vm", snapshot_id=SNAP, size_mib=1024
    )
    assert [(d.summary, d.path) for d in errors(result)] == [
        ("Clone Smaller Than Its Snapshot", path("size_mib"))
    ]


def test_an_unknown_snapshot_id_is_not_read(array: FakeArray) -> None:
    result = plan_create(engine(), "nimble_clone_volume", name="vm", snapshot_id=UNKNOWN)
    assert not errors(result) and sum(array.reads.values()) == 0


def test_an_unchanged_clone_reads_nothing(array: FakeArray) -> None:
    e = engine()
    state = plan_create(e, "nimble_clone_volume", name="vm", snapshot_id=SNAP).planned_state
    state = {k: (None if v is UNKNOWN else v) for k, v in state.items()}
    state.update(id=VOL, size_mib=2048, performance_policy="default")
    array.reads.clear()
    cfg = {**blank("nimble_clone_volume"), "name": "vm", "snapshot_id": SNAP}
    result = e.plan_resource_change("nimble_clone_volume", state, dict(state), cfg, b"")
    assert not errors(result) and sum(array.reads.values()) == 0


def test_a_fan_out_reads_the_snapshot_once(array: FakeArray) -> None:
    """500 clones of one snapshot planned 10 at a time, as Terraform does: one GET."""
    e = engine()
    results: list[Any] = []
    barrier = threading.Barrier(10)

    def plan_some(start: int) -> None:
        barrier.wait()
        for i in range(start, 500, 10):
            results.append(plan_create(e, "nimble_clone_volume", name=f"vm-{i}", snapshot_id=SNAP))

    threads = [threading.Thread(target=plan_some, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 500 and not any(errors(r) for r in results)
    assert array.reads["snapshot"] == 1
    assert pc.lookups(e.provider_data).fetches == 1


def test_every_client_has_its_own_memo(array: FakeArray) -> None:
    plan_create(engine(), "nimble_clone_volume", name="vm", snapshot_id=SNAP)
    plan_create(engine(), "nimble_clone_volume", name="vm", snapshot_id=SNAP)
    assert array.reads["snapshot"] == 2


def test_unknown_pool_and_policy_are_both_refused_at_plan(array: FakeArray) -> None:
    result = plan_create(
        engine(), "nimble_volume", name="v", size_mib=10, pool="fast", performance_policy="gold"
    )
    found = {str(d.path): d for d in errors(result)}
    assert set(found) == {"pool", "performance_policy"}
    assert found["pool"].summary == "Pool Not Found" and '"default"' in found["pool"].detail
    assert found["performance_policy"].summary == "Performance Policy Not Found"


def test_known_pool_and_policy_pass_with_one_list_each(array: FakeArray) -> None:
    e = engine()
    for i in range(5):
        result = plan_create(
            e,
            "nimble_volume",
            name=f"v{i}",
            size_mib=10,
            pool="default",
            performance_policy="default",
        )
        assert not errors(result)
    assert (array.reads["pools"], array.reads["policies"]) == (1, 1)


def test_a_policy_change_on_update_is_checked(array: FakeArray) -> None:
    state = {
        **blank("nimble_volume"),
        "id": VOL,
        "name": "v",
        "size_mib": 10,
        "pool": "default",
        "performance_policy": "default",
        "online": True,
    }
    cfg = {**blank("nimble_volume"), "name": "v", "size_mib": 10, "performance_policy": "gold"}
    proposed = {**state, "performance_policy": "gold"}
    result = engine().plan_resource_change("nimble_volume", state, proposed, cfg, b"")
    assert [str(d.path) for d in errors(result)] == ["performance_policy"]
    assert array.reads["pools"] == 0


def test_image_master_pool_and_policy_are_checked_at_plan(array: FakeArray, tmp_path: Path) -> None:
    img = tmp_path / "x.img"
    img.write_bytes(b"x")
    result = plan_create(engine(), MASTER, name="m", source=str(img), pool="fast")
    assert [str(d.path) for d in errors(result)] == ["pool"]


def test_a_snapshot_of_a_nonexistent_volume_is_refused_at_plan(array: FakeArray) -> None:
    result = plan_create(engine(), "nimble_snapshot", name="s", volume_id=GONE)
    found = errors(result)
    assert [(d.summary, d.path) for d in found] == [("Volume Not Found", path("volume_id"))]
    ok = plan_create(engine(), "nimble_snapshot", name="s", volume_id=VOL)
    assert not errors(ok)


def test_an_access_record_reports_each_missing_reference(array: FakeArray) -> None:
    both = plan_create(
        engine(), "nimble_access_control_record", volume_id=GONE, initiator_group_id=GONE
    )
    assert {(d.summary, str(d.path)) for d in errors(both)} == {
        ("Volume Not Found", "volume_id"),
        ("Initiator Group Not Found", "initiator_group_id"),
    }
    group = plan_create(
        engine(), "nimble_access_control_record", volume_id=VOL, initiator_group_id=GONE
    )
    assert [str(d.path) for d in errors(group)] == ["initiator_group_id"]
    ok = plan_create(
        engine(), "nimble_access_control_record", volume_id=VOL, initiator_group_id=GROUP
    )
    assert not errors(ok)


def test_a_missing_local_image_is_refused_at_plan(array: FakeArray, tmp_path: Path) -> None:
    gone = str(tmp_path / "nope.qcow2")
    result = plan_create(engine(), MASTER, name="m", source=gone)
    found = errors(result)
    assert [(d.summary, d.path) for d in found] == [("Image Source Not Found", path("source"))]
    assert gone in found[0].detail and "terraform_data" in found[0].detail
    directory = plan_create(engine(), MASTER, name="m", source=str(tmp_path))
    assert [d.summary for d in errors(directory)] == ["Image Source Not Found"]
    url = plan_create(engine(), MASTER, name="m", source="https://images.example/x.img")
    assert not errors(url)
    unknown = plan_create(engine(), MASTER, name="m", source=UNKNOWN)
    assert not errors(unknown)


def test_a_failed_read_is_reported_on_the_attribute_and_not_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []

    def flaky(cl: object, ident: str) -> Snapshot:
        calls.append(ident)
        if len(calls) == 1:
            raise BadRequest(500, "SM_ebusy", "busy")
        return Snapshot(SNAP, "golden", VOL, size=1 << 20)

    monkeypatch.setattr(snapshots, "get_snapshot", flaky)
    e = engine()
    first = plan_create(e, "nimble_clone_volume", name="vm", snapshot_id=SNAP)
    assert [str(d.path) for d in errors(first)] == ["snapshot_id"]
    assert not errors(plan_create(e, "nimble_clone_volume", name="vm", snapshot_id=SNAP))
    assert len(calls) == 2


def test_without_a_configured_client_nothing_is_read(array: FakeArray) -> None:
    e = Engine(NimbleProvider())
    assert not errors(plan_create(e, "nimble_clone_volume", name="vm", snapshot_id=GONE))
    assert sum(array.reads.values()) == 0


# --- the memo ---------------------------------------------------------------------------------


def test_memo_answers_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    memo = pc.Lookups(clock=lambda: now[0])
    fetched: list[int] = []

    def fetch() -> int:
        fetched.append(1)
        return len(fetched)

    assert memo.get("k", fetch) == 1 and memo.get("k", fetch) == 1
    now[0] += pc.MEMO_SECONDS + 0.1
    assert memo.get("k", fetch) == 2 and memo.fetches == 2


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    ev = threading.Event()
    yield ev
    ev.set()


def test_memo_single_flight_makes_waiters_share_the_answer(gate: threading.Event) -> None:
    memo = pc.Lookups()
    started = threading.Event()
    fetched: list[int] = []

    def slow() -> str:
        fetched.append(1)
        started.set()
        assert gate.wait(30)
        return "answer"

    got: list[str] = []
    first = threading.Thread(target=lambda: got.append(memo.get("k", slow)))
    first.start()
    assert started.wait(30)
    others = [threading.Thread(target=lambda: got.append(memo.get("k", slow))) for _ in range(5)]
    for t in others:
        t.start()
    gate.set()
    for t in [first, *others]:
        t.join(30)
    assert got == ["answer"] * 6 and len(fetched) == 1


# --- apply: array errors point at the attribute the user wrote ---------------------------------


def test_a_rejected_base_snap_id_names_snapshot_id() -> None:
    err = BadRequest(
        400,
        "SM_invalid_arg_value",
        "Invalid value 'bogus' specified for the argument 'base_snap_id'.",
        operation="create",
        object_name="vm",
    )

    def clone() -> None:
        raise err

    with pytest.raises(DiagnosticError) as caught:
        c.call(clone, "create", "clone volume", "vm")
    d = caught.value
    assert d.path == path("snapshot_id")
    first = d.detail.split("Original error")[0]
    assert "snapshot_id (the array calls it base_snap_id)" in first


@pytest.mark.parametrize("missing", ["snapshot_id", lambda: "snapshot_id"])
def test_sm_enoent_points_at_the_missing_reference(missing: Any) -> None:
    def clone() -> None:
        raise NotFound(404, "SM_enoent", "No such object.")

    with pytest.raises(DiagnosticError) as caught:
        c.call(clone, "create", "clone volume", "vm", missing=missing)
    d = caught.value
    assert d.path == path("snapshot_id")
    assert "the object snapshot_id refers to does not exist" in d.detail


def test_other_errors_keep_their_explanation() -> None:
    def busy() -> None:
        raise BadRequest(409, "SM_ebusy", "Object busy.")

    with pytest.raises(DiagnosticError) as caught:
        c.call(busy, "create", "clone volume", "vm", missing="snapshot_id")
    assert caught.value.path is None and "busy" in caught.value.detail
