"""nimble_image_master: a volume holding a disk image and the snapshot clones are made from.

Create, in order: probe and hash the source (nothing exists yet, so a bad image costs
nothing), create the volume, give the writing initiator temporary access, write the image
with qemu-img over iSCSI, verify it by reading it back, remove the temporary access, take
the base snapshot. The snapshot is taken only after verification, so no clone can ever be
made from a half-written master. A failure after the volume exists deletes it; only when that
delete fails too does Terraform learn about the volume (as a tainted partial state).

The steps themselves are Terraform-free, in ``image_master_ops``; this module holds the
schema, the model, the plan, and the mapping of CRUD onto those steps and of their failures
onto diagnostics.

The base snapshot's description records the provenance (digest, format, virtual size,
source), so that import restores the image attributes and a plan after import is empty.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from tfnimble.plugin import (
    Attribute,
    AttributePath,
    AttributePlanRequest,
    Context,
    DiagnosticError,
    Value,
    is_known,
    known_or_none,
    need,
    requires_replace_if,
    types,
)
from tfnimble.plugin.validators import matches, one_of

from . import _common as c
from . import _fields as f
from . import _plancheck as pc
from . import diagnostics as diag
from . import foreign_ids
from . import image_master_glance as ig
from . import image_master_login as login
from . import image_master_ops as ops
from . import imagewrite as iw
from ._base import NimbleResource

if TYPE_CHECKING:
    from .client import Volume

T = TypeVar("T")

KIND = ops.KIND
DEFAULT_SNAPSHOT = ops.DEFAULT_SNAPSHOT
ROOT = AttributePath.root()
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


def _was_set(req: AttributePlanRequest) -> bool:
    return req.state_value is not None


def _pinned(req: AttributePlanRequest) -> bool:
    return req.plan_value is not None


def _replaced_if_set(why: str) -> tuple[Any, ...]:
    """Replace the master when the attribute changes, but not when it is first recorded
    (an adopted master has none in state)."""
    return (requires_replace_if(_was_set, why),)


def _recorded(ty: Any, description: str, why: str, validators: tuple[Any, ...] = ()) -> f.Field:
    """A setting of the master's creation: defaulted from the image or the array, kept in
    update plans, and replacing the master when changed (see `_replaced_if_set`)."""
    return f.argument(
        ty,
        description,
        computed=True,
        validators=validators,
        keep_prior=True,
        modifiers=_replaced_if_set(why),
    )


@dataclass
class ImageMasterModel:
    id: Annotated[Value[str], f.computed("The array's ID of the image master's volume.")] = None
    name: Annotated[
        Value[str],
        f.name("Name of the volume, unique on the array. Renamed in place.", c.VOLUME_NAME_RULE),
    ] = None
    source: Annotated[
        Value[str],
        f.argument(
            types.String,
            "The image: a local path (relative to the directory Terraform runs in; it "
            "must exist at plan time when known then) or an `http(s)://` URL, "
            "downloaded to a temporary file (credentials go in `source_username` and "
            "`source_password`: a URL with `user:password@` is refused, as are other "
            "schemes such as `ftp://`). For an image in Glance, set `glance_image_id` "
            "instead: exactly one of the two is set. Changing it replaces "
            "the master. For a local file, a refresh notices when its contents changed "
            "since it was written (size or modification time changed and the SHA-256 "
            "differs) and plans a replacement.",
            modifiers=_replaced_if_set("A new source replaces the master."),
        ),
    ] = None
    source_username: Annotated[
        Value[str],
        f.argument(
            types.String,
            "User name for HTTP Basic authentication when downloading an `http(s)://` "
            "source (with `source_password`). Keep credentials out of the URL itself: "
            "a URL with `user:password@` is refused, because Terraform shows `source` in "
            "plans. Used at creation only; changing it does not replace the master.",
        ),
    ] = None
    source_password: Annotated[
        Value[str],
        f.attr(
            Attribute(
                type=types.String,
                optional=True,
                sensitive=True,
                description=(
                    "Password for HTTP Basic authentication of the `source` download (with "
                    "`source_username`). Sensitive: never shown in plans, logs, process "
                    "arguments or error messages (Terraform keeps it in state, like every "
                    "sensitive value). Used at creation only; changing it does not replace "
                    "the master."
                ),
            )
        ),
    ] = None
    glance_image_id: Annotated[
        Value[str], ig.image_id_field(_replaced_if_set("A new Glance image replaces the master."))
    ] = None
    glance_endpoint: Annotated[Value[str], ig.ENDPOINT_FIELD] = None
    glance_token_wo: Annotated[Value[str], ig.TOKEN_FIELD] = None
    glance_ca_file: Annotated[Value[str], ig.CA_FILE_FIELD] = None
    source_format: Annotated[
        Value[str],
        _recorded(
            types.String,
            "Format of the source as `qemu-img` names it: "
            + ", ".join(f"`{fmt}`" for fmt in iw.FORMATS)
            + ". Detected when omitted; setting it makes a file that is not in that "
            "format an error. Changing it replaces the master.",
            "A new format replaces the master.",
            (one_of(*iw.FORMATS),),
        ),
    ] = None
    sha256: Annotated[
        Value[str],
        f.argument(
            types.String,
            "Expected SHA-256 of the source file (as published next to the image, e.g. "
            "in `SHA256SUMS`). Checked before anything is created on the array. Setting "
            "or changing it replaces the master; removing it does not.",
            validators=(SHA256_RULE,),
            modifiers=(requires_replace_if(_pinned, "A new digest replaces the master."),),
        ),
    ] = None
    size_mib: Annotated[
        Value[int],
        _recorded(
            types.Number,
            "Size of the volume in MiB, and so of every clone made from it. Defaults to "
            "the image's virtual size rounded up to a whole MiB; must be at least that. "
            "Changing it replaces the master.",
            "A new size replaces the master.",
            (c.SIZE_RULE,),
        ),
    ] = None
    pool: Annotated[
        Value[str],
        _recorded(
            types.String,
            "Name of the storage pool. Defaults to the array's default pool. Changing "
            "it replaces the master.",
            "",
        ),
    ] = None
    performance_policy: Annotated[Value[str], f.performance_policy(KIND)] = None
    description: Annotated[Value[str], f.description("volume")] = None
    snapshot_name: Annotated[
        Value[str],
        f.argument(
            types.String,
            "Name of the base snapshot clones are made from. Renamed in place.",
            computed=True,
            default=DEFAULT_SNAPSHOT,
            validators=(c.VOLUME_NAME_RULE,),
        ),
    ] = None
    initiator_name: Annotated[
        Value[str],
        f.argument(
            types.String,
            "iSCSI initiator name the image is written as; it gets access to the "
            "volume only while the image is written and verified. Defaults to this "
            "host's name in `/etc/iscsi/initiatorname.iscsi`, else "
            "`iqn.2026-11.io.ito:terraform-HOSTNAME`. Used at creation only.",
            computed=True,
            validators=(IQN_RULE,),
            keep_prior=True,
        ),
    ] = None
    portal: Annotated[
        Value[str],
        f.argument(
            types.String,
            "iSCSI portal `IP[:PORT]` the image is written through. Defaults to the "
            "array's discovery IP (see the `nimble_discovery` data source) on port "
            "3260. Used at creation only.",
            computed=True,
            validators=(PORTAL_RULE,),
            keep_prior=True,
        ),
    ] = None
    chap_username: Annotated[Value[str], login.USERNAME_FIELD] = None
    chap_secret_wo: Annotated[Value[str], login.SECRET_FIELD] = None
    chap_secret_wo_version: Annotated[Value[int], login.VERSION_FIELD] = None
    volume_id: Annotated[
        Value[str], f.computed("The array's ID of the volume (the same as `id`).")
    ] = None
    snapshot_id: Annotated[
        Value[str],
        f.computed(
            "The array's ID of the base snapshot: the `snapshot_id` of every "
            "`nimble_clone_volume` made from this image."
        ),
    ] = None
    target_name: Annotated[Value[str], f.computed("iSCSI target name (IQN) of the volume.")] = None
    serial_number: Annotated[Value[str], f.computed("SCSI serial number of the volume.")] = None
    image_sha256: Annotated[
        Value[str],
        f.computed("SHA-256 of the source file that was written (of the download, for a URL)."),
    ] = None
    image_format: Annotated[
        Value[str], f.computed("Format of the source as `qemu-img` detected it.")
    ] = None
    image_virtual_size: Annotated[
        Value[int],
        f.computed(
            "Virtual size of the image in bytes (what a guest sees as its disk).", types.Number
        ),
    ] = None
    timeouts: Annotated[Value[f.Timeouts], f.timeouts("create", "update", "delete")] = None


class ImageMasterResource(NimbleResource):
    """An image master for Image Transfer Optimization: the image written once to a volume,
    and one snapshot of it that every `nimble_clone_volume` is made from."""

    TYPE_NAME = "image_master"
    Model = ImageMasterModel
    DEFAULT_TIMEOUTS = {"create": 60 * 60.0, "update": 10 * 60.0, "delete": 10 * 60.0}
    DESCRIPTION = (
        "An image master (Image Transfer Optimization): a volume with a disk image written onto "
        "it over iSCSI by `qemu-img` (userspace libiscsi, no kernel initiator needed), verified "
        "by reading it back, and a base snapshot that `nimble_clone_volume` clones from. The "
        "host running Terraform needs `qemu-img` with the iSCSI block driver and `iscsi-ls` "
        "(Debian: `qemu-utils`, `qemu-block-extra`, `libiscsi-bin`) and must reach the array's "
        "iSCSI portal. The image comes from a local file, an http(s) URL, or Glance "
        "(`glance_image_id`): a Glance image is downloaded to a temporary file and verified "
        "against Glance's checksums first, so a damaged image never creates a volume and no "
        "snapshot ever holds unverified data. Delete is refused while clones of the snapshot "
        "exist outside this configuration. The create timeout defaults to 60 minutes. Import "
        "with the volume's ID or name (or `NAME/SNAPSHOT` when the snapshot is not called "
        "`ito-base`): the image attributes come back from the provenance the provider records "
        "in the base snapshot's description."
    )

    # --- plan ---------------------------------------------------------------------------

    def validate_config(self, ctx: Context, config: ImageMasterModel) -> None:
        pc.check_source(ctx, config.source, config.source_username, config.source_password)
        ig.validate(ctx, config)
        login.validate(ctx, config.chap_username, config.chap_secret_wo)

    def modify_plan(
        self,
        ctx: Context,
        plan: ImageMasterModel,
        state: ImageMasterModel | None,
        config: ImageMasterModel,
    ) -> ImageMasterModel:
        pc.pool_and_policy(ctx, plan, state)
        if state is None:
            pc.report(ctx, lambda: ig.plan_check(config))
            login.plan_check(ctx, config.chap_username, config.chap_secret_wo)
        source = plan.source
        if state is not None or not is_known(source) or source is None or iw.is_url(source):
            return plan
        pc.local_source_exists(source)
        fmt = config.source_format
        if not is_known(fmt):
            return plan
        try:
            found, size = iw.probe(source, fmt)
        except iw.ImageError as err:
            raise DiagnosticError(err.summary, err.detail, ROOT.attr("source")) from err
        # Known at plan time, so the plan shows the real size clones will have.
        plan.image_format, plan.image_virtual_size = found, size
        if fmt is None:
            plan.source_format = found
        _run(lambda: ops.check_size(known_or_none(config.size_mib), size))
        if config.size_mib is None:
            plan.size_mib = -(-size // c.MIB)
        return plan

    # --- create -------------------------------------------------------------------------

    def create(self, ctx: Context, plan: ImageMasterModel) -> ImageMasterModel:
        job = _job(ctx)
        name, glance = need(plan.name, "name"), ig.resolve(plan)
        source = ig.recorded(plan, glance) if glance else need(plan.source, "source")
        snapshot_name = known_or_none(plan.snapshot_name) or DEFAULT_SNAPSHOT
        workdir = iw.make_workdir()
        try:
            planned = {
                "image_format": known_or_none(plan.image_format),
                "image_virtual_size": known_or_none(plan.image_virtual_size),
            }
            src = _run(
                lambda: ops.prepare_source(
                    job,
                    name,
                    source,
                    known_or_none(plan.source_format),
                    known_or_none(plan.sha256),
                    planned,
                    workdir,
                    login.download_credentials(plan),
                    glance,
                )
            )
            size_mib = known_or_none(plan.size_mib) or None
            _run(lambda: ops.check_size(size_mib, src.virtual_size))
            pool = c.pool_id(ctx, known_or_none(plan.pool), ROOT.attr("pool"))
            policy = c.policy_id(
                ctx, known_or_none(plan.performance_policy), ROOT.attr("performance_policy")
            )
            initiator = known_or_none(plan.initiator_name) or iw.default_initiator_name()
            portal = iw.normalize_portal(
                known_or_none(plan.portal) or _run(lambda: ops.discovery_portal(job))
            )
            description = known_or_none(plan.description)
            chap = login.resolve(plan.chap_username, plan.chap_secret_wo)
            chap_id = _run(lambda: ops.chap_user_id(job, chap.username)) if chap else None
            vol = _run(
                lambda: ops.create_volume(
                    job, name, size_mib or src.size_mib, pool, policy, description
                )
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
            recorded = ops.provenance(src, source, plan.sha256 is not None)
            try:
                snap = _run(
                    lambda: ops.write_and_snapshot(
                        job,
                        vol,
                        src,
                        initiator,
                        portal,
                        snapshot_name,
                        recorded,
                        (chap, chap_id) if chap and chap_id else None,
                    )
                )
            except BaseException as err:
                problem = ops.discard(job, vol, err)
                if problem is not None:
                    ctx.set_partial_state(model)
                if isinstance(err, DiagnosticError):
                    note = ops.discard_note(vol.name, problem)
                    err.detail = f"{err.detail}\n\n{note}" if err.detail else note
                raise
            model.snapshot_id = snap.id
            if not src.downloaded:
                ctx.private[FINGERPRINT] = [src.file_size, src.mtime_ns, src.sha256]
            return model
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    # --- read ---------------------------------------------------------------------------

    def read(self, ctx: Context, state: ImageMasterModel) -> ImageMasterModel | None:
        from .client import snapshots, volumes

        cl, ident, name = c.client(ctx), need(state.id, "id"), str(state.name)
        vol = c.call(lambda: volumes.get_volume(cl, ident), "read", KIND, name)
        if vol is None:
            return None
        model = replace(state, **_volume_fields(vol), pool=vol.pool_name)
        model.performance_policy = vol.perfpolicy_name
        model.size_mib = vol.size_mib
        model.description = c.text_or_prior(vol.description, state.description)
        snap = None
        snap_id = known_or_none(state.snapshot_id)
        if snap_id:
            snap = c.call(lambda: snapshots.get_snapshot(cl, snap_id), "read", KIND, name)
        source = known_or_none(state.source)
        if snap is None:
            # No base snapshot: clones cannot be made; plan a new master.
            model.snapshot_id = None
            gone = "the base snapshot is gone"
            if model.glance_image_id is not None:
                model.glance_image_id = _mark(known_or_none(state.glance_image_id), gone)
            else:
                model.source = _mark(source, gone)
            return model
        model.snapshot_name = snap.name
        if source and CHANGED_MARK not in source:
            # In read (refresh), because only a changed attribute value can make Terraform
            # plan a replacement: the marked `source` then differs from the configuration.
            image_sha256 = known_or_none(state.image_sha256)
            known = ctx.private.get(FINGERPRINT)
            why, fingerprint = ops.source_changed(source, image_sha256, known, _job(ctx))
            if fingerprint is not None:
                ctx.private[FINGERPRINT] = fingerprint
            if why:
                model.source = _mark(source, why)
        return model

    # --- update -------------------------------------------------------------------------

    def update(
        self, ctx: Context, plan: ImageMasterModel, state: ImageMasterModel
    ) -> ImageMasterModel:
        from .client import snapshots, volumes

        cl, ident, name = c.client(ctx), need(state.id, "id"), str(state.name)
        changes = c.renames_and_policy(ctx, plan, state)
        model = replace(plan)
        if changes:
            ctx.check(f"updating image master {name}")
            vol = c.call(lambda: volumes.update_volume(cl, ident, **changes), "update", KIND, name)
            model = replace(model, **_volume_fields(vol))
            model.performance_policy = vol.perfpolicy_name
        snap_id = known_or_none(state.snapshot_id)
        if plan.snapshot_name != state.snapshot_name and snap_id:
            new_name = known_or_none(plan.snapshot_name)
            c.call(
                lambda: snapshots.update_snapshot(cl, snap_id, name=new_name),
                "update",
                "snapshot",
                f"{name}/{state.snapshot_name}",
            )
        # Adopted masters (imported without provenance) only record what was configured.
        for attr in ("initiator_name", "portal", "source_format", "size_mib", "pool"):
            if not is_known(getattr(model, attr)):
                setattr(model, attr, getattr(state, attr))
        return model

    # --- delete -------------------------------------------------------------------------

    def delete(self, ctx: Context, state: ImageMasterModel) -> None:
        name, snap_id = str(state.name), known_or_none(state.snapshot_id)
        if snap_id:
            snap_name = str(state.snapshot_name)
            try:
                _run(lambda: ops.delete_base_snapshot(_job(ctx), name, snap_id, snap_name))
            except ops.StillHasClones as err:
                raise has_clones(name, snap_name, err.clones, err.cause) from err
        c.delete_volume(ctx, need(state.id, "id"), name, KIND, was_online=True)

    # --- import -------------------------------------------------------------------------

    def import_state(self, ctx: Context, import_id: str) -> ImageMasterModel:
        from .client import snapshots

        cl = c.client(ctx)
        ident, _, snap_name = import_id.partition("/")
        snap_name = snap_name or DEFAULT_SNAPSHOT
        vol = c.find_volume(ctx, ident, KIND)
        if vol is None:
            err = diag.not_found(KIND, ident, "Import an image master by its volume's ID or name.")
            raise foreign_ids.explained(cl, err, KIND, ident, None)
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
        found = ops.parse_provenance(snap.description)
        source, image_id, endpoint = ig.from_provenance(found.get("source"))
        return ImageMasterModel(
            pool=vol.pool_name,
            performance_policy=vol.perfpolicy_name,
            description=vol.description or None,
            snapshot_name=snap.name,
            snapshot_id=snap.id,
            size_mib=vol.size_mib,
            source=source,
            glance_image_id=image_id,
            glance_endpoint=endpoint,
            sha256=found.get("sha256") if found.get("pinned") else None,
            source_format=found.get("format"),
            image_sha256=found.get("sha256"),
            image_format=found.get("format"),
            image_virtual_size=found.get("virtual_size"),
            **_volume_fields(vol),
        )


# --- helpers ----------------------------------------------------------------------------------


def _job(ctx: Context) -> ops.Job:
    remaining = ctx.remaining()
    deadline = time.monotonic() + remaining if remaining is not None else None
    return ops.Job(c.client(ctx), ctx.check, ctx.stop_event, deadline, ctx.logger)


def _run(step: Callable[[], T]) -> T:
    """Run an ops step; its failures become diagnostics (on the attribute they concern)."""
    try:
        return step()
    except ops.Failure as err:
        path = ROOT.attr(err.attribute) if err.attribute else None
        raise DiagnosticError(err.summary, err.detail, path) from err
    except ops.ApiFailure as err:
        from .client.leftovers import LeftoverNotAdopted

        if isinstance(err.cause, LeftoverNotAdopted):
            raise c.leftover_refused(err.cause, err.kind) from err
        args = c.ARGS if err.pinpoint else None
        raise diag.api_error(err.action, err.kind, err.name, err.cause, None, args) from err


def _volume_fields(vol: Volume) -> dict[str, Any]:
    return {
        "id": vol.id,
        "volume_id": vol.id,
        "name": vol.name,
        "target_name": vol.target_name,
        "serial_number": vol.serial_number,
    }


def _mark(source: str | None, why: str) -> str:
    return f"{source}{CHANGED_MARK} {why}]"


def has_clones(
    name: str, snapshot: str, clones: list[str], err: BaseException | None = None
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
