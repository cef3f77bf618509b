"""The configured provider's link to the array (nimble/connection.py): made at first need,
one login per process whatever the concurrency, a failed login tried once, nothing sent by a
process that never needed the array."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable

import pytest
from nimble_fake_array import PASSWORD, FakeArray
from tfnimble.nimble import _common as c
from tfnimble.nimble import _plancheck as pc
from tfnimble.nimble.client import NimbleClient, volumes
from tfnimble.nimble.connection import ArrayConnection
from tfnimble.plugin import Context, DiagnosticError


def _link(make_client: Callable[..., NimbleClient], **kwargs: object) -> ArrayConnection:
    return ArrayConnection(lambda: make_client(**kwargs), "array.example", 5392, "admin")


def test_nothing_is_sent_until_a_resource_needs_the_array(
    fake: FakeArray, make_client: Callable[..., NimbleClient]
) -> None:
    link = _link(make_client)
    ctx = Context(provider_data=link)
    assert not link.made and fake.calls == []
    link.close()  # a process that never needed the array logs nothing out either
    assert fake.calls == []

    link = _link(make_client)
    ctx = Context(provider_data=link)
    cl = c.client(ctx)
    assert link.made and fake.logins == 1
    assert c.client(ctx) is cl and pc.configured_client(ctx) is cl
    volumes.create_volume(cl, "v1", 10)
    link.close()
    assert [x.method for x in fake.calls if x.path.startswith("/tokens")] == ["POST", "DELETE"]


def test_concurrent_first_uses_share_one_login(
    fake: FakeArray, make_client: Callable[..., NimbleClient]
) -> None:
    link = _link(make_client)
    got: list[NimbleClient] = []
    start = threading.Barrier(10)

    def use() -> None:
        start.wait()
        got.append(link.client())

    threads = [threading.Thread(target=use) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 10 and len({id(x) for x in got}) == 1
    assert fake.logins == 1
    link.close()


def test_a_failed_login_is_one_attempt_and_the_configure_diagnostic(
    fake: FakeArray, make_client: Callable[..., NimbleClient]
) -> None:
    fake.password = "not-what-the-client-sends"
    link = _link(make_client)
    ctx = Context(provider_data=link)
    for _ in range(3):
        with pytest.raises(DiagnosticError) as info:
            c.client(ctx)
        err = info.value
        assert err.summary == "Nimble Array Login Failed"
        assert 'refused the login of user "admin"' in err.detail
        assert "NIMBLE_PASSWORD" in err.detail
        # reported on a resource: no path into the provider's attributes
        assert err.path is None
    assert [x.method for x in fake.calls] == ["POST"], "the wrong password was sent once"
    assert not link.made
    link.close()
    assert len(fake.calls) == 1


def test_an_unreachable_array_names_the_host(make_client: Callable[..., NimbleClient]) -> None:
    fake = FakeArray()
    fake.fault("POST", "/tokens", "refused", times=10)
    link = _link(make_client, transport=fake, retries=0)
    with pytest.raises(DiagnosticError) as info:
        link.client()
    assert info.value.summary == "Cannot Reach The Nimble Array"


def test_configure_logs_in_once_and_a_refused_login_points_at_the_argument(
    fake: FakeArray, make_client: Callable[..., NimbleClient]
) -> None:
    """configure logs in at once (one diagnostic on the provider block, at plan time, not one
    per resource): the failure points at `password`; resources asking again later get the
    same text without a path, and the array saw one login attempt."""
    fake.password = "not-what-the-client-sends"
    link = _link(make_client)
    with pytest.raises(DiagnosticError) as info:
        link.login()
    assert info.value.summary == "Nimble Array Login Failed"
    assert info.value.path is not None and "password" in str(info.value.path)
    with pytest.raises(DiagnosticError) as again:
        link.client()
    assert again.value.path is None and again.value.detail == info.value.detail
    assert [x.method for x in fake.calls] == ["POST"]

    fake.password = PASSWORD
    ok = _link(make_client)
    ok.login()
    assert ok.made and fake.logins == 1
    assert ok.client() is ok.client() and fake.logins == 1
    ok.close()


def test_configure_reports_a_wrong_password_itself() -> None:
    """The provider's configure answers with the login failure (the engine turns it into the
    ConfigureProvider diagnostic): a host that does not resolve is refused there."""
    code = (
        "from tfnimble.plugin.engine import Engine\n"
        "from tfnimble.nimble.provider import NimbleProvider, NimbleProviderModel\n"
        "e = Engine(NimbleProvider())\n"
        "cfg = {n: None for n in NimbleProviderModel.__dataclass_fields__}\n"
        "cfg.update(host='array.invalid', username='admin', password='pw', port=1)\n"
        "diags = list(e.configure_provider(cfg))\n"
        "assert diags and 'Nimble Array' in str(diags[0]), diags\n"
        "e.close()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
