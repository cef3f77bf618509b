"""The only module that converts between tfplugin6 protobuf messages and our dataclasses."""

from __future__ import annotations

from typing import Any

from tfplugin_proto import tfplugin6_5_pb2 as pb

from .cty import json as cty_json
from .cty import msgpack as cty_msgpack
from .cty import types as ct
from .cty.path import AttributePath, AttrStep, IndexStep, KeyStep
from .diagnostics import Diagnostic, Diagnostics, Severity
from .schema import Attribute, Block, BlockNesting, NestedBlock, Nesting, Schema

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


def decode_dynamic(dv: pb.DynamicValue, ty: ct.CtyType) -> Any:
    """Decode a DynamicValue (msgpack preferred, JSON otherwise); CtyError on bad input."""
    if dv.msgpack:
        return cty_msgpack.decode(dv.msgpack, ty)
    if dv.json:
        return cty_json.decode(dv.json, ty)
    return None


def decode_optional(dv: pb.DynamicValue, ty: ct.CtyType, has: bool) -> Any:
    return decode_dynamic(dv, ty) if has else None


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
