"""Deletes that wait for dependents deleted in the same run.

A snapshot (or volume, or image master) cannot be deleted while clones of it exist. When the
clones are destroyed in the same run but nothing in the configuration orders them first (as
in configuration written by ``terraform plan -generate-config-out``, where a clone names its
snapshot by a literal ID), Terraform sends the deletes at the same time. The refused delete
then waits for the clones to go, and refuses only when they stop going:

1. Every delete in this provider process registers what it deletes (:func:`deleting`): one
   provider process serves one Terraform run, so that is "what this run deletes right now".
2. While dependents remain, poll them every ``POLL`` seconds. Keep waiting while another
   delete of this process is in progress or the set of dependents shrank in the last
   ``IDLE`` seconds; stop when neither holds, when Terraform asks to stop, or when less than
   ``RESERVE`` seconds of the delete timeout are left.
3. The refusal lists only the dependents that remain at that point.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Seconds between two looks at the dependents.
POLL = 0.5
#: Seconds without progress and without any other delete in this process before refusing.
IDLE = 5.0
#: Seconds of the delete timeout kept for the refusal itself.
RESERVE = 5.0

_lock = threading.Lock()
_in_flight: dict[str, int] = {}


@contextmanager
def deleting(obj_id: str) -> Iterator[None]:
    """Register a delete of `obj_id` in progress in this process (rule 1)."""
    with _lock:
        _in_flight[obj_id] = _in_flight.get(obj_id, 0) + 1
    try:
        yield
    finally:
        with _lock:
            _in_flight[obj_id] -= 1
            if not _in_flight[obj_id]:
                del _in_flight[obj_id]


def others_deleting(me: str) -> bool:
    """Whether a delete of anything but `me` is in progress in this process."""
    with _lock:
        return any(k != me for k in _in_flight)


def wait_until_gone(
    me: str,
    dependents: Callable[[], dict[str, str]],
    stop_event: threading.Event,
    deadline: float | None,
    log: logging.Logger,
    *,
    idle: float | None = None,
    poll: float | None = None,
) -> dict[str, str]:
    """Wait (rule 2) for `dependents()` ({id: name}) to become empty; what remains."""
    idle = IDLE if idle is None else idle
    poll = POLL if poll is None else poll
    remaining = dependents()
    last_progress = time.monotonic()
    while remaining:
        now = time.monotonic()
        if deadline is not None and deadline - now < RESERVE + poll:
            break
        if not others_deleting(me) and now - last_progress >= idle:
            break
        log.info("%s: waiting for %d dependents to be deleted", me, len(remaining))
        if stop_event.wait(poll):
            break
        now_left = dependents()
        if set(remaining) - set(now_left):
            last_progress = time.monotonic()
        remaining = now_left
    return remaining
