"""cty numbers: which Python values are numbers, their canonical form, and cty equality.

A cty number is arbitrary-precision. In Python it is an ``int``, a ``float`` (including
+/-inf, never NaN) or, for a value that is neither integral nor exactly a float64, a
``decimal.Decimal``. Two numbers are equal in cty when their shortest decimal renderings
(:func:`format_number`) are equal.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

__all__ = [
    "NumberValue",
    "format_number",
    "is_finite_number",
    "is_number",
    "is_whole_number",
    "normalize_number",
    "number_key",
]

NumberValue = int | float | Decimal

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
# Decimals whose integer part has more digits than this stay Decimal (int() of
# 1E+999999999 would try to allocate gigabytes).
_MAX_INT_DIGITS = 4000


def is_number(v: Any) -> bool:
    """Whether ``v`` is a valid Python representation of a cty number."""
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    if isinstance(v, float):
        return not math.isnan(v)
    if isinstance(v, Decimal):
        return not v.is_nan()
    return False


def is_finite_number(v: Any) -> bool:
    """Whether ``v`` is a number that is neither infinite nor NaN (cheap for any size)."""
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, Decimal):
        return v.is_finite()
    return is_number(v)


def is_whole_number(v: Any) -> bool:
    """Whether ``v`` is a finite number without a fractional part, decided without
    converting it (``int(Decimal("1e999999"))`` would take most of a minute)."""
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    if isinstance(v, float):
        return math.isfinite(v) and v.is_integer()
    if isinstance(v, Decimal):
        return _decimal_is_integral(v)
    return False


def _decimal_is_integral(d: Decimal) -> bool:
    if not d.is_finite():
        return False
    _, digits, exp = d.as_tuple()
    assert isinstance(exp, int)
    if exp >= 0:
        return True
    return all(x == 0 for x in digits[exp:])


def normalize_number(n: NumberValue) -> NumberValue:
    """Canonical Python form of a number: integral -> int; Decimal exactly representable
    as float64 -> float; other Decimals unchanged; infinities -> float."""
    if isinstance(n, bool):
        raise TypeError("bool is not a number")
    if isinstance(n, int):
        return n
    if isinstance(n, float):
        if math.isfinite(n) and n.is_integer() and _INT64_MIN <= n <= _INT64_MAX:
            return int(n)
        return n
    if isinstance(n, Decimal):
        if n.is_infinite():
            return math.inf if n > 0 else -math.inf
        if n.is_nan():
            raise ValueError("NaN is not a valid number")
        if _decimal_is_integral(n) and n.adjusted() < _MAX_INT_DIGITS:
            return int(n)
        f = float(n)
        if math.isfinite(f) and Decimal(f) == n:
            return f
        return n
    raise TypeError(f"not a number: {n!r}")


def format_number(n: NumberValue) -> str:
    """A finite number in plain decimal notation -- what cty's ``big.Float.Text('f', -1)``
    produces. Non-integral floats use their shortest round-trip digits (``0.1`` -> "0.1"),
    integral floats their exact value (``1e22`` -> "10000000000000000000000"; cty would
    round a float64's digits beyond 2**53, we keep the exact value so the msgpack and JSON
    codecs agree).

    Two numbers are equal in cty exactly when this rendering is equal."""
    if isinstance(n, bool):
        raise TypeError("bool is not a number")
    if isinstance(n, int):
        return format(Decimal(n), "f") if abs(n) >= 10**4000 else str(n)
    if isinstance(n, float):
        if not math.isfinite(n):
            raise ValueError("infinity and NaN have no decimal representation")
        if n.is_integer():
            return format_number(int(n))
        n = Decimal(repr(n))
    if not isinstance(n, Decimal):
        raise TypeError(f"not a number: {n!r}")
    if not n.is_finite():
        raise ValueError("infinity and NaN have no decimal representation")
    text = format(n, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def number_key(n: NumberValue) -> int | float | Decimal:
    """A hashable key with cty's number equality: ``number_key(a) == number_key(b)`` iff
    cty considers ``a`` and ``b`` equal (same shortest decimal rendering; so the float
    ``0.1`` equals ``Decimal("0.1")``; integral floats compare by their exact value)."""
    if isinstance(n, float):
        if not math.isfinite(n):
            return n
        if n.is_integer():
            return int(n)
        return Decimal(repr(n))
    if isinstance(n, Decimal) and n.is_infinite():
        return math.inf if n > 0 else -math.inf
    return n
