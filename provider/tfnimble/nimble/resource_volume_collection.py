"""nimble_volume_collection: volumes protected together, and which volumes they are.

Membership is the collection's `volume_ids`: the array keeps it on each volume (`volcoll_id`),
but one authoritative set on the collection lets `count = 500` clones and an image master join
by reference, without any volume resource managing a field the collection also changes. Null
leaves membership alone. A volume already in another collection is never taken from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from tfnimble.plugin import (
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
from tfnimble.plugin.validators import one_of

from . import _common as c
from . import _fields as f
from . import _plancheck as pc
from . import diagnostics as diag
from ._base import NimbleResource

if TYPE_CHECKING:
    from .client import NimbleClient
    from .client.volume_collections import VolumeCollection

KIND = "volume collection"
ROOT = AttributePath.root()
APP_SYNC = ("none", "vss", "vmware", "generic")
APP_IDS = (
    "exchange",
    "exchange_dag",
    "hyperv",
    "sql2005",
    "sql2008",
    "sql2012",
    "sql2014",
    "sql2016",
    "sql2017",
)
_VSS_ONLY = ("app_server", "app_id")
#: The array's app_id for "no application" (NsAppIdType): what a removed app_id is sent as,
#: since "" is not one of its values; read back as null.
NO_APP_ID = "inval"
MUTABLE = ("name", "description", "app_sync", "app_server", "app_id")


def _ids_rule(value: Any, path: AttributePath) -> Sequence[Diagnostic]:
    bad = [v for v in value or () if isinstance(v, str) and not c.is_id(v)]
    if not bad:
        return []
    return [
        Diagnostic(
            Severity.ERROR,
            "Invalid Volume ID",
            f"{path} holds {', '.join(repr(b) for b in bad)}: each member must be the array's "
            "ID of a volume (42 hexadecimal digits), e.g. nimble_volume.data.id or "
            "nimble_image_master.ubuntu.volume_id.",
            path,
        )
    ]


@dataclass
class VolumeCollectionModel:
    id: Annotated[Value[str], f.array_id(KIND)] = None
    name: Annotated[
        Value[str],
        f.name("Name of the volume collection, unique on the array.", c.OBJECT_NAME_RULE),
    ] = None
    description: Annotated[Value[str], f.description(KIND)] = None
    app_sync: Annotated[
        Value[str],
        f.argument(
            types.String,
            "Application synchronization of the collection's snapshots: `none` (crash "
            "consistent, the default), `vss` (Microsoft VSS), `vmware` (vCenter) or `generic` "
            "(a backup agent). Changed in place.",
            computed=True,
            default="none",
            validators=(one_of(*APP_SYNC),),
        ),
    ] = None
    app_server: Annotated[
        Value[str],
        f.argument(
            types.String,
            'Host name of the application server; required with `app_sync = "vss"`, and only then.',
            validators=(c.OBJECT_NAME_RULE,),
        ),
    ] = None
    app_id: Annotated[
        Value[str],
        f.argument(
            types.String,
            "Application on the server (`exchange`, `exchange_dag`, `hyperv`, `sql2005` ... "
            '`sql2017`); required with `app_sync = "vss"`, and only then.',
            validators=(one_of(*APP_IDS),),
        ),
    ] = None
    volume_ids: Annotated[
        Value[list[str]],
        f.argument(
            types.Set(types.String),
            "IDs of the volumes in the collection: this set is authoritative, so volumes added "
            "outside Terraform are taken out again on apply. Null leaves membership alone. "
            "Clones and image masters join by reference (`nimble_clone_volume.c[*].id`, "
            "`nimble_image_master.m.volume_id`). A volume belongs to at most one collection: "
            "one in another collection is refused, never moved. A member volume that is "
            "destroyed leaves the collection first (the array keeps members from deletion).",
            validators=(_ids_rule,),
        ),
    ] = None
    timeouts: Annotated[Value[f.Timeouts], f.timeouts("create", "update", "delete")] = None


class VolumeCollectionResource(NimbleResource):
    """A volume collection and its member volumes."""

    TYPE_NAME = "volume_collection"
    Model = VolumeCollectionModel
    DESCRIPTION = (
        "A volume collection: volumes whose snapshots a `nimble_protection_schedule` takes "
        "together. Name, description, application synchronization and members change in "
        "place. Delete takes the members out of the collection first (their data and "
        "snapshots stay). Import with the collection's ID or name."
    )

    def validate_config(self, ctx: Context, config: VolumeCollectionModel) -> None:
        sync = config.app_sync
        if not is_known(sync):
            return
        for attr in _VSS_ONLY:
            value = getattr(config, attr)
            if value is not None and (sync or "none") != "vss":
                ctx.diagnostics.add_error(
                    "Attribute Needs VSS",
                    f"{attr} applies only to VSS-synchronized collections: set "
                    f'app_sync = "vss" or remove {attr}.',
                    ROOT.attr(attr),
                )
            # the array refuses a VSS collection without both (SM_protpol_not_specified)
            if sync == "vss" and value is None:
                ctx.diagnostics.add_error(
                    "Missing VSS Setting",
                    f'app_sync = "vss" needs {attr}: the array asks the application server '
                    f"({', '.join(_VSS_ONLY)}) for consistent snapshots. Set {attr}, or use "
                    'another app_sync (e.g. "none" for crash-consistent snapshots).',
                    ROOT.attr(attr),
                )

    def modify_plan(
        self,
        ctx: Context,
        plan: VolumeCollectionModel,
        state: VolumeCollectionModel | None,
        config: VolumeCollectionModel,
    ) -> VolumeCollectionModel:
        """Plan: each known volume ID that joins `volume_ids` must name a volume on this
        array (an ID from another array's provider is named as such)."""
        planned = known_or_none(plan.volume_ids) or ()
        have = set(known_or_none(getattr(state, "volume_ids", None)) or ())
        joining = sorted(v for v in planned if isinstance(v, str) and v not in have)
        pc.volumes(ctx, "volume_ids", joining)
        return plan

    def get(self, cl: NimbleClient, ident: str) -> VolumeCollection | None:
        from .client import volume_collections as vcs

        return vcs.get_volume_collection(cl, ident)

    def to_model(
        self, obj: VolumeCollection, prior: VolumeCollectionModel | None
    ) -> VolumeCollectionModel:
        members = sorted(obj.volume_ids)
        prior_ids = getattr(prior, "volume_ids", None)
        return VolumeCollectionModel(
            id=obj.id,
            name=obj.name,
            description=c.text_or_prior(obj.description, getattr(prior, "description", None)),
            app_sync=obj.app_sync,
            app_server=c.text_or_prior(obj.app_server, getattr(prior, "app_server", None)),
            app_id=c.text_or_prior(
                "" if obj.app_id == NO_APP_ID else obj.app_id, getattr(prior, "app_id", None)
            ),
            # unmanaged (null) stays null; an import adopts the members it finds
            volume_ids=members if prior_ids is not None or (prior is None and members) else None,
            timeouts=getattr(prior, "timeouts", None),
        )

    def create(self, ctx: Context, plan: VolumeCollectionModel) -> VolumeCollectionModel:
        from .client import volume_collections as vcs

        cl, name = c.client(ctx), need(plan.name, "name")
        vc = c.create(
            ctx,
            lambda: vcs.create_volume_collection(
                cl,
                name,
                description=known_or_none(plan.description),
                app_sync=known_or_none(plan.app_sync),
                app_server=known_or_none(plan.app_server),
                app_id=known_or_none(plan.app_id),
            ),
            KIND,
            name,
        )
        want = set(known_or_none(plan.volume_ids) or ())
        try:
            _sync_members(ctx, cl, vc.id, name, want, set())
        except DiagnosticError:
            # leave nothing behind: the members that joined leave, the collection goes
            _undo(cl, vc.id, want)
            raise
        return self.to_model(_reread(cl, vc.id, name), plan)

    def update(
        self, ctx: Context, plan: VolumeCollectionModel, state: VolumeCollectionModel
    ) -> VolumeCollectionModel:
        from .client import volume_collections as vcs

        cl, ident, name = c.client(ctx), need(state.id, "id"), str(state.name)
        changes = update_body(plan, state)
        ctx.check(f"updating {KIND} {name}")
        c.call(lambda: vcs.update_volume_collection(cl, ident, changes), "update", KIND, name)
        if plan.volume_ids is not None:
            want = set(known_or_none(plan.volume_ids) or ())
            have = set(known_or_none(state.volume_ids) or ())
            _sync_members(ctx, cl, ident, name, want, have)
        return self.to_model(_reread(cl, ident, name), plan)

    def delete(self, ctx: Context, state: VolumeCollectionModel) -> None:
        from .client import Conflict, NimbleError
        from .client import volume_collections as vcs

        cl, ident, name = c.client(ctx), need(state.id, "id"), str(state.name)
        ctx.check(f"deleting {KIND} {name}")
        _sync_members(ctx, cl, ident, name, set(), set(known_or_none(state.volume_ids) or ()))
        try:
            vcs.delete_volume_collection(cl, ident, missing_ok=True)
        except Conflict as err:
            left = c.call(lambda: vcs.get_volume_collection(cl, ident), "read", KIND, name)
            members = ", ".join(left.volume_ids) if left else "?"
            raise DiagnosticError(
                "Volume Collection Still Has Volumes",
                f'Could not delete volume collection "{name}": volumes not in its volume_ids '
                f"are still members ({members}). Add them to volume_ids and apply (then "
                "destroy), or take them out of the collection on the array.\n\n"
                f"Original error: {err}",
            ) from err
        except NimbleError as err:
            raise diag.api_error("delete", KIND, name, err) from err

    def import_state(self, ctx: Context, import_id: str) -> VolumeCollectionModel:
        from .client import volume_collections as vcs

        found = c.import_by_id_or_name(
            ctx, import_id, vcs.get_volume_collection, vcs.find_volume_collection_by_name, KIND
        )
        return self.to_model(found, None)


def update_body(plan: VolumeCollectionModel, state: VolumeCollectionModel) -> dict[str, Any]:
    """The PUT body of an update. A removed app_id is sent as the array's "no application"
    value: leaving VSS (app_sync "none") clears app_server and app_id in the same request."""
    changes = changes_between(plan, state, {a: a for a in MUTABLE})
    if changes.get("app_id") == "":
        changes["app_id"] = NO_APP_ID
    return changes


def changes_between(plan: Any, state: Any, fields: Mapping[str, str]) -> dict[str, Any]:
    """The PUT body of an update: each model attribute of `fields` the plan changes, under
    the array's field name; a value removed from the configuration is sent as ""."""
    changes: dict[str, Any] = {}
    for attr, api in fields.items():
        new = getattr(plan, attr)
        if new != getattr(state, attr) and is_known(new):
            changes[api] = "" if new is None else new
    return changes


def _reread(cl: NimbleClient, ident: str, name: str) -> VolumeCollection:
    from .client import volume_collections as vcs

    found = c.call(lambda: vcs.get_volume_collection(cl, ident), "read", KIND, name)
    if found is None:
        raise diag.not_found(KIND, ident, "It was deleted while Terraform changed it.")
    return found


def _sync_members(
    ctx: Context, cl: NimbleClient, vc_id: str, name: str, want: set[str], have: set[str]
) -> None:
    """Take out what left `volume_ids`, then put in what joined; refuse to take a volume
    from another collection."""
    from .client import NimbleError, NotFound
    from .client import volume_collections as vcs

    path = ROOT.attr("volume_ids")

    def collection_of(vol_id: str) -> str | None:
        return c.call(lambda: vcs.volume_collection_of(cl, vol_id), "update", KIND, name)

    for vol_id in sorted(have - want):
        current = collection_of(vol_id)
        if current == vc_id:
            try:
                vcs.set_volume_collection(cl, vol_id, "")
            except NotFound:
                continue
            except NimbleError as err:
                raise diag.api_error("update", KIND, name, err, path) from err
    for vol_id in sorted(want):
        ctx.check(f"adding volumes to {KIND} {name}")
        current = collection_of(vol_id)
        if current is None:
            raise diag.reference_id_not_found("volume", vol_id, "volume_ids")
        if current == vc_id:
            continue
        if current:
            raise DiagnosticError(
                "Volume In Another Collection",
                f'Volume {vol_id} in volume_ids of volume collection "{name}" is already in '
                f"another volume collection ({current}); a volume belongs to one collection "
                "at a time. Remove it from the other collection's volume_ids first (or take it "
                "out on the array); the provider does not move it.",
                path,
            )
        c.call(_joiner(cl, vol_id, vc_id), "update", KIND, name, path)


def _joiner(cl: NimbleClient, vol_id: str, vc_id: str) -> Callable[[], None]:
    from .client import volume_collections as vcs

    return lambda: vcs.set_volume_collection(cl, vol_id, vc_id)


def _undo(cl: NimbleClient, vc_id: str, joined: set[str]) -> None:
    """Best effort after a failed create: members leave, the collection goes."""
    from .client import NimbleError
    from .client import volume_collections as vcs

    try:
        for vol_id in joined:
            if vcs.volume_collection_of(cl, vol_id) == vc_id:
                vcs.set_volume_collection(cl, vol_id, "")
        vcs.delete_volume_collection(cl, vc_id, missing_ok=True)
    except NimbleError:
        return
