"""Models that declare their own schema: one line per attribute, not two lists to keep in step.

A nimble model dataclass is the attribute table of its resource or data source: each field
is ``name: Annotated[Value[T], <Field>] = None``, where the :class:`Field` (built by
:func:`attr` or one of the constructors below) holds the schema attribute or block.
:func:`schema_of` reads the table back into a `Schema`. A data-source field also names the
client-object attribute it is read from (``source``), so one :func:`from_object` maps any
client object onto any data-source model.

Rules:
1. Every field defaults to null, as Terraform sends an unset attribute.
2. A field whose ``source`` is unset is not read from a client object; ``source=None`` reads
   the client attribute of the same name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

from tfnimble.plugin import (
    Attribute,
    NestedBlock,
    Schema,
    requires_replace,
    timeouts_block,
    types,
    use_state_for_unknown,
)
from tfnimble.plugin.schema import NO_DEFAULT, Validator

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

M = TypeVar("M", bound="DataclassInstance")

_UNMAPPED = object()

#: The value of a `timeouts` block: operation -> duration text.
Timeouts = dict[str, str | None]

#: How a data-source field is read: a client attribute name, or a function of the object.
Source = str | Callable[[Any], Any] | None


@dataclass(frozen=True)
class Field:
    """What a model field declares: its schema attribute or block, and where it is read from."""

    attribute: Attribute | None = None
    block: NestedBlock | None = None
    source: Source | object = _UNMAPPED


def attr(attribute: Attribute, source: Source | object = _UNMAPPED) -> Field:
    return Field(attribute=attribute, source=source)


def write_only_secret(description: str, validators: Sequence[Validator] = ()) -> Field:
    """An optional secret Terraform (1.11 or later) never keeps in plan or state."""
    return attr(
        Attribute(
            type=types.String,
            optional=True,
            sensitive=True,
            write_only=True,
            validators=tuple(validators),
            description=description,
        )
    )


def timeouts(*operations: str) -> Field:
    """The `timeouts` block for the given operations."""
    return Field(block=timeouts_block(*operations))


@functools.cache
def _declared(model: type[DataclassInstance]) -> dict[str, Field]:
    hints = get_type_hints(model, include_extras=True)
    out: dict[str, Field] = {}
    for f in fields(model):
        found = [m for m in getattr(hints[f.name], "__metadata__", ()) if isinstance(m, Field)]
        if found:
            out[f.name] = found[0]
    return out


def schema_of(model: type[DataclassInstance], description: str) -> Schema:
    declared = _declared(model)
    return Schema(
        description=description,
        attributes={n: d.attribute for n, d in declared.items() if d.attribute is not None},
        blocks={n: d.block for n, d in declared.items() if d.block is not None},
    )


def from_object(model: type[M], obj: object) -> M:
    """The model of a client object, field by field as each field's ``source`` says."""
    values: dict[str, Any] = {}
    for name, declared in _declared(model).items():
        source = declared.source
        if source is _UNMAPPED:
            continue
        if callable(source):
            values[name] = source(obj)
        else:
            values[name] = getattr(obj, source if isinstance(source, str) else name)
    return model(**values)


# --- attribute constructors ---------------------------------------------------------------------


def computed_attribute(
    description: str, ty: Any = types.String, *, stable: bool = True
) -> Attribute:
    """A read-only attribute; `stable` ones keep their prior value in update plans."""
    mods = (use_state_for_unknown(),) if stable else ()
    return Attribute(type=ty, computed=True, description=description, plan_modifiers=mods)


def computed(description: str, ty: Any = types.String) -> Field:
    """A read-only resource attribute that keeps its prior value in update plans."""
    return attr(computed_attribute(description, ty))


def out(ty: Any, description: str, source: Source = None) -> Field:
    """A read-only data-source attribute, read from the client object."""
    return attr(Attribute(type=ty, computed=True, description=description), source)


def argument(
    ty: Any,
    description: str,
    *,
    required: bool = False,
    computed: bool = False,
    default: Any = NO_DEFAULT,
    validators: Sequence[Validator] = (),
    keep_prior: bool = False,
    replaces: bool = False,
    modifiers: Sequence[Any] = (),
) -> Field:
    """A configurable attribute: required, else optional (and `computed` when the array or a
    default fills it in). `keep_prior` keeps the state's value in update plans instead of
    "known after apply"; `replaces` makes a change replace the resource; `modifiers` follow."""
    mods: tuple[Any, ...] = (use_state_for_unknown(),) if keep_prior else ()
    mods += (requires_replace(),) if replaces else ()
    return attr(
        Attribute(
            type=ty,
            required=required,
            optional=not required,
            computed=computed,
            default=default,
            validators=tuple(validators),
            plan_modifiers=(*mods, *modifiers),
            description=description,
        )
    )


def lookup_key(description: str, *, required: bool = False, source: Source = None) -> Field:
    """A string a data source is looked up by; optional ones are also read back."""
    return attr(
        Attribute(
            type=types.String,
            required=required,
            optional=not required,
            computed=not required,
            description=description,
        ),
        source,
    )


def name(description: str, rule: Validator) -> Field:
    """The required, validated name of a resource."""
    return argument(types.String, description, required=True, validators=(rule,))


def replacing_reference(description: str, rule: Validator | None = None) -> Field:
    """A required ID of another object; a new one replaces the resource. `rule` checks its
    form at validate (see ``_common.id_rule``)."""
    rules = () if rule is None else (rule,)
    return argument(types.String, description, required=True, replaces=True, validators=rules)


def array_id(kind: str) -> Field:
    return computed(f"The array's ID of the {kind} (42 hexadecimal digits).")


def description(kind: str) -> Field:
    return argument(types.String, f"Free-text description of the {kind}. Changed in place.")


def performance_policy(kind: str) -> Field:
    return argument(
        types.String,
        f"Name of the performance policy of the {kind} (see the `nimble_performance_policy` "
        "data source). Changed in place; the new policy must have the same block size. "
        "Defaults to the array's choice (usually `default`).",
        computed=True,
        keep_prior=True,
    )


def online(kind: str) -> Field:
    return argument(
        types.Bool,
        f"Whether the {kind} is online (visible to initiators). Changed in place. Default `true`.",
        computed=True,
        default=True,
    )


def space_used(kind: str) -> Field:
    # A reading that changes as data is written. It keeps its prior value in plans (no
    # "known after apply" noise on every update) and an update returns that prior value;
    # refresh then records the new reading, which Terraform shows as a refresh note at most,
    # never as a planned change, because the attribute is not configurable.
    return computed(
        f"Space the {kind} uses on the array, in bytes, including its snapshots; data shared "
        "with a base snapshot is not counted (a fresh clone uses 0). As of the last refresh.",
        types.Number,
    )
