"""Hypothesis strategies for cty types and values (shared by the test_cty_* modules)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from tfnimble.plugin.cty import (
    UNKNOWN,
    Bool,
    CollectionType,
    CtyType,
    Dynamic,
    DynamicPseudoType,
    DynamicValue,
    List,
    Map,
    Number,
    Object,
    Set,
    String,
    Tuple,
    Unknown,
    conform,
    walk,
)

names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=6
)
attr_names = st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True)

primitive_types = st.sampled_from([String, Number, Bool])


def _extend(children: st.SearchStrategy[CtyType]) -> st.SearchStrategy[CtyType]:
    return st.one_of(
        children.map(List),
        children.map(Set),
        children.map(Map),
        st.lists(children, max_size=3).map(Tuple),
        st.dictionaries(attr_names, children, max_size=4).flatmap(
            lambda attrs: st.sets(st.sampled_from(sorted(attrs)) if attrs else st.nothing()).map(
                lambda opt: Object(attrs, frozenset(opt))
            )
        ),
    )


cty_types: st.SearchStrategy[CtyType] = st.recursive(
    st.one_of(primitive_types, st.just(Dynamic)), _extend, max_leaves=6
)
concrete_types: st.SearchStrategy[CtyType] = st.recursive(primitive_types, _extend, max_leaves=6)

numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=True),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, min_value=-(10**20), max_value=10**20
    ),
)
finite_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, min_value=-(10**20), max_value=10**20
    ),
)
strings = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)


def refined_unknowns(ty: CtyType) -> st.SearchStrategy[Unknown]:
    """Unknowns whose refinements survive a msgpack round trip exactly."""
    if isinstance(ty, DynamicPseudoType):
        return st.just(UNKNOWN)
    nn = st.booleans()
    if ty == String:
        return st.builds(
            Unknown, not_null=nn, string_prefix=st.one_of(st.none(), strings.filter(bool))
        )
    if ty == Number:
        bound = st.one_of(st.none(), st.tuples(st.integers(-(10**6), 10**6), st.booleans()))
        return st.builds(Unknown, not_null=nn, number_lower=bound, number_upper=bound)
    if isinstance(ty, CollectionType):
        return st.builds(
            Unknown,
            not_null=nn,
            length_lower=st.one_of(st.none(), st.integers(1, 100)),
            length_upper=st.one_of(st.none(), st.integers(0, 100)),
        )
    return st.builds(Unknown, not_null=nn)


def values_of(
    ty: CtyType, *, unknowns: bool = True, infinities: bool = True, nulls: bool = True
) -> st.SearchStrategy[Any]:
    """A strategy for raw (not yet conformed) values of type ``ty``."""
    kw = {"unknowns": unknowns, "infinities": infinities, "nulls": nulls}
    if isinstance(ty, DynamicPseudoType):
        known: st.SearchStrategy[Any] = concrete_types.flatmap(
            lambda t: values_of(t, **kw).map(lambda v: DynamicValue(t, v))
        )
    elif ty == String:
        known = strings
    elif ty == Number:
        known = numbers if infinities else finite_numbers
    elif ty == Bool:
        known = st.booleans()
    elif isinstance(ty, List | Set):
        known = st.lists(values_of(ty.element, **kw), max_size=3)
    elif isinstance(ty, Map):
        known = st.dictionaries(names, values_of(ty.element, **kw), max_size=3)
    elif isinstance(ty, Tuple):
        known = st.tuples(*(values_of(t, **kw) for t in ty.elements)).map(list)
    elif isinstance(ty, Object):
        known = st.fixed_dictionaries(
            {k: values_of(t, **kw) for k, t in ty.attribute_items if k not in ty.optional},
            optional={k: values_of(t, **kw) for k, t in ty.attribute_items if k in ty.optional},
        )
    else:  # pragma: no cover
        raise AssertionError(ty)
    options = [known, known]
    if nulls:
        options.append(st.none())
    if unknowns:
        options.append(refined_unknowns(ty))
    return st.one_of(*options)


typed_values = cty_types.flatmap(lambda t: st.tuples(st.just(t), values_of(t)))
known_typed_values = cty_types.flatmap(
    lambda t: st.tuples(st.just(t), values_of(t, unknowns=False, infinities=False))
)


def unknowns_in(value: Any, ty: CtyType) -> list[tuple[str, Unknown]]:
    """Every unknown inside a conformed value, with its path, sorted by path."""
    out: list[tuple[str, Unknown]] = []

    def visit(path: Any, v: Any, t: CtyType) -> None:
        if isinstance(v, Unknown):
            out.append((str(path), v))

    walk(conform(value, ty), ty, visit)
    return sorted(out, key=lambda pu: pu[0])


__all__ = [
    "concrete_types",
    "cty_types",
    "known_typed_values",
    "typed_values",
    "unknowns_in",
    "values_of",
]
