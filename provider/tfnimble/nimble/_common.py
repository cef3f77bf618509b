"""What the nimble resources and data sources share: the client from the context, error
mapping, name validators, lookups by ID or name, volume deletion with clone explanations.

Rule: the REST client (and so ``requests``) is imported inside functions only, so that the
provider process answers Terraform's schema calls without loading it (``configure`` does).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tfnimble.plugin import AttributePath, Context, DiagnosticError, Value, is_known, need
from tfnimble.plugin.schema import Validator
from tfnimble.plugin.validators import int_between, matches

from . import diagnostics as diag

if TYPE_CHECKING:
    from .client import InitiatorGroup, NimbleClient, Snapshot, Volume
    from .client.leftovers import LeftoverNotAdopted

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


def id_rule(kind: str, example: str) -> Validator:
    """An attribute that holds the array's ID of a `kind`: refused at validate when it is not
    one, so the array's own argument name never reaches the user."""
    return matches(
        r"[0-9a-fA-F]{42}",
        f"must be the array's ID of {'an' if kind[0] in 'aeiou' else 'a'} {kind} (42 "
        f"hexadecimal digits), e.g. {example}",
    )


def client(ctx: Context) -> NimbleClient:
    """The configured, logged-in REST client (``connection``)."""
    from .connection import resolve

    return resolve(ctx.provider_data)


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
    "password": "secret_wo",
    "chap_user_id": "chap_user_id",
}


def call(
    fn: Callable[[], T],
    action: str,
    kind: str,
    name: str,
    path: AttributePath | None = None,
    missing: str | Callable[[], str | None] | None = None,
) -> T:
    """Run one client call; a NimbleError becomes a diagnostic naming the object, and the
    attribute it concerns: the one the array names (via ARGS), or for SM_enoent `missing`
    (an attribute name, or a function that finds out which reference is gone)."""
    from .client import NimbleError
    from .client.leftovers import LeftoverNotAdopted

    try:
        return fn()
    except LeftoverNotAdopted as err:
        raise leftover_refused(err) from err
    except NimbleError as err:
        enoent = getattr(err, "code", None) == "SM_enoent"
        gone = missing() if callable(missing) and enoent else missing
        gone = gone if isinstance(gone, str) else None
        raise diag.api_error(action, kind, name, err, path, ARGS, gone) from err


def leftover_refused(err: LeftoverNotAdopted, kind: str | None = None) -> DiagnosticError:
    """A create met an object of the same name that may not be adopted: name it, say why,
    and give the import command and ``import {}`` block that take it over. ``kind`` is the
    resource's (default: the object's)."""
    resource = "nimble_" + (kind or err.kind).replace(" ", "_")
    why = "; ".join(err.problems)
    detail = (
        f'Could not create {err.kind} "{err.name}": the array already has a {err.kind} of that '
        f"name (ID {err.object_id}), and it was not adopted because {why}.\n\n"
        "A volume left by an interrupted run of this configuration is adopted only when it "
        "carries this provider's marker, matches this resource and nothing happened to it "
        'since (see the provider documentation, "Crashes and recovery").\n\n'
        f"If this resource should manage it as it is, import it (ADDRESS is this {resource}'s "
        'address, shown after "with" below):\n'
        f"  terraform import 'ADDRESS' {err.object_id}\n"
        "or add this block to the configuration and apply again:\n"
        f'  import {{\n    to = ADDRESS\n    id = "{err.object_id}"\n  }}\n'
        f"Otherwise rename this resource, or delete that {err.kind} on the array.\n\n"
        f"Original error: {err}"
    )
    return DiagnosticError(f"{diag_title(err.kind)} Already Exists", detail)


def diag_title(kind: str) -> str:
    return " ".join(w.capitalize() for w in kind.split())


def create(
    ctx: Context,
    fn: Callable[[], T],
    kind: str,
    name: str,
    missing: str | Callable[[], str | None] | None = None,
) -> T:
    """Create one object, unless Terraform asked to stop or time is up."""
    ctx.check(f"creating {kind} {name}")
    return call(fn, "create", kind, name, missing=missing)


def is_id(text: str) -> bool:
    return bool(OBJECT_ID.match(text))


def text_or_prior(value: str, prior: Value[str]) -> str | None:
    """The array reports an unset description as "": keep null (or "") as configured."""
    if value == "" and prior in (None, ""):
        return None if prior is None else ""
    return value


def kept_reading(planned: Value[int], fresh: int) -> int:
    """Space usage is a reading, not a setting: an update keeps what the plan promised
    (the value of the last refresh) so apply matches plan; the next refresh updates it."""
    return int(planned) if is_known(planned) and planned is not None else fresh


# --- lookups --------------------------------------------------------------------------------


def by_id_or_name(
    ident: str,
    get: Callable[[str], T | None],
    find: Callable[[str], T | None],
    action: str,
    kind: str,
    label: str | None = None,
) -> T | None:
    """The object whose array ID is `ident`, or else the one named `ident` (import, lookup)."""
    shown = ident if label is None else label
    if is_id(ident):
        found = call(lambda: get(ident), action, kind, shown)
        if found is not None:
            return found
    return call(lambda: find(ident), action, kind, shown)


def import_by_id_or_name(
    ctx: Context,
    import_id: str,
    get: Callable[[NimbleClient, str], T | None],
    find: Callable[[NimbleClient, str], T | None],
    kind: str,
) -> T:
    """What `terraform import` names, by array ID or else by name; not-found otherwise (saying
    when the ID was made by another array, as every import does)."""
    cl = client(ctx)
    found = by_id_or_name(import_id, lambda i: get(cl, i), lambda n: find(cl, n), "import", kind)
    if found is None:
        from .foreign_ids import explained

        raise explained(cl, diag.not_found(kind, import_id), kind, import_id, None)
    return found


class _Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=_Named)


def by_name(
    name: str,
    find: Callable[[str], N | None],
    list_all: Callable[[], list[N]],
    kind: str,
    missing: Callable[[list[str]], DiagnosticError],
    list_label: str | None = None,
) -> N:
    """The object with that name; `missing` gets the names there are when none has it."""
    found = call(lambda: find(name), "find", kind, name)
    if found is None:
        label = name if list_label is None else list_label
        raise missing([o.name for o in call(list_all, "find", kind, label)])
    return found


def policy_id(ctx: Context, name: str | None, path: AttributePath) -> str | None:
    from .client import performance_policies as pp

    if name is None:
        return None
    cl = client(ctx)
    kind = "performance policy"
    return by_name(
        name,
        lambda n: pp.find_performance_policy_by_name(cl, n),
        lambda: pp.list_performance_policies(cl),
        kind,
        lambda names: diag.reference_not_found(kind, name, path, names),
    ).id


def pool_id(ctx: Context, name: str | None, path: AttributePath) -> str | None:
    from .client import pools

    if name is None:
        return None
    cl = client(ctx)
    return by_name(
        name,
        lambda n: pools.find_pool_by_name(cl, n),
        lambda: pools.list_pools(cl),
        "pool",
        lambda names: diag.reference_not_found("pool", name, path, names),
    ).id


V = TypeVar("V")


def by_id_or_parts(
    ctx: Context,
    import_id: str,
    get: Callable[[str], V | None],
    find_in_volume: Callable[[Volume, str], V | None],
    kind: str,
    names: list[str],
    hint: str,
) -> V | None:
    """Import of an object of a volume: by its array ID, or as VOLUME/OTHER (names say what
    OTHER is); `find_in_volume` looks OTHER up in the volume found by ID or name."""
    from tfnimble.plugin import split_import_id

    if is_id(import_id):
        found = call(lambda: get(import_id), "import", kind, import_id)
        if found is not None:
            return found
    if "/" not in import_id:
        from .foreign_ids import explained

        raise explained(client(ctx), diag.not_found(kind, import_id, hint), kind, import_id, None)
    parts = split_import_id(import_id, names, sep="/")
    vol = find_volume(ctx, parts[names[0]])
    if vol is None:
        raise diag.not_found("volume", parts[names[0]])
    return call(lambda: find_in_volume(vol, parts[names[1]]), "import", kind, import_id)


def find_volume(ctx: Context, ident: str, kind: str = "volume") -> Volume | None:
    """A volume by array ID, or else by name."""
    from .client import volumes

    cl = client(ctx)
    return by_id_or_name(
        ident,
        lambda i: volumes.get_volume(cl, i),
        lambda n: volumes.find_volume_by_name(cl, n),
        "find",
        kind,
    )


def find_initiator_group(
    ctx: Context, ident: str, action: str, kind: str, label: str
) -> InitiatorGroup | None:
    """An initiator group by array ID, or else by name (errors name `kind` and `label`)."""
    from .client import initiator_groups as ig

    cl = client(ctx)
    return by_id_or_name(
        ident,
        lambda i: ig.get_initiator_group(cl, i),
        lambda n: ig.find_initiator_group_by_name(cl, n),
        action,
        kind,
        label,
    )


def clones_of_volume(ctx: Context, vol_id: str) -> dict[str, str]:
    """{id: name} of every clone made from a snapshot of the volume."""
    from .client import BadRequest, volumes

    c = client(ctx)
    try:
        found = volumes.list_volumes(c, {"parent_vol_id": vol_id})
    except BadRequest:
        found = volumes.list_volumes(c)
    return {v.id: v.name for v in found if v.parent_vol_id == vol_id and v.id != vol_id}


def delete_after_dependents(
    ctx: Context,
    obj_id: str,
    delete: Callable[[], None],
    dependents: Callable[[], dict[str, str]],
    codes: tuple[str, ...] | None,
    refuse: Callable[[list[str], BaseException], DiagnosticError],
) -> None:
    """Run `delete`; while the array refuses it (a Conflict with one of `codes`, or any
    Conflict when None) because `dependents()` ({id: name}) exist, wait for those that this
    run deletes (see ``dependents``) and try again; `refuse` names what remains. A refusal
    with no dependents to be seen twice in a row is not about them: it is raised as is."""
    from .client import Conflict
    from .dependents import wait_until_gone

    remaining_s = ctx.remaining()
    deadline = time.monotonic() + remaining_s if remaining_s is not None else None
    unexplained = 0  # refusals in a row for which no dependent was seen
    seen: list[bool] = []  # for each look at the dependents since the last refusal, any?

    def looked() -> dict[str, str]:
        found = dependents()
        seen.append(bool(found))
        return found

    while True:
        try:
            delete()
            return
        except Conflict as err:
            if codes is not None and err.code not in codes:
                raise
            refused = err
        seen.clear()
        left = wait_until_gone(obj_id, looked, ctx.stop_event, deadline, ctx.logger)
        if left:
            raise refuse(sorted(left.values()), refused) from refused
        unexplained = 0 if any(seen) else unexplained + 1
        if unexplained == 2:
            raise refused
        ctx.check(f"deleting {obj_id}")


def delete_volume(ctx: Context, vol_id: str, name: str, kind: str, was_online: bool) -> None:
    """Offline, then delete; a volume already gone is fine; clones deleted in the same run are
    waited for, others explained. A volume that state says is offline gets no offline request:
    it is deleted at once, and taken offline first only if the array refuses because it is
    online after all. A refused delete brings the volume back online, so a failed destroy
    leaves it as it was."""
    from .client import NimbleError, NotFound, volumes
    from .client import volume_collections as vcs
    from .dependents import deleting

    c = client(ctx)
    ctx.check(f"deleting {kind} {name}")
    left: list[str] = []  # the volume collection the volume was taken out of, if any
    offlined = [False]  # whether this delete took the volume offline
    with deleting(vol_id):
        if was_online:
            try:
                volumes.set_volume_online(c, vol_id, False)
            except NotFound:
                return
            except NimbleError as err:
                raise diag.api_error("delete", kind, name, err) from err
            offlined[0] = True
        try:
            ctx.check(f"deleting {kind} {name}")
            try:
                delete_after_dependents(
                    ctx,
                    vol_id,
                    lambda: _delete_leaving_collection(c, vol_id, left, offlined),
                    lambda: clones_of_volume(ctx, vol_id),
                    ("SM_vol_has_clone",),
                    lambda clones, err: diag.has_clones("volume", name, clones, err),
                )
            except NimbleError as err:
                raise diag.api_error("delete", kind, name, err) from err
        except BaseException:
            try:
                if left:
                    vcs.set_volume_collection(c, vol_id, left[0])
                if offlined[0]:
                    volumes.set_volume_online(c, vol_id, True)
            except NimbleError:
                pass
            raise


def _delete_leaving_collection(
    c: NimbleClient, vol_id: str, left: list[str], offlined: list[bool]
) -> None:
    """Delete the volume; one the array keeps because it is in a volume collection
    (SM_vol_assoc_volcoll) leaves the collection first: a destroyed volume cannot stay a
    member, and Terraform may destroy it before it updates the collection's volume_ids.
    `left` records the collection, so a delete that fails after all can put it back."""
    from .client import Conflict
    from .client import volume_collections as vcs

    try:
        _delete_offline(c, vol_id, offlined)
        return
    except Conflict as err:
        if err.code != "SM_vol_assoc_volcoll":
            raise
    current = vcs.volume_collection_of(c, vol_id)
    if current:
        vcs.set_volume_collection(c, vol_id, "")
        left.append(current)
    _delete_offline(c, vol_id, offlined)


def _delete_offline(c: NimbleClient, vol_id: str, offlined: list[bool]) -> None:
    """DELETE the volume; if the array refuses because it is online (state said offline, or
    it was onlined since), take it offline (``offlined`` records it) and delete again."""
    from .client import Conflict, NotFound, volumes

    try:
        volumes.delete_volume(c, vol_id, missing_ok=True)
        return
    except Conflict as err:
        if offlined[0] or err.code != volumes.ONLINE_DELETE_CODE:
            raise
    try:
        volumes.set_volume_online(c, vol_id, False)
    except NotFound:
        return
    offlined[0] = True
    volumes.delete_volume(c, vol_id, missing_ok=True)


# --- volumes, clones and image masters ----------------------------------------------------------


class VolumeLike(Protocol):
    """The model attributes every volume-backed resource has."""

    id: Value[str]
    name: Value[str]
    description: Value[str]
    performance_policy: Value[str]


def renames_and_policy(ctx: Context, plan: VolumeLike, state: VolumeLike) -> dict[str, Any]:
    """The volume PUT arguments for the name, description and policy changes in `plan`."""
    changes: dict[str, Any] = {}
    if plan.name != state.name:
        changes["name"] = plan.name
    if plan.description != state.description:
        changes["description"] = plan.description or ""
    if is_known(plan.performance_policy) and plan.performance_policy != state.performance_policy:
        changes["perfpolicy_id"] = policy_id(
            ctx, plan.performance_policy, AttributePath.root().attr("performance_policy")
        )
    return changes


class SizedVolume(VolumeLike, Protocol):
    online: Value[bool]
    size_mib: Value[int]


def volume_changes(ctx: Context, plan: SizedVolume, state: SizedVolume, kind: str) -> Volume:
    """Apply the in-place changes between state and plan of a volume or clone (one PUT)."""
    from .client import volumes

    c = client(ctx)
    vol_id, name = need(state.id, "id"), str(state.name)
    changes = renames_and_policy(ctx, plan, state)
    if plan.online != state.online:
        changes["online"] = bool(plan.online)
    size = None
    if is_known(plan.size_mib) and plan.size_mib != state.size_mib:
        size = need(plan.size_mib, "size_mib")
    ctx.check(f"updating {kind} {name}")
    if not changes and size is None:
        vol = call(lambda: volumes.get_volume(c, vol_id), "update", kind, name)
        if vol is None:
            raise diag.not_found(kind, vol_id, "It was deleted outside Terraform.")
        return vol
    return call(
        lambda: volumes.update_volume(c, vol_id, size_mib=size, **changes), "update", kind, name
    )


#: The volume fields `volume_fields` reads (with the array's names).
VOLUME_READ_FIELDS = (
    "id",
    "name",
    "size",
    "description",
    "perfpolicy_name",
    "online",
    "target_name",
    "serial_number",
    "total_usage_bytes",
)


def volume_fields(vol: Volume, prior: object) -> dict[str, Any]:
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


def refuse_shrink(kind: str, name: Value[str], planned: Value[int], current: Value[int]) -> None:
    """Volumes only grow: a planned size below the current one is an error at plan time."""
    if not (is_known(planned) and is_known(current)) or planned is None or current is None:
        return
    if planned < current:
        raise diag.size_shrink(kind, str(name), int(current), int(planned))


def snapshot_size_mib(snap: Snapshot) -> int:
    """A snapshot's size in whole MiB (the array reports bytes)."""
    return -(-snap.size // MIB)
