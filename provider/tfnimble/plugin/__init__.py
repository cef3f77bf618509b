"""The Terraform plugin protocol (tfplugin6) for Python providers.

Names no Nimble or Glance object: resource authors import what they need from
here and never see protobuf.
"""

from .cty import types
from .cty.path import AttributePath
from .cty.values import UNKNOWN, Unknown, is_known, is_unknown
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
from .schema import Attribute, Block, BlockNesting, NestedAttributes, NestedBlock, Nesting, Schema
from .serve import serve

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
    "check_model_matches_schema",
    "is_known",
    "is_unknown",
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
