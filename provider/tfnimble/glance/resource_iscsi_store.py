"""glance_iscsi_store: the Glance filesystem store on an iSCSI volume from the array."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from tfnimble.plugin import (
    Attribute,
    AttributePath,
    Context,
    DiagnosticError,
    Resource,
    Schema,
    Value,
    is_known,
    is_unknown,
    known_or_none,
    need,
    requires_replace,
    split_import_id,
    timeouts_block,
    types,
    use_state_for_unknown,
)
from tfnimble.plugin.validators import matches

if TYPE_CHECKING:
    from .iscsi_store_ops import Progress, StoreSpec, StoreState
    from .provider import ControllerConnection
    from .transport.base import Transport

R = TypeVar("R")

DEFAULT_MOUNT_POINT = "/var/lib/glance/images"


@dataclass
class IscsiStoreModel:
    id: Value[str] = None
    portal: Value[str] = None
    target_iqn: Value[str] = None
    lun: Value[int] = None
    volume_serial: Value[str] = None
    chap_username: Value[str] = None
    chap_secret_wo: Value[str] = None
    chap_secret_wo_version: Value[int] = None
    mount_point: Value[str] = None
    fs_type: Value[str] = None
    mkfs_options: Value[list[str]] = None
    mount_options: Value[str] = None
    config_file: Value[str] = None
    backend: Value[str] = None
    service: Value[str] = None
    owner: Value[str] = None
    initiator_name: Value[str] = None
    force_format: Value[bool] = None
    force_destroy: Value[bool] = None
    device: Value[str] = None
    fs_uuid: Value[str] = None
    session_id: Value[int] = None
    previous_datadir: Value[str] = None
    config_layout: Value[str] = None
    drift: Value[list[str]] = None
    timeouts: Value[dict[str, str | None]] = None


def _replace(desc: str, **kw: Any) -> Attribute:
    kw.setdefault("type", types.String)
    mods: tuple[Any, ...] = (requires_replace(),)
    if kw.get("computed"):
        # A detected value (lun) stays what it is unless the configuration sets another.
        mods = (use_state_for_unknown(), requires_replace())
    return Attribute(description=desc, plan_modifiers=mods, **kw)


def _kept(desc: str, **kw: Any) -> Attribute:
    kw.setdefault("type", types.String)
    return Attribute(
        computed=True, description=desc, plan_modifiers=(use_state_for_unknown(),), **kw
    )


def _flag(desc: str) -> Attribute:
    return Attribute(type=types.Bool, optional=True, computed=True, default=False, description=desc)


class IscsiStoreResource(Resource):
    TYPE_NAME = "iscsi_store"
    Model = IscsiStoreModel
    DEFAULT_TIMEOUTS = {"create": 15 * 60.0, "update": 15 * 60.0, "delete": 15 * 60.0}

    def schema(self) -> Schema:
        return Schema(
            description=(
                "Moves the Glance filesystem image store onto an iSCSI volume: sendtargets "
                "discovery at `portal`, login to `target_iqn` (an existing session is reused), "
                "`mkfs` only if the device holds no filesystem (never reformats data unless "
                "`force_format`), one fstab line by UUID with `_netdev`, mount, owner and mode "
                "0750, `filesystem_store_datadir` set in place in glance-api.conf (every other "
                "line kept), and a glance-api restart that is checked. Destroy reverses it in "
                "order and leaves the data on the volume."
            ),
            attributes={
                "id": _kept("`portal,target_iqn,mount_point`."),
                "portal": _replace(
                    "iSCSI discovery portal, `IP` or `IP:PORT` (port 3260 by default), e.g. "
                    "`data.nimble_discovery.this.discovery_ip`.",
                    required=True,
                ),
                "target_iqn": _replace(
                    "The volume's iSCSI target name, e.g. `nimble_volume.glance.target_name`.",
                    required=True,
                    validators=(matches(r"(iqn|eui|naa)\.\S+", "must be an iSCSI name (iqn....)"),),
                ),
                "lun": _replace(
                    "LUN of the volume in the target: the LUN of the volume's access record, "
                    "`nimble_access_control_record.NAME.lun` (a group-scoped target carries "
                    "every volume exported to the controller, one LUN each; a volume-scoped "
                    "target has LUN 0). Default: the target's first disk LUN, which is right "
                    "only for a volume-scoped target.",
                    type=types.Number,
                    optional=True,
                    computed=True,
                ),
                "volume_serial": _replace(
                    "Serial number of the volume, `nimble_volume.NAME.serial_number`. Before "
                    "any mkfs or mount the disk found at `lun` must report it (its SCSI unit "
                    "serial number or a /dev/disk/by-id name built from it); a disk that is "
                    "another volume is refused and nothing on the controller is changed.",
                    optional=True,
                    validators=(
                        matches(
                            r"[0-9A-Fa-f]{16,64}",
                            "must be a volume serial number (hex digits), e.g. "
                            "nimble_volume.NAME.serial_number",
                        ),
                    ),
                ),
                "chap_username": _replace(
                    "CHAP user the controller logs in as, when the volume's access control "
                    "record names one (`nimble_chap_user.NAME.name`); with `chap_secret_wo`. "
                    "A change replaces the store (the data stays on the volume).",
                    optional=True,
                    validators=(matches(r"[!-~]{1,256}", "must be printable ASCII, no spaces"),),
                ),
                "chap_secret_wo": Attribute(
                    type=types.String,
                    optional=True,
                    sensitive=True,
                    write_only=True,
                    validators=(matches(r"[!-~]{1,256}", "must be printable ASCII, no spaces"),),
                    description=(
                        "The CHAP secret of `chap_username`. Write-only (Terraform 1.11 or "
                        "later): never kept in plan or state. It is written into the "
                        "controller's iSCSI node record (mode 0600, as iscsiadm keeps it) "
                        "through the transport's standard input, never as a command argument, "
                        "before the login. Change `chap_secret_wo_version` to log in with a "
                        "new one."
                    ),
                ),
                "chap_secret_wo_version": Attribute(
                    type=types.Number,
                    optional=True,
                    description=(
                        "Any number; a change writes the new `chap_secret_wo` into the node "
                        "record in place (after the CHAP user's new `secret_wo` reached the "
                        "array). The running session stays logged in, as a target checks "
                        "CHAP only at login; the next login (a reboot, a re-login) uses the "
                        "new secret."
                    ),
                ),
                "mount_point": _replace(
                    "Where the filesystem is mounted; becomes Glance's datadir.",
                    optional=True,
                    computed=True,
                    default=DEFAULT_MOUNT_POINT,
                    validators=(matches(r"/[^\s]*", "must be an absolute path"),),
                ),
                "fs_type": _replace(
                    "Filesystem made on an empty device.",
                    optional=True,
                    computed=True,
                    default="ext4",
                ),
                "mkfs_options": _replace(
                    "Extra mkfs arguments.",
                    type=types.List(types.String),
                    optional=True,
                    computed=True,
                    default=["-b", "4096"],
                ),
                "mount_options": Attribute(
                    type=types.String,
                    optional=True,
                    computed=True,
                    default="_netdev,nofail,noatime",
                    description="Options of the fstab line (updated in place).",
                ),
                "config_file": _replace(
                    "glance-api configuration file.",
                    optional=True,
                    computed=True,
                    default="/etc/glance/glance-api.conf",
                ),
                "backend": _replace(
                    "With multi-store (`enabled_backends`), the backend section to point at "
                    "the store. Default: `default_backend`.",
                    optional=True,
                ),
                "service": _kept(
                    "glance-api service unit. Default: detected (glance-api, "
                    "openstack-glance-api, devstack@g-api).",
                    optional=True,
                ),
                "owner": _kept(
                    "`user` or `user:group` owning the mount point. Default: the service's user, "
                    "else `glance`.",
                    optional=True,
                ),
                "initiator_name": _kept("The controller's initiator IQN (read from it)."),
                "force_format": _flag(
                    "Format the device even if it already holds a filesystem. **Erases it.**"
                ),
                "force_destroy": _flag(
                    "Detach the store on destroy even while it holds image files (they stay on "
                    "the volume)."
                ),
                "device": Attribute(
                    type=types.String, computed=True, description="Kernel block device."
                ),
                "fs_uuid": _kept("UUID of the store's filesystem: its identity."),
                "session_id": Attribute(
                    type=types.Number, computed=True, description="iSCSI session id."
                ),
                "previous_datadir": _kept(
                    "`filesystem_store_datadir` before this resource changed it; restored on "
                    "destroy (null: it was not set)."
                ),
                "config_layout": _kept("`legacy` or `multi-store`."),
                "drift": Attribute(
                    type=types.List(types.String),
                    computed=True,
                    description="What differs on the controller from what was applied (empty "
                    "when in place). A non-empty value plans an update that repairs it.",
                ),
            },
            blocks={"timeouts": timeouts_block("create", "update", "delete")},
        )

    # --- helpers -------------------------------------------------------------------------

    def _spec(self, m: IscsiStoreModel, lun: Value[int] = None) -> StoreSpec:
        from .iscsi_store_ops import StoreSpec

        lun_v = m.lun if is_known(m.lun) and m.lun is not None else known_or_none(lun)
        try:
            return StoreSpec(
                portal=need(m.portal, "portal"),
                target_iqn=need(m.target_iqn, "target_iqn"),
                lun=int(lun_v) if lun_v is not None else None,
                mount_point=known_or_none(m.mount_point) or DEFAULT_MOUNT_POINT,
                fs_type=known_or_none(m.fs_type) or "ext4",
                mkfs_options=tuple(known_or_none(m.mkfs_options) or ("-b", "4096")),
                mount_options=known_or_none(m.mount_options) or "_netdev,nofail,noatime",
                config_file=known_or_none(m.config_file) or "/etc/glance/glance-api.conf",
                backend=known_or_none(m.backend),
                service=known_or_none(m.service),
                owner=known_or_none(m.owner),
                force_format=bool(known_or_none(m.force_format)),
                volume_serial=known_or_none(m.volume_serial),
                chap_username=known_or_none(m.chap_username),
                chap_secret=known_or_none(m.chap_secret_wo),
            )
        except ValueError as exc:
            raise DiagnosticError("Invalid Glance Store Configuration", str(exc)) from exc

    def _call(self, ctx: Context, what: str, fn: Callable[[Transport], R]) -> R:
        from .controller import ControllerError
        from .transport.base import TransportError

        conn: ControllerConnection | None = ctx.provider_data
        if conn is None:
            raise DiagnosticError(
                "Provider Not Configured", "The glance provider was not configured."
            )
        try:
            return fn(conn.transport())
        except ControllerError as exc:
            attribute = getattr(exc, "attribute", None)
            raise DiagnosticError(
                exc.summary,
                f"While {what} on {conn.description}: {exc}",
                AttributePath.root().attr(attribute) if attribute else None,
            ) from exc
        except TransportError as exc:
            raise DiagnosticError(
                "Cannot Reach The Controller", f"While {what} on {conn.description}: {exc}"
            ) from exc

    def _to_model(
        self, state: StoreState, prev: IscsiStoreModel, spec: StoreSpec
    ) -> IscsiStoreModel:
        return IscsiStoreModel(
            id=f"{spec.portal},{spec.target_iqn},{spec.mount_point}",
            portal=prev.portal,
            target_iqn=prev.target_iqn,
            lun=state.lun if state.lun is not None else prev.lun,
            volume_serial=prev.volume_serial,
            chap_username=prev.chap_username,
            chap_secret_wo=None,
            chap_secret_wo_version=prev.chap_secret_wo_version,
            mount_point=spec.mount_point,
            fs_type=spec.fs_type,
            mkfs_options=list(spec.mkfs_options),
            mount_options=spec.mount_options,
            config_file=spec.config_file,
            backend=prev.backend,
            service=state.service or spec.service,
            owner=state.owner or spec.owner,
            initiator_name=state.initiator_name,
            force_format=bool(known_or_none(prev.force_format)),
            force_destroy=bool(known_or_none(prev.force_destroy)),
            device=state.device,
            fs_uuid=state.fs_uuid,
            session_id=state.session_id,
            previous_datadir=state.previous_datadir,
            config_layout=state.config_layout,
            drift=list(state.drift()),
            timeouts=prev.timeouts,
        )

    def _state_from(self, ctx: Context, m: IscsiStoreModel) -> StoreState:
        from .iscsi_store_ops import StoreState

        saved = ctx.private.get("store")
        if isinstance(saved, dict):
            return StoreState.from_dict(saved)
        lun = known_or_none(m.lun)
        return StoreState(
            fs_uuid=known_or_none(m.fs_uuid),
            previous_datadir=known_or_none(m.previous_datadir),
            config_layout=known_or_none(m.config_layout),
            service=known_or_none(m.service),
            owner=known_or_none(m.owner),
            initiator_name=known_or_none(m.initiator_name),
            lun=int(lun) if lun is not None else None,
        )

    def _progress(self, ctx: Context) -> Progress:
        def report(step: str) -> None:
            ctx.logger.info("glance_iscsi_store: %s", step)
            ctx.check(step)

        return report

    # --- CRUD ----------------------------------------------------------------------------

    def validate_config(self, ctx: Context, config: IscsiStoreModel) -> None:
        user, secret = config.chap_username, config.chap_secret_wo
        if (user is None) != (secret is None) and not is_unknown(user) and not is_unknown(secret):
            missing = "chap_secret_wo" if secret is None else "chap_username"
            ctx.diagnostics.add_error(
                "Incomplete CHAP Login",
                "chap_username and chap_secret_wo go together: set both for a CHAP login, or "
                f"neither. Set {missing}.",
                AttributePath.root().attr(missing) if missing == "chap_username" else None,
            )

    def modify_plan(
        self,
        ctx: Context,
        plan: IscsiStoreModel,
        state: IscsiStoreModel | None,
        config: IscsiStoreModel,
    ) -> IscsiStoreModel:
        if state is not None and state.drift:
            plan.drift = []  # drift shows as `drift = [...] -> []`; apply repairs it
        elif state is not None and is_unknown(plan.drift):
            plan.drift = []
        return plan

    def create(self, ctx: Context, plan: IscsiStoreModel) -> IscsiStoreModel:
        from . import iscsi_store_ops as ops

        spec = self._spec(plan)
        result = self._call(
            ctx, "creating the Glance store", lambda t: ops.create(t, spec, self._progress(ctx))
        )
        ctx.private["store"] = _jsonable(result.to_dict())
        model = self._to_model(result, plan, spec)
        if result.drift():
            ctx.set_partial_state(model)
            raise _not_in_place("creating the store", result.drift())
        return model

    def read(self, ctx: Context, state: IscsiStoreModel) -> IscsiStoreModel | None:
        from . import iscsi_store_ops as ops

        spec = self._spec(state)
        known = self._state_from(ctx, state) if state.fs_uuid else None
        result = self._call(ctx, "reading the Glance store", lambda t: ops.read(t, spec, known))
        if result is None:
            return None
        if known is not None and known.previous_datadir is not None:
            result = replace(result, previous_datadir=known.previous_datadir)
        ctx.private["store"] = _jsonable(result.to_dict())
        return self._to_model(result, state, spec)

    def update(
        self, ctx: Context, plan: IscsiStoreModel, state: IscsiStoreModel
    ) -> IscsiStoreModel:
        from . import iscsi_store_ops as ops

        spec = self._spec(plan, lun=state.lun)
        known = self._state_from(ctx, state)
        result = self._call(
            ctx,
            "repairing the Glance store",
            lambda t: ops.update(t, spec, known, self._progress(ctx)),
        )
        ctx.private["store"] = _jsonable(result.to_dict())
        if result.drift():
            raise _not_in_place("the update", result.drift())
        return self._to_model(result, plan, spec)

    def delete(self, ctx: Context, state: IscsiStoreModel) -> None:
        from . import iscsi_store_ops as ops

        spec = self._spec(state)
        known = self._state_from(ctx, state)
        self._call(
            ctx,
            "removing the Glance store",
            lambda t: ops.delete(
                t, spec, known, bool(known_or_none(state.force_destroy)), self._progress(ctx)
            ),
        )

    def import_state(self, ctx: Context, import_id: str) -> IscsiStoreModel:
        parts = split_import_id(import_id, ["portal", "target_iqn", "mount_point"])
        model = IscsiStoreModel(
            portal=parts["portal"],
            target_iqn=parts["target_iqn"],
            mount_point=parts["mount_point"],
            fs_type="ext4",
            mkfs_options=["-b", "4096"],
            mount_options="_netdev,nofail,noatime",
            config_file="/etc/glance/glance-api.conf",
            force_format=False,
            force_destroy=False,
        )
        found = self.read(ctx, model)
        if found is None:
            raise DiagnosticError(
                "Glance Store Not Found",
                f"Nothing of a Glance store for {import_id} was found on the controller "
                "(no iSCSI session, fstab line, mount or datadir).",
                AttributePath.root(),
            )
        return found


def _not_in_place(after: str, drift: list[str]) -> DiagnosticError:
    return DiagnosticError(
        "Glance Store Not In Place",
        f"After {after} the controller still shows: " + "; ".join(drift),
    )


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if isinstance(v, str | int | float | bool) or v is None}
