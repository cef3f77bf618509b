"""Describe protobuf messages as a plain table: {message: {field: (number, type)}}.

No protobuf module of the protocol is imported here, so the same code can describe our
generated messages in the test process and the `tfplugin-proto-all` package's in a child
process (both register package `tfplugin6` in protobuf's default pool, so one process
cannot hold both).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

_SCALARS = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_DOUBLE: "double",
}

Table = dict[str, dict[str, tuple[int, str]]]


def _base(f: FieldDescriptor) -> str:
    if f.message_type is not None:
        return str(f.message_type.full_name)
    if f.enum_type is not None:
        return str(f.enum_type.full_name)
    return _SCALARS[f.type]


def _is_map(f: FieldDescriptor) -> bool:
    return f.message_type is not None and f.message_type.GetOptions().map_entry


def spell(f: FieldDescriptor) -> str:
    """A field's type as the .proto file writes it: `repeated X`, `map<K, V>`, `optional X`."""
    if _is_map(f):
        key, value = f.message_type.fields_by_name["key"], f.message_type.fields_by_name["value"]
        return f"map<{_base(key)}, {_base(value)}>"
    if f.is_repeated:
        return "repeated " + _base(f)
    oneof = f.containing_oneof
    if oneof is not None and oneof.name.startswith("_"):  # proto3 `optional`
        return "optional " + _base(f)
    return _base(f)


def reachable(roots: Iterable[Descriptor]) -> dict[str, Descriptor]:
    """Every message reachable from `roots` through message fields (map entries looked
    through), by full name."""
    seen: dict[str, Descriptor] = {}
    stack = list(roots)
    while stack:
        d = stack.pop()
        if d.full_name in seen:
            continue
        seen[d.full_name] = d
        for f in d.fields:
            if _is_map(f):
                value = f.message_type.fields_by_name["value"]
                if value.message_type is not None:
                    stack.append(value.message_type)
            elif f.message_type is not None:
                stack.append(f.message_type)
    return seen


def describe(messages: dict[str, Descriptor]) -> Table:
    """{name without the package: {field name: (number, spelled type)}}."""
    return {
        name.removeprefix("tfplugin6."): {f.name: (f.number, spell(f)) for f in d.fields}
        for name, d in messages.items()
    }


def describe_file(file_descriptor: Any) -> Table:
    """Every message of a generated module's DESCRIPTOR, nested ones included."""
    found: dict[str, Descriptor] = {}
    stack = list(file_descriptor.message_types_by_name.values())
    while stack:
        d = stack.pop()
        if not d.GetOptions().map_entry:
            found[d.full_name] = d
        stack.extend(d.nested_types)
    return describe(found)


if __name__ == "__main__":  # python _wire_table.py MODULE: that module's table, as JSON
    import importlib

    module = importlib.import_module(sys.argv[1])
    json.dump(describe_file(module.DESCRIPTOR), sys.stdout)
