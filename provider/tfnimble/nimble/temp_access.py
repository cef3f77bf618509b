"""The image write's temporary initiator groups: always its own, marked, and cleaned up after
a killed run.

Rules:
1. Temporary access never uses a group that already exists (it may be a production group that
   happens to hold this host's IQN): each write creates its own group, named
   ``TEMP_PREFIX`` + random hex, described as temporary, with metadata
   ``TEMP_KEY=TEMP_VALUE`` and ``OWNER_KEY=<host>/<pid>/<process start>``.
2. A group is a leftover only when all of that holds: the name prefix, the description, the
   temporary marker, and an owner on this host whose process no longer runs (a live or
   unreadable owner, another host, or this very process is never touched).
3. Before a write, leftovers are removed with their access control records and nothing else;
   a failure to remove one is logged, not fatal (the next write tries again).
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .client import InitiatorGroup, NimbleClient

TEMP_PREFIX = "tf-imagewrite-"
TEMP_DESCRIPTION = "Temporary: terraform writes image master "
TEMP_KEY = "tfnimble-temporary"
TEMP_VALUE = "image-write"
OWNER_KEY = "tfnimble-owner"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc), or None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    # Field 22; the command name (field 2) may hold spaces, so count after its ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def owner_token(pid: int | None = None) -> str:
    """``<host>/<pid>/<start>``: which process created a temporary group."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}/{pid}/{_start_time(pid) or '?'}"


def owner_gone(owner: str) -> bool:
    """Whether the process named by `owner` has provably ended (it ran on this host, it is
    not this process, and no process with that pid and start time runs)."""
    host, _, rest = owner.partition("/")
    pid_text, _, start = rest.partition("/")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # runs, as another user: the start time decides
    now = _start_time(pid)
    return start != "?" and now is not None and now != start


def metadata_of(group: InitiatorGroup) -> dict[str, str]:
    items = group.raw.get("metadata")
    if not isinstance(items, list):
        return {}
    return {
        str(i.get("key")): str(i.get("value"))
        for i in items
        if isinstance(i, dict) and "key" in i and "value" in i
    }


def is_temporary(group: InitiatorGroup) -> bool:
    """Marked as this provider's temporary image-write group (name, description, metadata)."""
    return (
        group.name.startswith(TEMP_PREFIX)
        and group.description.startswith(TEMP_DESCRIPTION)
        and metadata_of(group).get(TEMP_KEY) == TEMP_VALUE
    )


def is_leftover(group: InitiatorGroup) -> bool:
    return is_temporary(group) and owner_gone(metadata_of(group).get(OWNER_KEY, ""))


def create_group(cl: NimbleClient, initiator: str, image_master: str) -> InitiatorGroup:
    """A new temporary group holding only `initiator`, marked as rule 1 says."""
    import secrets

    from .client import initiator_groups as igs

    return igs.create_initiator_group(
        cl,
        f"{TEMP_PREFIX}{secrets.token_hex(4)}",
        [initiator],
        description=f"{TEMP_DESCRIPTION}{image_master}"[:255],
        metadata=[(TEMP_KEY, TEMP_VALUE), (OWNER_KEY, owner_token())],
    )


def remove_leftovers(cl: NimbleClient, log: logging.Logger) -> list[str]:
    """Delete every leftover temporary group (rule 2) and its access control records; the
    names of the groups removed."""
    from .client import NimbleError
    from .client import access_control_records as acrs
    from .client import initiator_groups as igs

    removed: list[str] = []
    try:
        groups = igs.list_initiator_groups(cl)
    except NimbleError as err:
        log.warning("cannot list initiator groups to remove leftover temporary ones: %s", err)
        return removed
    for group in groups:
        if not is_leftover(group):
            continue
        try:
            for acr in acrs.list_access_control_records(cl, initiator_group_id=group.id):
                acrs.delete_access_control_record(cl, acr.id, missing_ok=True)
            igs.delete_initiator_group(cl, group.id, missing_ok=True)
        except NimbleError as err:
            log.warning("cannot remove leftover temporary group %s: %s", group.name, err)
            continue
        removed.append(group.name)
    return removed
