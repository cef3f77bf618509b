"""The `nimble` provider: connection settings and the resource types it serves.

Terraform starts the provider several times per command and most starts only ask for the
schema, so nothing here imports the REST client at module level: `configure` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Any

import tfnimble
from tfnimble.plugin import (
    Attribute,
    Context,
    DataSource,
    Provider,
    Resource,
    Schema,
    Value,
    is_unknown,
    known_or_none,
    need,
    types,
)
from tfnimble.plugin.logging import redact

from . import _fields as f
from . import diagnostics as diag
from .data_source_discovery import DiscoveryDataSource
from .data_source_performance_policy import PerformancePolicyDataSource
from .data_source_pool import PoolDataSource
from .data_source_snapshot import SnapshotDataSource
from .data_source_volume import VolumeDataSource
from .resource_access_control_record import AccessControlRecordResource
from .resource_clone_volume import CloneVolumeResource
from .resource_image_master import ImageMasterResource
from .resource_initiator_group import InitiatorGroupResource
from .resource_snapshot import SnapshotResource
from .resource_volume import VolumeResource

DEFAULT_PORT = 5392
DEFAULT_MAX_CONCURRENCY = 8

#: attribute -> environment variable it falls back to
ENV = {
    "host": "NIMBLE_HOST",
    "port": "NIMBLE_PORT",
    "username": "NIMBLE_USERNAME",
    "password": "NIMBLE_PASSWORD",
    "ca_file": "NIMBLE_CA_FILE",
    "insecure": "NIMBLE_INSECURE",
}


def _setting(ty: Any, description: str, *, sensitive: bool = False) -> f.Field:
    return f.attr(Attribute(type=ty, optional=True, sensitive=sensitive, description=description))


@dataclass
class NimbleProviderModel:
    host: Annotated[
        Value[str],
        _setting(
            types.String,
            "Management host name or IP address of the array (or group). Falls back to "
            "`NIMBLE_HOST`.",
        ),
    ] = None
    port: Annotated[
        Value[int],
        _setting(types.Number, "Port of the REST API. Falls back to `NIMBLE_PORT`, then `5392`."),
    ] = None
    username: Annotated[
        Value[str],
        _setting(types.String, "User to log in as. Falls back to `NIMBLE_USERNAME`."),
    ] = None
    password: Annotated[
        Value[str],
        _setting(
            types.String,
            "Password of `username`. Falls back to `NIMBLE_PASSWORD`. Never logged.",
            sensitive=True,
        ),
    ] = None
    ca_file: Annotated[
        Value[str],
        _setting(
            types.String,
            "Path of a PEM file with the CA certificate that signed the array's certificate "
            "(Nimble arrays ship a self-signed one). Falls back to `NIMBLE_CA_FILE`; without it "
            "the system trust store is used.",
        ),
    ] = None
    insecure: Annotated[
        Value[bool],
        _setting(
            types.Bool,
            "Skip verification of the array's TLS certificate. Only for lab arrays: anyone on "
            "the path could then read the password. Falls back to `NIMBLE_INSECURE`; default "
            "`false`.",
        ),
    ] = None
    max_concurrency: Annotated[
        Value[int],
        _setting(
            types.Number,
            "Most REST calls in flight at once from this provider (Terraform applies up to 10 "
            "resources in parallel). Default `8`.",
        ),
    ] = None


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    username: str
    password: str
    ca_file: str | None
    insecure: bool
    max_concurrency: int


class NimbleProvider(Provider):
    """Manage HPE Nimble volumes, snapshots, zero-copy clones and access over the array's
    REST API (`https://HOST:5392/v1`)."""

    TYPE_NAME = "nimble"
    ADDRESS = "registry.terraform.io/ito/nimble"
    VERSION = tfnimble.__version__
    Model = NimbleProviderModel

    def schema(self) -> Schema:
        return f.schema_of(
            NimbleProviderModel,
            "The `nimble` provider manages HPE Nimble storage over the array's REST API: "
            "volumes, snapshots, zero-copy clones (Image Transfer Optimization), initiator "
            "groups and access control records. Every argument falls back to an environment "
            'variable, so `provider "nimble" {}` is a complete configuration when '
            "`NIMBLE_HOST`, `NIMBLE_USERNAME` and `NIMBLE_PASSWORD` are set.",
        )

    def validate_config(self, ctx: Context, config: NimbleProviderModel) -> None:
        for name in ("port", "max_concurrency"):
            value = getattr(config, name)
            if value is not None and not is_unknown(value) and (value != int(value) or value < 1):
                ctx.diagnostics.add_error(
                    "Invalid Provider Configuration",
                    f"{name} must be a positive whole number; got {value}.",
                )

    def settings(self, config: NimbleProviderModel) -> Settings:
        """Resolve configuration and environment; raise a diagnostic for what is missing."""
        for name in NimbleProviderModel.__dataclass_fields__:
            if is_unknown(getattr(config, name)):
                raise diag.unknown_config(name, ENV.get(name))

        def text(name: str) -> str | None:
            value: str | None = getattr(config, name)
            if value is None:
                value = os.environ.get(ENV[name]) or None
            return value

        host, username, password = text("host"), text("username"), text("password")
        for name, value in (("host", host), ("username", username), ("password", password)):
            if not value:
                raise diag.missing_config(name, ENV[name])
        assert host and username and password
        port: int = DEFAULT_PORT
        if known_or_none(config.port) is not None:
            port = int(need(config.port, "port"))
        elif os.environ.get("NIMBLE_PORT"):
            raw = os.environ["NIMBLE_PORT"]
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise diag.invalid_env("NIMBLE_PORT", raw, "a port number such as 5392")
            port = int(raw)
        insecure = known_or_none(config.insecure)
        if insecure is None:
            raw = os.environ.get("NIMBLE_INSECURE", "").strip().lower()
            if raw not in ("", "0", "1", "true", "false", "yes", "no"):
                raise diag.invalid_env("NIMBLE_INSECURE", raw, "true or false")
            insecure = raw in ("1", "true", "yes")
        concurrency = int(known_or_none(config.max_concurrency) or DEFAULT_MAX_CONCURRENCY)
        return Settings(
            host=host,
            port=port,
            username=username,
            password=password,
            ca_file=text("ca_file"),
            insecure=bool(insecure),
            max_concurrency=concurrency,
        )

    def configure(self, ctx: Context, config: NimbleProviderModel) -> Any:
        s = self.settings(config)
        redact(s.password)
        from .client import NimbleClient, NimbleError

        client = NimbleClient(
            s.host,
            s.port,
            s.username,
            s.password,
            ca_file=s.ca_file,
            insecure=s.insecure,
            max_concurrency=s.max_concurrency,
        )
        # One login now turns a wrong password, an unreachable host or an untrusted
        # certificate into one diagnostic, instead of one per resource.
        try:
            client.login()
        except NimbleError as err:
            client.close()
            raise diag.client_error(err, s.host, s.port, s.username) from err
        return client

    def resources(self) -> list[type[Resource]]:
        return [
            VolumeResource,
            ImageMasterResource,
            CloneVolumeResource,
            SnapshotResource,
            InitiatorGroupResource,
            AccessControlRecordResource,
        ]

    def data_sources(self) -> list[type[DataSource]]:
        return [
            PoolDataSource,
            PerformancePolicyDataSource,
            VolumeDataSource,
            SnapshotDataSource,
            DiscoveryDataSource,
        ]
