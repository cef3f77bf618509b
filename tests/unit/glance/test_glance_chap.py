"""CHAP in the Glance store's iSCSI login: the secret reaches the node record through stdin
only (never an argument), before the login; a target that wants CHAP admits only it."""

from __future__ import annotations

import pytest
from glance_fakehost import IQN, NODE_DIR, FakeHost
from test_iscsi_store_ops import spec
from tfnimble.glance import iscsi_store_ops as ops
from tfnimble.glance.controller import (
    LoginError,
    LoginRefused,
    iscsi_set_chap,
    parse_portal,
    with_chap,
)
from tfnimble.glance.transport.fake import FakeTransport

SECRET = "Chap-secret-001"
RECORD = (
    "# BEGIN RECORD 2.1.8\nnode.name = x\nnode.session.auth.authmethod = None\n"
    "node.session.auth.chap_algs = MD5\n# END RECORD\n"
)


def test_with_chap_sets_the_three_keys_inside_the_record() -> None:
    out = with_chap(RECORD, "glance-ctl", SECRET)
    assert out.splitlines() == [
        "# BEGIN RECORD 2.1.8",
        "node.name = x",
        "node.session.auth.authmethod = CHAP",
        "node.session.auth.chap_algs = MD5",
        "node.session.auth.username = glance-ctl",
        f"node.session.auth.password = {SECRET}",
        "# END RECORD",
    ]
    assert with_chap(out, "glance-ctl", SECRET) == out  # idempotent
    assert "= other" in with_chap(out, "other", SECRET)  # replaced, not added twice
    assert with_chap(out, "other", SECRET).count("auth.username") == 1


@pytest.mark.parametrize("bad", ["two words", "new\nnode.startup = automatic", "", "x" * 257])
def test_with_chap_refuses_what_would_break_the_record(bad: str) -> None:
    with pytest.raises(ValueError, match="printable ASCII") as err:
        with_chap(RECORD, "user", bad)
    assert bad not in str(err.value) or bad == ""
    with pytest.raises(ValueError):
        with_chap(RECORD, bad, SECRET)


def test_set_chap_writes_the_records_of_that_portal_only_through_stdin() -> None:
    ours = f"{NODE_DIR}/{IQN}/10.200.2.2,3260,1/default"
    other = f"{NODE_DIR}/{IQN}/10.200.2.3,3260,1/default"
    t = FakeTransport(files={ours: RECORD.encode(), other: RECORD.encode()})
    t.on(r"find .*", (1, f"{ours}\n{other}\n", "find: '/var/lib/iscsi/nodes/x': No such file\n"))
    assert iscsi_set_chap(t, IQN, parse_portal("10.200.2.2"), "glance-ctl", SECRET) == 1
    assert f"password = {SECRET}" in t.files[ours].decode() and t.modes[ours] == 0o600
    assert t.files[other] == RECORD.encode()
    assert all(SECRET not in arg for call in t.calls for arg in call.argv)
    with pytest.raises(LoginError, match="no iSCSI node record"):
        iscsi_set_chap(t, IQN, parse_portal("10.200.2.9"), "glance-ctl", SECRET)


def test_store_on_a_chap_target_logs_in_with_chap_and_never_passes_the_secret() -> None:
    host = FakeHost(chap=("glance-ctl", SECRET))
    steps: list[str] = []
    state = ops.create(
        host.transport,
        spec(chap_username="glance-ctl", chap_secret=SECRET),
        steps.append,
        sleep=lambda _: None,
    )
    assert state.ok and state.session_id == 1
    assert any("setting CHAP user glance-ctl" in s for s in steps)
    lines = [c.line for c in host.transport.calls]
    login = next(i for i, line in enumerate(lines) if "--login" in line)
    chap = next(i for i, line in enumerate(lines) if line.startswith("find /etc/iscsi/nodes/"))
    assert chap < login
    assert all(SECRET not in line for line in lines)
    assert all(SECRET not in s for s in steps)
    assert SECRET not in repr(spec(chap_username="u", chap_secret=SECRET))


def test_store_on_a_chap_target_without_chap_fails_with_the_authorization_error() -> None:
    host = FakeHost(chap=("glance-ctl", SECRET))
    with pytest.raises(LoginError) as err:
        ops.create(host.transport, spec(), sleep=lambda _: None)
    assert "24" in str(err.value) or "authorization" in str(err.value).lower()
    wrong = FakeHost(chap=("glance-ctl", SECRET))
    with pytest.raises(LoginError):
        ops.create(
            wrong.transport,
            spec(chap_username="glance-ctl", chap_secret="Another-secret1"),
            sleep=lambda _: None,
        )


def test_spec_refuses_a_secret_without_a_user() -> None:
    with pytest.raises(ValueError, match="needs chap_username"):
        spec(chap_secret=SECRET)


def test_resource_schema_and_validation() -> None:
    from tfnimble.glance.provider import GlanceProvider
    from tfnimble.plugin.engine import Engine

    engine = Engine(GlanceProvider())
    schema = engine.resource_schema("glance_iscsi_store")
    secret = schema.attributes["chap_secret_wo"]
    assert secret.write_only and secret.sensitive and not secret.computed
    assert not engine.get_provider_schema().diagnostics
    names = schema.cty_type().attributes  # type: ignore[attr-defined]
    base = {**dict.fromkeys(names), "portal": "10.200.2.2", "target_iqn": IQN}
    only_user = engine.validate_resource_config(
        "glance_iscsi_store", {**base, "chap_username": "u"}, True
    )
    assert [(d.summary, str(d.path)) for d in only_user] == [
        ("Incomplete CHAP Login", "None")
    ] and "Set chap_secret_wo" in next(iter(only_user)).detail
    only_secret = engine.validate_resource_config(
        "glance_iscsi_store", {**base, "chap_secret_wo": SECRET}, True
    )
    assert [str(d.path) for d in only_secret] == ["chap_username"]
    both = {**base, "chap_username": "u", "chap_secret_wo": SECRET}
    assert not engine.validate_resource_config("glance_iscsi_store", both, True)
    old_terraform = engine.validate_resource_config("glance_iscsi_store", both, False)
    assert [d.summary for d in old_terraform] == ["Write-Only Attribute Not Supported"]


@pytest.mark.parametrize(
    ("given", "attribute", "says"),
    [
        ({}, "chap_username", "The target asks for CHAP"),
        (
            {"chap_username": "glance-ctl", "chap_secret": "Another-secret1"},
            "chap_secret_wo",
            "refused the CHAP login as glance-ctl. Set chap_secret_wo",
        ),
    ],
)
def test_a_refused_login_names_the_attribute_and_leaves_no_node_record(
    given: dict[str, str], attribute: str, says: str
) -> None:
    host = FakeHost(chap=("glance-ctl", SECRET))
    with pytest.raises(LoginRefused) as err:
        ops.create(host.transport, spec(**given), sleep=lambda _: None)
    assert err.value.attribute == attribute and err.value.summary == "iSCSI Login Refused"
    text = str(err.value)
    assert says in text and "status 24 (authorization failure)" in text
    assert "The node record made for this login was deleted" in text
    assert "Another-secret1" not in text and SECRET not in text
    assert host.nodes == {} and host.sessions == {}
    lines = [c.line for c in host.transport.calls]
    login = next(i for i, line in enumerate(lines) if "--login" in line)
    assert any("-o delete" in line for line in lines[login:])
    assert not any(line.startswith(("mkfs", "mount")) for line in lines)


def test_another_login_failure_stays_a_login_error_and_leaves_no_node_record() -> None:
    host = FakeHost(login_error=19)
    with pytest.raises(LoginError) as err:
        ops.create(host.transport, spec(), sleep=lambda _: None)
    assert not isinstance(err.value, LoginRefused) and err.value.returncode == 19
    assert host.nodes == {}


def test_a_new_secret_goes_into_the_node_record_in_place() -> None:
    """chap_secret_wo_version: update writes the new secret; the session is not touched (a
    target checks CHAP only at login), so the store is not replaced."""
    host = FakeHost(chap=("glance-ctl", SECRET))
    state = ops.create(
        host.transport,
        spec(chap_username="glance-ctl", chap_secret=SECRET),
        sleep=lambda _: None,
    )
    host.chap = ("glance-ctl", "Rotated-secret1")  # the array's account changed
    calls = len(host.transport.calls)
    again = ops.update(
        host.transport,
        spec(chap_username="glance-ctl", chap_secret="Rotated-secret1"),
        state,
        sleep=lambda _: None,
    )
    assert again.session_id == state.session_id and again.ok
    lines = [c.line for c in host.transport.calls[calls:]]
    assert not any("--login" in line or "--logout" in line for line in lines)
    record = next(p for p in host.transport.files if p.startswith(f"{NODE_DIR}/{IQN}/"))
    assert "node.session.auth.password = Rotated-secret1" in host.text(record)
    assert all("Rotated-secret1" not in line for line in lines)


def test_the_secret_version_changes_in_place() -> None:
    from tfnimble.glance.resource_iscsi_store import IscsiStoreResource

    attrs = IscsiStoreResource().schema().attributes
    assert attrs["chap_secret_wo_version"].plan_modifiers == ()
    assert attrs["chap_username"].plan_modifiers  # another user still means a new store
