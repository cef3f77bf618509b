"""The nimble provider without an array: schemas, models, configuration resolution, start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tfnimble.nimble.provider import NimbleProvider, NimbleProviderModel
from tfnimble.plugin import UNKNOWN, AttributePath, DiagnosticError, check_model_matches_schema
from tfnimble.plugin.schema import Block

PROVIDER = NimbleProvider()
RESOURCES = PROVIDER.resources()
DATA_SOURCES = PROVIDER.data_sources()
ALL = [*RESOURCES, *DATA_SOURCES]


@pytest.fixture(autouse=True)
def _no_nimble_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HOST", "PORT", "USERNAME", "PASSWORD", "CA_FILE", "INSECURE"):
        monkeypatch.delenv(f"NIMBLE_{var}", raising=False)


def _undocumented(block: Block, prefix: str = "") -> list[str]:
    out = [f"{prefix}{n}" for n, a in block.attributes.items() if not a.description.strip()]
    for name, nb in block.blocks.items():
        out += _undocumented(nb.block, f"{prefix}{name}.")
    return out


def test_type_names_and_address() -> None:
    assert PROVIDER.TYPE_NAME == "nimble"
    assert PROVIDER.ADDRESS == "registry.terraform.io/ito/nimble"
    names = {r.TYPE_NAME for r in RESOURCES}
    assert names == {
        "volume",
        "image_master",
        "clone_volume",
        "snapshot",
        "initiator_group",
        "access_control_record",
        "volume_collection",
        "protection_schedule",
        "chap_user",
    }
    assert {d.TYPE_NAME for d in DATA_SOURCES} == {
        "pool",
        "performance_policy",
        "volume",
        "snapshot",
        "discovery",
        "volumes",
        "snapshots",
    }


@pytest.mark.parametrize("cls", ALL, ids=lambda c: f"{c.__name__}")
def test_model_matches_schema(cls: type) -> None:
    assert check_model_matches_schema(cls.Model, cls().schema()) == []


def test_provider_model_matches_schema() -> None:
    assert check_model_matches_schema(NimbleProviderModel, PROVIDER.schema()) == []


@pytest.mark.parametrize("cls", ALL, ids=lambda c: f"{c.__name__}")
def test_every_attribute_has_a_description(cls: type) -> None:
    schema = cls().schema()
    assert schema.description.strip()
    assert _undocumented(schema.block) == []


def test_provider_schema_documented_and_password_sensitive() -> None:
    schema = PROVIDER.schema()
    assert _undocumented(schema.block) == []
    assert schema.attributes["password"].sensitive
    assert [str(p) for p in schema.sensitive_paths()] == [
        str(AttributePath.root().attr("password"))
    ]


@pytest.mark.parametrize("cls", RESOURCES, ids=lambda c: c.__name__)
def test_every_resource_has_id_and_timeouts(cls: type) -> None:
    schema = cls().schema()
    assert schema.attributes["id"].computed
    assert "timeouts" in schema.blocks


def test_settings_fall_back_to_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIMBLE_HOST", "array.example")
    monkeypatch.setenv("NIMBLE_USERNAME", "admin")
    monkeypatch.setenv("NIMBLE_PASSWORD", "s3cret")
    monkeypatch.setenv("NIMBLE_PORT", "15392")
    monkeypatch.setenv("NIMBLE_CA_FILE", "/etc/ca.pem")
    monkeypatch.setenv("NIMBLE_INSECURE", "true")
    s = PROVIDER.settings(NimbleProviderModel())
    assert (s.host, s.port, s.username, s.password) == ("array.example", 15392, "admin", "s3cret")
    assert s.ca_file == "/etc/ca.pem" and s.insecure is True and s.max_concurrency == 8


def test_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIMBLE_HOST", "from-env")
    s = PROVIDER.settings(
        NimbleProviderModel(
            host="from-config",
            username="u",
            password="p",
            port=443,
            insecure=False,
            max_concurrency=3,
        )
    )
    assert (s.host, s.port, s.insecure, s.max_concurrency) == ("from-config", 443, False, 3)


@pytest.mark.parametrize(
    ("missing", "env"),
    [("host", "NIMBLE_HOST"), ("username", "NIMBLE_USERNAME"), ("password", "NIMBLE_PASSWORD")],
)
def test_missing_setting_names_attribute_and_env_var(missing: str, env: str) -> None:
    values = {"host": "h", "username": "u", "password": "p", missing: None}
    with pytest.raises(DiagnosticError) as info:
        PROVIDER.settings(NimbleProviderModel(**values))
    assert info.value.summary == f"Missing Nimble {missing.title()}"
    assert env in info.value.detail and missing in info.value.detail
    assert info.value.path == AttributePath.root().attr(missing)


def test_unknown_setting_is_reported_with_its_path() -> None:
    with pytest.raises(DiagnosticError) as info:
        PROVIDER.settings(NimbleProviderModel(host=UNKNOWN, username="u", password="p"))
    assert info.value.summary == "Unknown Provider Configuration"
    assert "host is not known until apply" in info.value.detail
    assert "NIMBLE_HOST" in info.value.detail
    assert info.value.path == AttributePath.root().attr("host")


@pytest.mark.parametrize(("var", "value"), [("NIMBLE_PORT", "abc"), ("NIMBLE_INSECURE", "maybe")])
def test_bad_environment_values(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(DiagnosticError) as info:
        PROVIDER.settings(NimbleProviderModel(host="h", username="u", password="p"))
    assert info.value.summary == "Invalid Provider Environment Variable"
    assert var in info.value.detail


def test_schema_calls_do_not_import_requests() -> None:
    code = (
        "import sys\n"
        "from tfnimble.plugin.engine import Engine\n"
        "from tfnimble.nimble.provider import NimbleProvider\n"
        "e = Engine(NimbleProvider())\n"
        "[e.resource_schema(t) for t in e.resource_types()]\n"
        "[e.data_source_schema(t) for t in e.data_source_types()]\n"
        "import tfnimble.nimble.main\n"
        "assert 'requests' not in sys.modules, 'requests imported at start-up'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- hostile settings: every mistake is a diagnostic naming the attribute --------------------


def _provider_config(**values: object) -> dict[str, object]:
    base: dict[str, object] = {name: None for name in NimbleProviderModel.__dataclass_fields__}
    base.update(host="array.example", username="admin", password="s3cret")
    base.update(values)
    return base


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        ("port", 70000),
        ("port", 0),
        ("port", 5392.5),
        ("port", float("inf")),
        ("max_concurrency", 1e12),
        ("max_concurrency", 65),
        ("max_concurrency", 0),
        ("max_concurrency", "1e999999"),
    ],
)
def test_out_of_range_settings_are_attribute_diagnostics(attr: str, value: object) -> None:
    import time
    from decimal import Decimal

    from tfnimble.plugin.engine import Engine

    if isinstance(value, str):
        value = Decimal(value)
    engine = Engine(NimbleProvider())
    started = time.process_time()
    diags = list(engine.validate_provider_config(_provider_config(**{attr: value})))
    assert time.process_time() - started < 2.0
    assert [d.path for d in diags] == [AttributePath.root().attr(attr)], diags
    assert "Unexpected" not in diags[0].summary
    # ConfigureProvider checks again (nothing forces a caller to validate first) and
    # refuses before any client (or connection pool) is built.
    conf = list(engine.configure_provider(_provider_config(**{attr: value})))
    assert [d.path for d in conf] == [AttributePath.root().attr(attr)], conf
    assert time.process_time() - started < 4.0


def test_ca_file_must_exist_and_hold_a_certificate(tmp_path: object) -> None:
    from pathlib import Path

    from tfnimble.plugin.engine import Engine

    assert isinstance(tmp_path, Path)
    engine = Engine(NimbleProvider())
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("hello\n")
    for ca_file, summary in (
        (str(tmp_path / "missing.pem"), "Cannot Read The CA File"),
        (str(tmp_path), "Cannot Read The CA File"),
        (str(not_pem), "Invalid CA File"),
    ):
        diags = list(engine.configure_provider(_provider_config(ca_file=ca_file)))
        assert [(d.summary, d.path) for d in diags] == [
            (summary, AttributePath.root().attr("ca_file"))
        ]
        assert ca_file in diags[0].detail


def test_insecure_with_ca_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from tfnimble.plugin.engine import Engine

    engine = Engine(NimbleProvider())
    config = _provider_config(ca_file="/etc/ca.pem", insecure=True)
    for diags in (engine.validate_provider_config(config), engine.configure_provider(config)):
        found = [(d.summary, d.path) for d in diags]
        assert found == [("Conflicting TLS Settings", AttributePath.root().attr("ca_file"))]
    monkeypatch.setenv("NIMBLE_INSECURE", "true")
    diags = list(engine.configure_provider(_provider_config(ca_file="/etc/ca.pem")))
    assert diags[0].summary == "Conflicting TLS Settings"
    assert "NIMBLE_INSECURE" in diags[0].detail


def test_login_failure_does_not_point_at_the_password() -> None:
    from tfnimble.nimble import diagnostics as diag
    from tfnimble.plugin.engine import Engine

    class AuthenticationFailed(Exception):
        pass

    engine = Engine(NimbleProvider())
    err = diag.client_error(AuthenticationFailed("refused"), "h", 1, "admin")
    from tfnimble.plugin import Diagnostics

    diags = Diagnostics([err.to_diagnostic()])
    assert engine.hide_sensitive_paths("provider", "", diags) == 1
    assert [d.path for d in diags] == [None]
