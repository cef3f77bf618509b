"""The only module that converts between tfplugin6 protobuf messages and our dataclasses.

For every RPC of the Provider service an :class:`Rpc` names its protobuf messages and
says how to decode the request into a request of :mod:`.rpc`, how to encode the engine's
response, and what to answer when the request cannot be decoded (a CtyError or
DiagnosticError from `decode`). The server only moves these objects around.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from ._gen import tfplugin6_pb2 as pb
from .cty import json as cty_json
from .cty import msgpack as cty_msgpack
from .cty import types as ct
from .cty.path import AttributePath, AttrStep, IndexStep, KeyStep
from .diagnostics import Diagnostic, Diagnostics, Severity
from .rpc import (
    ApplyResourceChangeRequest,
    CallFunctionRequest,
    ConfigRequest,
    GetMetadataResponse,
    GetProviderSchemaResponse,
    ImportResourceStateRequest,
    ImportResourceStateResponse,
    PlanResourceChangeRequest,
    PlanResourceChangeResponse,
    ReadDataSourceRequest,
    ReadDataSourceResponse,
    ReadResourceRequest,
    Schemas,
    StateResponse,
    UpgradeResourceStateRequest,
    UpgradeResourceStateResponse,
)
from .schema import Attribute, Block, BlockNesting, NestedBlock, Nesting, Schema

PbReq = TypeVar("PbReq", bound=Message)
PbResp = TypeVar("PbResp", bound=Message)
Req = TypeVar("Req")
Resp = TypeVar("Resp")

_BLOCK_NESTING = {
    BlockNesting.SINGLE: pb.Schema.NestedBlock.SINGLE,
    BlockNesting.LIST: pb.Schema.NestedBlock.LIST,
    BlockNesting.SET: pb.Schema.NestedBlock.SET,
    BlockNesting.MAP: pb.Schema.NestedBlock.MAP,
    BlockNesting.GROUP: pb.Schema.NestedBlock.GROUP,
}
_ATTR_NESTING = {
    Nesting.SINGLE: pb.Schema.Object.SINGLE,
    Nesting.LIST: pb.Schema.Object.LIST,
    Nesting.SET: pb.Schema.Object.SET,
    Nesting.MAP: pb.Schema.Object.MAP,
}


@dataclass(frozen=True)
class Rpc(Generic[PbReq, Req, Resp, PbResp]):
    """One unary RPC: its messages, and the conversions on either side of the engine."""

    name: str
    request_type: type[PbReq]
    response_type: type[PbResp]
    #: Protobuf request -> typed request; raises CtyError or DiagnosticError.
    decode: Callable[[PbReq, Schemas], Req]
    #: (typed request, the engine's typed response) -> protobuf response.
    encode: Callable[[Req, Resp], PbResp]
    #: (protobuf request, diagnostics) -> the reply to a request that could not be decoded.
    reject: Callable[[PbReq, Diagnostics], PbResp]
    #: What the request carries, named in the diagnostic when it cannot be decoded.
    what: str = "request"
    #: False for requests without fields: a missing message then reads as an empty one.
    message_required: bool = True

    def given(self, msg: PbReq | None) -> PbReq | None:
        """The message to decode; None only when a required request is missing."""
        if msg is None and not self.message_required:
            return self.request_type()
        return msg


# --- values, paths and diagnostics -----------------------------------------------------


def decode_dynamic(dv: pb.DynamicValue, ty: ct.CtyType) -> Any:
    """Decode a DynamicValue (msgpack preferred, JSON otherwise); CtyError on bad input."""
    if dv.msgpack:
        return cty_msgpack.decode(dv.msgpack, ty)
    if dv.json:
        return cty_json.decode(dv.json, ty)
    return None


def is_null(dv: pb.DynamicValue) -> bool:
    """Whether a DynamicValue is null, without decoding it (a destroy's proposed state)."""
    return dv.msgpack == b"\xc0" if dv.msgpack else dv.json in (b"", b"null")


def encode_dynamic(value: Any, ty: ct.CtyType) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=cty_msgpack.encode(value, ty))


def path_to_proto(path: AttributePath) -> pb.AttributePath:
    steps = []
    for step in path.steps:
        if isinstance(step, AttrStep):
            steps.append(pb.AttributePath.Step(attribute_name=step.name))
        elif isinstance(step, KeyStep):
            steps.append(pb.AttributePath.Step(element_key_string=step.key))
        elif isinstance(step, IndexStep):
            steps.append(pb.AttributePath.Step(element_key_int=step.index))
    return pb.AttributePath(steps=steps)


def diagnostic_to_proto(diag: Diagnostic) -> pb.Diagnostic:
    msg = pb.Diagnostic(
        severity=pb.Diagnostic.ERROR if diag.severity is Severity.ERROR else pb.Diagnostic.WARNING,
        summary=diag.summary,
        detail=diag.detail,
    )
    if diag.path is not None and diag.path.steps:
        msg.attribute.CopyFrom(path_to_proto(diag.path))
    return msg


def diagnostics_to_proto(diags: Diagnostics) -> list[pb.Diagnostic]:
    return [diagnostic_to_proto(d) for d in diags]


def _attribute_to_proto(name: str, attr: Attribute) -> pb.Schema.Attribute:
    msg = pb.Schema.Attribute(
        name=name,
        description=attr.description,
        description_kind=pb.MARKDOWN,
        required=attr.required,
        optional=attr.optional,
        computed=attr.computed,
        sensitive=attr.sensitive,
        deprecated=bool(attr.deprecation_message),
        write_only=attr.write_only,
    )
    if attr.nested is not None:
        msg.nested_type.CopyFrom(
            pb.Schema.Object(
                attributes=[_attribute_to_proto(k, a) for k, a in attr.nested.attributes.items()],
                nesting=_ATTR_NESTING[attr.nested.nesting],
            )
        )
    else:
        assert attr.type is not None
        msg.type = ct.type_to_json_bytes(attr.type)
    return msg


def _block_to_proto(block: Block, version: int = 0) -> pb.Schema.Block:
    return pb.Schema.Block(
        version=version,
        attributes=[_attribute_to_proto(k, a) for k, a in block.attributes.items()],
        block_types=[_nested_block_to_proto(k, b) for k, b in block.blocks.items()],
        description=block.description,
        description_kind=pb.MARKDOWN,
        deprecated=bool(block.deprecation_message),
    )


def _nested_block_to_proto(name: str, nb: NestedBlock) -> pb.Schema.NestedBlock:
    return pb.Schema.NestedBlock(
        type_name=name,
        block=_block_to_proto(nb.block),
        nesting=_BLOCK_NESTING[nb.nesting],
        min_items=nb.min_items,
        max_items=nb.max_items,
    )


def schema_to_proto(schema: Schema) -> pb.Schema:
    return pb.Schema(version=schema.version, block=_block_to_proto(schema.block, schema.version))


# --- the RPCs ---------------------------------------------------------------------------


def _capabilities() -> pb.ServerCapabilities:
    # get_provider_schema_optional: every RPC decodes with the schema the engine builds on
    # demand, so Terraform may use the schema it already has from this command's first
    # provider process instead of asking each later one again (issue 14: start-up cost)
    return pb.ServerCapabilities(plan_destroy=False, get_provider_schema_optional=True)


def _rpc(
    messages: Any,  # the generated pair class, e.g. pb.ReadResource (Request and Response)
    decode: Callable[[PbReq, Schemas], Req],
    encode: Callable[[Req, Resp], PbResp],
    what: str = "request",
    reject: Callable[[PbReq, Diagnostics], PbResp] | None = None,
) -> Rpc[PbReq, Req, Resp, PbResp]:
    """An Rpc named after its messages; a request it cannot decode gets diagnostics only."""
    return Rpc(
        messages.DESCRIPTOR.name,
        messages.Request,
        messages.Response,
        decode,
        encode,
        reject or _diagnostics_only(messages.Response),
        what,
        message_required=bool(messages.Request.DESCRIPTOR.fields),
    )


def _no_fields(_msg: Message, _schemas: Schemas) -> None:
    return None


def _diagnostics_only(response_type: Callable[..., PbResp]) -> Callable[[Any, Diagnostics], PbResp]:
    """The reply that carries only diagnostics (a reject, or a configuration RPC's answer)."""

    def reply(_request: object, diags: Diagnostics) -> PbResp:
        return response_type(diagnostics=diagnostics_to_proto(diags))

    return reply


def _state_reply(response_type: Callable[..., PbResp]) -> Callable[[Any, StateResponse], PbResp]:
    """ReadResource's and ApplyResourceChange's reply: new state, private, diagnostics."""

    def reply(req: ReadResourceRequest | ApplyResourceChangeRequest, resp: StateResponse) -> PbResp:
        return response_type(
            new_state=encode_dynamic(resp.state, req.schema_type),
            private=resp.private,
            diagnostics=diagnostics_to_proto(resp.diagnostics),
        )

    return reply


def _unless_error(diags: Diagnostics, field: pb.DynamicValue, value: Any, ty: ct.CtyType) -> None:
    """Fill a reply's value field only when there is no error (Terraform ignores it then)."""
    if not diags.has_error():
        field.CopyFrom(encode_dynamic(value, ty))


def _decode_values(schema: Schema, *values: pb.DynamicValue) -> tuple[ct.CtyType, list[Any]]:
    """The schema's object type, and each DynamicValue decoded with it. A value whose bytes
    are the previous one's is decoded once (a plan with no change proposes its prior state
    byte for byte); the engine never changes a decoded value in place."""
    ty = schema.cty_type()
    out: list[Any] = []
    for i, v in enumerate(values):
        if i and v.msgpack and v.msgpack == values[i - 1].msgpack:
            out.append(out[-1])
        else:
            out.append(decode_dynamic(v, ty))
    return ty, out


def _encode_metadata(_req: None, resp: GetMetadataResponse) -> pb.GetMetadata.Response:
    return pb.GetMetadata.Response(
        server_capabilities=_capabilities(),
        resources=[pb.GetMetadata.ResourceMetadata(type_name=t) for t in resp.resources],
        data_sources=[pb.GetMetadata.DataSourceMetadata(type_name=t) for t in resp.data_sources],
    )


def _encode_schemas(_req: None, resp: GetProviderSchemaResponse) -> pb.GetProviderSchema.Response:
    if resp.provider is None:
        return pb.GetProviderSchema.Response(diagnostics=diagnostics_to_proto(resp.diagnostics))
    return pb.GetProviderSchema.Response(
        server_capabilities=_capabilities(),
        provider=schema_to_proto(resp.provider),
        resource_schemas={t: schema_to_proto(s) for t, s in resp.resources.items()},
        data_source_schemas={t: schema_to_proto(s) for t, s in resp.data_sources.items()},
        diagnostics=diagnostics_to_proto(resp.diagnostics),
    )


def _config_rpc(
    messages: Any, what: str, decode: Callable[[PbReq, Schemas], ConfigRequest]
) -> Rpc[PbReq, ConfigRequest, Diagnostics, Any]:
    """The four configuration RPCs: decode a config, answer with the engine's diagnostics."""
    return _rpc(messages, decode, _diagnostics_only(messages.Response), what)


def _decode_provider_config(
    msg: pb.ValidateProviderConfig.Request, schemas: Schemas
) -> ConfigRequest:
    return ConfigRequest(decode_dynamic(msg.config, schemas.provider_schema().cty_type()))


def _decode_configure(msg: pb.ConfigureProvider.Request, schemas: Schemas) -> ConfigRequest:
    config = decode_dynamic(msg.config, schemas.provider_schema().cty_type())
    return ConfigRequest(config, terraform_version=msg.terraform_version)


def _decode_resource_config(
    msg: pb.ValidateResourceConfig.Request, schemas: Schemas
) -> ConfigRequest:
    ty = schemas.resource_schema(msg.type_name).cty_type()
    allowed = msg.client_capabilities.write_only_attributes_allowed
    return ConfigRequest(decode_dynamic(msg.config, ty), msg.type_name, write_only_allowed=allowed)


def _decode_data_source_config(
    msg: pb.ValidateDataResourceConfig.Request, schemas: Schemas
) -> ConfigRequest:
    ty = schemas.data_source_schema(msg.type_name).cty_type()
    return ConfigRequest(decode_dynamic(msg.config, ty), msg.type_name)


def _decode_upgrade(
    msg: pb.UpgradeResourceState.Request, schemas: Schemas
) -> UpgradeResourceStateRequest:
    ty = schemas.resource_schema(msg.type_name).cty_type()
    raw: bytes | None = msg.raw_state.json if msg.raw_state.json else None
    if raw is None and not msg.raw_state.flatmap:
        raw = b"null"
    return UpgradeResourceStateRequest(msg.type_name, msg.version, raw, ty)


def _encode_upgrade(
    req: UpgradeResourceStateRequest, resp: UpgradeResourceStateResponse
) -> pb.UpgradeResourceState.Response:
    diags = resp.diagnostics
    msg = pb.UpgradeResourceState.Response(diagnostics=diagnostics_to_proto(diags))
    _unless_error(diags, msg.upgraded_state, resp.upgraded_state, req.schema_type)
    return msg


def _decode_read(msg: pb.ReadResource.Request, schemas: Schemas) -> ReadResourceRequest:
    ty, (state,) = _decode_values(schemas.resource_schema(msg.type_name), msg.current_state)
    return ReadResourceRequest(msg.type_name, state, msg.private, ty)


def _reject_read(msg: pb.ReadResource.Request, diags: Diagnostics) -> pb.ReadResource.Response:
    """Terraform keeps what it sent: the state it could not give us comes back untouched."""
    return pb.ReadResource.Response(
        new_state=msg.current_state, private=msg.private, diagnostics=diagnostics_to_proto(diags)
    )


def _decode_plan(msg: pb.PlanResourceChange.Request, schemas: Schemas) -> PlanResourceChangeRequest:
    ty, (prior, proposed, config) = _decode_values(
        schemas.resource_schema(msg.type_name), msg.prior_state, msg.proposed_new_state, msg.config
    )
    return PlanResourceChangeRequest(msg.type_name, prior, proposed, config, msg.prior_private, ty)


def _encode_plan(
    req: PlanResourceChangeRequest, resp: PlanResourceChangeResponse
) -> pb.PlanResourceChange.Response:
    return pb.PlanResourceChange.Response(
        planned_state=encode_dynamic(resp.planned_state, req.schema_type),
        requires_replace=[path_to_proto(p) for p in resp.requires_replace],
        planned_private=resp.planned_private,
        diagnostics=diagnostics_to_proto(resp.diagnostics),
    )


def _decode_apply(
    msg: pb.ApplyResourceChange.Request, schemas: Schemas
) -> ApplyResourceChangeRequest:
    ty, (prior, planned, config) = _decode_values(
        schemas.resource_schema(msg.type_name), msg.prior_state, msg.planned_state, msg.config
    )
    return ApplyResourceChangeRequest(
        msg.type_name, prior, planned, config, msg.planned_private, ty
    )


def _reject_apply(
    msg: pb.ApplyResourceChange.Request, diags: Diagnostics
) -> pb.ApplyResourceChange.Response:
    """Nothing was applied: the prior state comes back as Terraform sent it."""
    return pb.ApplyResourceChange.Response(
        new_state=msg.prior_state, diagnostics=diagnostics_to_proto(diags)
    )


def _decode_import(
    msg: pb.ImportResourceState.Request, schemas: Schemas
) -> ImportResourceStateRequest:
    ty = schemas.resource_schema(msg.type_name).cty_type()
    return ImportResourceStateRequest(msg.type_name, msg.id, ty)


def _encode_import(
    req: ImportResourceStateRequest, resp: ImportResourceStateResponse
) -> pb.ImportResourceState.Response:
    return pb.ImportResourceState.Response(
        imported_resources=[
            pb.ImportResourceState.ImportedResource(
                type_name=r.type_name,
                state=encode_dynamic(r.state, req.schema_type),
                private=r.private,
            )
            for r in resp.imported
        ],
        diagnostics=diagnostics_to_proto(resp.diagnostics),
    )


def _decode_data_source(msg: pb.ReadDataSource.Request, schemas: Schemas) -> ReadDataSourceRequest:
    ty, (config,) = _decode_values(schemas.data_source_schema(msg.type_name), msg.config)
    return ReadDataSourceRequest(msg.type_name, config, ty)


def _encode_data_source(
    req: ReadDataSourceRequest, resp: ReadDataSourceResponse
) -> pb.ReadDataSource.Response:
    msg = pb.ReadDataSource.Response(diagnostics=diagnostics_to_proto(resp.diagnostics))
    _unless_error(resp.diagnostics, msg.state, resp.state, req.schema_type)
    return msg


def _encode_no_functions(_req: None, _resp: None) -> pb.GetFunctions.Response:
    return pb.GetFunctions.Response()


def _encode_stopped(_req: None, _resp: None) -> pb.StopProvider.Response:
    return pb.StopProvider.Response()


def _function_error(_req: object, diags: Diagnostics) -> pb.CallFunction.Response:
    """CallFunction answers with a FunctionError, not diagnostics (released protocol 6.5 on):
    its text is every error's summary and detail."""
    errors = [f"{d.summary}: {d.detail}" if d.detail else d.summary for d in diags]
    if not errors:
        return pb.CallFunction.Response()
    return pb.CallFunction.Response(error=pb.FunctionError(text="\n".join(errors)))


def _decode_call_function(msg: pb.CallFunction.Request, _schemas: Schemas) -> CallFunctionRequest:
    return CallFunctionRequest(msg.name)


GET_METADATA = _rpc(pb.GetMetadata, _no_fields, _encode_metadata)
GET_PROVIDER_SCHEMA = _rpc(pb.GetProviderSchema, _no_fields, _encode_schemas)
VALIDATE_PROVIDER_CONFIG = _config_rpc(
    pb.ValidateProviderConfig, "provider configuration", _decode_provider_config
)
CONFIGURE_PROVIDER = _config_rpc(pb.ConfigureProvider, "provider configuration", _decode_configure)
VALIDATE_RESOURCE_CONFIG = _config_rpc(
    pb.ValidateResourceConfig, "resource configuration", _decode_resource_config
)
VALIDATE_DATA_RESOURCE_CONFIG = _config_rpc(
    pb.ValidateDataResourceConfig, "data source configuration", _decode_data_source_config
)
UPGRADE_RESOURCE_STATE = _rpc(pb.UpgradeResourceState, _decode_upgrade, _encode_upgrade, "state")
READ_RESOURCE = _rpc(
    pb.ReadResource, _decode_read, _state_reply(pb.ReadResource.Response), "state", _reject_read
)
PLAN_RESOURCE_CHANGE = _rpc(pb.PlanResourceChange, _decode_plan, _encode_plan, "plan")
APPLY_RESOURCE_CHANGE = _rpc(
    pb.ApplyResourceChange,
    _decode_apply,
    _state_reply(pb.ApplyResourceChange.Response),
    "planned change",
    _reject_apply,
)
IMPORT_RESOURCE_STATE = _rpc(pb.ImportResourceState, _decode_import, _encode_import, "import")
READ_DATA_SOURCE = _rpc(
    pb.ReadDataSource, _decode_data_source, _encode_data_source, "configuration"
)
GET_FUNCTIONS = _rpc(pb.GetFunctions, _no_fields, _encode_no_functions)
CALL_FUNCTION = _rpc(
    pb.CallFunction, _decode_call_function, _function_error, reject=_function_error
)
STOP_PROVIDER = _rpc(pb.StopProvider, _no_fields, _encode_stopped)

#: Every RPC of the tfplugin6 Provider service that this provider serves.
RPCS: tuple[Rpc[Any, Any, Any, Any], ...] = (
    GET_METADATA,
    GET_PROVIDER_SCHEMA,
    VALIDATE_PROVIDER_CONFIG,
    VALIDATE_RESOURCE_CONFIG,
    VALIDATE_DATA_RESOURCE_CONFIG,
    UPGRADE_RESOURCE_STATE,
    CONFIGURE_PROVIDER,
    READ_RESOURCE,
    PLAN_RESOURCE_CHANGE,
    APPLY_RESOURCE_CHANGE,
    IMPORT_RESOURCE_STATE,
    READ_DATA_SOURCE,
    GET_FUNCTIONS,
    CALL_FUNCTION,
    STOP_PROVIDER,
)
