"""Reads of many volumes of one family in a few paged list queries instead of one GET each.

Terraform refreshes every resource with its own ReadResource call, up to ``-parallelism`` at a
time: 500 clones of one image are 500 GETs, each a round trip to the array. Clones of one
snapshot are one *family* (``base_snap_id=<id>``), and one list query filtered on it, asking
only for the fields a read needs, answers all of them.

Rules this module keeps:

1. A read of volume V in family F is answered from a *listing* of F: every page of
   ``GET /v1/volumes/detail?<F>&fields=<fields>``. The first read that needs one sends it;
   reads of F that come while it is in flight wait for it (single flight), so concurrent and
   later reads of F share one listing. The cost is one round trip per page, whoever else's
   clones the family holds (a snapshot that other configurations clone too): rows nobody reads
   against a round trip per clone.
2. A listing serves reads for at most ``FRESH_SECONDS`` after it was sent, and only while no
   request of this client that may change the array has ended since it was sent
   (``NimbleClient.writes``): a change this client has made is seen by every later read.
   Nothing outlives the provider process, which lives for one Terraform command.
3. A volume the listing does not hold is read on its own with ``GET /v1/volumes/<id>``: so a
   volume deleted behind Terraform's back is found gone by the array's own 404 (drift), and a
   volume that left the family (or whose family was wrong in state) is still read right.
4. A listing that fails fails every read waiting for it, with the array's error; it is not
   kept, so the next read tries again. The request layer below has already retried and logged
   in again (an expired session is renewed inside a listing like any request).
5. An array that refuses the query (a 400: a filter or ``fields`` it does not know) gets the
   plain GET for that family from then on.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .errors import BadRequest
from .models import Volume
from .objects import JSON
from .session import NimbleClient

__all__ = ["FRESH_SECONDS", "VolumeReads", "read_volume", "reads_of"]

log = logging.getLogger("tfnimble.nimble.client")

#: How long one listing may answer reads (rule 2): a refresh of 500 clones takes a few seconds.
FRESH_SECONDS = 15.0

Key = tuple[tuple[tuple[str, str], ...], tuple[str, ...]]


@dataclass
class _Listing:
    sent: float
    writes: int  # the client's count of ended writes when it was sent
    done: threading.Event = field(default_factory=threading.Event)
    rows: dict[str, JSON] = field(default_factory=dict)
    error: BaseException | None = None
    refused: bool = False


class VolumeReads:
    """The listings of one client (rule 1); ``clock`` is for tests."""

    def __init__(self, client: NimbleClient, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._listings: dict[Key, _Listing] = {}
        self._refused: set[Key] = set()
        #: List queries sent (one per listing, whatever its pages), for tests and figures.
        self.listings = 0

    def get(
        self, volume_id: str, family: Mapping[str, str], fields: Sequence[str]
    ) -> Volume | None:
        """Volume ``volume_id``, expected in ``family``; ``None`` if the array has none.
        ``fields`` must hold every field the caller reads (``id`` is always asked for)."""
        key: Key = (tuple(sorted(family.items())), tuple(dict.fromkeys(("id", *fields))))
        listing, leader = self._join(key)
        if listing is None:
            return self._single(volume_id)
        if leader:
            self._fill(key, listing)
        else:
            listing.done.wait()
        if listing.error is not None:
            raise listing.error  # rule 4
        if listing.refused:
            return self._single(volume_id)
        row = listing.rows.get(volume_id.lower())
        return Volume.from_api(row) if row is not None else self._single(volume_id)

    def _join(self, key: Key) -> tuple[_Listing | None, bool]:
        """(the listing to wait for, whether this caller sends it); (None, False) if refused."""
        with self._lock:
            if key in self._refused:
                return None, False
            current = self._listings.get(key)
            if current is not None and self._serves(current):
                return current, False
            listing = _Listing(sent=self._clock(), writes=self._client.writes.ended)
            self._listings[key] = listing
            self.listings += 1
            return listing, True

    def _serves(self, listing: _Listing) -> bool:
        """Rule 2 (a listing still in flight is joined unless a write ended since)."""
        if listing.error is not None or listing.writes != self._client.writes.ended:
            return False
        return not listing.done.is_set() or self._clock() - listing.sent < FRESH_SECONDS

    def _fill(self, key: Key, listing: _Listing) -> None:
        family, fields = dict(key[0]), key[1]
        try:
            rows = self._client.iter_objects(
                "volumes", {**family, "fields": ",".join(fields)}, kind="volume"
            )
            listing.rows = {str(r.get("id", "")).lower(): r for r in rows}
        except BadRequest as err:
            log.info("list volumes %s: refused by the array (%s); reading one by one", family, err)
            listing.refused = True
            with self._lock:
                self._refused.add(key)
        except BaseException as err:
            listing.error = err
        finally:
            if listing.error is not None:
                with self._lock:
                    if self._listings.get(key) is listing:
                        del self._listings[key]
            listing.done.set()

    def _single(self, volume_id: str) -> Volume | None:
        data = self._client.get_object("volumes", volume_id, kind="volume")
        return Volume.from_api(data) if data is not None else None


_reads: weakref.WeakKeyDictionary[NimbleClient, VolumeReads] = weakref.WeakKeyDictionary()
_reads_lock = threading.Lock()


def reads_of(client: NimbleClient) -> VolumeReads:
    """The listings of ``client`` (made on first use; they end with the client)."""
    with _reads_lock:
        return _reads.setdefault(client, VolumeReads(client))


def read_volume(
    client: NimbleClient, volume_id: str, family: Mapping[str, str], fields: Sequence[str]
) -> Volume | None:
    """``VolumeReads.get`` on the client's own listings."""
    return reads_of(client).get(volume_id, family, fields)
