"""What the nimble resources share: the client from the context, error mapping, name
validators, name-to-ID lookups, volume deletion with clone explanations.

Rule: the REST client (and so ``requests``) is imported inside functions only, so that the
provider process answers Terraform's schema calls without loading it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from tfnimble.plugin import (
    Attribute,
    AttributePath,
    Context,
    is_known,
    types,
    use_state_for_unknown,
)
from tfnimble.plugin.validators import int_between, matches

from . import diagnostics as diag

if TYPE_CHECKING:
    from .client import NimbleClient, Volume

T = TypeVar("T")

MIB = 1024 * 1024
#: NimbleOS's largest volume: 128 TiB.
MAX_SIZE_MIB = 128 * 1024 * 1024
DEFAULT_TIMEOUTS = {"create": 10 * 60.0, "update": 10 * 60.0, "delete": 10 * 60.0}
OBJECT_ID = re.compile(r"^[0-9a-fA-F]{42}$")

VOLUME_NAME_RULE = matches(
    r"[A-Za-z0-9][A-Za-z0-9.:-]{0,214}",
    "must start with a letter or digit and use only letters, digits, '.', ':' and '-' "
    "(at most 215 characters)",
)
OBJECT_NAME_RULE = matches(
    r"[A-Za-z0-9][A-Za-z0-9.:-]{0,63}",
    "must start with a letter or digit and use only letters, digits, '.', ':' and '-' "
    "(at most 64 characters)",
)
SIZE_RULE = int_between(1, MAX_SIZE_MIB)


def client(ctx: Context) -> NimbleClient:
    return ctx.provider_data  # type: ignore[no-any-return]


#: The array's argument names -> our attribute names, so rejected values point at the config.
ARGS = {
    "name": "name",
    "size": "size_mib",
    "base_snap_id": "snapshot_id",
    "perfpolicy_id": "performance_policy",
    "pool_id": "pool",
    "description": "description",
    "vol_id": "volume_id",
    "initiator_group_id": "initiator_group_id",
    "lun": "lun",
    "apply_to": "apply_to",
    "iqn": "initiators",
    "iscsi_initiators": "initiators",
}


def call(
    fn: Callable[[], T],
    action: str,
    kind: str,
    name: str,
    path: AttributePath | None = None,
) -> T:
    """Run one client call; a NimbleError becomes a diagnostic naming the object."""
    from .client import NimbleError

    try:
        return fn()
    except NimbleError as err:
        raise diag.api_error(action, kind, name, err, path, ARGS) from err


def is_id(text: str) -> bool:
    return bool(OBJECT_ID.match(text))


def computed(description: str, ty: Any = types.String, *, stable: bool = True) -> Attribute:
    """A read-only attribute; `stable` ones keep their prior value in update plans."""
    mods = (use_state_for_unknown(),) if stable else ()
    return Attribute(type=ty, computed=True, description=description, plan_modifiers=mods)


def text_or_prior(value: str, prior: Any) -> str | None:
    """The array reports an unset description as "": keep null (or "") as configured."""
    if value == "" and prior in (None, ""):
        return prior  # type: ignore[no-any-return]
    return value


def kept_reading(planned: Any, fresh: int) -> int:
    """Space usage is a reading, not a setting: an update keeps what the plan promised
    (the value of the last refresh) so apply matches plan; the next refresh updates it."""
    return int(planned) if is_known(planned) and planned is not None else fresh


def policy_id(ctx: Context, name: str | None, path: AttributePath) -> str | None:
    from .client import performance_policies as pp

    if name is None:
        return None
    c = client(ctx)
    found = call(
        lambda: pp.find_performance_policy_by_name(c, name), "find", "performance policy", name
    )
    if found is None:
        names = [
            p.name
            for p in call(
                lambda: pp.list_performance_policies(c), "find", "performance policy", name
            )
        ]
        raise diag.reference_not_found("performance policy", name, path, names)
    return found.id


def pool_id(ctx: Context, name: str | None, path: AttributePath) -> str | None:
    from .client import pools

    if name is None:
        return None
    c = client(ctx)
    found = call(lambda: pools.find_pool_by_name(c, name), "find", "pool", name)
    if found is None:
        names = [p.name for p in call(lambda: pools.list_pools(c), "find", "pool", name)]
        raise diag.reference_not_found("pool", name, path, names)
    return found.id


def find_volume(ctx: Context, ident: str, kind: str = "volume") -> Volume | None:
    """A volume by array ID, or else by name."""
    from .client import volumes

    c = client(ctx)
    if is_id(ident):
        vol = call(lambda: volumes.get_volume(c, ident), "find", kind, ident)
        if vol is not None:
            return vol
    return call(lambda: volumes.find_volume_by_name(c, ident), "find", kind, ident)


def clones_of_volume(ctx: Context, vol_id: str) -> list[str]:
    from .client import BadRequest, volumes

    c = client(ctx)
    try:
        found = volumes.list_volumes(c, {"parent_vol_id": vol_id})
    except BadRequest:
        found = volumes.list_volumes(c)
    return sorted(v.name for v in found if v.parent_vol_id == vol_id and v.id != vol_id)


def delete_volume(ctx: Context, vol_id: str, name: str, kind: str, was_online: bool) -> None:
    """Offline, then delete; a volume already gone is fine; clones are explained. A refused
    delete brings the volume back online, so a failed destroy leaves it as it was."""
    from .client import Conflict, NimbleError, NotFound, volumes

    c = client(ctx)
    ctx.check(f"deleting {kind} {name}")
    try:
        volumes.set_volume_online(c, vol_id, False)
    except NotFound:
        return
    except NimbleError as err:
        raise diag.api_error("delete", kind, name, err) from err
    try:
        ctx.check(f"deleting {kind} {name}")
        try:
            volumes.delete_volume(c, vol_id, missing_ok=True)
        except Conflict as err:
            if err.code == "SM_vol_has_clone":
                clones = clones_of_volume(ctx, vol_id)
                raise diag.has_clones("volume", name, clones, err) from err
            raise diag.api_error("delete", kind, name, err) from err
        except NimbleError as err:
            raise diag.api_error("delete", kind, name, err) from err
    except BaseException:
        if was_online:
            try:
                volumes.set_volume_online(c, vol_id, True)
            except NimbleError:
                pass
        raise


def volume_changes(ctx: Context, plan: Any, state: Any, kind: str) -> Volume:
    """Apply the in-place changes between state and plan of a volume or clone (one PUT)."""
    from .client import volumes

    c = client(ctx)
    changes: dict[str, Any] = {}
    if plan.name != state.name:
        changes["name"] = plan.name
    if plan.description != state.description:
        changes["description"] = plan.description or ""
    if is_known(plan.performance_policy) and plan.performance_policy != state.performance_policy:
        changes["perfpolicy_id"] = policy_id(
            ctx, plan.performance_policy, AttributePath.root().attr("performance_policy")
        )
    if plan.online != state.online:
        changes["online"] = bool(plan.online)
    size = None
    if is_known(plan.size_mib) and plan.size_mib != state.size_mib:
        size = int(plan.size_mib)
    ctx.check(f"updating {kind} {state.name}")
    if not changes and size is None:
        vol = call(lambda: volumes.get_volume(c, state.id), "update", kind, state.name)
        if vol is None:
            raise diag.not_found(kind, state.id, "It was deleted outside Terraform.")
        return vol
    return call(
        lambda: volumes.update_volume(c, state.id, size_mib=size, **changes),
        "update",
        kind,
        state.name,
    )


def volume_fields(vol: Volume, prior: Any) -> dict[str, Any]:
    """The attributes a volume and a clone share, from the array's view of it."""
    return {
        "id": vol.id,
        "name": vol.name,
        "size_mib": vol.size_mib,
        "description": text_or_prior(vol.description, getattr(prior, "description", None)),
        "performance_policy": vol.perfpolicy_name,
        "online": vol.online,
        "target_name": vol.target_name,
        "serial_number": vol.serial_number,
        "space_used_bytes": vol.total_usage_bytes,
        "timeouts": getattr(prior, "timeouts", None),
    }


# --- attributes shared by several resources ---------------------------------------------------


def id_attribute(kind: str) -> Attribute:
    return computed(f"The array's ID of the {kind} (42 hexadecimal digits).")


def description_attribute(kind: str) -> Attribute:
    return Attribute(
        type=types.String,
        optional=True,
        description=f"Free-text description of the {kind}. Changed in place.",
    )


def performance_policy_attribute(kind: str) -> Attribute:
    return Attribute(
        type=types.String,
        optional=True,
        computed=True,
        plan_modifiers=(use_state_for_unknown(),),
        description=(
            f"Name of the performance policy of the {kind} (see the `nimble_performance_policy` "
            "data source). Changed in place; the new policy must have the same block size. "
            "Defaults to the array's choice (usually `default`)."
        ),
    )


def online_attribute(kind: str) -> Attribute:
    return Attribute(
        type=types.Bool,
        optional=True,
        computed=True,
        default=True,
        description=(
            f"Whether the {kind} is online (visible to initiators). Changed in place. "
            "Default `true`."
        ),
    )


def space_used_attribute(kind: str) -> Attribute:
    # A reading that changes as data is written. It keeps its prior value in plans (no
    # "known after apply" noise on every update) and an update returns that prior value;
    # refresh then records the new reading, which Terraform shows as a refresh note at most,
    # never as a planned change, because the attribute is not configurable.
    return computed(
        f"Space the {kind} uses on the array, in bytes, including its snapshots; data shared "
        "with a base snapshot is not counted (a fresh clone uses 0). As of the last refresh.",
        types.Number,
    )
