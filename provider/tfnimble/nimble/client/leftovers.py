"""Objects a killed run left behind: the marker this provider puts on what it creates, and the
rule that decides whether a create that meets ``SM_eexist`` may adopt the object in the way.

A run killed between the array's "created" and Terraform's state write (kill -9 of terraform
or of the provider, a CI runner timeout, an array unreachable mid-apply) leaves an object that
no state records. The next apply's create then meets ``SM_eexist``. Such an object is adopted
only when it is provably what that create would have made and nothing has happened to it
since (:func:`untouched_problems` lists what disqualifies it):

- it carries this provider's marker (volume ``metadata`` key ``MARKER_KEY``);
- it matches the request (name; for a clone the same base snapshot; for a volume the same
  size, pool and performance policy: the caller's ``mismatch``);
- no data was written to it (its own usage: ``vol_usage_*_bytes`` are 0 and ``usage_valid``);
- it has no snapshots, no connected initiators, and no access control record other than the
  ones a clone inherits from its parent volume at creation.

Anything else raises :class:`LeftoverNotAdopted`, which names the object and its ID so that
the caller can say how to import it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .errors import Conflict, LostResponseConflict, LostResponseMismatch
from .models import Volume

__all__ = [
    "EEXIST",
    "MARKER_KEY",
    "MARKER_VALUE",
    "LeftoverNotAdopted",
    "has_marker",
    "marker_metadata",
    "not_adopted",
    "untouched_problems",
]

#: The array's detail code for "an object of that name exists".
EEXIST = "SM_eexist"
#: The metadata key (and value) on every volume this provider creates.
MARKER_KEY = "tfnimble-created-by"
MARKER_VALUE = "terraform-provider-nimble"


def marker_metadata() -> list[dict[str, str]]:
    """The ``metadata`` list a create sends (the array's wire form: ``[{key, value}]``)."""
    return [{"key": MARKER_KEY, "value": MARKER_VALUE}]


def has_marker(raw: Mapping[str, Any]) -> bool:
    """Whether an object's ``metadata`` (a list of ``{key, value}``, or null) holds the marker."""
    items = raw.get("metadata")
    if not isinstance(items, list):
        return False
    return any(
        isinstance(i, Mapping) and i.get("key") == MARKER_KEY and i.get("value") == MARKER_VALUE
        for i in items
    )


def untouched_problems(vol: Volume, inherited_groups: Iterable[str] = ()) -> list[str]:
    """Why ``vol`` is not provably an untouched object of this provider ([] = adoptable).

    ``inherited_groups`` are the initiator group IDs of the parent volume's access control
    records: a clone is given those by the array at creation, so they do not count.
    """
    problems: list[str] = []
    if not has_marker(vol.raw):
        problems.append(
            f"it does not carry this provider's marker (metadata {MARKER_KEY}={MARKER_VALUE}), "
            "so something else created it"
        )
    if vol.raw.get("usage_valid") is False:
        problems.append("the array cannot tell whether data was written to it (usage_valid false)")
    written = max(
        vol.vol_usage_compressed_bytes,
        vol.vol_usage_uncompressed_bytes,
        vol.vol_usage_mapped_bytes,
    )
    if written:
        problems.append(f"data was written to it ({written} bytes in use)")
    if vol.num_snaps:
        problems.append(f"it has {vol.num_snaps} snapshot(s)")
    if vol.num_connections:
        problems.append(f"{vol.num_connections} initiator connection(s) are open to it")
    allowed = set(inherited_groups)
    extra = sorted(
        a.initiator_group_name or a.initiator_group_id
        for a in vol.access_control_records
        if a.initiator_group_id not in allowed
    )
    if extra:
        problems.append(f"it has access control records for {', '.join(extra)}")
    return problems


class LeftoverNotAdopted(Conflict):
    """A create met ``SM_eexist`` and the object in the way may not be adopted.

    It is the array's own ``Conflict``; ``kind``, ``name``, ``object_id`` name the object and
    ``problems`` say why it was refused.
    """

    def __init__(
        self, conflict: Conflict, kind: str, name: str, object_id: str, problems: list[str]
    ) -> None:
        self.status, self.code, self.text = conflict.status, conflict.code, conflict.text
        self.messages, self.protocol_code = conflict.messages, conflict.protocol_code
        self.operation, self.object_name = conflict.operation, conflict.object_name
        self.after_lost_response = conflict.after_lost_response
        self.kind, self.name, self.object_id, self.problems = kind, name, object_id, problems
        Exception.__init__(
            self,
            f"{conflict}; the {kind} {name!r} ({object_id}) in the way was not adopted: "
            + "; ".join(problems),
        )


class _LostLeftoverNotAdopted(LeftoverNotAdopted, LostResponseMismatch):
    """``LeftoverNotAdopted`` after a lost response: also says why the creation window did
    not claim the object (``reason``)."""

    def __init__(self, conflict: LostResponseConflict, *args: Any) -> None:
        LeftoverNotAdopted.__init__(self, conflict, *args)
        self.reason = conflict.reason


def not_adopted(
    conflict: Conflict, kind: str, name: str, object_id: str, problems: list[str]
) -> LeftoverNotAdopted:
    """The refusal for ``conflict`` (a ``LostResponseMismatch`` too when that one was)."""
    if isinstance(conflict, LostResponseConflict):
        return _LostLeftoverNotAdopted(conflict, kind, name, object_id, problems)
    return LeftoverNotAdopted(conflict, kind, name, object_id, problems)
