"""Initiator groups (``/v1/initiator_groups``).

Membership is replaced as a whole: a PUT of ``iscsi_initiators`` sets the full list (the
array's documented update semantics), so no add/remove bookkeeping via ``/v1/initiators``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .models import Initiator, InitiatorGroup
from .objects import ObjectSet, gone
from .session import NimbleClient

__all__ = [
    "create_initiator_group",
    "delete_initiator_group",
    "find_initiator_group_by_name",
    "get_initiator_group",
    "initiators_from_iqns",
    "list_initiator_groups",
    "update_initiator_group",
]

_GROUPS = ObjectSet("initiator_groups", "initiator group", InitiatorGroup.from_api)
_LABEL_MAX = 64


def _label_for(iqn: str) -> str:
    """A stable initiator label (NsObjectName: <=64 of alnum and ``-.:``, alnum first)."""
    label = re.sub(r"[^A-Za-z0-9.:-]", "-", iqn).lstrip("-.:")
    if label and len(label) <= _LABEL_MAX:
        return label
    digest = hashlib.sha256(iqn.encode()).hexdigest()[:8]
    return f"{label[: _LABEL_MAX - 9]}-{digest}".lstrip("-.:") or f"init-{digest}"


def initiators_from_iqns(iqns: Iterable[str | Initiator]) -> tuple[Initiator, ...]:
    """Initiators for IQN strings (label derived from the IQN) or ready ``Initiator`` objects."""
    out: list[Initiator] = []
    for item in iqns:
        out.append(item if isinstance(item, Initiator) else Initiator(_label_for(item), iqn=item))
    return tuple(out)


def create_initiator_group(
    client: NimbleClient,
    name: str,
    initiators: Sequence[str | Initiator] = (),
    description: str | None = None,
    access_protocol: str = "iscsi",
    metadata: Sequence[tuple[str, str]] = (),
) -> InitiatorGroup:
    """Create an iSCSI initiator group with its initiators (IQN strings or ``Initiator``).

    A lost response adopts the group of that name only if it was created within this call's
    time window with the same access protocol and IQNs. ``metadata`` are key/value pairs the
    array keeps on the group."""
    members = initiators_from_iqns(initiators)
    body: dict[str, Any] = {"name": name, "access_protocol": access_protocol}
    if members:
        body["iscsi_initiators"] = [m.to_api() for m in members]
    if description is not None:
        body["description"] = description
    if metadata:
        body["metadata"] = [{"key": k, "value": v} for k, v in metadata]

    def mismatch(g: InitiatorGroup) -> str | None:
        if g.access_protocol != access_protocol:
            return f"access protocol {g.access_protocol}"
        if sorted(g.iqns) != sorted(m.iqn for m in members if m.iqn):
            return "its initiators differ"
        return None

    return _GROUPS.create_or_adopt(
        client,
        body,
        name=name,
        find=lambda: find_initiator_group_by_name(client, name),
        mismatch=mismatch,
    )


def get_initiator_group(client: NimbleClient, group_id: str) -> InitiatorGroup | None:
    """The initiator group with that id, or ``None``."""
    return _GROUPS.get(client, group_id)


def find_initiator_group_by_name(client: NimbleClient, name: str) -> InitiatorGroup | None:
    """The initiator group with that exact name, or ``None``."""
    return _GROUPS.find_by_name(client, name)


def list_initiator_groups(client: NimbleClient) -> list[InitiatorGroup]:
    """Every initiator group (all pages)."""
    return _GROUPS.list(client)


def update_initiator_group(
    client: NimbleClient,
    group_id: str,
    *,
    initiators: Sequence[str | Initiator] | None = None,
    description: str | None = None,
    name: str | None = None,
) -> InitiatorGroup:
    """Replace the member list and/or change description or name. Unchanged labels of IQNs
    already present are kept, so a re-apply sends the same list."""
    body: dict[str, Any] = {}
    if initiators is not None:
        current = get_initiator_group(client, group_id)
        by_iqn = {i.iqn: i for i in current.iscsi_initiators} if current else {}
        members = [by_iqn.get(m.iqn, m) if m.iqn else m for m in initiators_from_iqns(initiators)]
        body["iscsi_initiators"] = [m.to_api() for m in members]
    if description is not None:
        body["description"] = description
    if name is not None:
        body["name"] = name
    if not body:
        current = get_initiator_group(client, group_id)
        if current is None:
            raise gone("update initiator group", group_id, "no such initiator group")
        return current
    return _GROUPS.update(client, group_id, body)


def delete_initiator_group(
    client: NimbleClient, group_id: str, *, missing_ok: bool = False
) -> None:
    """Delete an initiator group; a 404 is an error unless ``missing_ok``."""
    _GROUPS.delete(client, group_id, missing_ok=missing_ok)
