"""The plan and apply rules as pure functions over a schema block and decoded values.

The engine (:mod:`.engine`) calls these around the resource's own code:

Rule 1 (create): computed attributes with no config value are unknown in the plan,
        unless they have a default (:func:`propose`).
Rule 2 (update): when anything changes, computed attributes with no config value
        become unknown again, except where `use_state_for_unknown` keeps the prior value.
Rule 3: requires-replace paths come from the attributes' plan modifiers.
Rule 4: a plan may not change a configured top-level value
        (:func:`check_plan_respects_config`; write-only values are never planned),
        and apply must return exactly what the plan promised for every known value
        (:func:`check_apply_matches_plan`); either is reported as a provider bug.

Write-only attributes (protocol 6.8) are null in every plan and state
(:func:`without_write_only`); the resource is given the configured values to apply
(:func:`with_write_only`).

Nested blocks and nested attributes are followed where their elements can be aligned
by index or key (single, list, map); set elements cannot be, so rules stop at sets.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .cty import types as ct
from .cty.numbers import is_finite_number
from .cty.path import AttributePath
from .cty.values import UNKNOWN, is_known, is_unknown, values_equal
from .diagnostics import Diagnostics
from .planmodifiers import AttributePlanRequest
from .rpc import GetProviderSchemaResponse
from .schema import Attribute, Block, BlockNesting, Nesting, Schema

Key = int | str | None


def _nested_children(block: Block) -> list[tuple[str, Nesting | BlockNesting, Block]]:
    out: list[tuple[str, Nesting | BlockNesting, Block]] = []
    for name, nb in block.blocks.items():
        out.append((name, nb.nesting, nb.block))
    for name, attr in block.attributes.items():
        if attr.nested is not None:
            out.append((name, attr.nested.nesting, Block(attributes=attr.nested.attributes)))
    return out


def _child_objects(nesting: Nesting | BlockNesting, value: Any) -> list[tuple[Key, Any]]:
    """(key, element) pairs of a nested block/attribute value we can align by key."""
    if value is None or is_unknown(value):
        return []
    if nesting in (BlockNesting.SINGLE, BlockNesting.GROUP, Nesting.SINGLE):
        return [(None, value)]
    if nesting in (BlockNesting.LIST, Nesting.LIST):
        return list(enumerate(value))
    if nesting in (BlockNesting.MAP, Nesting.MAP):
        return list(value.items())
    return []  # sets cannot be aligned element by element


def _sub(value: Any, key: Key) -> Any:
    if type(value) is dict and type(key) is str:  # an object's attribute: the common case
        return value.get(key)
    if value is None or is_unknown(value):
        return None
    if key is None:
        return value
    try:
        return value[key]
    except (KeyError, IndexError, TypeError):
        return None


def _element_path(path: AttributePath, name: str, key: Key) -> AttributePath:
    sub_path = path.attr(name)
    if isinstance(key, int):
        return sub_path.index(key)
    if isinstance(key, str):
        return sub_path.key(key)
    return sub_path


def _each_nested(
    block: Block, value: dict[str, Any], *others: Any
) -> list[tuple[Block, Any, str, Key, list[Any]]]:
    """(child block, element, name, key, the same element of each of `others`) for every
    alignable element of the block's nested blocks and attributes in `value`."""
    out = []
    for name, nesting, child in _nested_children(block):
        for key, elem in _child_objects(nesting, value.get(name)):
            out.append((child, elem, name, key, [_sub(_sub(o, name), key) for o in others]))
    return out


AttributeRule = Callable[[str, Attribute, dict[str, Any], Any], None]


def _each_attribute(block: Block, planned: Any, config: Any, rule: AttributeRule) -> None:
    """Call `rule(name, attr, planned_object, config_value)` for every attribute, nested too."""
    if not isinstance(planned, dict):
        return
    for name, attr in block.attributes.items():
        rule(name, attr, planned, _sub(config, name) if isinstance(config, dict) else None)
    for child, elem, _name, _key, (cfg,) in _each_nested(block, planned, config):
        _each_attribute(child, elem, cfg, rule)


def _apply_default(name: str, attr: Attribute, planned: dict[str, Any], cfg: Any) -> None:
    if attr.has_default and cfg is None:
        planned[name] = copy.deepcopy(attr.default)


def _mark_unknown(name: str, attr: Attribute, planned: dict[str, Any], cfg: Any) -> None:
    if attr.computed and cfg is None and not attr.has_default:
        planned[name] = UNKNOWN


def propose(
    block: Block, ty: ct.CtyType, prior: Any, proposed: Any, config: Any, diags: Diagnostics
) -> tuple[Any, list[AttributePath]]:
    """Rules 1-3 on Terraform's proposed new state: the plan before the resource's own
    `modify_plan`, and the paths that force a replacement."""
    creating = prior is None
    planned = _copy_value(proposed)
    _each_attribute(block, planned, config, _apply_default)
    if creating or not values_equal(planned, prior, ty):
        _each_attribute(block, planned, config, _mark_unknown)
    replace: list[AttributePath] = []
    _run_plan_modifiers(
        block, planned, config, prior, creating, AttributePath.root(), replace, diags
    )
    return planned, replace


def _copy_value(value: Any) -> Any:
    """A copy of a decoded value whose objects and collections can be changed without
    touching the original: what copy.deepcopy gives, at a fraction of its cost (everything
    else in a value, strings, numbers, unknowns, is immutable)."""
    if isinstance(value, dict):
        return {k: _copy_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_value(v) for v in value]
    return value


def _run_plan_modifiers(
    block: Block,
    planned: Any,
    config: Any,
    prior: Any,
    creating: bool,
    path: AttributePath,
    replace: list[AttributePath],
    diags: Diagnostics,
) -> None:
    if not isinstance(planned, dict):
        return
    for name, attr in block.attributes.items():
        if not attr.plan_modifiers:
            continue
        apath = path.attr(name)
        value = planned.get(name)
        for mod in attr.plan_modifiers:
            req = AttributePlanRequest(
                path=apath,
                type=attr.cty_type(),
                config_value=_sub(config, name),
                state_value=_sub(prior, name),
                plan_value=value,
                creating=creating,
                diagnostics=diags,
            )
            result = mod.modify(req)
            value = result.plan_value
            if result.requires_replace and apath not in replace:
                replace.append(apath)
        planned[name] = value
    for child, elem, name, key, (cfg, old) in _each_nested(block, planned, config, prior):
        sub_path = _element_path(path, name, key)
        _run_plan_modifiers(child, elem, cfg, old, creating, sub_path, replace, diags)


def check_plan_respects_config(
    block: Block, planned: Any, config: Any, path: AttributePath, diags: Diagnostics
) -> None:
    """Rule 4, at plan time: every configured, known top-level value is planned as configured."""
    if not isinstance(planned, dict) or not isinstance(config, dict):
        return
    for name, attr in block.attributes.items():
        cfg = config.get(name)
        if (cfg is None and attr.computed) or attr.write_only:
            continue
        if attr.nested is not None:
            continue
        if is_unknown(cfg):
            continue
        if not values_equal(planned.get(name), cfg, attr.cty_type()):
            diags.add_error(
                "Provider Bug: Plan Changes A Configured Value",
                f"The plan changed {path.attr(name)} away from its configured value.",
                path.attr(name),
            )


def check_apply_matches_plan(
    planned: Any, new: Any, ty: ct.CtyType, path: AttributePath, diags: Diagnostics
) -> None:
    """Rule 4, after apply: every value the plan knew is what the resource returned."""
    if is_unknown(planned):
        return
    if isinstance(ty, ct.Object) and isinstance(planned, dict) and isinstance(new, dict):
        for name, aty in ty.attributes.items():
            check_apply_matches_plan(planned.get(name), new.get(name), aty, path.attr(name), diags)
        return
    if (
        isinstance(ty, ct.List | ct.Tuple)
        and isinstance(planned, list)
        and isinstance(new, list)
        and len(planned) == len(new)
    ):
        for i, (p, n) in enumerate(zip(planned, new, strict=True)):
            ety = ty.element if isinstance(ty, ct.List) else ty.elements[i]
            check_apply_matches_plan(p, n, ety, path.index(i), diags)
        return
    if not is_known(planned):
        return
    if not values_equal(planned, new, ty):
        diags.add_error(
            "Provider Bug: Apply Result Differs From Plan",
            f"The plan promised {planned!r} for {path}, but the operation produced {new!r}. "
            "The change was applied; run terraform apply -refresh-only to record the real value, "
            "and please report this bug.",
            path,
        )


def _null_write_only(name: str, attr: Attribute, obj: dict[str, Any], _cfg: Any) -> None:
    if attr.write_only:
        obj[name] = None


def _take_write_only(name: str, attr: Attribute, obj: dict[str, Any], cfg: Any) -> None:
    if attr.write_only:
        obj[name] = cfg


def without_write_only(schema: Schema, value: Any) -> Any:
    """`value` with every write-only attribute null (a copy if it had any): what plan and
    state hold (Terraform refuses a plan or a state that holds a write-only value)."""
    if not schema.has_write_only or not isinstance(value, dict):
        return value
    out = copy.deepcopy(value)
    _each_attribute(schema.block, out, None, _null_write_only)
    return out


def with_write_only(schema: Schema, planned: Any, config: Any) -> Any:
    """The planned value with the configuration's write-only values (a copy if it has any):
    what the resource is given to apply, the only time it sees them."""
    if not schema.has_write_only or not isinstance(planned, dict):
        return planned
    out = copy.deepcopy(planned)
    _each_attribute(schema.block, out, config, _take_write_only)
    return out


def check_write_only(schemas: GetProviderSchemaResponse) -> None:
    """Write-only attributes belong to managed resources only (protocol 6.8): ValueError
    (an invalid schema) for one in the provider's or a data source's schema, or in a set."""
    for schema in schemas.resources.values():
        _ = schema.has_write_only
    others = [schemas.provider, *schemas.data_sources.values()]
    if any(schema is not None and schema.has_write_only for schema in others):
        raise ValueError("only managed resources may have write-only attributes")


def refuse_unsupported_write_only(
    block: Block, config: Any, path: AttributePath, diags: Diagnostics
) -> None:
    """A configured write-only value when Terraform has not said it handles them (it is
    older than 1.11): it would be kept in plan and state, so it is an error."""
    if not isinstance(config, dict):
        return
    for name, attr in block.attributes.items():
        if attr.write_only and config.get(name) is not None:
            diags.add_error(
                "Write-Only Attribute Not Supported",
                f"{path.attr(name)} is write-only: Terraform keeps no copy of it in plan or "
                "state. This version of Terraform does not support write-only attributes; "
                "use Terraform 1.11 or later, or leave it unset.",
                path.attr(name),
            )
    for child, elem, name, key, _ in _each_nested(block, config):
        refuse_unsupported_write_only(child, elem, _element_path(path, name, key), diags)


def run_validators(block: Block, config: Any, path: AttributePath, diags: Diagnostics) -> None:
    """Run attribute validators on known, non-null config values (recursively), and warn
    about every deprecated attribute that is set. A number attribute set to an infinity is
    refused here, before any validator (or resource code) converts it."""
    if not isinstance(config, dict):
        return
    for name, attr in block.attributes.items():
        value = config.get(name)
        if value is None or not (
            attr.validators or attr.deprecation_message or attr.type == ct.Number
        ):
            continue  # nothing to check (and no path to build)
        apath = path.attr(name)
        if attr.deprecation_message:
            diags.add_warning("Deprecated Attribute", attr.deprecation_message, apath)
        if not is_known(value):
            continue
        if attr.type == ct.Number and not is_finite_number(value):
            diags.add_error(
                "Invalid Attribute Value",
                f"{apath} must be a finite number; got {value}.",
                apath,
            )
            continue
        for validator in attr.validators:
            diags.extend(validator(value, apath))
    for child, elem, name, key, _ in _each_nested(block, config):
        run_validators(child, elem, _element_path(path, name, key), diags)


def unknown_to_null(value: Any) -> Any:
    """`value` with every unknown inside it replaced by null (for partial state)."""
    if is_unknown(value):
        return None
    if isinstance(value, dict):
        return {k: unknown_to_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unknown_to_null(v) for v in value]
    return value


__all__ = [
    "check_apply_matches_plan",
    "check_plan_respects_config",
    "check_write_only",
    "propose",
    "refuse_unsupported_write_only",
    "run_validators",
    "unknown_to_null",
    "with_write_only",
    "without_write_only",
]
