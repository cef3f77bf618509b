"""The `nimble` provider: connection settings and the resource types it serves.

Terraform starts the provider several times per command and most starts only ask for the
schema, so nothing here imports the REST client at module level: `configure` checks the
settings, logs in through an `ArrayConnection` and returns it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import tfnimble
from tfnimble.plugin import (
    Attribute,
    AttributePath,
    Context,
    DataSource,
    DiagnosticError,
    Provider,
    Resource,
    Schema,
    Value,
    is_unknown,
    known_or_none,
    types,
)
from tfnimble.plugin.logging import redact
from tfnimble.plugin.schema import Validator
from tfnimble.plugin.validators import int_between

from . import _fields as f
from . import diagnostics as diag
from .connection import ArrayConnection
from .data_source_discovery import DiscoveryDataSource
from .data_source_performance_policy import PerformancePolicyDataSource
from .data_source_pool import PoolDataSource
from .data_source_snapshot import SnapshotDataSource
from .data_source_snapshots import SnapshotsDataSource
from .data_source_volume import VolumeDataSource
from .data_source_volumes import VolumesDataSource
from .resource_access_control_record import AccessControlRecordResource
from .resource_chap_user import ChapUserResource
from .resource_clone_volume import CloneVolumeResource
from .resource_image_master import ImageMasterResource
from .resource_initiator_group import InitiatorGroupResource
from .resource_protection_schedule import ProtectionScheduleResource
from .resource_snapshot import SnapshotResource
from .resource_volume import VolumeResource
from .resource_volume_collection import VolumeCollectionResource

if TYPE_CHECKING:
    from .client import NimbleClient

DEFAULT_PORT = 5392
DEFAULT_MAX_CONCURRENCY = 8
#: Most REST calls in flight at once (it sizes the connection pool).
MAX_CONCURRENCY = 64

PORT_RULE = int_between(1, 65535)
CONCURRENCY_RULE = int_between(1, MAX_CONCURRENCY)

#: attribute -> environment variable it falls back to
ENV = {
    "host": "NIMBLE_HOST",
    "port": "NIMBLE_PORT",
    "username": "NIMBLE_USERNAME",
    "password": "NIMBLE_PASSWORD",
    "ca_file": "NIMBLE_CA_FILE",
    "insecure": "NIMBLE_INSECURE",
}


def _setting(
    ty: Any, description: str, *, sensitive: bool = False, validators: tuple[Validator, ...] = ()
) -> f.Field:
    return f.attr(
        Attribute(
            type=ty,
            optional=True,
            sensitive=sensitive,
            description=description,
            validators=validators,
        )
    )


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
        _setting(
            types.Number,
            "Port of the REST API (1 to 65535). Falls back to `NIMBLE_PORT`, then `5392`.",
            validators=(PORT_RULE,),
        ),
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
            "the system trust store is used. Cannot be combined with `insecure = true`.",
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
            "resources in parallel): 1 to 64. Default `8`.",
            validators=(CONCURRENCY_RULE,),
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
    CONFIGURE_REQUIRED = True

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
        # port and max_concurrency are range-checked by their attribute validators.
        if (
            config.insecure is True
            and config.ca_file is not None
            and not is_unknown(config.ca_file)
        ):
            raise _tls_conflict("insecure = true")

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
        if config.port is not None:
            port = _checked(config.port, "port", PORT_RULE)
        elif os.environ.get("NIMBLE_PORT"):
            raw = os.environ["NIMBLE_PORT"]
            if not re.fullmatch(r"[0-9]{1,5}", raw) or not 0 < int(raw) < 65536:
                raise diag.invalid_env("NIMBLE_PORT", raw, "a port number such as 5392")
            port = int(raw)
        insecure = known_or_none(config.insecure)
        if insecure is None:
            raw = os.environ.get("NIMBLE_INSECURE", "").strip().lower()
            if raw not in ("", "0", "1", "true", "false", "yes", "no"):
                raise diag.invalid_env("NIMBLE_INSECURE", raw, "true or false")
            insecure = raw in ("1", "true", "yes")
        concurrency = DEFAULT_MAX_CONCURRENCY
        if config.max_concurrency is not None:
            concurrency = _checked(config.max_concurrency, "max_concurrency", CONCURRENCY_RULE)
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
        if s.ca_file is not None:
            if s.insecure:
                where = "insecure = true" if config.insecure else "NIMBLE_INSECURE"
                raise _tls_conflict(where)
            _check_ca_file(s.ca_file)

        def make() -> NimbleClient:
            from .client import NimbleClient

            return NimbleClient(
                s.host,
                s.port,
                s.username,
                s.password,
                ca_file=s.ca_file,
                insecure=s.insecure,
                max_concurrency=s.max_concurrency,
            )

        link = ArrayConnection(make, s.host, s.port, s.username)
        # One login now turns a wrong password, an unreachable host or an untrusted
        # certificate into one diagnostic on the provider block, at plan time, instead of one
        # per resource (or an apply failing on every resource after a plan that needed no
        # array): see `connection`.
        link.login()
        if s.insecure:
            ctx.diagnostics.add_warning(
                "TLS Certificate Verification Is Off",
                f"insecure = true (or NIMBLE_INSECURE): the provider does not verify the "
                f"certificate of the array at {s.host}:{s.port}. Anyone able to intercept the "
                f"connection can pose as the array, read the password and every request, and "
                f"change the answers. Use it only for a lab array; otherwise set ca_file to "
                f"the array's CA certificate and remove insecure.",
                AttributePath.root().attr("insecure") if config.insecure else None,
            )
        return link

    def resources(self) -> list[type[Resource]]:
        return [
            VolumeResource,
            ImageMasterResource,
            CloneVolumeResource,
            SnapshotResource,
            InitiatorGroupResource,
            AccessControlRecordResource,
            VolumeCollectionResource,
            ProtectionScheduleResource,
            ChapUserResource,
        ]

    def data_sources(self) -> list[type[DataSource]]:
        return [
            PoolDataSource,
            PerformancePolicyDataSource,
            VolumeDataSource,
            SnapshotDataSource,
            DiscoveryDataSource,
            VolumesDataSource,
            SnapshotsDataSource,
        ]


def _checked(value: Any, name: str, rule: Validator) -> int:
    """``value`` as an int once ``rule`` accepts it (checked again at configure: Terraform
    validates first, but nothing forces a caller to); else the rule's diagnostic."""
    path = AttributePath.root().attr(name)
    for problem in rule(value, path):
        raise DiagnosticError(problem.summary, problem.detail, path)
    return int(value)


def _tls_conflict(where: str) -> DiagnosticError:
    return DiagnosticError(
        "Conflicting TLS Settings",
        f"ca_file is set together with {where}. With insecure the array's certificate is not "
        f"verified at all, so ca_file would be silently ignored. Keep ca_file and remove "
        f"insecure (recommended), or remove ca_file.",
        AttributePath.root().attr("ca_file"),
    )


def _check_ca_file(ca_file: str) -> None:
    """The CA file exists, is readable and holds a PEM certificate."""
    path = AttributePath.root().attr("ca_file")
    try:
        with open(ca_file, "rb") as fh:
            head = fh.read(1 << 20)
    except OSError as exc:
        raise DiagnosticError(
            "Cannot Read The CA File",
            f"ca_file (or NIMBLE_CA_FILE) is {ca_file!r}, which cannot be read: "
            f"{exc.strerror or exc}. Set it to the path of a PEM file with the CA certificate "
            f"that signed the array's certificate.",
            path,
        ) from None
    if b"-----BEGIN CERTIFICATE-----" not in head:
        raise DiagnosticError(
            "Invalid CA File",
            f"ca_file (or NIMBLE_CA_FILE) is {ca_file!r}, which holds no PEM certificate "
            f'("-----BEGIN CERTIFICATE-----"). Set it to the CA certificate that signed the '
            f"array's certificate, in PEM format.",
            path,
        )
