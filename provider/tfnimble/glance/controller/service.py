"""The glance-api systemd unit: which one it is, its user, its state, restart and journal."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from ..transport.base import Transport
from .base import ControllerError, Sleep, polls, tail

__all__ = [
    "DEFAULT_SERVICE_USER",
    "SERVICE_CANDIDATES",
    "ServiceError",
    "detect_service",
    "service_is_active",
    "service_journal_tail",
    "service_restart",
    "service_user",
    "wait_service_active",
]

DEFAULT_SERVICE_USER = "glance"
#: glance-api unit names, per deployment (Debian/Ubuntu packages, RDO/RHEL,
#: devstack), in detection order.
SERVICE_CANDIDATES: tuple[str, ...] = ("glance-api", "openstack-glance-api", "devstack@g-api")


class ServiceError(ControllerError, summary="Glance Service Error"):
    """glance-api was not found, did not restart, or does not serve the new datadir."""


_UNIT = re.compile(r"^[A-Za-z0-9:_.@\\-]+$")


def _check_unit(name: str) -> None:
    if not _UNIT.match(name) or name.startswith("-"):
        raise ValueError(f"invalid systemd unit name {name!r}")


def _show(t: Transport, unit: str, *props: str) -> dict[str, str] | None:
    argv = ["systemctl", "show", "--no-pager"]
    for prop in props:
        argv += ["-p", prop]
    r = t.run([*argv, unit], idempotent=True)
    if r.returncode != 0:
        return None
    values = {}
    for line in r.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    return values


def detect_service(t: Transport, candidates: Sequence[str] = SERVICE_CANDIDATES) -> str:
    """The glance-api unit of this controller: the loaded candidate (an active one first)."""
    loaded: list[tuple[str, str]] = []
    for unit in candidates:
        _check_unit(unit)
        values = _show(t, unit, "LoadState", "ActiveState")
        if values and values.get("LoadState") == "loaded":
            loaded.append((unit, values.get("ActiveState", "")))
    if not loaded:
        raise ServiceError(
            "no glance-api service found on the controller (looked for "
            + ", ".join(f"{c}.service" for c in candidates)
            + "); set service to the unit that runs glance-api"
        )
    active = [unit for unit, state in loaded if state == "active"]
    return (active or [loaded[0][0]])[0]


def service_user(t: Transport, unit: str) -> str | None:
    """The unit's ``User=`` (None when unset, i.e. it starts as root)."""
    _check_unit(unit)
    r = t.run(["systemctl", "show", "--no-pager", "-p", "User", "--value", unit], idempotent=True)
    if r.returncode != 0:
        return None
    return r.stdout.strip() or None


def service_is_active(t: Transport, unit: str) -> str:
    """``systemctl is-active``: active, activating, inactive, failed, ..."""
    _check_unit(unit)
    r = t.run(["systemctl", "is-active", unit], idempotent=True)
    return r.stdout.strip() or ("active" if r.returncode == 0 else "unknown")


def service_journal_tail(t: Transport, unit: str, lines: int = 10) -> str:
    """The unit's last journal lines, best effort (empty if journalctl is unavailable)."""
    _check_unit(unit)
    r = t.run(
        ["journalctl", "-u", unit, "-n", str(lines), "--no-pager", "-o", "cat"], idempotent=True
    )
    return r.stdout.strip() if r.returncode == 0 else ""


def service_restart(t: Transport, unit: str) -> None:
    _check_unit(unit)
    r = t.run(["systemctl", "restart", unit], timeout=300)
    if r.returncode != 0:
        journal = service_journal_tail(t, unit)
        raise ServiceError(
            f"restarting {unit} failed (status {r.returncode}): {tail(r.stderr)}. "
            f"See `systemctl status {unit}` and `journalctl -u {unit}`"
            + (f". Last log lines: {tail(journal, 5)}" if journal else ""),
            result=r,
        )


def wait_service_active(
    t: Transport, unit: str, *, attempts: int = 20, delay: float = 0.5, sleep: Sleep = time.sleep
) -> str:
    """Poll until the unit is active (bounded); returns its last state."""
    state = "unknown"
    for attempt in polls(attempts, delay, sleep):
        state = service_is_active(t, unit)
        if state == "active" or (state in ("failed", "inactive") and attempt > 0):
            return state
    return state
