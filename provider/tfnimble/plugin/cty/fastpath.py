"""Per-type compiled conform and msgpack codec: the common case without the generic walk.

:func:`.values.conform`, :func:`.msgpack.decode` and :func:`.msgpack.encode` run on every
value of every RPC. Their
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
from typing import Any

from . import types as ct
from .path import AttributePath, CtyError

Fn = Callable[[Any], Any]

_ROOT = AttributePath.root()


class Slow(Exception):
    """The fast path does not handle this value: run the generic form."""


def _give_up() -> Any:
    raise Slow


class _Cache:
    """Compiled functions by type. Schema types are built once and asked for on every RPC,
    so they are found by identity before equality (hashing a large object type walks it)."""

    def __init__(self, build: Callable[[ct.CtyType], Fn]) -> None:
        self._build = build
        self._by_id: dict[int, tuple[ct.CtyType, Fn]] = {}
        self._by_type: dict[ct.CtyType, Fn] = {}

    def get(self, ty: ct.CtyType) -> Fn:
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


# --------------------------------------------------------------------------- conform


def _conformer(ty: ct.CtyType) -> Fn:
    from .values import Unknown, _conform, _conform_unknown, _dedup, _nfc

    def unknown(u: Unknown) -> Unknown:
        try:
            return _conform_unknown(u, ty, _ROOT)
        except CtyError:
            raise Slow from None

    if isinstance(ty, ct.DynamicPseudoType) or not isinstance(
        ty, ct.PrimitiveType | ct.List | ct.Set | ct.Map | ct.Tuple | ct.Object
    ):

        def generic(v: Any) -> Any:
            if v is None:
                return None
            try:
                return _conform(v, ty, _ROOT)
            except CtyError:
                raise Slow from None

        return generic
    if ty == ct.String:

        def string(v: Any) -> Any:
            if type(v) is str:
                return _nfc(v)
            if v is None:
                return None
            return unknown(v) if isinstance(v, Unknown) else _give_up()

        return string
    if ty == ct.Number:

        def number(v: Any) -> Any:
            t = type(v)
            if t is int or (t is float and not math.isnan(v)):
                return v
            if v is None:
                return None
            return unknown(v) if isinstance(v, Unknown) else _give_up()

        return number
    if ty == ct.Bool:

        def boolean(v: Any) -> Any:
            if type(v) is bool or v is None:
                return v
            return unknown(v) if isinstance(v, Unknown) else _give_up()

        return boolean
    if isinstance(ty, ct.Object):
        names = frozenset(ty.attributes)
        items = [(k, CONFORMERS.get(t)) for k, t in ty.attribute_items]

        def obj(v: Any) -> Any:
            if type(v) is dict:
                if not v.keys() <= names:
                    _give_up()
                get = v.get
                return {k: f(get(k)) for k, f in items}
            if v is None:
                return None
            return unknown(v) if isinstance(v, Unknown) else _give_up()

        return obj
    if isinstance(ty, ct.Map):
        elem = CONFORMERS.get(ty.element)

        def mapping(v: Any) -> Any:
            if type(v) is dict:
                out = {}
                for k, e in v.items():
                    if type(k) is not str:
                        _give_up()
                    out[k] = elem(e)
                return out
            if v is None:
                return None
            return unknown(v) if isinstance(v, Unknown) else _give_up()

        return mapping
    if isinstance(ty, ct.Tuple):
        fns = [CONFORMERS.get(t) for t in ty.elements]

        def tup(v: Any) -> Any:
            if type(v) is list and len(v) == len(fns):
                return [f(e) for f, e in zip(fns, v, strict=True)]
            if v is None:
                return None
            return unknown(v) if isinstance(v, Unknown) else _give_up()

        return tup
    assert isinstance(ty, ct.List | ct.Set)
    elem = CONFORMERS.get(ty.element)
    is_set = isinstance(ty, ct.Set)
    ety = ty.element

    def sequence(v: Any) -> Any:
        if type(v) is list:
            out = [elem(e) for e in v]
            return _dedup(out, ety) if is_set else out
        if v is None:
            return None
        return unknown(v) if isinstance(v, Unknown) else _give_up()

    return sequence


CONFORMERS = _Cache(_conformer)


# --------------------------------------------------------------------------- msgpack decode


def _decoder(ty: ct.CtyType) -> Fn:
    from .msgpack import _decode_unknown, _Ext, _from_wire
    from .values import _nfc

    def unknown(ext: Any) -> Any:
        try:
            return _decode_unknown(ext, ty, _ROOT)
        except CtyError:
            raise Slow from None

    if isinstance(ty, ct.DynamicPseudoType) or not isinstance(
        ty, ct.PrimitiveType | ct.List | ct.Set | ct.Map | ct.Tuple | ct.Object
    ):

        def generic(raw: Any) -> Any:
            try:
                return _from_wire(raw, ty, _ROOT)
            except CtyError:
                raise Slow from None

        return generic
    if ty == ct.String:

        def string(raw: Any) -> Any:
            if type(raw) is str:
                return _nfc(raw)
            if raw is None:
                return None
            return unknown(raw) if type(raw) is _Ext else _give_up()

        return string
    if ty == ct.Number:

        def number(raw: Any) -> Any:
            t = type(raw)
            if t is int or (t is float and not math.isnan(raw)):
                return raw
            if raw is None:
                return None
            return unknown(raw) if t is _Ext else _give_up()

        return number
    if ty == ct.Bool:

        def boolean(raw: Any) -> Any:
            if type(raw) is bool or raw is None:
                return raw
            return unknown(raw) if type(raw) is _Ext else _give_up()

        return boolean
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
            if raw is None:
                return None
            return unknown(raw) if type(raw) is _Ext else _give_up()

        return obj
    if isinstance(ty, ct.Map):
        elem = DECODERS.get(ty.element)

        def mapping(raw: Any) -> Any:
            if type(raw) is dict:
                out = {}
                for k, e in raw.items():
                    if type(k) is not str:
                        _give_up()
                    out[k] = elem(e)
                return out
            if raw is None:
                return None
            return unknown(raw) if type(raw) is _Ext else _give_up()

        return mapping
    if isinstance(ty, ct.Tuple):
        tfns = [DECODERS.get(t) for t in ty.elements]

        def tup(raw: Any) -> Any:
            if type(raw) is list and len(raw) == len(tfns):
                return [f(e) for f, e in zip(tfns, raw, strict=True)]
            if raw is None:
                return None
            return unknown(raw) if type(raw) is _Ext else _give_up()

        return tup
    assert isinstance(ty, ct.List | ct.Set)
    elem = DECODERS.get(ty.element)
    conform_set = CONFORMERS.get(ty) if isinstance(ty, ct.Set) else None

    def sequence(raw: Any) -> Any:
        if type(raw) is list:
            out = [elem(e) for e in raw]
            return conform_set(out) if conform_set is not None else out
        if raw is None:
            return None
        return unknown(raw) if type(raw) is _Ext else _give_up()

    return sequence


DECODERS = _Cache(_decoder)


# --------------------------------------------------------------------------- msgpack encode


def _encoder(ty: ct.CtyType) -> Fn:
    """Wire form of a value conform() has returned (so of the right shape already)."""
    from .msgpack import _INT64_MAX, _INT64_MIN, _to_wire, _unknown_to_wire, number_to_wire
    from .values import Unknown

    if isinstance(ty, ct.DynamicPseudoType) or not isinstance(
        ty, ct.PrimitiveType | ct.List | ct.Set | ct.Map | ct.Tuple | ct.Object
    ):

        def generic(v: Any) -> Any:
            try:
                return _to_wire(v, ty, _ROOT)
            except CtyError:
                raise Slow from None

        return generic
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


ENCODERS = _Cache(_encoder)
