"""nimble_chap_user and the access control record's chap_user_id, against the in-process
simulator (no terraform): the secret rule, create, a version bump, import, and a record
that names the user."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from tfnimble.nimble import dependents
from tfnimble.nimble.client import NimbleClient, chap_users, initiator_groups, volumes
from tfnimble.nimble.resource_access_control_record import (
    AccessControlRecordModel,
    AccessControlRecordResource,
)
from tfnimble.nimble.resource_chap_user import ChapUserModel, ChapUserResource, secret_rule
from tfnimble.plugin import AttributePath, Context, DiagnosticError
from tfnimble.plugin.engine import Engine
from tfnimble.sim import server

USER, PASSWORD = "admin", "sim-Pa55word"
SECRET_1, SECRET_2 = "First-secret-01", "Second-secret2"
PATH = AttributePath.root().attr("secret_wo")


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    srv = server.SimServer(
        tmp_path_factory.mktemp("sim"), username=USER, password=PASSWORD, durable=False
    ).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def nc(sim: Any) -> Iterator[NimbleClient]:
    c = NimbleClient(sim.host, sim.port, USER, PASSWORD, ca_file=sim.ca_file)
    yield c
    c.close()


def ctx(nc: NimbleClient) -> Context:
    return Context(provider_data=nc, stop_event=threading.Event(), timeout=60)


def stored_secret(sim: Any, user_id: str) -> str:
    """What the array keeps (the sim's SQLite), which no GET returns."""
    with sim.store.read() as tx:
        doc = tx.get(user_id)
    assert doc is not None
    return str(doc["password"])


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("short-11chr", "it has 11 characters"),
        ("seventeen-chars-x", "it has 17 characters"),
        ("with space-12", "a space"),
        ("caret^caret12", "one of &"),
        ("ünïcode-12345", "outside printable ASCII"),
    ],
)
def test_secret_rule_names_the_attribute_never_the_secret(secret: str, why: str) -> None:
    [d] = secret_rule(secret, PATH)
    assert d.summary == "Invalid CHAP Secret" and str(d.path) == "secret_wo"
    assert why in d.detail and "secret_wo must be 12 to 16" in d.detail
    assert secret not in d.detail


def test_secret_rule_accepts_the_arrays_examples() -> None:
    for good in ("password_25-24", "a" * 12, "Z" * 16, "!#$%()*+,-./:<"):
        assert secret_rule(good, PATH) == []


def test_engine_validate_points_nowhere_for_a_sensitive_secret() -> None:
    """Through the engine: the error is shown against the resource, and names secret_wo."""
    from tfnimble.nimble.provider import NimbleProvider

    engine = Engine(NimbleProvider())
    config = {"name": "u", "secret_wo": "short", "timeouts": None}
    ty = engine.resource_schema("nimble_chap_user").cty_type()
    config = {k: config.get(k) for k in ty.attributes}  # type: ignore[attr-defined]
    diags = list(engine.validate_resource_config("nimble_chap_user", config, True))
    assert [d.summary for d in diags] == ["Invalid CHAP Secret"]
    assert diags[0].path is None and "secret_wo" in diags[0].detail
    assert "short" not in diags[0].detail


def test_create_update_by_version_import_delete(
    sim: Any, nc: NimbleClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    res = ChapUserResource()
    plan = ChapUserModel(name="glance-chap", secret_wo=SECRET_1, initiator_iqns=None)
    made = res.create(ctx(nc), plan)
    assert made.id and made.secret_wo is None and made.initiator_iqns is None
    assert stored_secret(sim, made.id) == SECRET_1
    # A rename without a version change keeps the array's secret.
    renamed = ChapUserModel(**{**made.__dict__, "name": "glance-chap2", "secret_wo": SECRET_2})
    after = res.update(ctx(nc), renamed, made)
    assert after.name == "glance-chap2" and stored_secret(sim, made.id) == SECRET_1
    # A version bump sends the configured secret; IQNs go in their own PUT.
    iqn = "iqn.1993-08.org.debian:01:ctl"
    bumped = ChapUserModel(
        **{**after.__dict__, "secret_wo": SECRET_2, "secret_wo_version": 2, "initiator_iqns": [iqn]}
    )
    after2 = res.update(ctx(nc), bumped, after)
    assert stored_secret(sim, made.id) == SECRET_2
    assert after2.secret_wo_version == 2 and after2.initiator_iqns == [iqn]
    assert after2.secret_wo is None
    read = res.read(ctx(nc), after2)
    assert read == after2
    imported = res.import_state(ctx(nc), "glance-chap2")
    assert (imported.id, imported.secret_wo_version, imported.secret_wo) == (made.id, None, None)
    assert res.import_state(ctx(nc), made.id).name == "glance-chap2"
    res.delete(ctx(nc), after2)
    assert chap_users.get_chap_user(nc, made.id) is None
    assert res.read(ctx(nc), after2) is None
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET_1 not in logged and SECRET_2 not in logged


def test_access_control_record_with_chap_user(
    sim: Any, nc: NimbleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dependents, "IDLE", 0.0)  # nothing else is deleted: refuse at once
    vol = volumes.create_volume(nc, "chap-vol", size_mib=64)
    group = initiator_groups.create_initiator_group(nc, "chap-ig", ["iqn.1993-08.org.x:01:h"])
    user = chap_users.create_chap_user(nc, "acr-chap", SECRET_1)
    res = AccessControlRecordResource()
    plan = AccessControlRecordModel(
        volume_id=vol.id, initiator_group_id=group.id, apply_to="both", chap_user_id=user.id
    )
    model = res.modify_plan(ctx(nc), plan, None, plan)
    acr = res.create(ctx(nc), model)
    assert acr.chap_user_id == user.id
    assert res.read(ctx(nc), acr) == acr
    imported = res.import_state(ctx(nc), "chap-vol/chap-ig")
    assert imported.chap_user_id == user.id
    with pytest.raises(DiagnosticError) as busy:  # the array refuses while the record names it
        ChapUserResource().delete(ctx(nc), ChapUserModel(id=user.id, name="acr-chap"))
    assert "SM_ebusy" in busy.value.detail
    assert busy.value.summary == "CHAP User In Use"
    assert 'access control record of volume "chap-vol" for initiator group "chap-ig"' in (
        busy.value.detail
    )
    res.delete(ctx(nc), acr)
    # A CHAP user ID the array does not have is refused at plan time, on chap_user_id.
    ghost = AccessControlRecordModel(
        volume_id=vol.id, initiator_group_id=group.id, apply_to="both", chap_user_id="1b" + "0" * 40
    )
    c = ctx(nc)
    res.modify_plan(c, ghost, None, ghost)
    assert [str(d.path) for d in c.diagnostics] == ["chap_user_id"]
    plain = res.create(
        ctx(nc), AccessControlRecordModel(**{**ghost.__dict__, "chap_user_id": None})
    )
    assert plain.chap_user_id is None
    res.delete(ctx(nc), plain)


def test_a_null_secret_is_refused_at_plan_when_it_would_be_sent(nc: NimbleClient) -> None:
    """A create, or a version bump, with `secret_wo = null` (an ephemeral variable left
    unset; the generated config of an imported user) is a plan error on secret_wo, not a
    crash at apply. An imported user whose version does not change needs no secret."""
    from tfnimble.plugin import UNKNOWN

    res = ChapUserResource()
    new = ChapUserModel(name="u", secret_wo=None)
    c = ctx(nc)
    res.modify_plan(c, new, None, new)
    [d] = list(c.diagnostics)
    assert (d.summary, str(d.path)) == ("Missing CHAP Secret", "secret_wo")
    assert "a new CHAP user needs its secret" in d.detail
    imported = ChapUserModel(id="1b" + "0" * 40, name="u", secret_wo=None)
    for version, errors in ((None, 0), (1, 1)):
        bumped = ChapUserModel(**{**imported.__dict__, "secret_wo_version": version})
        c = ctx(nc)
        res.modify_plan(c, bumped, imported, bumped)
        assert len(list(c.diagnostics)) == errors
    pending = ChapUserModel(name="u", secret_wo=UNKNOWN)  # known only at apply
    c = ctx(nc)
    res.modify_plan(c, pending, None, pending)
    assert not list(c.diagnostics)


# --- one CHAP user per IQN: the plan warns when apply moves one -------------------------------

IQN_A, IQN_B = "iqn.1993-08.org.debian:01:moves-a", "iqn.1993-08.org.debian:01:moves-b"


def plan_of(res: ChapUserResource, c: Context, plan: ChapUserModel, state: Any) -> list[Any]:
    res.modify_plan(c, plan, state, plan)
    return list(c.diagnostics)


def test_plan_warns_when_an_iqn_moves_and_refresh_shows_it_taken(
    sim: Any, nc: NimbleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tfnimble.plugin import UNKNOWN, Severity

    res = ChapUserResource()
    other = chap_users.create_chap_user(nc, "moves-other", SECRET_1, initiator_iqns=[IQN_A])
    plan = ChapUserModel(name="moves-me", secret_wo=SECRET_1, initiator_iqns=[IQN_B, IQN_A])
    [w] = plan_of(res, ctx(nc), plan, None)
    assert (w.severity, w.summary, str(w.path)) == (
        Severity.WARNING,
        "Initiator IQN Moves From Another CHAP User",
        "initiator_iqns",
    )
    assert f'gives {IQN_A} to this CHAP user, but CHAP user "moves-other" has it' in w.detail
    assert "apply moves it" in w.detail and "take the IQN from each other" in w.detail
    assert IQN_B not in w.detail
    me = res.create(ctx(nc), plan)
    assert me.initiator_iqns == [IQN_A, IQN_B]
    assert chap_users.get_chap_user(nc, other.id).initiator_iqns == ()  # type: ignore[union-attr]

    # Another user takes IQN_A back behind Terraform: the refresh shows it missing, and the
    # unchanged configuration plans it back, with the warning again.
    chap_users.update_chap_user(nc, other.id, initiator_iqns=[IQN_A])
    read = res.read(ctx(nc), me)
    assert read is not None and read.initiator_iqns == [IQN_B]
    again = ChapUserModel(**{**read.__dict__, "initiator_iqns": [IQN_A, IQN_B]})
    [w] = plan_of(res, ctx(nc), again, read)
    assert f'gives {IQN_A} to this CHAP user, but CHAP user "moves-other"' in w.detail
    back = res.update(ctx(nc), again, read)
    assert back.initiator_iqns == [IQN_A, IQN_B]
    assert chap_users.get_chap_user(nc, other.id).initiator_iqns == ()  # type: ignore[union-attr]

    # No warning, and no read: IQNs the user has already, unknown ones, no configured array.
    sim.app.stats.reset()
    assert plan_of(res, ctx(nc), back, back) == []
    assert sim.app.stats.to_json()["requests"] == {}
    chap_users.update_chap_user(nc, other.id, initiator_iqns=[IQN_A])
    for pending in (
        ChapUserModel(name="p", secret_wo=SECRET_1, initiator_iqns=UNKNOWN),
        ChapUserModel(name="p", secret_wo=SECRET_1, initiator_iqns=[UNKNOWN]),  # type: ignore[list-item]
    ):
        assert plan_of(res, ctx(nc), pending, None) == []
    unconfigured = Context(provider_data=None, stop_event=threading.Event(), timeout=60)
    assert plan_of(res, unconfigured, plan, None) == []
    # The warning's read fails: an error on initiator_iqns, not a crash.
    from tfnimble.nimble.client import BadRequest

    def refused(cl: NimbleClient) -> list[Any]:
        raise BadRequest(400, "SM_http_bad_request", "no")

    monkeypatch.setattr(chap_users, "list_chap_users", refused)
    [e] = plan_of(res, ctx(nc), plan, None)
    monkeypatch.undo()
    assert (e.severity, str(e.path)) == (Severity.ERROR, "initiator_iqns")
    for user in (me, ChapUserModel(id=other.id, name="moves-other")):
        res.delete(ctx(nc), user)


# --- delete while an initiator group has one of the user's IQNs -------------------------------


def test_delete_waits_for_a_group_this_run_deletes(
    nc: NimbleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Terraform deletes a group and a user that do not refer to each other at the same time:
    the user's refused delete waits for the group's, then succeeds."""
    from tfnimble.nimble.client import Conflict

    monkeypatch.setattr(dependents, "POLL", 0.01)
    iqn = "iqn.1993-08.org.debian:01:waits"
    group = initiator_groups.create_initiator_group(nc, "waits-ig", [iqn])
    user = chap_users.create_chap_user(nc, "waits-chap", SECRET_1, initiator_iqns=[iqn])
    refused, sent = threading.Event(), []
    real = chap_users.delete_chap_user

    def delete(cl: NimbleClient, ident: str, *, missing_ok: bool = False) -> None:
        sent.append(ident)
        try:
            real(cl, ident, missing_ok=missing_ok)
        except Conflict:
            refused.set()
            raise

    def terraform_deletes_the_group() -> None:
        with dependents.deleting(group.id):  # what the provider's parallel delete registers
            refused.wait(60)
            initiator_groups.delete_initiator_group(nc, group.id)

    monkeypatch.setattr(chap_users, "delete_chap_user", delete)
    other = threading.Thread(target=terraform_deletes_the_group)
    other.start()
    try:
        ChapUserResource().delete(ctx(nc), ChapUserModel(id=user.id, name="waits-chap"))
    finally:
        refused.set()
        other.join()
    assert sent == [user.id, user.id]  # refused once while the group had the IQN
    assert chap_users.get_chap_user(nc, user.id) is None
    assert initiator_groups.get_initiator_group(nc, group.id) is None


def test_delete_refused_names_the_group_and_what_to_do(
    sim: Any, nc: NimbleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = ChapUserResource()
    monkeypatch.setattr(dependents, "IDLE", 0.0)  # nothing else is being deleted
    monkeypatch.setattr(dependents, "POLL", 0.01)
    iqn = "iqn.1993-08.org.debian:01:refused"
    group = initiator_groups.create_initiator_group(nc, "refused-ig", [iqn])
    user = chap_users.create_chap_user(nc, "refused-chap", SECRET_1, initiator_iqns=[iqn])
    state = ChapUserModel(id=user.id, name="refused-chap")
    with pytest.raises(DiagnosticError) as info:
        res.delete(ctx(nc), state)
    err = info.value
    assert err.summary == "CHAP User In Use"
    assert 'CHAP user "refused-chap" cannot be deleted while initiator group "refused-ig" ' in (
        err.detail
    )
    assert f"(initiators {iqn}) still uses it" in err.detail
    assert "depends_on = [nimble_chap_user." in err.detail and "SM_ebusy" in err.detail
    assert chap_users.get_chap_user(nc, user.id) is not None

    # The delete timeout bounds the wait: with less than RESERVE seconds left, no waiting
    # (however long the idle rule would wait) and one DELETE.
    monkeypatch.setattr(dependents, "IDLE", 3600.0)
    sim.app.stats.reset()
    short = Context(provider_data=nc, stop_event=threading.Event(), timeout=dependents.RESERVE)
    with pytest.raises(DiagnosticError, match="refused-ig"):
        res.delete(short, state)
    assert sim.app.stats.to_json()["requests"].get("DELETE /v1/chap_users/{id}") == 1

    # What holds the user is read afresh: once another user takes the IQN, the delete works.
    taker = chap_users.create_chap_user(nc, "refused-taker", SECRET_2, initiator_iqns=[iqn])
    res.delete(ctx(nc), state)
    assert chap_users.get_chap_user(nc, user.id) is None
    initiator_groups.delete_initiator_group(nc, group.id)
    chap_users.delete_chap_user(nc, taker.id)


def test_a_refusal_nothing_explains_is_not_retried_forever(
    nc: NimbleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal with no group and no record to wait for (another cause): one more try, in
    case what held the user went between the refusal and the look, then the array's error."""
    from tfnimble.nimble.client import Conflict

    user = chap_users.create_chap_user(nc, "unexplained-chap", SECRET_1)
    sent = []

    def busy(cl: NimbleClient, ident: str, *, missing_ok: bool = False) -> None:
        sent.append(ident)
        raise Conflict(409, "SM_ebusy", "Resource busy.")

    monkeypatch.setattr(chap_users, "delete_chap_user", busy)
    with pytest.raises(DiagnosticError) as info:
        ChapUserResource().delete(ctx(nc), ChapUserModel(id=user.id, name="unexplained-chap"))
    assert sent == [user.id, user.id]
    assert "unexplained-chap" in info.value.detail and "SM_ebusy" in info.value.detail
    monkeypatch.undo()
    chap_users.delete_chap_user(nc, user.id)
