"""The seam between the model and a data plane (backing files, iSCSI targets).

The model calls the data plane inside its write transaction, after the rules have passed and
before the commit. An exception rolls the model's records back and the client gets a 500; data-plane
calls that already succeeded in the same request are not undone (a file or target may be left
behind until the object is deleted or the data plane restarted). ``object_id`` is a volume or
snapshot id. ``usage``, ``connections`` and ``sessions`` are called while rendering objects, so
they must be cheap (cache); ``None`` means "no opinion, use the model's own numbers".

Two kinds of target: a volume-scoped one exports one volume (``set_online``/``set_acl``); the
group-scoped one is stated whole by ``set_target``: exactly these LUNs (API LUN number -> volume
id) to exactly these initiators, no LUNs meaning no target. A volume's LUN reports the volume's
``serial_number`` (``serial``, ``serials``: volume id -> serial) as its SCSI unit serial, as the
array's do, so a host can tell which volume a disk is. ``set_chap`` states the CHAP accounts
(user -> secret) a volume-scoped target asks for (none: no CHAP), kept like the ACL.
"""

from __future__ import annotations

from typing import Protocol


class DataPlane(Protocol):
    def create_volume(self, vol_id: str, size_bytes: int) -> None: ...
    def snapshot(self, vol_id: str, snap_id: str) -> None: ...
    def clone(self, snap_id: str, vol_id: str, size_bytes: int) -> None: ...
    def restore(self, vol_id: str, snap_id: str) -> None: ...
    def resize(self, vol_id: str, size_bytes: int) -> None: ...
    def delete(self, object_id: str) -> None: ...
    def set_online(
        self, target_name: str, object_id: str, online: bool, serial: str = ""
    ) -> None: ...
    def set_acl(self, target_name: str, object_id: str, initiator_iqns: list[str]) -> None: ...
    def set_chap(self, target_name: str, object_id: str, accounts: dict[str, str]) -> None: ...
    def set_target(
        self,
        target_name: str,
        luns: dict[int, str],
        initiator_iqns: list[str],
        serials: dict[str, str] | None = None,
    ) -> None: ...
    def usage(self, object_id: str, *, owns_shared: bool = False) -> int | None: ...
    def connections(self, target_name: str) -> int | None: ...
    def sessions(self, target_name: str) -> list[str] | None: ...
    def close(self) -> None: ...


class NullDataPlane:
    """No data plane: volumes exist only as records. Every call does nothing."""

    def _nothing(self, *args: object, **kwargs: object) -> None:
        return None

    create_volume = snapshot = clone = restore = resize = delete = _nothing
    set_online = set_acl = set_chap = set_target = usage = connections = sessions = close = _nothing
