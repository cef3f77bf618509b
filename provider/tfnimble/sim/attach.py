"""Plug ``tfnimble.sim.dataplane.DataPlane`` (reflink files + tgtd) into the model's seam.

The model speaks ``seam.DataPlane`` (object ids, online/offline, ACL lists); the data plane
speaks files and targets. This adapter translates and keeps the two facts the data plane does
not track: which targets are exported, and the ACL to apply when one is (re)exported.
Snapshots are not exported (the data plane exports volume files only). The group target is
stated whole by the model (``set_target``); its LUNs are the array's LUN numbers as they are
(the model never gives LUN 0 on it: tgtd keeps LUN 0 for its controller). A volume's own target
exports the array's LUN 0 as tgtd LUN 1, its one disk. Each LUN reports its volume's serial.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from .constants import PREFIX

log = logging.getLogger("nimble-sim")

TARGETS_CACHE_SECONDS = 1.0  # connections() is asked once per rendered volume; tgtadm is a fork


class DataPlaneAdapter:
    def __init__(self, dp: Any) -> None:
        self.dp = dp
        self._iscsi = bool(getattr(dp, "iscsi", True))
        self._lock = threading.Lock()
        self._acl: dict[str, list[str]] = {}
        self._chap: dict[str, dict[str, str]] = {}  # target -> CHAP accounts wanted
        self._chap_on: dict[str, dict[str, str]] = {}  # target -> bound on the exported target
        self._exported: set[str] = set()
        self._targets: dict[str, Any] = {}
        self._targets_at = 0.0

    @staticmethod
    def _is_snapshot(object_id: str) -> bool:
        return object_id.startswith(PREFIX["snapshot"])

    def create_volume(self, vol_id: str, size_bytes: int) -> None:
        self.dp.create_volume(vol_id, size_bytes)

    def snapshot(self, vol_id: str, snap_id: str) -> None:
        self.dp.snapshot(vol_id, snap_id)

    def clone(self, snap_id: str, vol_id: str, size_bytes: int) -> None:
        self.dp.clone(snap_id, vol_id, size_bytes)

    def restore(self, vol_id: str, snap_id: str) -> None:
        self.dp.restore(vol_id, snap_id)

    def resize(self, vol_id: str, size_bytes: int) -> None:
        self.dp.resize_volume(vol_id, size_bytes)

    def delete(self, object_id: str) -> None:
        if self._is_snapshot(object_id):
            self.dp.delete_snapshot(object_id)
        else:
            self.dp.delete_volume(object_id)

    def set_online(self, target_name: str, object_id: str, online: bool, serial: str = "") -> None:
        if self._is_snapshot(object_id) or not self._iscsi:
            return
        with self._lock:
            if online:
                self.dp.export(object_id, target_name, serial=serial or None)
                self._exported.add(target_name)
                self.dp.set_acl(target_name, self._acl.get(target_name, []))
                self._apply_chap(target_name)
            else:
                self.dp.unexport(target_name)
                self._exported.discard(target_name)
                self._chap_on.pop(target_name, None)
            self._targets_at = 0.0

    def set_acl(self, target_name: str, object_id: str, initiator_iqns: list[str]) -> None:
        with self._lock:
            self._acl[target_name] = list(initiator_iqns)
            if target_name in self._exported and self._iscsi:
                self.dp.set_acl(target_name, initiator_iqns)

    def set_chap(self, target_name: str, object_id: str, accounts: dict[str, str]) -> None:
        with self._lock:
            self._chap[target_name] = dict(accounts)
            if target_name in self._exported and self._iscsi:
                self._apply_chap(target_name)

    def _apply_chap(self, target_name: str) -> None:
        """Bind the wanted accounts when they differ from what the target has (most targets
        never have any: no tgtadm call for them)."""
        want = self._chap.get(target_name, {})
        if want != self._chap_on.get(target_name, {}):
            self.dp.set_chap(target_name, want)
            self._chap_on[target_name] = dict(want)

    def set_target(
        self,
        target_name: str,
        luns: dict[int, str],
        initiator_iqns: list[str],
        serials: dict[str, str] | None = None,
    ) -> None:
        if not self._iscsi:
            return
        with self._lock:
            if luns:
                self.dp.export_volumes(target_name, dict(luns), serials)
                self.dp.set_acl(target_name, initiator_iqns)
            else:
                self.dp.unexport(target_name)
            self._targets_at = 0.0

    def usage(self, object_id: str, *, owns_shared: bool = False) -> int | None:
        try:
            if owns_shared:
                return int(self.dp.allocated_bytes(object_id))
            return int(self.dp.unique_bytes(object_id))
        except (OSError, LookupError):
            return None
        except Exception as exc:  # a data-plane error must not break reads
            log.debug("usage of %s unavailable: %s", object_id, exc)
            return None

    def _target(self, target_name: str) -> tuple[bool, Any]:
        """(known, the target or None); not known when tgtadm cannot answer."""
        with self._lock:
            if time.monotonic() - self._targets_at > TARGETS_CACHE_SECONDS:
                try:
                    self._targets = dict(self.dp.targets())
                except Exception as exc:
                    log.debug("tgtadm show failed: %s", exc)
                    return False, None
                self._targets_at = time.monotonic()
            return True, self._targets.get(target_name)

    def connections(self, target_name: str) -> int | None:
        if not self._iscsi:
            return None
        known, target = self._target(target_name)
        if not known:
            return None
        return int(target.connections) if target is not None else 0

    def sessions(self, target_name: str) -> list[str] | None:
        """The initiator of each connection to the target."""
        if not self._iscsi:
            return None
        known, target = self._target(target_name)
        if not known:
            return None
        nexus = target.nexus if target is not None else []
        return [name for name, ips in nexus for _ in range(max(1, len(ips)))]

    def close(self) -> None:
        self.dp.stop()


def open_tgt_data_plane(state_dir: str | Path, portal: str, **kwargs: Any) -> DataPlaneAdapter:
    """Start ``tfnimble.sim.dataplane.DataPlane`` under ``STATE_DIR/dataplane`` and adapt it."""
    from . import dataplane

    dp = dataplane.DataPlane(Path(state_dir) / "dataplane", portal, **kwargs).start()
    return DataPlaneAdapter(dp)
