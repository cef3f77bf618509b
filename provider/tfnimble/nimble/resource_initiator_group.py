"""nimble_initiator_group: the iSCSI hosts an access control record grants a volume to."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from tfnimble.plugin import (
    AttributePath,
    Context,
    Diagnostic,
    Severity,
    Value,
    known_or_none,
    need,
    types,
)

from . import _common as c
from . import _fields as f
from . import diagnostics as diag
from . import foreign_ids
from ._base import NimbleResource

if TYPE_CHECKING:
    from .client import InitiatorGroup, NimbleClient

KIND = "initiator group"
_IQN = re.compile(r"(iqn\.\d{4}-\d{2}\.[A-Za-z0-9.:-]{1,243}|eui\.[0-9A-Fa-f]{16})")


def iqns_rule(value: Any, path: AttributePath) -> Sequence[Diagnostic]:
    bad = [v for v in value or () if isinstance(v, str) and not _IQN.fullmatch(v)]
    if not bad:
        return []
    return [
        Diagnostic(
            Severity.ERROR,
            "Invalid Initiator Name",
            f"{path} holds {', '.join(repr(b) for b in bad)}, which "
            f"{'is not an iSCSI name' if len(bad) == 1 else 'are not iSCSI names'}: expected "
            "iqn.YYYY-MM.reversed.domain[:suffix] or eui. followed by 16 hex digits "
            "(see /etc/iscsi/initiatorname.iscsi on the host).",
            path,
        )
    ]


@dataclass
class InitiatorGroupModel:
    id: Annotated[Value[str], f.array_id(KIND)] = None
    name: Annotated[
        Value[str], f.name("Name of the initiator group, unique on the array.", c.OBJECT_NAME_RULE)
    ] = None
    description: Annotated[Value[str], f.description(KIND)] = None
    initiators: Annotated[
        Value[list[str]],
        f.argument(
            types.Set(types.String),
            "IQNs of the member hosts, e.g. `iqn.1993-08.org.debian:01:controller`. "
            "Each member gets a label derived from its IQN. Updated in place as a "
            "whole.",
            validators=(iqns_rule,),
        ),
    ] = None
    timeouts: Annotated[Value[f.Timeouts], f.timeouts("create", "update", "delete")] = None


class InitiatorGroupResource(NimbleResource):
    """An iSCSI initiator group: a named set of host IQNs."""

    TYPE_NAME = "initiator_group"
    Model = InitiatorGroupModel
    DESCRIPTION = (
        "An iSCSI initiator group: the hosts (by IQN) that a `nimble_access_control_record` "
        "lets see a volume. Members, name and description change in place. Import with the "
        "group's ID or name."
    )

    def get(self, cl: NimbleClient, ident: str) -> InitiatorGroup | None:
        from .client import initiator_groups as ig

        return ig.get_initiator_group(cl, ident)

    def to_model(
        self, obj: InitiatorGroup, prior: InitiatorGroupModel | None
    ) -> InitiatorGroupModel:
        iqns = sorted(obj.iqns)
        prior_iqns = getattr(prior, "initiators", None)
        return InitiatorGroupModel(
            id=obj.id,
            name=obj.name,
            description=c.text_or_prior(obj.description, getattr(prior, "description", None)),
            # No members reads back as an empty list; keep "unset" when it was unset.
            initiators=iqns if iqns or prior_iqns else prior_iqns,
            timeouts=getattr(prior, "timeouts", None),
        )

    def create(self, ctx: Context, plan: InitiatorGroupModel) -> InitiatorGroupModel:
        from .client import initiator_groups as ig

        cl = c.client(ctx)
        name = need(plan.name, "name")
        group = c.create(
            ctx,
            lambda: ig.create_initiator_group(
                cl,
                name,
                list(known_or_none(plan.initiators) or ()),
                description=known_or_none(plan.description),
            ),
            KIND,
            name,
        )
        return self.to_model(group, plan)

    def update(
        self, ctx: Context, plan: InitiatorGroupModel, state: InitiatorGroupModel
    ) -> InitiatorGroupModel:
        from .client import initiator_groups as ig

        cl = c.client(ctx)
        ident, name = need(state.id, "id"), str(state.name)
        planned = list(known_or_none(plan.initiators) or ())
        members = None
        if sorted(planned) != sorted(known_or_none(state.initiators) or ()):
            members = planned
        description = None
        if plan.description != state.description:
            description = known_or_none(plan.description) or ""
        ctx.check(f"updating initiator group {name}")
        group = c.call(
            lambda: ig.update_initiator_group(
                cl,
                ident,
                initiators=members,
                description=description,
                name=known_or_none(plan.name) if plan.name != state.name else None,
            ),
            "update",
            KIND,
            name,
        )
        return self.to_model(group, plan)

    def delete(self, ctx: Context, state: InitiatorGroupModel) -> None:
        from .client import initiator_groups as ig

        cl, ident, name = c.client(ctx), need(state.id, "id"), str(state.name)
        ctx.check(f"deleting initiator group {name}")
        c.call(lambda: ig.delete_initiator_group(cl, ident, missing_ok=True), "delete", KIND, name)

    def import_state(self, ctx: Context, import_id: str) -> InitiatorGroupModel:
        group = c.find_initiator_group(ctx, import_id, "import", KIND, import_id)
        if group is None:
            err = diag.not_found(KIND, import_id)
            raise foreign_ids.explained(c.client(ctx), err, KIND, import_id, None)
        return self.to_model(group, None)
