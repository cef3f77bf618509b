"""Typed requests and responses of the tfplugin6 Provider RPCs, free of protobuf.

Every RPC takes the same path (terraform-plugin-framework's proto6server and fwserver):
`_proto` decodes the protobuf request into one of the requests below, the engine answers
with one of the responses below, and `_proto` encodes that. Nothing here imports protobuf.

Values are decoded cty values (see :mod:`tfnimble.plugin.cty`: dicts for objects,
`UNKNOWN` for unknown, `None` for null). Private state is opaque bytes that Terraform
stores beside the state and hands back on the next call for the same resource.
The configuration RPCs and CallFunction answer with plain :class:`Diagnostics`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .cty import types as ct
from .cty.path import AttributePath
from .diagnostics import Diagnostics
from .schema import Schema


class Schemas(Protocol):
    """Where the decoder finds the schema to decode a request's values with (the engine)."""

    def provider_schema(self) -> Schema: ...

    def resource_schema(self, type_name: str) -> Schema: ...

    def data_source_schema(self, type_name: str) -> Schema: ...


# --- requests --------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigRequest:
    """ValidateProviderConfig, ConfigureProvider, ValidateResourceConfig and
    ValidateDataResourceConfig: a configuration, which may hold unknown values when
    validated and holds none when the provider is configured."""

    config: Any
    #: The resource or data source type; empty for the provider's own configuration.
    type_name: str = ""
    #: The Terraform CLI version (ConfigureProvider only).
    terraform_version: str = ""
    #: Terraform handles write-only attributes (ValidateResourceConfig, protocol 6.8).
    write_only_allowed: bool = False


@dataclass(frozen=True)
class UpgradeResourceStateRequest:
    type_name: str
    #: The schema version the stored state was written with.
    version: int
    #: The stored state as JSON; None when Terraform sent the pre-0.12 flatmap form.
    raw_json: bytes | None
    #: The current schema's object type: the reply's state is encoded with it.
    schema_type: ct.CtyType


@dataclass(frozen=True)
class ReadResourceRequest:
    type_name: str
    #: The state after the last apply or refresh (null only for a resource Terraform
    #: has not created yet).
    current_state: Any
    private: bytes
    schema_type: ct.CtyType


@dataclass(frozen=True)
class PlanResourceChangeRequest:
    type_name: str
    #: Null when the resource is being created.
    prior_state: Any
    #: Terraform's proposal: the configuration, with prior values for null computed
    #: attributes. Null when the resource is being destroyed.
    proposed_new_state: Any
    config: Any
    prior_private: bytes
    schema_type: ct.CtyType


@dataclass(frozen=True)
class ApplyResourceChangeRequest:
    type_name: str
    #: Null when the resource is being created.
    prior_state: Any
    #: What the plan promised; null when the resource is being destroyed.
    planned_state: Any
    config: Any
    planned_private: bytes
    schema_type: ct.CtyType


@dataclass(frozen=True)
class ImportResourceStateRequest:
    type_name: str
    #: The ID the user gave `terraform import` or an import block.
    id: str
    schema_type: ct.CtyType


@dataclass(frozen=True)
class ReadDataSourceRequest:
    type_name: str
    #: The data source's configuration; it holds no unknown values when read.
    config: Any
    schema_type: ct.CtyType


@dataclass(frozen=True)
class CallFunctionRequest:
    name: str


# --- responses -------------------------------------------------------------------------


@dataclass(frozen=True)
class GetMetadataResponse:
    resources: list[str]
    data_sources: list[str]


@dataclass(frozen=True)
class GetProviderSchemaResponse:
    """All schemas, or (when building one failed) none and the error."""

    provider: Schema | None = None
    resources: Mapping[str, Schema] = field(default_factory=dict)
    data_sources: Mapping[str, Schema] = field(default_factory=dict)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass
class UpgradeResourceStateResponse:
    #: The state in the current schema; sent only when there is no error.
    upgraded_state: Any
    diagnostics: Diagnostics


@dataclass
class StateResponse:
    """ReadResource and ApplyResourceChange: the new state (null: the object is gone)."""

    state: Any
    private: bytes
    diagnostics: Diagnostics


@dataclass
class PlanResourceChangeResponse:
    planned_state: Any
    #: Attributes whose change forces a replacement (destroy and create).
    requires_replace: list[AttributePath]
    planned_private: bytes
    diagnostics: Diagnostics


@dataclass(frozen=True)
class ImportedResource:
    type_name: str
    state: Any
    private: bytes


@dataclass
class ImportResourceStateResponse:
    imported: list[ImportedResource]
    diagnostics: Diagnostics


@dataclass
class ReadDataSourceResponse:
    #: The data source's values; sent only when there is no error.
    state: Any
    diagnostics: Diagnostics


__all__ = [
    "ApplyResourceChangeRequest",
    "CallFunctionRequest",
    "ConfigRequest",
    "GetMetadataResponse",
    "GetProviderSchemaResponse",
    "ImportResourceStateRequest",
    "ImportResourceStateResponse",
    "ImportedResource",
    "PlanResourceChangeRequest",
    "PlanResourceChangeResponse",
    "ReadDataSourceRequest",
    "ReadDataSourceResponse",
    "ReadResourceRequest",
    "Schemas",
    "StateResponse",
    "UpgradeResourceStateRequest",
    "UpgradeResourceStateResponse",
]
