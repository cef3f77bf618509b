"""nimble_initiator_group: the iSCSI hosts an access control record grants a volume to."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tfnimble.plugin import (
    Attribute,
    AttributePath,
    Context,
    Diagnostic,
    Resource,
    Schema,
    Severity,
    timeouts_block,
    types,
)

from . import _common as c
from . import diagnostics as diag

KIND = "initiator group"
_IQN = re.compile(r"(iqn\.\d{4}-\d{2}\.[A-Za-z0-9.:-]{1,243}|eui\.[0-9A-Fa-f]{16})")


def _iqns_rule(value: Any, path: AttributePath) -> Sequence[Diagnostic]:
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
    id: Any = None
    name: Any = None
    description: Any = None
    initiators: Any = None
    timeouts: Any = None


class InitiatorGroupResource(Resource):
    """An iSCSI initiator group: a named set of host IQNs."""

    TYPE_NAME = "initiator_group"
    Model = InitiatorGroupModel
    DEFAULT_TIMEOUTS = c.DEFAULT_TIMEOUTS

    def schema(self) -> Schema:
        return Schema(
            description=(
                "An iSCSI initiator group: the hosts (by IQN) that a "
                "`nimble_access_control_record` lets see a volume. Members, name and "
                "description change in place. Import with the group's ID or name."
            ),
            attributes={
                "id": c.id_attribute(KIND),
                "name": Attribute(
                    type=types.String,
                    required=True,
                    validators=(c.OBJECT_NAME_RULE,),
                    description="Name of the initiator group, unique on the array.",
                ),
                "description": c.description_attribute(KIND),
                "initiators": Attribute(
                    type=types.Set(types.String),
                    optional=True,
                    validators=(_iqns_rule,),
                    description=(
                        "IQNs of the member hosts, e.g. "
                        "`iqn.1993-08.org.debian:01:controller`. Each member gets a label "
                        "derived from its IQN. Updated in place as a whole."
                    ),
                ),
            },
            blocks={"timeouts": timeouts_block("create", "update", "delete")},
        )

    def _model(self, group: Any, prior: InitiatorGroupModel | None) -> InitiatorGroupModel:
        iqns = sorted(group.iqns)
        prior_iqns = getattr(prior, "initiators", None)
        return InitiatorGroupModel(
            id=group.id,
            name=group.name,
            description=c.text_or_prior(group.description, getattr(prior, "description", None)),
            # No members reads back as an empty list; keep "unset" when it was unset.
            initiators=iqns if iqns or prior_iqns else prior_iqns,
            timeouts=getattr(prior, "timeouts", None),
        )

    def create(self, ctx: Context, plan: InitiatorGroupModel) -> InitiatorGroupModel:
        from .client import initiator_groups as ig

        cl = c.client(ctx)
        ctx.check(f"creating initiator group {plan.name}")
        group = c.call(
            lambda: ig.create_initiator_group(
                cl, plan.name, list(plan.initiators or ()), description=plan.description
            ),
            "create",
            KIND,
            plan.name,
        )
        return self._model(group, plan)

    def read(self, ctx: Context, state: InitiatorGroupModel) -> InitiatorGroupModel | None:
        from .client import initiator_groups as ig

        cl = c.client(ctx)
        group = c.call(lambda: ig.get_initiator_group(cl, state.id), "read", KIND, state.name)
        return None if group is None else self._model(group, state)

    def update(
        self, ctx: Context, plan: InitiatorGroupModel, state: InitiatorGroupModel
    ) -> InitiatorGroupModel:
        from .client import initiator_groups as ig

        cl = c.client(ctx)
        members = None
        if sorted(plan.initiators or ()) != sorted(state.initiators or ()):
            members = list(plan.initiators or ())
        description = None
        if plan.description != state.description:
            description = plan.description or ""
        ctx.check(f"updating initiator group {state.name}")
        group = c.call(
            lambda: ig.update_initiator_group(
                cl,
                state.id,
                initiators=members,
                description=description,
                name=plan.name if plan.name != state.name else None,
            ),
            "update",
            KIND,
            state.name,
        )
        return self._model(group, plan)

    def delete(self, ctx: Context, state: InitiatorGroupModel) -> None:
        from .client import initiator_groups as ig

        cl = c.client(ctx)
        ctx.check(f"deleting initiator group {state.name}")
        c.call(
            lambda: ig.delete_initiator_group(cl, state.id, missing_ok=True),
            "delete",
            KIND,
            state.name,
        )

    def import_state(self, ctx: Context, import_id: str) -> InitiatorGroupModel:
        from .client import initiator_groups as ig

        cl = c.client(ctx)
        group = None
        if c.is_id(import_id):
            group = c.call(lambda: ig.get_initiator_group(cl, import_id), "import", KIND, import_id)
        if group is None:
            group = c.call(
                lambda: ig.find_initiator_group_by_name(cl, import_id), "import", KIND, import_id
            )
        if group is None:
            raise diag.not_found(KIND, import_id)
        return self._model(group, None)
