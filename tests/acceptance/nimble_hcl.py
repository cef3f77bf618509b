"""Small HCL builders and state checks shared by the nimble acceptance tests."""

from __future__ import annotations

from collections.abc import Callable

from harness import State
from nimble_fixtures import PROVIDER_BLOCK


def hcl(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value[1:] if value.startswith("=") else f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(hcl(v) for v in value) + "]"
    return str(value)


def resource(rtype: str, label: str, /, **attrs: object) -> str:
    """`resource "TYPE" "NAME" { k = v ... }`; a string value starting with = is raw HCL."""
    body = "".join(f"\n  {k} = {hcl(v)}" for k, v in attrs.items())
    return f'\nresource "{rtype}" "{label}" {{{body}\n}}\n'


def data(dtype: str, label: str, /, **attrs: object) -> str:
    body = "".join(f"\n  {k} = {hcl(v)}" for k, v in attrs.items())
    return f'\ndata "{dtype}" "{label}" {{{body}\n}}\n'


def config(*blocks: str) -> str:
    return PROVIDER_BLOCK + "".join(blocks)


def expect(address: str, attr: str, value: object) -> Callable[[State], None]:
    def check(state: State) -> None:
        got = state.attrs(address).get(attr)
        assert got == value, f"{address}.{attr} = {got!r}, want {value!r}"

    return check
