"""When a protection schedule fires, as pure functions of its timing fields and the clock.

The timing fields are the array's (HPE's REST reference, docs/nimble-array-facts.md):
``period`` and ``period_unit`` (minutes, hours, days, weeks), ``at_time`` and ``until_time``
(seconds after midnight), ``days`` (``all`` or comma-separated weekday names).

Rules the simulator keeps (its own reading of the field descriptions; no source gives the
array's algorithm):
1. Minutes and hours: on every allowed day, a snapshot at ``at_time`` and then every period
   until ``until_time`` (inclusive).
2. Days: one snapshot at ``at_time`` on an allowed day, every ``period``-th day counted from
   the Unix epoch. Weeks: likewise, every ``period``-th week (weeks start on Monday).
3. Time of day is UTC (the simulated group's clock has no time zone).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

DAY = 86400
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
UNIT_SECONDS = {"minutes": 60, "hours": 3600}
# 1970-01-01 was a Thursday: day d since the epoch is WEEKDAYS[(d + 3) % 7].
_EPOCH_WEEKDAY = 3


def parse_days(text: str) -> frozenset[str] | None:
    """The weekdays of a ``days`` value, or None when it is not ``all`` or a comma list."""
    if text == "all":
        return frozenset(WEEKDAYS)
    names = text.split(",")
    if not text or any(n not in WEEKDAYS for n in names) or len(set(names)) != len(names):
        return None
    return frozenset(names)


def _day_times(sched: Mapping[str, Any], day: int, allowed: frozenset[str]) -> list[int]:
    """The firing times (seconds since the epoch) on day ``day`` since the epoch."""
    if WEEKDAYS[(day + _EPOCH_WEEKDAY) % 7] not in allowed:
        return []
    unit, period = sched["period_unit"], int(sched["period"])
    start = day * DAY + int(sched["at_time"])
    if unit in UNIT_SECONDS:
        step = period * UNIT_SECONDS[unit]
        count = (int(sched["until_time"]) - int(sched["at_time"])) // step + 1
        return [start + k * step for k in range(max(0, count))]
    if unit == "days":
        return [start] if day % period == 0 else []
    week = (day + _EPOCH_WEEKDAY) // 7  # Monday-based week number
    return [start] if week % period == 0 else []


def firings(sched: Mapping[str, Any], after: float, until: float) -> Iterator[int]:
    """Every firing time in (``after``, ``until``], in order."""
    allowed = parse_days(sched["days"]) or frozenset()
    for day in range(int(after) // DAY, int(until) // DAY + 1):
        for t in _day_times(sched, day, allowed):
            if after < t <= until:
                yield t


def last_firings(sched: Mapping[str, Any], after: float, until: float, keep: int) -> list[int]:
    """The newest ``keep`` firing times in (``after``, ``until``], and no older ones (older
    snapshots would be pruned at once, so a long clock jump makes only what is kept)."""
    return list(deque(firings(sched, after, until), maxlen=keep))


def next_firing(sched: Mapping[str, Any], after: float) -> int | None:
    """The first firing time after ``after`` (None when the schedule can never fire)."""
    horizon = after + DAY * 7 * max(1, int(sched["period"]) + 1)
    return next(iter(firings(sched, after, horizon)), None)


def snapshot_name(volcoll: str, schedule: str, t: int) -> str:
    """A scheduled snapshot's name: collection, schedule and UTC time of the firing."""
    stamp = time.strftime("%Y-%m-%d::%H:%M:%S", time.gmtime(t))
    return f"{volcoll}-{schedule}-{stamp}.000"
