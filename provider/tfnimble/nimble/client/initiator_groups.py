"""Initiator groups (``/v1/initiator_groups``).

Membership is replaced as a whole: a PUT of ``iscsi_initiators`` sets the full list (the
array's documented update semantics), so no add/remove bookkeeping via ``/v1/initiators``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .errors import NotFound
from .models import Initiator, InitiatorGroup
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

_SET = "initiator_groups"
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
) -> InitiatorGroup:
    """Create an iSCSI initiator group with its initiators (IQN strings or ``Initiator``)."""
    members = initiators_from_iqns(initiators)
    body: dict[str, Any] = {"name": name, "access_protocol": access_protocol}
    if members:
        body["iscsi_initiators"] = [m.to_api() for m in members]
    if description is not None:
        body["description"] = description

    def mismatch(g: InitiatorGroup, _start: float, _end: float) -> str | None:
        if g.access_protocol != access_protocol:
            return f"access protocol {g.access_protocol}"
        if sorted(g.iqns) != sorted(m.iqn for m in members if m.iqn):
            return "its initiators differ"
        return None

    return client.create_or_adopt(
        _SET,
        body,
        kind="initiator group",
        name=name,
        parse=InitiatorGroup.from_api,
        find=lambda: find_initiator_group_by_name(client, name),
        mismatch=mismatch,
    )


def get_initiator_group(client: NimbleClient, group_id: str) -> InitiatorGroup | None:
    data = client.get_object(_SET, group_id, kind="initiator group")
    return InitiatorGroup.from_api(data) if data is not None else None


def find_initiator_group_by_name(client: NimbleClient, name: str) -> InitiatorGroup | None:
    for row in client.iter_objects(_SET, {"name": name}, kind="initiator group"):
        if row.get("name") == name:
            return InitiatorGroup.from_api(row)
    return None


def list_initiator_groups(client: NimbleClient) -> list[InitiatorGroup]:
    return [InitiatorGroup.from_api(r) for r in client.iter_objects(_SET, kind="initiator group")]


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
            raise NotFound(
                404, None, "no such initiator group", (), "update initiator group", group_id
            )
        return current
    return InitiatorGroup.from_api(
        client.update_object(_SET, group_id, body, kind="initiator group")
    )


def delete_initiator_group(
    client: NimbleClient, group_id: str, *, missing_ok: bool = False
) -> None:
    client.delete_object(_SET, group_id, kind="initiator group", missing_ok=missing_ok)
