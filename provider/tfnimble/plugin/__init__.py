"""The Terraform plugin protocol (tfplugin6) for Python providers.

Names no Nimble or Glance object: resource authors import what they need from
here and never see protobuf. Attributes load on first use (PEP 562), so a provider
process can print its handshake before the heavier modules are imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# serve.py needs only the standard library; import it eagerly so the name is the function,
# not the submodule.
from .serve import serve

_LAZY = {
    "Attribute": ".schema",
    "AttributePath": ".cty.path",
    "AttributePlanRequest": ".planmodifiers",
    "Block": ".schema",
    "BlockNesting": ".schema",
    "Context": ".resource",
    "DataSource": ".resource",
    "Diagnostic": ".diagnostics",
    "DiagnosticError": ".diagnostics",
    "Diagnostics": ".diagnostics",
    "NestedAttributes": ".schema",
    "NestedBlock": ".schema",
    "Nesting": ".schema",
    "Provider": ".resource",
    "Resource": ".resource",
    "Schema": ".schema",
    "Severity": ".diagnostics",
    "UNKNOWN": ".cty.values",
    "Unknown": ".cty.values",
    "Value": ".cty.values",
    "check_model_matches_schema": ".resource",
    "is_known": ".cty.values",
    "is_unknown": ".cty.values",
    "known_or_none": ".cty.values",
    "need": ".cty.values",
    "parse_duration": ".resource",
    "requires_replace": ".planmodifiers",
    "requires_replace_if": ".planmodifiers",
    "split_import_id": ".resource",
    "timeout_for": ".resource",
    "timeouts_block": ".resource",
    "types": ".cty",
    "use_state_for_unknown": ".planmodifiers",
}

if TYPE_CHECKING:
    from .cty import types
    from .cty.path import AttributePath
    from .cty.values import UNKNOWN, Unknown, Value, is_known, is_unknown, known_or_none, need
    from .diagnostics import Diagnostic, DiagnosticError, Diagnostics, Severity
    from .planmodifiers import (
        AttributePlanRequest,
        requires_replace,
        requires_replace_if,
        use_state_for_unknown,
    )
    from .resource import (
        Context,
        DataSource,
        Provider,
        Resource,
        check_model_matches_schema,
        parse_duration,
        split_import_id,
        timeout_for,
        timeouts_block,
    )
    from .schema import (
        Attribute,
        Block,
        BlockNesting,
        NestedAttributes,
        NestedBlock,
        Nesting,
        Schema,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "UNKNOWN",
    "Attribute",
    "AttributePath",
    "AttributePlanRequest",
    "Block",
    "BlockNesting",
    "Context",
    "DataSource",
    "Diagnostic",
    "DiagnosticError",
    "Diagnostics",
    "NestedAttributes",
    "NestedBlock",
    "Nesting",
    "Provider",
    "Resource",
    "Schema",
    "Severity",
    "Unknown",
    "Value",
    "check_model_matches_schema",
    "is_known",
    "is_unknown",
    "known_or_none",
    "need",
    "parse_duration",
    "requires_replace",
    "requires_replace_if",
    "serve",
    "split_import_id",
    "timeout_for",
    "timeouts_block",
    "types",
    "use_state_for_unknown",
]
