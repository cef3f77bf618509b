"""nimble_chap_user: a CHAP account, whose secret Terraform never stores.

The secret is a write-only attribute (Terraform 1.11, protocol 6.8): Terraform passes it to
the provider in the configuration and keeps no copy in plan or state; the array never
returns it. So neither can notice a new secret by comparing values: `secret_wo_version` is
the signal. Create sends the secret; changing `secret_wo_version` plans an in-place update
that sends the configured secret again; anything else leaves the array's secret alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from tfnimble.plugin import (
    Attribute,
    AttributePath,
    Context,
    Diagnostic,
    DiagnosticError,
    Severity,
    Value,
    is_known,
    known_or_none,
    need,
    types,
)

from . import _common as c
from . import _fields as f
from . import _plancheck as pc
from . import diagnostics as diag
from ._base import NimbleResource
from .resource_initiator_group import iqns_rule

if TYPE_CHECKING:
    from .client import ChapUser, NimbleClient

KIND = "CHAP user"
SECRET_MIN, SECRET_MAX = 12, 16
#: Characters the array refuses in a CHAP secret, besides spaces and non-ASCII ones.
SECRET_EXCLUDED = "&^[];`"


def secret_rule(value: Any, path: AttributePath) -> Sequence[Diagnostic]:
    """The array's rule for a CHAP secret (NsChapPassword), checked before any request; the
    diagnostic says what is wrong, never what the secret is."""
    if not isinstance(value, str):
        return []
    problems = []
    if not SECRET_MIN <= len(value) <= SECRET_MAX:
        problems.append(f"it has {len(value)} characters")
    if any(not ("!" <= ch <= "~") for ch in value):
        problems.append("it holds a space or a character outside printable ASCII")
    if any(ch in SECRET_EXCLUDED for ch in value):
        problems.append(f"it holds one of {' '.join(SECRET_EXCLUDED)}")
    if not problems:
        return []
    return [
        Diagnostic(
            Severity.ERROR,
            "Invalid CHAP Secret",
            f"{path} must be {SECRET_MIN} to {SECRET_MAX} printable ASCII characters without "
            f"spaces or any of {' '.join(SECRET_EXCLUDED)} (the array's rule), but "
            f"{' and '.join(problems)}. Choose another secret.",
            path,
        )
    ]


@dataclass
class ChapUserModel:
    id: Annotated[Value[str], f.array_id(KIND)] = None
    name: Annotated[
        Value[str],
        f.name(
            "Name of the CHAP user (the user name initiators log in with), unique on the "
            "array. Changed in place.",
            c.OBJECT_NAME_RULE,
        ),
    ] = None
    description: Annotated[Value[str], f.description(KIND)] = None
    initiator_iqns: Annotated[
        Value[list[str]],
        f.argument(
            types.Set(types.String),
            "IQNs of initiators that use this CHAP user for group-target CHAP "
            "authentication. Changed in place. An IQN belongs to one CHAP user at a time: "
            "giving it to this user moves it from any other CHAP user that has it (the plan "
            "warns), and a user that loses an IQN that way shows it missing at the next "
            "refresh. While one of these IQNs is an initiator of an initiator group, the "
            "array refuses to delete the user: a delete waits for the groups that the same run "
            "deletes, and otherwise names them.",
            validators=(iqns_rule,),
        ),
    ] = None
    secret_wo: Annotated[
        Value[str],
        f.attr(
            Attribute(
                type=types.String,
                required=True,
                sensitive=True,
                write_only=True,
                validators=(secret_rule,),
                description=(
                    f"The CHAP secret: {SECRET_MIN} to {SECRET_MAX} printable ASCII characters, "
                    f"no spaces, none of {' '.join(SECRET_EXCLUDED[:-1])} and the backquote. "
                    "Write-only (Terraform 1.11 or later): sent to the array, never kept in "
                    "plan or state, never read back. "
                    "Pass it from an ephemeral variable or ephemeral resource. A new value "
                    "reaches the array only when `secret_wo_version` changes."
                ),
            )
        ),
    ] = None
    secret_wo_version: Annotated[
        Value[int],
        f.argument(
            types.Number,
            "Any number; change it (e.g. increment it) to send `secret_wo` to the array "
            "again, in place. Terraform cannot see a new secret otherwise. After an import "
            "the array's secret stays as it is until this is set or changed.",
        ),
    ] = None
    timeouts: Annotated[Value[f.Timeouts], f.timeouts("create", "update", "delete")] = None


class ChapUserResource(NimbleResource):
    """A CHAP user with a write-only secret."""

    TYPE_NAME = "chap_user"
    Model = ChapUserModel
    DESCRIPTION = (
        "A CHAP user: the account iSCSI initiators authenticate with when an access control "
        "record names it (`nimble_access_control_record.chap_user_id`). Its secret is the "
        "write-only `secret_wo`, kept out of plan and state; bump `secret_wo_version` to "
        "change it. Name, description and initiators change in place. Import with the user's "
        "ID or name."
    )

    def modify_plan(
        self, ctx: Context, plan: ChapUserModel, state: ChapUserModel | None, config: ChapUserModel
    ) -> ChapUserModel:
        """Plan: warn of IQNs that apply takes from other CHAP users
        (:func:`warn_of_moved_iqns`); a create, or a new `secret_wo_version`, sends
        `secret_wo`, so it must not be null then (a variable left unset, or the
        `secret_wo = null` that `-generate-config-out` writes for an imported user). Unknown
        is left to apply."""
        pc.report(ctx, lambda: warn_of_moved_iqns(ctx, plan, state))
        if config.secret_wo is not None:
            return plan
        if state is None:
            why = "a new CHAP user needs its secret"
        elif is_known(plan.secret_wo_version) and plan.secret_wo_version != state.secret_wo_version:
            why = "a new secret_wo_version sends secret_wo to the array"
        else:
            return plan  # e.g. an imported user: the array's secret stays as it is
        ctx.diagnostics.add_error(
            "Missing CHAP Secret",
            f"secret_wo is null, but {why}. Set secret_wo ({SECRET_MIN} to {SECRET_MAX} "
            "characters), e.g. from an ephemeral variable that is given a value"
            + ("." if state is None else ", or put secret_wo_version back."),
            AttributePath.root().attr("secret_wo"),
        )
        return plan

    def get(self, cl: NimbleClient, ident: str) -> ChapUser | None:
        from .client import chap_users

        return chap_users.get_chap_user(cl, ident)

    def to_model(self, obj: ChapUser, prior: ChapUserModel | None) -> ChapUserModel:
        iqns, prior_iqns = sorted(obj.initiator_iqns), getattr(prior, "initiator_iqns", None)
        return ChapUserModel(
            id=obj.id,
            name=obj.name,
            description=c.text_or_prior(obj.description, getattr(prior, "description", None)),
            initiator_iqns=iqns if iqns or prior_iqns else prior_iqns,
            secret_wo=None,
            secret_wo_version=getattr(prior, "secret_wo_version", None),
            timeouts=getattr(prior, "timeouts", None),
        )

    def create(self, ctx: Context, plan: ChapUserModel) -> ChapUserModel:
        from .client import chap_users

        cl, name, secret = c.client(ctx), need(plan.name, "name"), need(plan.secret_wo)
        user = c.create(
            ctx,
            lambda: chap_users.create_chap_user(
                cl,
                name,
                secret,
                description=known_or_none(plan.description),
                initiator_iqns=sorted(known_or_none(plan.initiator_iqns) or ()),
            ),
            KIND,
            name,
        )
        return self.to_model(user, plan)

    def update(self, ctx: Context, plan: ChapUserModel, state: ChapUserModel) -> ChapUserModel:
        from .client import chap_users

        cl, ident, name = c.client(ctx), need(state.id, "id"), str(state.name)
        planned_iqns = sorted(known_or_none(plan.initiator_iqns) or ())
        iqns_changed = planned_iqns != sorted(known_or_none(state.initiator_iqns) or ())
        new_secret = plan.secret_wo_version != state.secret_wo_version
        ctx.check(f"updating CHAP user {name}")
        user = c.call(
            lambda: chap_users.update_chap_user(
                cl,
                ident,
                name=known_or_none(plan.name) if plan.name != state.name else None,
                description=(known_or_none(plan.description) or "")
                if plan.description != state.description
                else None,
                secret=need(plan.secret_wo) if new_secret else None,
                initiator_iqns=planned_iqns if iqns_changed else None,
            ),
            "update",
            KIND,
            name,
        )
        return self.to_model(user, plan)

    def delete(self, ctx: Context, state: ChapUserModel) -> None:
        """Delete; while the array refuses because an initiator group has one of the user's
        IQNs, or an access control record names the user, wait for those that this run
        deletes (``dependents``: Terraform deletes a group and a user that do not refer to
        each other at the same time), then name those that remain."""
        from .client import NimbleError, chap_users
        from .dependents import deleting

        cl, ident, name = c.client(ctx), need(state.id, "id"), str(state.name)
        ctx.check(f"deleting CHAP user {name}")
        try:
            with deleting(ident):
                c.delete_after_dependents(
                    ctx,
                    ident,
                    lambda: chap_users.delete_chap_user(cl, ident, missing_ok=True),
                    lambda: holders(cl, ident),
                    None,  # the array's code for this refusal is not known (array facts)
                    lambda held, err: in_use(name, held, err),
                )
        except NimbleError as err:
            raise diag.api_error("delete", KIND, name, err) from err

    def import_state(self, ctx: Context, import_id: str) -> ChapUserModel:
        from .client import chap_users

        user = c.import_by_id_or_name(
            ctx, import_id, chap_users.get_chap_user, chap_users.find_chap_user_by_name, KIND
        )
        return self.to_model(user, None)


def warn_of_moved_iqns(ctx: Context, plan: ChapUserModel, state: ChapUserModel | None) -> None:
    """A WARNING on `initiator_iqns` for each known IQN that joins this user's set and that
    another CHAP user has now: apply moves it (one CHAP user per IQN), so two users of
    Terraform that list it take it from each other on every apply. One read of the CHAP
    users, and only when IQNs join (a refreshed user that lost one plans it back: it joins)."""
    from .client import chap_users

    planned = plan.initiator_iqns if is_known(plan.initiator_iqns) else None
    held = set(known_or_none(state.initiator_iqns) or ()) if state is not None else set()
    joining = {i for i in planned or () if isinstance(i, str) and i not in held}
    cl = pc.configured_client(ctx)
    if not joining or cl is None:
        return
    me = None if state is None else state.id
    label = str(plan.name) if is_known(plan.name) else "(new)"
    users = c.call(lambda: chap_users.list_chap_users(cl), "find", KIND, label, IQNS)
    for user in sorted(users, key=lambda u: u.name):
        if user.id == me:
            continue
        for iqn in sorted(joining & set(user.initiator_iqns)):
            ctx.diagnostics.add_warning(
                "Initiator IQN Moves From Another CHAP User",
                f'initiator_iqns gives {iqn} to this CHAP user, but CHAP user "{user.name}" '
                "has it now. An IQN belongs to one CHAP user at a time: apply moves it, and "
                f'"{user.name}" loses it. If "{user.name}" is also managed by Terraform (here '
                "or in another configuration), the two take the IQN from each other on every "
                "apply: pick one of them and list the IQN there only.",
                IQNS,
            )


IQNS = AttributePath.root().attr("initiator_iqns")


def holders(cl: NimbleClient, user_id: str) -> dict[str, str]:
    """What keeps the array from deleting the CHAP user, {id: description}: the initiator
    groups that have one of its IQNs now (read afresh: another user may have taken them),
    and the access control records that name it. Nothing when the user is gone."""
    from .client import access_control_records as acrs
    from .client import chap_users
    from .client import initiator_groups as ig

    user = chap_users.get_chap_user(cl, user_id)
    if user is None:
        return {}
    iqns, found = set(user.initiator_iqns), {}
    for group in ig.list_initiator_groups(cl) if iqns else ():
        shared = sorted(iqns & set(group.iqns))
        if shared:
            found[group.id] = f'initiator group "{group.name}" (initiators {", ".join(shared)})'
    for acr in acrs.list_access_control_records(cl) if user.vol_count else ():
        if acr.chap_user_id == user_id:
            found[acr.id] = (
                f'the access control record of volume "{acr.vol_name}" for initiator group '
                f'"{acr.initiator_group_name}"'
            )
    return found


def in_use(name: str, held: list[str], err: BaseException) -> DiagnosticError:
    """The delete is still refused: name what holds the user and what to do."""
    return DiagnosticError(
        "CHAP User In Use",
        f'CHAP user "{name}" cannot be deleted while {"; ".join(held)} still '
        f"{'uses' if len(held) == 1 else 'use'} it: the array keeps a CHAP user while one of "
        "its initiator_iqns is an initiator of an initiator group, or while an access control "
        "record names it. The delete waited for what this run deleted meanwhile; these "
        "remain. Destroy them first, or change them (take the IQN out of the group's "
        "initiators, or the CHAP user out of the record). If Terraform manages them, add "
        "depends_on = [nimble_chap_user.<this resource>] to them, so that Terraform destroys "
        "them before this user, then run the command again.\n\n"
        f"Original error: {err}",
    )
