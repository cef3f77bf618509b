"""Attribute paths into cty values (Terraform's ``cty.Path``).

A path is an immutable tuple of steps:

* :class:`AttrStep` -- an object attribute (``.name``)
* :class:`KeyStep` -- a map key (``["key"]``)
* :class:`IndexStep` -- a list/tuple index, or a set element's position (``[0]``)

``str(path)`` renders like Terraform does in diagnostics (``a.b[0]["k"]``) and
:meth:`AttributePath.parse` reads that syntax back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import total_ordering
from typing import Any


@dataclass(frozen=True, order=True)
class AttrStep:
    """Select the attribute ``name`` of an object."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclass(frozen=True, order=True)
class KeyStep:
    """Select the element with string key ``key`` of a map."""

    key: str

    def __str__(self) -> str:
        return f"[{json.dumps(self.key, ensure_ascii=False)}]"


@dataclass(frozen=True, order=True)
class IndexStep:
    """Select the element at ``index`` of a list or tuple (or a set's position)."""

    index: int

    def __str__(self) -> str:
        return f"[{self.index}]"


Step = AttrStep | KeyStep | IndexStep


def _step_key(step: Step) -> tuple[int, Any]:
    if isinstance(step, AttrStep):
        return (0, step.name)
    if isinstance(step, KeyStep):
        return (1, step.key)
    return (2, step.index)


@total_ordering
@dataclass(frozen=True, eq=True)
class AttributePath:
    """An immutable path from the root of a value to one of its nested values."""

    steps: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        for s in steps:
            if not isinstance(s, AttrStep | KeyStep | IndexStep):
                raise TypeError(f"invalid path step {s!r}")
        object.__setattr__(self, "steps", steps)

    # -- construction ---------------------------------------------------------

    @classmethod
    def root(cls) -> AttributePath:
        return _ROOT

    # The codecs and conform() extend a path at every attribute of every value they visit:
    # these skip __init__'s checks (the new step is valid by construction).

    def attr(self, name: str) -> AttributePath:
        step = _ATTR_STEPS.get(name)
        if step is None:
            step = AttrStep(name)
            if len(_ATTR_STEPS) < 4096:  # schema names repeat; bound what odd input adds
                _ATTR_STEPS[name] = step
        return _extended(self.steps, step)

    def key(self, key: str) -> AttributePath:
        return _extended(self.steps, KeyStep(key))

    def index(self, index: int) -> AttributePath:
        return _extended(self.steps, IndexStep(index))

    def append(self, step: Step) -> AttributePath:
        if not isinstance(step, AttrStep | KeyStep | IndexStep):
            raise TypeError(f"invalid path step {step!r}")
        return _extended(self.steps, step)

    def __add__(self, other: object) -> AttributePath:
        if isinstance(other, AttributePath):
            return AttributePath(self.steps + other.steps)
        return NotImplemented

    @property
    def parent(self) -> AttributePath:
        """The path without its last step (the root's parent is the root)."""
        return AttributePath(self.steps[:-1])

    @property
    def last(self) -> Step | None:
        return self.steps[-1] if self.steps else None

    def is_root(self) -> bool:
        return not self.steps

    def startswith(self, prefix: AttributePath) -> bool:
        return self.steps[: len(prefix.steps)] == prefix.steps

    # -- container protocol ---------------------------------------------------

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __getitem__(self, i: int) -> Step:
        return self.steps[i]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, AttributePath):
            return NotImplemented
        return [_step_key(s) for s in self.steps] < [_step_key(s) for s in other.steps]

    # -- rendering ------------------------------------------------------------

    def __str__(self) -> str:
        out = "".join(str(s) for s in self.steps)
        return out[1:] if out.startswith(".") else out

    def __repr__(self) -> str:
        return f"AttributePath({str(self)!r})"

    _TOKEN = re.compile(
        r"""
        (?P<attr>\.?[A-Za-z_][A-Za-z0-9_\-]*)
        | \[(?P<index>-?[0-9]+)\]
        | \[(?P<key>"(?:[^"\\]|\\.)*")\]
        """,
        re.VERBOSE,
    )

    @classmethod
    def parse(cls, text: str) -> AttributePath:
        """Parse the syntax produced by ``str()``: ``a.b[0]["k"]``.

        Raises ``ValueError`` on malformed input.
        """
        steps: list[Step] = []
        pos = 0
        while pos < len(text):
            m = cls._TOKEN.match(text, pos)
            if m is None:
                raise ValueError(f"invalid attribute path {text!r} at offset {pos}")
            if m.group("attr") is not None:
                name = m.group("attr")
                if name.startswith("."):
                    if pos == 0:
                        raise ValueError(f"invalid attribute path {text!r}: leading '.'")
                    name = name[1:]
                elif pos != 0:
                    raise ValueError(f"invalid attribute path {text!r}: missing '.' at {pos}")
                steps.append(AttrStep(name))
            elif m.group("index") is not None:
                steps.append(IndexStep(int(m.group("index"))))
            else:
                try:
                    key = json.loads(m.group("key"))
                except ValueError as e:
                    raise ValueError(f"invalid key in attribute path {text!r}: {e}") from None
                steps.append(KeyStep(key))
            pos = m.end()
        return cls(tuple(steps))


_ROOT = AttributePath(())
_ATTR_STEPS: dict[str, AttrStep] = {}
_new_path = object.__new__
_set = object.__setattr__


def _extended(steps: tuple[Step, ...], step: Step) -> AttributePath:
    path = _new_path(AttributePath)
    _set(path, "steps", (*steps, step))
    return path


class CtyError(ValueError):
    """A value does not conform to its type, or could not be (de)serialized.

    ``path`` locates the offending value; ``message`` describes the problem.
    """

    def __init__(self, path: AttributePath | None, message: str) -> None:
        self.path: AttributePath = path if path is not None else _ROOT
        self.message = message
        where = str(self.path)
        super().__init__(f"{where}: {message}" if where else message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.message))
