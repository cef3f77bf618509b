"""Per-type compiled conform and msgpack codec: the common case without the generic walk.

:func:`.values.conform`, :func:`.values.values_equal`, :func:`.msgpack.decode`,
:func:`.msgpack.encode` and (state upgrades) :func:`.json.decode` run on every value of every
RPC. Their
generic forms dispatch on the type at every position and build an attribute path for every
attribute, whether or not anything is wrong. Here each type is compiled once into a tree of
small functions that handle the values a well-behaved Terraform sends and a resource returns
(dicts, lists, str, int, float, bool, None and unknowns) and give up, raising :class:`Slow`,
at anything else. The caller then runs the generic form on the whole value from the root,
which produces exactly the result or the error (with its path) it always did: the fast path
only ever decides what the generic form would decide the same way, so the two cannot
disagree on an answer, only on how long it takes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from . import types as ct
from .path import AttributePath, CtyError

Fn = Callable[[Any], Any]
F = TypeVar("F", bound=Callable[..., Any])

_ROOT = AttributePath.root()


class Slow(Exception):
    """The fast path does not handle this value: run the generic form."""


def _give_up() -> Any:
    raise Slow


def _or_slow(fn: Callable[[Any], Any]) -> Fn:
    """`fn` with its CtyError turned into Slow (the generic form then says it, with its path)."""

    def run(v: Any) -> Any:
        try:
            return fn(v)
        except CtyError:
            raise Slow from None

    return run


def _specialized(ty: ct.CtyType) -> bool:
    """Whether the type gets its own fast function (Dynamic goes to the generic form)."""
    return not isinstance(ty, ct.DynamicPseudoType) and isinstance(
        ty, ct.PrimitiveType | ct.List | ct.Set | ct.Map | ct.Tuple | ct.Object
    )


def _rest(unknown: Fn, is_unknown: Callable[[Any], bool]) -> Fn:
    """What every fast function does with a value that is not its common case: null stays
    null, an unknown is interpreted by `unknown`, anything else goes to the generic form."""

    def rest(v: Any) -> Any:
        if v is None:
            return None
        return unknown(v) if is_unknown(v) else _give_up()

    return rest


class _Cache(Generic[F]):
    """Compiled functions by type. Schema types are built once and asked for on every RPC,
    so they are found by identity before equality (hashing a large object type walks it)."""

    def __init__(self, build: Callable[[ct.CtyType], F]) -> None:
        self._build = build
        self._by_id: dict[int, tuple[ct.CtyType, F]] = {}
        self._by_type: dict[ct.CtyType, F] = {}

    def get(self, ty: ct.CtyType) -> F:
        hit = self._by_id.get(id(ty))
        if hit is not None and hit[0] is ty:
            return hit[1]
        fn = self._by_type.get(ty)
        if fn is None:
            fn = self._build(ty)
            if len(self._by_type) < 1024:  # types from odd input must not grow this forever
                self._by_type[ty] = fn
        if len(self._by_id) < 1024:
            self._by_id[id(ty)] = (ty, fn)  # the reference keeps the id from being reused
        return fn


def _shared(ty: ct.CtyType, cache: _Cache[Fn], rest: Fn) -> Fn | None:
    """The fast function of a string, number, bool, map or tuple type: conform and decode
    treat these alike (a decoded string is NFC-normalized as conform does); None for an
    object, list or set type."""
    from .values import _nfc

    if ty == ct.String:

        def string(v: Any) -> Any:
            if type(v) is str:
                return v if v.isascii() else _nfc(v)  # ASCII is NFC already
            return rest(v)

        return string
    if ty == ct.Number:

        def number(v: Any) -> Any:
            t = type(v)
            if t is int or (t is float and not math.isnan(v)):
                return v
            return rest(v)

        return number
    if ty == ct.Bool:

        def boolean(v: Any) -> Any:
            return v if type(v) is bool else rest(v)

        return boolean
    if isinstance(ty, ct.Map):
        elem = cache.get(ty.element)

        def mapping(v: Any) -> Any:
            if type(v) is dict:
                out = {}
                for k, e in v.items():
                    if type(k) is not str:
                        _give_up()
                    out[k] = elem(e)
                return out
            return rest(v)

        return mapping
    if isinstance(ty, ct.Tuple):
        fns = [cache.get(t) for t in ty.elements]

        def tup(v: Any) -> Any:
            if type(v) is list and len(v) == len(fns):
                return [f(e) for f, e in zip(fns, v, strict=True)]
            return rest(v)

        return tup
    return None


def _sequence(elem: Fn, finish: Fn | None, rest: Fn) -> Fn:
    """A list's or set's fast function: each element by `elem`, then (a set) `finish`."""

    def sequence(v: Any) -> Any:
        if type(v) is list:
            out = [elem(e) for e in v]
            return out if finish is None else finish(out)
        return rest(v)

    return sequence


# --------------------------------------------------------------------------- conform


def _conformer(ty: ct.CtyType) -> Fn:
    from .values import Unknown, _conform, _conform_unknown, _dedup

    if not _specialized(ty):
        return _or_slow(lambda v: _conform(v, ty, _ROOT))
    rest = _rest(
        _or_slow(lambda u: _conform_unknown(u, ty, _ROOT)), lambda v: isinstance(v, Unknown)
    )
    shared = _shared(ty, CONFORMERS, rest)
    if shared is not None:
        return shared
    if isinstance(ty, ct.Object):
        names = frozenset(ty.attributes)
        items = [(k, CONFORMERS.get(t)) for k, t in ty.attribute_items]

        def obj(v: Any) -> Any:
            if type(v) is dict:
                if not v.keys() <= names:
                    _give_up()
                get = v.get
                return {k: f(get(k)) for k, f in items}
            return rest(v)

        return obj
    assert isinstance(ty, ct.List | ct.Set)
    ety = ty.element
    dedup = (lambda out: _dedup(out, ety)) if isinstance(ty, ct.Set) else None
    return _sequence(CONFORMERS.get(ety), dedup, rest)


CONFORMERS: _Cache[Fn] = _Cache(_conformer)


# --------------------------------------------------------------------------- msgpack decode


def _decoder(ty: ct.CtyType) -> Fn:
    from .msgpack import _decode_unknown, _Ext, _from_wire

    if not _specialized(ty):
        return _or_slow(lambda raw: _from_wire(raw, ty, _ROOT))
    rest = _rest(_or_slow(lambda ext: _decode_unknown(ext, ty, _ROOT)), lambda r: type(r) is _Ext)
    shared = _shared(ty, DECODERS, rest)
    if shared is not None:
        return shared
    if isinstance(ty, ct.Object):
        attrs = ty.attributes
        fns = {k: DECODERS.get(t) for k, t in ty.attribute_items}
        required = frozenset(attrs) - ty.optional
        order = list(attrs)

        def obj(raw: Any) -> Any:
            if type(raw) is dict:
                if not raw.keys() <= fns.keys() or not required <= raw.keys():
                    _give_up()
                got = {k: fns[k](e) for k, e in raw.items()}
                get = got.get
                return {k: get(k) for k in order}
            return rest(raw)

        return obj
    assert isinstance(ty, ct.List | ct.Set)
    conform_set = CONFORMERS.get(ty) if isinstance(ty, ct.Set) else None
    return _sequence(DECODERS.get(ty.element), conform_set, rest)


DECODERS: _Cache[Fn] = _Cache(_decoder)


# --------------------------------------------------------------------------- msgpack encode


def _encoder(ty: ct.CtyType) -> Fn:
    """Wire form of a value conform() has returned (so of the right shape already)."""
    from .msgpack import _INT64_MAX, _INT64_MIN, _to_wire, _unknown_to_wire, number_to_wire
    from .values import Unknown

    if not _specialized(ty):
        return _or_slow(lambda v: _to_wire(v, ty, _ROOT))
    if ty == ct.Number:

        def number(v: Any) -> Any:
            if type(v) is int and _INT64_MIN <= v <= _INT64_MAX:
                return v
            if v is None:
                return None
            if isinstance(v, Unknown):
                return _unknown_to_wire(v, ty)
            try:
                return number_to_wire(v)
            except (TypeError, ValueError):
                raise Slow from None

        return number
    if isinstance(ty, ct.PrimitiveType):

        def primitive(v: Any) -> Any:
            return _unknown_to_wire(v, ty) if isinstance(v, Unknown) else v

        return primitive
    if isinstance(ty, ct.Object):
        items = [(k, ENCODERS.get(t)) for k, t in ty.attribute_items]

        def obj(v: Any) -> Any:
            if type(v) is dict:
                get = v.get
                return {k: f(get(k)) for k, f in items}
            return _unknown_to_wire(v, ty) if isinstance(v, Unknown) else v

        return obj
    if isinstance(ty, ct.Map):
        melem = ENCODERS.get(ty.element)

        def mapping(v: Any) -> Any:
            if type(v) is dict:
                return {k: melem(v[k]) for k in sorted(v)}
            return _unknown_to_wire(v, ty) if isinstance(v, Unknown) else v

        return mapping
    if isinstance(ty, ct.Tuple):
        tfns = [ENCODERS.get(t) for t in ty.elements]

        def tup(v: Any) -> Any:
            if type(v) is list:
                return [f(e) for f, e in zip(tfns, v, strict=False)]
            return _unknown_to_wire(v, ty) if isinstance(v, Unknown) else v

        return tup
    assert isinstance(ty, ct.List | ct.Set)
    elem = ENCODERS.get(ty.element)

    def sequence(v: Any) -> Any:
        if type(v) is list:
            return [elem(e) for e in v]
        return _unknown_to_wire(v, ty) if isinstance(v, Unknown) else v

    return sequence


ENCODERS: _Cache[Fn] = _Cache(_encoder)


# --------------------------------------------------------------------------- equality

Eq = Callable[[Any, Any], bool]


def _equality(ty: ct.CtyType) -> Eq:
    """`values_equal` for one type: the common shapes (str, int, bool, dicts, lists) compared
    directly, anything else (nulls, unknowns, floats, sets, dynamic values, odd input) by the
    generic form, position by position, so the answer is always the generic one."""
    from .values import _equal

    def generic(a: Any, b: Any) -> bool:
        return _equal(a, b, ty)

    if ty == ct.String:
        return lambda a, b: a == b if type(a) is str and type(b) is str else generic(a, b)
    if ty == ct.Number:
        return lambda a, b: a == b if type(a) is int and type(b) is int else generic(a, b)
    if ty == ct.Bool:
        return lambda a, b: a == b if type(a) is bool and type(b) is bool else generic(a, b)
    if isinstance(ty, ct.Object):
        names = frozenset(ty.attributes)
        items = [(k, EQUALS.get(t)) for k, t in ty.attribute_items]

        def obj(a: Any, b: Any) -> bool:
            if type(a) is not dict or type(b) is not dict:
                return generic(a, b)
            if not (a.keys() <= names and b.keys() <= names):
                return False
            get_a, get_b = a.get, b.get
            for k, eq in items:  # noqa: SIM110 (a loop: faster than all() over a generator)
                if not eq(get_a(k), get_b(k)):
                    return False
            return True

        return obj
    if isinstance(ty, ct.List | ct.Map):
        elem = EQUALS.get(ty.element)
        kind: Any = list if isinstance(ty, ct.List) else dict

        def collection(a: Any, b: Any) -> bool:
            if type(a) is not kind or type(b) is not kind:
                return generic(a, b)
            if kind is list:
                return len(a) == len(b) and all(map(elem, a, b))
            return a.keys() == b.keys() and all(elem(a[k], b[k]) for k in a)

        return collection
    return generic


EQUALS: _Cache[Eq] = _Cache(_equality)


# --------------------------------------------------------------------------- state JSON decode


def _is_plain_int(token: str) -> bool:
    """A JSON integer token that int() reads as cty would (short, ASCII digits, no -0)."""
    digits = token[1:] if token[:1] == "-" else token
    return len(token) < 19 and digits.isascii() and digits.isdigit() and token != "-0"


def _json_state_decoder(ty: ct.CtyType) -> Fn:
    """From what :func:`.json._loads` returns to a value, attributes not in the type dropped
    (:func:`.json.decode` with ``ignore_unknown_attributes``, as state upgrades read)."""
    from .json import _JsonNumber
    from .values import _nfc

    def rest(raw: Any) -> Any:
        return None if raw is None else _give_up()

    if not _specialized(ty) or isinstance(ty, ct.Tuple):
        return rest
    if ty == ct.String:
        return lambda raw: (raw if raw.isascii() else _nfc(raw)) if type(raw) is str else rest(raw)
    if ty == ct.Number:
        return lambda raw: (
            int(raw) if type(raw) is _JsonNumber and _is_plain_int(raw) else rest(raw)
        )
    if ty == ct.Bool:
        return lambda raw: raw if type(raw) is bool else rest(raw)
    if isinstance(ty, ct.Object):
        fns = {k: JSON_STATE_DECODERS.get(t) for k, t in ty.attribute_items}
        order = list(ty.attributes)

        def obj(raw: Any) -> Any:
            if type(raw) is not dict:
                return rest(raw)
            got = {k: fns[k](e) for k, e in raw.items() if k in fns}
            get = got.get
            return {k: get(k) for k in order}

        return obj
    assert isinstance(ty, ct.List | ct.Set | ct.Map)
    elem = JSON_STATE_DECODERS.get(ty.element)
    if isinstance(ty, ct.Map):
        return lambda raw: {k: elem(e) for k, e in raw.items()} if type(raw) is dict else rest(raw)
    conform_set = CONFORMERS.get(ty) if isinstance(ty, ct.Set) else None
    return _sequence(elem, conform_set, rest)


JSON_STATE_DECODERS: _Cache[Fn] = _Cache(_json_state_decoder)
