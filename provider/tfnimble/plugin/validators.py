"""Reusable attribute validators: each returns diagnostics naming the attribute path."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .cty.numbers import is_finite_number, is_whole_number
from .cty.path import AttributePath
from .diagnostics import Diagnostic, Severity
from .schema import Validator


def _err(path: AttributePath, summary: str, detail: str) -> list[Diagnostic]:
    return [Diagnostic(Severity.ERROR, summary, detail, path)]


def string_length(min_len: int = 0, max_len: int | None = None) -> Validator:
    def check(value: Any, path: AttributePath) -> Sequence[Diagnostic]:
        if len(value) < min_len or (max_len is not None and len(value) > max_len):
            bound = f"between {min_len} and {max_len}" if max_len else f"at least {min_len}"
            return _err(
                path,
                "Invalid Attribute Value Length",
                f"{path} must be {bound} characters long, got {len(value)}.",
            )
        return []

    return check


def matches(pattern: str, explanation: str) -> Validator:
    rx = re.compile(pattern)

    def check(value: Any, path: AttributePath) -> Sequence[Diagnostic]:
        if not rx.fullmatch(value):
            return _err(path, "Invalid Attribute Value", f"{path} {explanation}; got {value!r}.")
        return []

    return check


def one_of(*allowed: Any) -> Validator:
    def check(value: Any, path: AttributePath) -> Sequence[Diagnostic]:
        if value not in allowed:
            choices = ", ".join(repr(a) for a in allowed)
            return _err(
                path, "Invalid Attribute Value", f"{path} must be one of {choices}; got {value!r}."
            )
        return []

    return check


def _shown(value: Any) -> str:
    """A number as the user may read it back: short, whatever its size."""
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def int_between(low: int | None = None, high: int | None = None) -> Validator:
    """A whole number within [low, high]. Bounds are compared before anything converts the
    value, and infinities are refused, so a huge or non-finite number costs nothing."""

    def check(value: Any, path: AttributePath) -> Sequence[Diagnostic]:
        if (
            not is_finite_number(value)
            or (low is not None and value < low)
            or (high is not None and value > high)
            or not is_whole_number(value)
        ):
            lo = "" if low is None else f"at least {low}"
            hi = "" if high is None else f"at most {high}"
            rng = " and ".join(x for x in (lo, hi) if x)
            return _err(
                path,
                "Invalid Attribute Value",
                f"{path} must be a whole number {rng}; got {_shown(value)}.",
            )
        return []

    return check
