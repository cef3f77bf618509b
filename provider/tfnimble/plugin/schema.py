"""Schemas as resource authors write them, and the cty types they imply.

A `Schema` is a block of `Attribute`s and `NestedBlock`s. Attributes carry their
behaviour (required/optional/computed, sensitive, default, plan modifiers,
validators) next to their Markdown description, because the description is the
documentation (tools/gendocs.py renders docs/ from these same objects).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .cty import types as ct
from .cty.path import AttributePath
from .diagnostics import Diagnostic
from .planmodifiers import PlanModifier


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()

Validator = Callable[[Any, AttributePath], Sequence[Diagnostic]]


class Nesting(enum.Enum):
    SINGLE = "single"
    LIST = "list"
    SET = "set"
    MAP = "map"


def _nested_type(obj: ct.CtyType, nesting: Nesting | BlockNesting) -> ct.CtyType:
    """The type of a nested attribute or block: its object type, or a collection of it."""
    if nesting.value == "list":
        return ct.List(obj)
    if nesting.value == "set":
        return ct.Set(obj)
    if nesting.value == "map":
        return ct.Map(obj)
    return obj  # single, group


@dataclass(frozen=True)
class NestedAttributes:
    """The type of an attribute that is itself a group of attributes (protocol 6)."""

    attributes: Mapping[str, Attribute]
    nesting: Nesting = Nesting.SINGLE

    def object_type(self) -> ct.CtyType:
        return ct.Object({k: a.cty_type() for k, a in self.attributes.items()})

    def cty_type(self) -> ct.CtyType:
        return _nested_type(self.object_type(), self.nesting)


@dataclass(frozen=True)
class Attribute:
    """One attribute. Exactly one of `type` and `nested` is set."""

    type: ct.CtyType | None = None
    description: str = ""
    required: bool = False
    optional: bool = False
    computed: bool = False
    sensitive: bool = False
    default: Any = NO_DEFAULT
    deprecation_message: str = ""
    plan_modifiers: tuple[PlanModifier, ...] = ()
    validators: tuple[Validator, ...] = ()
    nested: NestedAttributes | None = None
    #: Protocol 6.8 (Terraform 1.11): the value is read from the configuration only, never
    #: kept in plan or state; the resource sees it during apply (see :mod:`.engine`).
    write_only: bool = False

    def __post_init__(self) -> None:
        if (self.type is None) == (self.nested is None):
            raise ValueError("an attribute needs exactly one of type= or nested=")
        if self.required and (self.optional or self.computed):
            raise ValueError("a required attribute cannot also be optional or computed")
        if not (self.required or self.optional or self.computed):
            raise ValueError("an attribute must be required, optional or computed")
        if self.default is not NO_DEFAULT and not self.computed:
            raise ValueError("an attribute with a default must be computed (and optional)")
        if self.write_only and self.computed:
            raise ValueError(
                "a write-only attribute cannot be computed (nor have a default): Terraform "
                "keeps no value of it for the provider to fill in"
            )

    def cty_type(self) -> ct.CtyType:
        if self.nested is not None:
            return self.nested.cty_type()
        assert self.type is not None
        return self.type

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT


class BlockNesting(enum.Enum):
    SINGLE = "single"
    LIST = "list"
    SET = "set"
    MAP = "map"
    GROUP = "group"


@dataclass(frozen=True)
class Block:
    attributes: Mapping[str, Attribute] = field(default_factory=dict)
    blocks: Mapping[str, NestedBlock] = field(default_factory=dict)
    description: str = ""
    deprecation_message: str = ""

    def is_sensitive_path(self, path: AttributePath) -> bool:
        """Whether ``path`` is a sensitive attribute or lies inside one (in nested blocks
        and nested attributes too)."""
        attributes, blocks = self.attributes, self.blocks
        steps = list(path)
        i = 0
        while i < len(steps):
            step = steps[i]
            name = getattr(step, "name", None)
            if name is None:  # an index or key into a collection: look through it
                i += 1
                continue
            if name in attributes:
                attr = attributes[name]
                if attr.sensitive:
                    return True
                if attr.nested is None:
                    return False
                attributes, blocks = attr.nested.attributes, {}
            elif name in blocks:
                inner = blocks[name].block
                attributes, blocks = inner.attributes, inner.blocks
            else:
                return False
            i += 1
        return False

    def write_only_paths(self, inside_set: bool = False) -> list[tuple[str, ...]]:
        """The attribute names leading to every write-only attribute (nested ones too).
        ValueError for one inside a set: its elements cannot be aligned with the
        configuration's to be filled in and emptied."""
        found: list[tuple[str, ...]] = []
        nested: list[tuple[str, Block, bool]] = []
        for name, attr in self.attributes.items():
            if attr.write_only:
                if inside_set:
                    raise ValueError(f"write-only attribute {name!r} is inside a set")
                found.append((name,))
            if attr.nested is not None:
                in_set = inside_set or attr.nested.nesting is Nesting.SET
                nested.append((name, Block(attributes=attr.nested.attributes), in_set))
        for name, nb in self.blocks.items():
            nested.append((name, nb.block, inside_set or nb.nesting is BlockNesting.SET))
        for name, block, in_set in nested:
            found.extend((name, *p) for p in block.write_only_paths(in_set))
        return found

    def cty_type(self) -> ct.CtyType:
        attrs: dict[str, ct.CtyType] = {k: a.cty_type() for k, a in self.attributes.items()}
        for name, nb in self.blocks.items():
            attrs[name] = nb.cty_type()
        return ct.Object(attrs)


@dataclass(frozen=True)
class NestedBlock:
    block: Block
    nesting: BlockNesting = BlockNesting.LIST
    min_items: int = 0
    max_items: int = 0

    def cty_type(self) -> ct.CtyType:
        return _nested_type(self.block.cty_type(), self.nesting)


@dataclass(frozen=True)
class Schema:
    """A resource, data source or provider schema."""

    attributes: Mapping[str, Attribute] = field(default_factory=dict)
    blocks: Mapping[str, NestedBlock] = field(default_factory=dict)
    description: str = ""
    version: int = 0
    deprecation_message: str = ""

    @property
    def block(self) -> Block:
        return Block(self.attributes, self.blocks, self.description, self.deprecation_message)

    def cty_type(self) -> ct.CtyType:
        return self.block.cty_type()

    @functools.cached_property
    def has_write_only(self) -> bool:
        """Whether any attribute is write-only (the engine's write-only steps run only then)."""
        return bool(self.block.write_only_paths())

    def sensitive_paths(self) -> list[AttributePath]:
        return [AttributePath.root().attr(k) for k, a in self.attributes.items() if a.sensitive]
