"""An ID that names no object on this array: say which array was asked, and whether the ID
was made by another group.

A Nimble object ID is 42 hexadecimal digits: two for the object type, sixteen for the group that
made it, sixteen zeros and eight of sequence (docs/nimble-array-facts.md, "Object IDs and
several arrays"). So an ID carries the group it came from; comparing that part with this group's
own ID tells "deleted here" from "belongs to another array", the usual slip when one
configuration drives two arrays through provider aliases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfnimble.plugin import AttributePath, DiagnosticError

from . import _common as c

if TYPE_CHECKING:
    from .client import NimbleClient

GROUP_PART = slice(2, 18)


def group_part(object_id: str) -> str:
    """The 16 hexadecimal digits of the group that made ``object_id``."""
    return object_id[GROUP_PART].lower()


def array_note(cl: NimbleClient, kind: str, ident: str, attr: str | None) -> str:
    """Sentences naming the array that was asked and where ``ident`` (held by ``attr``, or
    the import ID when None) comes from."""
    from .client import NimbleError
    from .client.groups import get_group

    where = f"{cl.host}:{cl.port}"
    try:
        group = get_group(cl)
    except NimbleError:
        group = None
    array = f'the array at {where} (group "{group.name}")' if group else f"the array at {where}"
    holder = attr if attr else "the import ID"
    note = f"The ID in {holder} belongs to no {kind} on {array}."
    if group is None or not c.is_id(ident):
        return note
    if group_part(ident) != group_part(group.id):
        return note + (
            f" It was made by another group (its group part is {group_part(ident)}; this "
            f"group's is {group_part(group.id)}): it belongs to another array. Use that "
            f"array's provider configuration here (e.g. provider = nimble.dr, when the other "
            f'array is configured with alias = "dr"), or an ID from this array.'
        )
    return note + f" It was made by this group, so the {kind} has been deleted."


def explained(
    cl: NimbleClient | None, err: DiagnosticError, kind: str, ident: str, attr: str | None
) -> DiagnosticError:
    """``err`` (a not-found diagnostic) with :func:`array_note` added; the path is ``attr``
    when ``err`` has none."""
    from .client import NimbleClient

    if not isinstance(cl, NimbleClient):
        return err  # no array to ask (plan logic driven without a configured client)
    path = err.path if err.path is not None or attr is None else AttributePath.root().attr(attr)
    detail = f"{err.detail} {array_note(cl, kind, ident, attr)}".strip()
    return DiagnosticError(err.summary, detail, path)
