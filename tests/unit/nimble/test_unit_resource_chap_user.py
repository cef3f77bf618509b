"""nimble_chap_user and the access control record's chap_user_id, against the in-process
simulator (no terraform): the secret rule, create, a version bump, import, and a record
that names the user."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
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


def test_access_control_record_with_chap_user(sim: Any, nc: NimbleClient) -> None:
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
