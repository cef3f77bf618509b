"""NimbleClient transport behaviour against the fake array (no network)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import urllib3.exceptions
from nimble_fake_array import PASSWORD, USERNAME, FakeArray
from tfnimble.nimble import client as client_pkg
from tfnimble.nimble.client import (
    AuthenticationFailed,
    BadRequest,
    Conflict,
    ConnectionFailed,
    NimbleAPIError,
    NimbleClient,
    NotFound,
    ResponseLost,
    TLSVerificationFailed,
    Unauthorized,
    volumes,
)


def _vol(fake: FakeArray, name: str = "v1", size: int = 1024, **kw: object) -> dict[str, object]:
    return fake.add(
        "volumes",
        {"name": name, "size": size, "online": True, "clone": False, "base_snap_id": "", **kw},
    )


# ------------------------------------------------------------------ login and re-login


def test_login_sends_app_name_and_token_header(client: NimbleClient, fake: FakeArray) -> None:
    vol = _vol(fake)
    assert volumes.get_volume(client, str(vol["id"])) is not None
    login = fake.calls[0]
    assert login.path == "/tokens"
    assert login.body == {
        "data": {
            "username": USERNAME,
            "password": PASSWORD,
            "app_name": "terraform-provider-nimble",
        }
    }
    assert fake.calls[1].token in fake.tokens


def test_relogin_on_401_concurrently_logs_in_exactly_once(
    make_client: Callable[..., NimbleClient], fake: FakeArray
) -> None:
    client = make_client(max_concurrency=8)
    vol = _vol(fake)
    client.login()
    assert fake.logins == 1
    fake.expire_tokens()
    fake.delay = 0.01
    barrier = threading.Barrier(20)

    def read() -> str:
        barrier.wait()
        got = volumes.get_volume(client, str(vol["id"]))
        assert got is not None
        return got.name

    with ThreadPoolExecutor(20) as pool:
        names = list(pool.map(lambda _: read(), range(20)))
    assert names == ["v1"] * 20
    assert fake.logins == 2  # the initial login plus exactly one re-login


def test_401_after_relogin_raises_unauthorized(client: NimbleClient, fake: FakeArray) -> None:
    fake.fault("GET", "/volumes", 401, times=2)
    with pytest.raises(Unauthorized) as info:
        volumes.list_volumes(client)
    assert info.value.status == 401
    assert fake.count("GET", "/volumes") == 2
    assert fake.logins == 2


def test_wrong_password_raises_authentication_failed_naming_user(
    make_client: Callable[..., NimbleClient], fake: FakeArray
) -> None:
    fake.password = "other"
    client = make_client()
    with pytest.raises(AuthenticationFailed) as info:
        volumes.list_volumes(client)
    msg = str(info.value)
    assert "'admin'" in msg and "SM_http_unauthorized" in msg
    assert PASSWORD not in msg and info.value.__cause__ is None


# ------------------------------------------------------------------ retries


def test_get_retried_on_503_then_succeeds(
    client: NimbleClient, fake: FakeArray, sleeps: list[float]
) -> None:
    fake.fault("GET", "/volumes", 503, times=2)
    assert volumes.list_volumes(client) == []
    assert fake.count("GET", "/volumes") == 3
    assert len(sleeps) == 2


def test_retries_are_bounded_with_exponential_backoff_and_jitter(
    make_client: Callable[..., NimbleClient], fake: FakeArray, sleeps: list[float]
) -> None:
    client = make_client(retries=4, backoff=1.0, backoff_max=5.0)
    fake.fault("GET", "/volumes", 503, times=100)
    with pytest.raises(NimbleAPIError) as info:
        volumes.list_volumes(client)
    assert info.value.status == 503
    assert fake.count("GET", "/volumes") == 5
    ceilings = [1.0, 2.0, 4.0, 5.0]
    assert len(sleeps) == 4
    for slept, ceiling in zip(sleeps, ceilings, strict=True):
        assert ceiling / 2 <= slept <= ceiling


def test_get_retried_on_connection_error(client: NimbleClient, fake: FakeArray) -> None:
    fake.fault("GET", "/volumes", "lost", times=2)
    assert volumes.list_volumes(client) == []
    assert fake.count("GET", "/volumes") == 3


def test_unreachable_host_raises_connection_failed_naming_host_port(
    client: NimbleClient, fake: FakeArray
) -> None:
    fake.fault("POST", "/tokens", "refused", times=100)
    with pytest.raises(ConnectionFailed) as info:
        volumes.list_volumes(client)
    msg = str(info.value)
    assert "array.example:5392" in msg and "firewall" in msg and "refused" in msg
    assert fake.count("POST", "/tokens") == 4


def test_create_not_retried_on_500(client: NimbleClient, fake: FakeArray) -> None:
    fake.fault("POST", "/volumes", 500, times=5)
    with pytest.raises(NimbleAPIError) as info:
        volumes.create_volume(client, "v1", 1024)
    assert info.value.status == 500
    assert fake.count("POST", "/volumes") == 1


def test_create_retried_when_connection_was_refused(client: NimbleClient, fake: FakeArray) -> None:
    fake.fault("POST", "/volumes", "refused")
    vol = volumes.create_volume(client, "v1", 1024)
    assert vol.name == "v1" and len(fake.objects["volumes"]) == 1
    assert fake.count("POST", "/volumes") == 2


def test_non_idempotent_post_with_lost_response_raises_response_lost(
    client: NimbleClient, fake: FakeArray
) -> None:
    fake.fault("POST", "/volumes", "lost")
    with pytest.raises(ResponseLost):
        client.request(
            "POST", "/volumes", body={"data": {"name": "x", "size": 1}}, idempotent=False
        )


# ------------------------------------------------------------------ concurrency


def test_max_concurrency_is_honoured(
    make_client: Callable[..., NimbleClient], fake: FakeArray
) -> None:
    client = make_client(max_concurrency=4)
    client.login()
    # Hold every request inside the array until four are in flight, then let them all go:
    # the limit is reached for certain, and any fifth request that got past the client's
    # limit in the meantime is counted (no timing margin involved).
    fake.gate = threading.Event()
    with ThreadPoolExecutor(30) as pool:
        done = [pool.submit(volumes.list_volumes, client) for _ in range(30)]
        for _ in range(6000):
            if fake.in_flight >= 4:
                break
            time.sleep(0.005)
        fake.gate.set()
        for f in done:
            f.result()
    assert fake.max_in_flight == 4


def test_max_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        NimbleClient("h", max_concurrency=0)


# ------------------------------------------------------------------ error parsing


def test_two_message_error_uses_detail_code(client: NimbleClient, fake: FakeArray) -> None:
    _vol(fake, "v1")
    with pytest.raises(Conflict) as info:
        client.create_object("volumes", {"name": "v1", "size": 1}, kind="volume", name="v1")
    err = info.value
    assert (err.status, err.code, err.text) == (409, "SM_eexist", "Object exists.")
    assert err.protocol_code == "SM_http_conflict"
    assert "SM_eexist: Object exists." in str(err)
    assert "create volume 'v1'" in str(err)


def test_one_message_error_falls_back_to_that_message(
    client: NimbleClient, fake: FakeArray
) -> None:
    fake.fault("GET", "/pools", 400)
    with pytest.raises(BadRequest) as info:
        client.request("GET", "/pools")
    assert info.value.code == "SM_http_bad_request"
    assert info.value.protocol_code is None


def test_non_json_error_body(make_client: Callable[..., NimbleClient], fake: FakeArray) -> None:
    client = make_client(retries=0)
    fake.fault("GET", "/pools", "html502")
    with pytest.raises(NimbleAPIError) as info:
        client.request("GET", "/pools")
    assert info.value.status == 502 and info.value.code is None
    assert "Bad Gateway" in str(info.value)


def test_not_found_maps_to_none_on_get(client: NimbleClient) -> None:
    assert volumes.get_volume(client, "06" + "0" * 40) is None
    with pytest.raises(NotFound):
        volumes.delete_volume(client, "06" + "0" * 40)


# ------------------------------------------------------------------ TLS


def test_tls_failure_maps_to_tls_verification_failed(client: NimbleClient, fake: FakeArray) -> None:
    fake.fault("POST", "/tokens", "ssl")
    with pytest.raises(TLSVerificationFailed) as info:
        volumes.list_volumes(client)
    msg = str(info.value)
    assert "ca_file" in msg and "insecure = true" in msg and "array.example:5392" in msg
    assert fake.count("POST", "/tokens") == 1  # never retried


def test_tls_verified_by_default_and_ca_file_used(
    make_client: Callable[..., NimbleClient], fake: FakeArray
) -> None:
    volumes.list_volumes(make_client())
    assert {c.verify for c in fake.calls} == {True}
    fake.calls.clear()
    volumes.list_volumes(make_client(ca_file="/tmp/array-ca.pem"))
    assert {c.verify for c in fake.calls} == {"/tmp/array-ca.pem"}


def test_insecure_disables_verification_and_silences_only_that_host(
    make_client: Callable[..., NimbleClient], fake: FakeArray
) -> None:
    import warnings

    volumes.list_volumes(make_client(insecure=True))
    assert {c.verify for c in fake.calls} == {False}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        make_client(insecure=True)  # installs its filter inside this context
        for host in ("array.example", "other.example"):
            warnings.warn(
                f"Unverified HTTPS request is being made to host '{host}'. Adding certificate "
                "verification is strongly advised.",
                urllib3.exceptions.InsecureRequestWarning,
                stacklevel=1,
            )
    assert [str(w.message).split("'")[1] for w in caught] == ["other.example"]


# ------------------------------------------------------------------ secrets


def test_password_never_in_logs_exceptions_or_reprs(
    make_client: Callable[..., NimbleClient], fake: FakeArray, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(retries=1)
    texts = [repr(client), str(vars(client))]
    volumes.create_volume(client, "v1", 10)
    fake.expire_tokens()
    volumes.list_volumes(client)
    errors: list[BaseException] = []
    for action in ("ssl", "refused", "lost"):
        fake.expire_tokens()
        fake.fault("POST", "/tokens", action, times=5)
        with pytest.raises(Exception) as info:
            volumes.list_volumes(client)
        errors.append(info.value)
        fake.faults.clear()
    fake.password = "changed"
    fake.expire_tokens()
    with pytest.raises(AuthenticationFailed) as auth:
        volumes.list_volumes(client)
    errors.append(auth.value)
    for err in errors:
        chain: BaseException | None = err
        while chain is not None:
            texts += [str(chain), repr(chain)]
            chain = chain.__cause__ or chain.__context__
    texts.append(caplog.text)
    assert "POST /tokens" in caplog.text  # requests are logged ...
    assert all(PASSWORD not in t for t in texts)  # ... but never the password


def test_exported_members() -> None:
    exported = set(client_pkg.__all__)
    assert {"NimbleClient", "NimbleError", "Volume", "volumes", "network"} <= exported
    assert all(hasattr(client_pkg, name) for name in exported)


def test_create_retried_on_503_because_the_array_did_not_take_it(
    client: NimbleClient, fake: FakeArray
) -> None:
    fake.fault("POST", "/volumes", 503, times=2)
    vol = volumes.create_volume(client, "v1", 1024)
    assert vol.name == "v1" and len(fake.objects["volumes"]) == 1
    assert fake.count("POST", "/volumes") == 3
