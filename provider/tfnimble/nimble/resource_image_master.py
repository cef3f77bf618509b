"""nimble_image_master: a volume holding a disk image and the snapshot clones are made from.

Create, in order: probe and hash the source (nothing exists yet, so a bad image costs
nothing), create the volume, give the writing initiator temporary access, write the image
with qemu-img over iSCSI, verify it by reading it back, remove the temporary access, take
the base snapshot. The snapshot is taken only after verification, so no clone can ever be
made from a half-written master. A failure after the volume exists deletes it; only when that
delete fails too does Terraform learn about the volume (as a tainted partial state).

The base snapshot's description records the provenance (digest, format, virtual size,
source), so that import restores the image attributes and a plan after import is empty.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from tfnimble.plugin import (
    Attribute,
    AttributePath,
    Context,
    DiagnosticError,
    Resource,
    Schema,
    is_known,
    requires_replace_if,
    timeouts_block,
    types,
    use_state_for_unknown,
)
from tfnimble.plugin.validators import matches, one_of

from . import _common as c
from . import diagnostics as diag
from . import imagewrite as iw

KIND = "image master"
DEFAULT_SNAPSHOT = "ito-base"
ROOT = AttributePath.root()
PROVENANCE = "nimble_image_master"
#: private-state key: [size, mtime_ns, sha256] of the local source when last hashed
FINGERPRINT = "source_fingerprint"
CHANGED_MARK = " [changed since written:"

SHA256_RULE = matches(r"[0-9a-fA-F]{64}", "must be a SHA-256 digest: 64 hexadecimal digits")
IQN_RULE = matches(
    r"(iqn\.\d{4}-\d{2}\.[A-Za-z0-9.:-]{1,243}|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})",
    "must be an iSCSI initiator name such as iqn.1993-08.org.debian:01:abcdef",
)
PORTAL_RULE = matches(
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?", "must be an address with an optional port"
)


@dataclass
class ImageMasterModel:
    id: Any = None
    name: Any = None
    source: Any = None
    source_format: Any = None
    sha256: Any = None
    size_mib: Any = None
    pool: Any = None
    performance_policy: Any = None
    description: Any = None
    snapshot_name: Any = None
    initiator_name: Any = None
    portal: Any = None
    volume_id: Any = None
    snapshot_id: Any = None
    target_name: Any = None
    serial_number: Any = None
    image_sha256: Any = None
    image_format: Any = None
    image_virtual_size: Any = None
    timeouts: Any = None


def _was_set(req: Any) -> bool:
    return req.state_value is not None


def _pinned(req: Any) -> bool:
    return req.plan_value is not None


class ImageMasterResource(Resource):
    """An image master for Image Transfer Optimization: the image written once to a volume,
    and one snapshot of it that every `nimble_clone_volume` is made from."""

    TYPE_NAME = "image_master"
    Model = ImageMasterModel
    DEFAULT_TIMEOUTS = {"create": 60 * 60.0, "update": 10 * 60.0, "delete": 10 * 60.0}

    def schema(self) -> Schema:
        return Schema(
            description=(
                "An image master (Image Transfer Optimization): a volume with a disk image "
                "written onto it over iSCSI by `qemu-img` (userspace libiscsi, no kernel "
                "initiator needed), verified by reading it back, and a base snapshot that "
                "`nimble_clone_volume` clones from. The host running Terraform needs "
                "`qemu-img` with the iSCSI block driver and `iscsi-ls` (Debian: `qemu-utils`, "
                "`qemu-block-extra`, `libiscsi-bin`) and must reach the array's iSCSI "
                "portal. Delete is refused while clones of the snapshot exist outside this "
                "configuration. The create timeout defaults to 60 minutes. Import with the "
                "volume's ID or name (or `NAME/SNAPSHOT` when the snapshot is not called "
                "`ito-base`): the image attributes come back from the provenance the provider "
                "records in the base snapshot's description."
            ),
            attributes={
                "id": c.computed("The array's ID of the image master's volume."),
                "name": Attribute(
                    type=types.String,
                    required=True,
                    validators=(c.VOLUME_NAME_RULE,),
                    description="Name of the volume, unique on the array. Renamed in place.",
                ),
                "source": Attribute(
                    type=types.String,
                    required=True,
                    plan_modifiers=(
                        requires_replace_if(_was_set, "A new source replaces the master."),
                    ),
                    description=(
                        "The image: a local path (relative to the directory Terraform runs "
                        "in) or an `http(s)://` URL, downloaded to a temporary file. Changing "
                        "it replaces the master. For a local file, a refresh notices when "
                        "its contents changed since it was written (size or modification "
                        "time changed and the SHA-256 differs) and plans a replacement."
                    ),
                ),
                "source_format": Attribute(
                    type=types.String,
                    optional=True,
                    computed=True,
                    validators=(one_of(*iw.FORMATS),),
                    plan_modifiers=(
                        use_state_for_unknown(),
                        requires_replace_if(_was_set, "A new format replaces the master."),
                    ),
                    description=(
                        "Format of the source as `qemu-img` names it: "
                        + ", ".join(f"`{f}`" for f in iw.FORMATS)
                        + ". Detected when omitted; setting it makes a file that is not in "
                        "that format an error. Changing it replaces the master."
                    ),
                ),
                "sha256": Attribute(
                    type=types.String,
                    optional=True,
                    validators=(SHA256_RULE,),
                    plan_modifiers=(
                        requires_replace_if(_pinned, "A new digest replaces the master."),
                    ),
                    description=(
                        "Expected SHA-256 of the source file (as published next to the image, "
                        "e.g. in `SHA256SUMS`). Checked before anything is created on the "
                        "array. Setting or changing it replaces the master; removing it does "
                        "not."
                    ),
                ),
                "size_mib": Attribute(
                    type=types.Number,
                    optional=True,
                    computed=True,
                    validators=(c.SIZE_RULE,),
                    plan_modifiers=(
                        use_state_for_unknown(),
                        requires_replace_if(_was_set, "A new size replaces the master."),
                    ),
                    description=(
                        "Size of the volume in MiB, and so of every clone made from it. "
                        "Defaults to the image's virtual size rounded up to a whole MiB; must "
                        "be at least that. Changing it replaces the master."
                    ),
                ),
                "pool": Attribute(
                    type=types.String,
                    optional=True,
                    computed=True,
                    plan_modifiers=(use_state_for_unknown(), requires_replace_if(_was_set, "")),
                    description=(
                        "Name of the storage pool. Defaults to the array's default pool. "
                        "Changing it replaces the master."
                    ),
                ),
                "performance_policy": c.performance_policy_attribute(KIND),
                "description": c.description_attribute("volume"),
                "snapshot_name": Attribute(
                    type=types.String,
                    optional=True,
                    computed=True,
                    default=DEFAULT_SNAPSHOT,
                    validators=(c.VOLUME_NAME_RULE,),
                    description=(
                        "Name of the base snapshot clones are made from. Renamed in place."
                    ),
                ),
                "initiator_name": Attribute(
                    type=types.String,
                    optional=True,
                    computed=True,
                    validators=(IQN_RULE,),
                    plan_modifiers=(use_state_for_unknown(),),
                    description=(
                        "iSCSI initiator name the image is written as; it gets access to the "
                        "volume only while the image is written and verified. Defaults to "
                        "this host's name in `/etc/iscsi/initiatorname.iscsi`, else "
                        "`iqn.2026-11.io.ito:terraform-HOSTNAME`. Used at creation only."
                    ),
                ),
                "portal": Attribute(
                    type=types.String,
                    optional=True,
                    computed=True,
                    validators=(PORTAL_RULE,),
                    plan_modifiers=(use_state_for_unknown(),),
                    description=(
                        "iSCSI portal `IP[:PORT]` the image is written through. Defaults to "
                        "the array's discovery IP (see the `nimble_discovery` data source) "
                        "on port 3260. Used at creation only."
                    ),
                ),
                "volume_id": c.computed("The array's ID of the volume (the same as `id`)."),
                "snapshot_id": c.computed(
                    "The array's ID of the base snapshot: the `snapshot_id` of every "
                    "`nimble_clone_volume` made from this image."
                ),
                "target_name": c.computed("iSCSI target name (IQN) of the volume."),
                "serial_number": c.computed("SCSI serial number of the volume."),
                "image_sha256": c.computed(
                    "SHA-256 of the source file that was written (of the download, for a URL)."
                ),
                "image_format": c.computed("Format of the source as `qemu-img` detected it."),
                "image_virtual_size": c.computed(
                    "Virtual size of the image in bytes (what a guest sees as its disk).",
                    types.Number,
                ),
            },
            blocks={"timeouts": timeouts_block("create", "update", "delete")},
        )

    # --- plan ---------------------------------------------------------------------------

    def modify_plan(
        self,
        ctx: Context,
        plan: ImageMasterModel,
        state: ImageMasterModel | None,
        config: ImageMasterModel,
    ) -> ImageMasterModel:
        if state is not None or not is_known(plan.source) or iw.is_url(plan.source or ""):
            return plan
        fmt = config.source_format if is_known(config.source_format) else None
        if not is_known(config.source_format) or iw.fingerprint(plan.source) is None:
            return plan  # decided at apply (the file may be made earlier in this apply)
        try:
            found, size = iw.probe(plan.source, fmt)
        except iw.ImageError as err:
            raise DiagnosticError(err.summary, err.detail, ROOT.attr("source")) from err
        # Known at plan time, so the plan shows the real size clones will have.
        plan.image_format, plan.image_virtual_size = found, size
        if config.source_format is None:
            plan.source_format = found
        _check_size(config.size_mib, size)
        if config.size_mib is None:
            plan.size_mib = -(-size // c.MIB)
        return plan

    # --- create -------------------------------------------------------------------------

    def create(self, ctx: Context, plan: ImageMasterModel) -> ImageMasterModel:
        from .client import snapshots, volumes

        cl = c.client(ctx)
        remaining = ctx.remaining()
        deadline = time.monotonic() + remaining if remaining is not None else None
        workdir = iw.make_workdir()
        try:
            src = self._source(ctx, plan, workdir, deadline)
            size_mib = int(plan.size_mib) if is_known(plan.size_mib) and plan.size_mib else None
            _check_size(size_mib, src.virtual_size)
            size_mib = size_mib or src.size_mib
            pool = c.pool_id(ctx, plan.pool, ROOT.attr("pool")) if is_known(plan.pool) else None
            policy = None
            if is_known(plan.performance_policy):
                policy = c.policy_id(ctx, plan.performance_policy, ROOT.attr("performance_policy"))
            initiator = plan.initiator_name
            if not is_known(initiator) or initiator is None:
                initiator = iw.default_initiator_name()
            portal = plan.portal
            if not is_known(portal) or portal is None:
                portal = self._discovery_portal(ctx)
            portal = iw.normalize_portal(portal)

            ctx.check(f"creating image master {plan.name}")
            vol = c.call(
                lambda: volumes.create_volume(
                    cl,
                    plan.name,
                    size_mib,
                    pool_id=pool,
                    perfpolicy_id=policy,
                    description=plan.description,
                    online=True,
                ),
                "create",
                KIND,
                plan.name,
            )
            ctx.logger.info(
                "image master %s: volume %s created (%d MiB)", plan.name, vol.id, size_mib
            )
            model = replace(
                plan,
                source_format=src.format,
                size_mib=vol.size_mib,
                initiator_name=initiator,
                portal=portal,
                image_sha256=src.sha256,
                image_format=src.format,
                image_virtual_size=src.virtual_size,
                snapshot_id=None,
                pool=vol.pool_name,
                performance_policy=vol.perfpolicy_name,
                **_volume_fields(vol),
            )
            try:
                with self._temporary_access(ctx, vol, initiator, plan.name):
                    lun = _iscsi(
                        lambda: iw.discover_lun(
                            portal,
                            vol.target_name,
                            initiator,
                            vol.size_mib * c.MIB,
                            ctx.stop_event,
                            deadline,
                        ),
                    )
                    target = iw.Target(portal, vol.target_name, lun, initiator)
                    _iscsi(lambda: iw.write(src, target, ctx.stop_event, deadline, ctx.logger))
                    _iscsi(lambda: iw.verify(src, target, ctx.stop_event, deadline, ctx.logger))
                    if not src.downloaded and iw.fingerprint(src.path) != (
                        src.file_size,
                        src.mtime_ns,
                    ):
                        raise DiagnosticError(
                            "Image Changed While Written",
                            f"{src.path} changed while it was written; the master would not "
                            "hold what image_sha256 says. Apply again once the file is stable.",
                            ROOT.attr("source"),
                        )
                ctx.check(f"snapshotting image master {plan.name}")
                snap = c.call(
                    lambda: snapshots.create_snapshot(
                        cl,
                        vol.id,
                        plan.snapshot_name or DEFAULT_SNAPSHOT,
                        description=provenance(src, plan.source, plan.sha256 is not None),
                    ),
                    "create",
                    "snapshot",
                    f"{plan.name}/{plan.snapshot_name}",
                )
            except BaseException as err:
                self._discard(ctx, vol, model, err)
                raise
            model.snapshot_id = snap.id
            if not src.downloaded:
                ctx.private[FINGERPRINT] = [src.file_size, src.mtime_ns, src.sha256]
            ctx.logger.info(
                "image master %s ready: snapshot %s (%s)", plan.name, snap.name, snap.id
            )
            return model
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _source(
        self, ctx: Context, plan: ImageMasterModel, workdir: str, deadline: float | None
    ) -> iw.Source:
        fmt = plan.source_format if is_known(plan.source_format) else None
        shown = iw.display_source(plan.source)
        ctx.logger.info("image master %s: reading %s", plan.name, shown)
        try:
            src = iw.prepare_source(plan.source, fmt, workdir, ctx.stop_event, deadline, ctx.logger)
        except iw.ImageError as err:
            raise DiagnosticError(err.summary, err.detail, ROOT.attr("source")) from err
        if plan.sha256 and plan.sha256.lower() != src.sha256:
            raise DiagnosticError(
                "Image Checksum Mismatch",
                f"{shown} has SHA-256 {src.sha256}, but sha256 expects {plan.sha256.lower()}. "
                "Nothing was created on the array. Check that source and sha256 name the same "
                "image (a download may have been truncated or replaced).",
                ROOT.attr("sha256"),
            )
        for attr, planned, got in (
            ("image_format", plan.image_format, src.format),
            ("image_virtual_size", plan.image_virtual_size, src.virtual_size),
        ):
            if is_known(planned) and planned is not None and planned != got:
                raise DiagnosticError(
                    "Image Changed Since Plan",
                    f"{shown} is now {attr} = {got}; the plan was made with {planned}. Run "
                    "terraform apply again to plan with the current file.",
                    ROOT.attr("source"),
                )
        return src

    def _discovery_portal(self, ctx: Context) -> str:
        from .client import network

        cl = c.client(ctx)
        found = c.call(lambda: network.get_discovery(cl), "find", "iSCSI discovery IP", "group")
        return found.discovery_ip

    @contextmanager
    def _temporary_access(
        self, ctx: Context, vol: Any, initiator: str, name: str
    ) -> Iterator[None]:
        """An access control record for `initiator` (in the initiator group that already
        holds it, else a new one), removed on the way out whatever happened."""
        from .client import access_control_records as acrs
        from .client import initiator_groups as igs

        cl = c.client(ctx)
        groups = c.call(lambda: igs.list_initiator_groups(cl), "find", "initiator group", initiator)
        group = next((g for g in groups if initiator in g.iqns), None)
        created = None
        if group is None:
            created = group = c.call(
                lambda: igs.create_initiator_group(
                    cl,
                    f"tf-imagewrite-{secrets.token_hex(4)}",
                    [initiator],
                    description=f"Temporary: terraform writes image master {name}",
                ),
                "create",
                "initiator group",
                initiator,
            )
        undo: list[tuple[Callable[[], Any], str]] = []
        if created is not None:
            undo.append(
                (
                    lambda: igs.delete_initiator_group(cl, created.id, missing_ok=True),
                    f'initiator group "{created.name}"',
                )
            )
        try:
            acr = c.call(
                lambda: acrs.create_access_control_record(cl, vol.id, group.id, apply_to="volume"),
                "create",
                "access control record",
                f"{name}/{group.name}",
            )
            undo.insert(
                0,
                (
                    lambda: acrs.delete_access_control_record(cl, acr.id, missing_ok=True),
                    f"access control record {acr.id}",
                ),
            )
            ctx.logger.info("image master %s: %s may write it (temporarily)", name, initiator)
            yield
        except BaseException:
            problems = [p for fn, what in undo for p in _attempt(fn, what)]
            if problems:
                ctx.logger.error("could not remove temporary access: %s", "; ".join(problems))
            raise
        problems = [p for fn, what in undo for p in _attempt(fn, what)]
        if problems:
            raise DiagnosticError(
                "Temporary Access Not Removed",
                f"The image was written to {name}, but removing the temporary access failed: "
                f"{'; '.join(problems)}.",
            )

    def _discard(self, ctx: Context, vol: Any, model: ImageMasterModel, err: BaseException) -> None:
        """After a failure: delete the volume; if that fails, hand it to Terraform (tainted).
        Either way the diagnostic says which happened."""
        from .client import volumes

        cl = c.client(ctx)
        ctx.logger.warning("image master %s failed (%s); deleting volume %s", vol.name, err, vol.id)
        problems = _attempt(
            lambda: volumes.offline_and_delete_volume(cl, vol.id, force=True), f"volume {vol.id}"
        )
        if problems:
            ctx.set_partial_state(model)
            note = (
                f"Deleting the unfinished volume {vol.name} failed too ({problems[0]}); "
                "Terraform records it as tainted, so the next apply replaces it. It has no "
                "snapshot, so no clone can be made from it."
            )
        else:
            note = f"The unfinished volume {vol.name} was deleted: nothing was left on the array."
        if isinstance(err, DiagnosticError):
            err.detail = f"{err.detail}\n\n{note}" if err.detail else note

    # --- read ---------------------------------------------------------------------------

    def read(self, ctx: Context, state: ImageMasterModel) -> ImageMasterModel | None:
        from .client import snapshots, volumes

        cl = c.client(ctx)
        vol = c.call(lambda: volumes.get_volume(cl, state.id), "read", KIND, state.name)
        if vol is None:
            return None
        model = replace(state, **_volume_fields(vol), pool=vol.pool_name)
        model.performance_policy = vol.perfpolicy_name
        model.size_mib = vol.size_mib
        model.description = c.text_or_prior(vol.description, state.description)
        snap = None
        if state.snapshot_id:
            snap = c.call(
                lambda: snapshots.get_snapshot(cl, state.snapshot_id), "read", KIND, state.name
            )
        if snap is None:
            # No base snapshot: clones cannot be made; plan a new master.
            model.snapshot_id = None
            model.source = _mark(state.source, "the base snapshot is gone")
            return model
        model.snapshot_name = snap.name
        if state.source and CHANGED_MARK not in state.source:
            why = self._source_changed(ctx, state)
            if why:
                model.source = _mark(state.source, why)
        return model

    def _source_changed(self, ctx: Context, state: ImageMasterModel) -> str | None:
        """Why the local source no longer matches the master, or None.

        Hashing a multi-GiB image at every refresh would make every plan slow, so the file
        is re-hashed only when its size or modification time differ from when it was last
        hashed (kept in private state). A URL is not fetched at refresh: pin `sha256`.
        This runs in read (refresh) because only a changed attribute value can make
        Terraform plan a replacement; the marked `source` then differs from the config.
        """
        if iw.is_url(state.source) or not state.image_sha256:
            return None
        fp = iw.fingerprint(state.source)
        if fp is None:
            return None  # the file may be gone after the write; the master is still good
        known = ctx.private.get(FINGERPRINT)
        if isinstance(known, list) and len(known) == 3 and tuple(known[:2]) == fp:
            return None
        try:
            digest = iw.sha256_file(state.source, ctx.stop_event)
        except (OSError, iw.ImageError) as err:
            ctx.logger.warning("cannot hash %s: %s", state.source, err)
            return None
        if digest == state.image_sha256:
            ctx.private[FINGERPRINT] = [fp[0], fp[1], digest]
            return None
        return f"sha256 {digest[:12]}…, master holds {state.image_sha256[:12]}…"

    # --- update -------------------------------------------------------------------------

    def update(
        self, ctx: Context, plan: ImageMasterModel, state: ImageMasterModel
    ) -> ImageMasterModel:
        from .client import snapshots, volumes

        cl = c.client(ctx)
        changes: dict[str, Any] = {}
        if plan.name != state.name:
            changes["name"] = plan.name
        if plan.description != state.description:
            changes["description"] = plan.description or ""
        if (
            is_known(plan.performance_policy)
            and plan.performance_policy != state.performance_policy
        ):
            changes["perfpolicy_id"] = c.policy_id(
                ctx, plan.performance_policy, ROOT.attr("performance_policy")
            )
        model = replace(plan)
        if changes:
            ctx.check(f"updating image master {state.name}")
            vol = c.call(
                lambda: volumes.update_volume(cl, state.id, **changes), "update", KIND, state.name
            )
            model = replace(model, **_volume_fields(vol))
            model.performance_policy = vol.perfpolicy_name
        if plan.snapshot_name != state.snapshot_name and state.snapshot_id:
            c.call(
                lambda: snapshots.update_snapshot(cl, state.snapshot_id, name=plan.snapshot_name),
                "update",
                "snapshot",
                f"{state.name}/{state.snapshot_name}",
            )
        # Adopted masters (imported without provenance) only record what was configured.
        for attr in ("initiator_name", "portal", "source_format", "size_mib", "pool"):
            if not is_known(getattr(model, attr)):
                setattr(model, attr, getattr(state, attr))
        return model

    # --- delete -------------------------------------------------------------------------

    def delete(self, ctx: Context, state: ImageMasterModel) -> None:
        from .client import Conflict, NimbleError, snapshots

        cl = c.client(ctx)
        if state.snapshot_id:
            ctx.check(f"deleting image master {state.name}")
            clones = c.call(
                lambda: snapshots.list_clones_of_snapshot(cl, state.snapshot_id),
                "delete",
                KIND,
                state.name,
            )
            if clones:
                raise has_clones(state.name, state.snapshot_name, sorted(v.name for v in clones))
            try:
                snapshots.delete_snapshot(cl, state.snapshot_id, missing_ok=True)
            except Conflict as err:
                names = [v.name for v in snapshots.list_clones_of_snapshot(cl, state.snapshot_id)]
                raise has_clones(state.name, state.snapshot_name, sorted(names), err) from err
            except NimbleError as err:
                raise diag.api_error("delete", "snapshot", str(state.snapshot_name), err) from err
        c.delete_volume(ctx, state.id, state.name, KIND, was_online=True)

    # --- import -------------------------------------------------------------------------

    def import_state(self, ctx: Context, import_id: str) -> ImageMasterModel:
        from .client import snapshots

        cl = c.client(ctx)
        ident, _, snap_name = import_id.partition("/")
        snap_name = snap_name or DEFAULT_SNAPSHOT
        vol = c.find_volume(ctx, ident, KIND)
        if vol is None:
            raise diag.not_found(KIND, ident, "Import an image master by its volume's ID or name.")
        snap = c.call(
            lambda: snapshots.find_snapshot_by_name(cl, vol.id, snap_name), "import", KIND, ident
        )
        if snap is None:
            have = [
                s.name
                for s in c.call(lambda: snapshots.list_snapshots(cl, vol.id), "import", KIND, ident)
            ]
            raise DiagnosticError(
                "Image Master Snapshot Not Found",
                f'Volume "{vol.name}" has no snapshot named "{snap_name}" (it has: '
                f"{', '.join(have) or 'none'}). Import as VOLUME/SNAPSHOT to name the base "
                "snapshot clones are made from.",
            )
        found = parse_provenance(snap.description)
        model = ImageMasterModel(
            pool=vol.pool_name,
            performance_policy=vol.perfpolicy_name,
            description=vol.description or None,
            snapshot_name=snap.name,
            snapshot_id=snap.id,
            size_mib=vol.size_mib,
            source=found.get("source"),
            sha256=found.get("sha256") if found.get("pinned") else None,
            source_format=found.get("format"),
            image_sha256=found.get("sha256"),
            image_format=found.get("format"),
            image_virtual_size=found.get("virtual_size"),
            **_volume_fields(vol),
        )
        return model


# --- helpers ----------------------------------------------------------------------------------


def _volume_fields(vol: Any) -> dict[str, Any]:
    return {
        "id": vol.id,
        "volume_id": vol.id,
        "name": vol.name,
        "target_name": vol.target_name,
        "serial_number": vol.serial_number,
    }


def _check_size(size_mib: Any, virtual_size: int) -> None:
    need = -(-virtual_size // c.MIB)
    if is_known(size_mib) and size_mib is not None and int(size_mib) < need:
        raise DiagnosticError(
            "Volume Smaller Than Image",
            f"size_mib = {int(size_mib)} cannot hold the image: its virtual size is "
            f"{virtual_size} bytes ({need} MiB). Set size_mib to {need} or more, or leave it "
            "unset.",
            ROOT.attr("size_mib"),
        )


def _iscsi(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except iw.ImageError as err:
        path = ROOT.attr("portal") if err.summary == "iSCSI Portal Unreachable" else None
        if err.summary == "Initiator Refused":
            path = ROOT.attr("initiator_name")
        raise DiagnosticError(err.summary, err.detail, path) from err


def _attempt(fn: Callable[[], Any], what: str) -> list[str]:
    from .client import NimbleError

    try:
        fn()
    except NimbleError as err:
        return [f"{what}: {err}"]
    return []


def _mark(source: Any, why: str) -> str:
    return f"{source}{CHANGED_MARK} {why}]"


def provenance(src: iw.Source, source: str, pinned: bool) -> str:
    """What the base snapshot's description records (at most 255 characters)."""
    head = (
        f"{PROVENANCE}: sha256={src.sha256} format={src.format} "
        f"virtual_size={src.virtual_size} pinned={int(pinned)}"
    )
    shown = iw.display_source(source)
    tail = f" source={shown}"
    # A source that does not fit, or that lost a secret to display_source, is not recorded:
    # import then adopts whatever source the configuration names.
    if shown == source and len(head) + len(tail) <= 255:
        head += tail
    return head


_PROVENANCE = re.compile(
    rf"^{PROVENANCE}: sha256=(?P<sha256>[0-9a-f]{{64}}) format=(?P<format>\w+) "
    r"virtual_size=(?P<virtual_size>\d+) pinned=(?P<pinned>[01])(?: source=(?P<source>.+))?$"
)


def parse_provenance(text: str) -> dict[str, Any]:
    m = _PROVENANCE.match(text or "")
    if not m:
        return {}
    return {
        "sha256": m["sha256"],
        "format": m["format"],
        "virtual_size": int(m["virtual_size"]),
        "pinned": m["pinned"] == "1",
        "source": m["source"],
    }


def has_clones(
    name: str, snapshot: Any, clones: list[str], err: BaseException | None = None
) -> DiagnosticError:
    n = len(clones)
    listed = ", ".join(clones[:20]) + (f" and {n - 20} more" if n > 20 else "")
    detail = (
        f'Image master "{name}" cannot be deleted: {n} {"clone" if n == 1 else "clones"} of '
        f'its snapshot "{snapshot}" exist that this configuration does not manage: {listed}. '
        "Clones share the master's blocks, so the array keeps the master while they exist. "
        "Delete those clones (or import them into this configuration so that Terraform "
        "deletes them first), then run terraform destroy again."
    )
    if err is not None:
        detail += f"\n\nOriginal error: {err}"
    return DiagnosticError("Image Master Still Has Clones", detail)
