"""Which LUN to write: the one the array gave the access control record, confirmed on the
target before a byte is written.

A volume-scoped Nimble target exports its volume as LUN 0; under a group-scoped target (GST)
every volume exported to a host is a LUN of the one group target, numbered by the access
control record (``lun``). So the LUN is never guessed from the target's LUN list (the first
disk, or one of the right size, may be another volume): it is the record's, and the target
must show that LUN as a disk whose SCSI unit serial number (VPD page 0x80) is the volume's
``serial_number``. A target that numbers its LUNs otherwise than the array's records (tgtd
keeps LUN 0 for its controller) is followed only where exactly one LUN carries the volume's
serial number; anything else is refused before the write.

Uses ``iscsi-ls`` and ``iscsi-inq`` (libiscsi-bin) through :func:`imagewrite.run`.
"""

from __future__ import annotations

import re
import time

from . import chap_login
from . import imagewrite as iw

__all__ = ["confirm_lun", "parse_unit_serial", "same_serial"]

_SERIAL = re.compile(r"^Unit Serial Number:\[(.*)\]\s*$", re.M)


AUTH_FAILURE = "Authentication failure"  # libiscsi's words for a refused CHAP login


def login_refused(
    portal: str, target: str, initiator: str, chap: chap_login.Chap | None
) -> iw.ImageError:
    """The target asked for CHAP and refused the login (never showing a secret)."""
    if chap is None:
        hint = (
            "The target asks for CHAP: its access control record names a CHAP user. Set "
            "chap_username and chap_secret_wo."
        )
    else:
        hint = (
            f"The login as CHAP user {chap.username} failed authentication: check that "
            "chap_secret_wo is that user's secret (not shown here)."
        )
    return iw.ImageError(
        "iSCSI Login Refused",
        f"Target {target} at {portal} refused the login of {initiator}: authentication "
        f"failure. {hint} Nothing was written.",
    )


def parse_unit_serial(text: str) -> str | None:
    """The unit serial number from ``iscsi-inq -e 1 -c 128`` output (padding removed)."""
    m = _SERIAL.search(text)
    return m.group(1).strip() if m and m.group(1).strip() else None


def same_serial(reported: str, serial: str) -> bool:
    """A unit serial number names the volume: the array's 32 hex digits, in any case."""
    return reported.strip().lower() == serial.strip().lower()


def _unit_serial(
    portal: str,
    target: str,
    lun: int,
    initiator: str,
    deadline: float | None,
    chap: chap_login.Chap | None = None,
) -> tuple[str | None, str]:
    argv = [
        "iscsi-inq",
        "-i",
        initiator,
        "-e",
        "1",
        "-c",
        "128",
        f"iscsi://{portal}/{target}/{lun}",
    ]
    proc = iw.run(
        argv,
        timeout=min(30.0, iw._remaining(deadline)),
        what="iscsi-inq",
        env=chap_login.env(chap),
    )
    if proc.returncode != 0:
        return None, iw.last_line(proc.stderr or proc.stdout)
    return parse_unit_serial(proc.stdout), ""


def confirm_lun(
    portal: str,
    target: str,
    initiator: str,
    lun: int,
    serial: str,
    cancel: iw.Cancel | None = None,
    deadline: float | None = None,
    settle: float = iw.ACL_PROPAGATION,
    chap: chap_login.Chap | None = None,
) -> int:
    """The LUN at which `target` (at `portal`) shows `initiator` the volume whose serial number
    is `serial`: `lun` (the access record's) when the disk there carries that serial, else the
    one other disk LUN that does. A new access record may take a moment to reach the target:
    retried for `settle`. With `chap`, the tools log in as that CHAP user. Raises
    :class:`ImageError`; nothing is written by this."""
    if not serial.strip():
        raise iw.ImageError(
            "Cannot Confirm The LUN",
            f"The array reports no serial number for the volume of {target}, so LUN {lun} "
            "cannot be confirmed to be it. Nothing was written.",
        )
    until = time.monotonic() + settle
    if deadline is not None:
        until = min(until, deadline)
    argv = ["iscsi-ls", "-s", "-i", initiator, f"iscsi://{portal}"]
    failures = 0
    serials: dict[int, str | None] = {}  # a LUN's serial does not change while it is exported
    why = ""
    while True:
        iw._check(cancel, deadline, "discovering the iSCSI target")
        proc = iw.run(
            argv,
            timeout=min(30.0, iw._remaining(deadline)),
            cancel=cancel,
            what="iscsi-ls",
            env=chap_login.env(chap),
        )
        if proc.returncode != 0 and AUTH_FAILURE in proc.stdout + proc.stderr:
            # The target answered and refused the credentials: waiting changes nothing.
            raise login_refused(portal, target, initiator, chap)
        seen = iw.parse_iscsi_ls(proc.stdout) if proc.returncode == 0 else {}
        disks = sorted(n for n, kind, _ in seen.get(target, []) if kind == "DIRECT_ACCESS")
        for n in sorted(disks, key=lambda n: n != lun):  # the record's LUN first
            if n not in serials:
                serials[n], said = _unit_serial(portal, target, n, initiator, deadline, chap)
                why = said if n == lun else why
            if n == lun and serials[n] is not None and same_serial(str(serials[n]), serial):
                return lun
        carriers = [n for n in disks if (got := serials.get(n)) and same_serial(got, serial)]
        if len(carriers) == 1:
            # This target numbers its LUNs otherwise than the array's records (tgtd keeps
            # LUN 0 for its controller): follow the volume's serial number, and say so.
            iw.log.warning(
                "target %s shows volume %s at LUN %d, not at LUN %d as its access record says",
                target,
                serial,
                carriers[0],
                lun,
            )
            return carriers[0]
        # iscsi-ls also fails when a portal shows no target at all to this initiator; only a
        # refused TCP connection means the portal is wrong.
        if proc.returncode != 0 and not iw.reachable(portal):
            failures += 1
            if failures >= iw.CONNECT_ATTEMPTS:
                raise iw.ImageError(
                    "iSCSI Portal Unreachable",
                    f"No iSCSI portal answers at {portal}: "
                    f"{iw.last_line(proc.stderr or proc.stdout)}. Check portal (default: the "
                    "array's discovery IP, port 3260) and that this host reaches the array's "
                    "data network.",
                )
        if time.monotonic() >= until:
            break
        time.sleep(0.5)
    if target not in seen:
        said = f" (iscsi-ls: {iw.last_line(proc.stderr)})" if proc.returncode != 0 else ""
        raise iw.ImageError(
            "Initiator Refused",
            f"The portal {portal} does not show target {target} to initiator {initiator}; "
            f"it shows {len(seen)} other target(s){said}. The access control record was "
            "created, but the target did not accept this initiator: check that portal "
            "belongs to this array and that initiator_name is the name this host logs in "
            "with.",
        )
    if lun not in disks and not carriers:
        raise iw.ImageError(
            "LUN Not Exported",
            f"The access control record gave the volume LUN {lun}, but target {target} at "
            f"{portal} shows {initiator} disk LUN(s) {disks or 'none'}, none of them the "
            f"volume with serial number {serial}. Nothing was written.",
        )
    if serials.get(lun) is None and not carriers:
        raise iw.ImageError(
            "Cannot Confirm The LUN",
            f"LUN {lun} of {target} at {portal} reports no unit serial number (VPD page "
            f"0x80{': ' + why if why else ''}), so it cannot be confirmed to be the volume "
            f"with serial number {serial}. Nothing was written.",
        )
    claim = f"LUNs {carriers} all claim" if carriers else "no other LUN carries"
    raise iw.ImageError(
        "LUN Holds Another Volume",
        f"LUN {lun} of {target} at {portal} is the volume with serial number "
        f"{serials.get(lun)}, not {serial} (the one being written), and {claim} that serial "
        "number. Nothing was written. The target's LUNs do not match the array's access "
        "control records: check the array's group target configuration.",
    )
