"""Plan-time checks of what a configuration refers to on the array: refuse at plan what is
knowable at plan, on the attribute the user wrote.

When each check runs:
- validate (no array, no read): the form of an array ID (``c.id_rule``) and of an image
  source (``check_source``);
- modify_plan (one read): that a referenced snapshot, volume, initiator group, CHAP user or
  volume collection exists, and
  that a pool or performance policy name is one the array has. Only for a value that is
  known (one that comes from a resource created in the same apply is unknown at plan: then
  nothing is read and apply decides) and only when it matters: a create, a replacement, or
  a change of that very argument. A refresh-only plan of an unchanged resource reads nothing.

Reads are memoised per configured client for :data:`MEMO_SECONDS` (:class:`Lookups`): the
500 clones of one image master all ask about the same snapshot, and Terraform plans them up
to 10 at a time. The first asks the array while the others wait for its answer (single
flight per key), so a plan costs one GET per distinct ID (and one pool list, one policy
list) per MEMO_SECONDS, not one per resource. The memo hangs off the client object (a weak
reference), so it ends with the provider process, i.e. with one terraform command. Only
plan-time checks use it: create and update always ask the array again, so an answer at
most MEMO_SECONDS old can only make a plan check pass or fail, never decide what apply does.
Failed reads are not remembered.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from tfnimble.plugin import AttributePath, Context, DiagnosticError, Value, is_known

from . import _common as c
from . import diagnostics as diag
from . import foreign_ids
from . import imagewrite as iw

if TYPE_CHECKING:
    from .client import NimbleClient

T = TypeVar("T")

#: How long an answer of the array serves other plan-time checks.
MEMO_SECONDS = 10.0
ROOT = AttributePath.root()


class Lookups:
    """A thread-safe memo of array answers: key -> (expiry, value), one fetch in flight per key."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._answers: dict[Hashable, tuple[float, Any]] = {}
        self._flights: dict[Hashable, threading.Lock] = {}
        #: How many fetches reached the array (for tests and the reliability figures).
        self.fetches = 0

    def get(self, key: Hashable, fetch: Callable[[], T]) -> T:
        with self._lock:
            flight = self._flights.setdefault(key, threading.Lock())
        with flight:
            with self._lock:
                hit = self._answers.get(key)
                if hit is not None and hit[0] > self._clock():
                    return hit[1]  # type: ignore[no-any-return]
                self.fetches += 1
            value = fetch()
            with self._lock:
                self._answers[key] = (self._clock() + MEMO_SECONDS, value)
            return value


_memos: weakref.WeakKeyDictionary[object, Lookups] = weakref.WeakKeyDictionary()
_memos_lock = threading.Lock()


def lookups(cl: object) -> Lookups:
    """The memo of one configured client."""
    with _memos_lock:
        found = _memos.get(cl)
        if found is None:
            found = _memos[cl] = Lookups()
        return found


def configured_client(ctx: Context) -> NimbleClient | None:
    """The configured client; None when the provider is not configured (no array to ask:
    plan-logic unit tests, or a provider configuration that is itself unknown)."""
    if ctx.provider_data is None:
        return None
    return c.client(ctx)


def report(ctx: Context, *checks: Callable[[], object]) -> None:
    """Run independent checks, so that one plan shows every problem, not only the first."""
    for check in checks:
        try:
            check()
        except DiagnosticError as err:
            ctx.diagnostics.add(err.to_diagnostic())


def changed(planned: Value[Any], prior: Value[Any] | None, creating: bool) -> bool:
    """Whether a known planned value needs a check: on create, or when it differs from state."""
    return is_known(planned) and planned is not None and (creating or planned != prior)


# --- objects referred to by ID --------------------------------------------------------------


def _by_id(
    ctx: Context, kind: str, attr: str, ident: str, get: Callable[[NimbleClient, str], T | None]
) -> T | None:
    cl = configured_client(ctx)
    if cl is None or not c.is_id(ident):
        return None  # a malformed ID is refused at validate
    path = ROOT.attr(attr)
    found = lookups(cl).get(
        (kind, ident.lower()), lambda: c.call(lambda: get(cl, ident), "find", kind, ident, path)
    )
    if found is None:
        err = diag.reference_id_not_found(kind, ident, attr)
        raise foreign_ids.explained(cl, err, kind, ident, attr)
    return found


def snapshot(ctx: Context, attr: str, ident: str) -> Any:
    """The snapshot `attr` names (None when there is no array to ask); a diagnostic if none."""
    from .client import snapshots

    return _by_id(ctx, "snapshot", attr, ident, snapshots.get_snapshot)


def volume(ctx: Context, attr: str, ident: str) -> Any:
    from .client import volumes

    return _by_id(ctx, "volume", attr, ident, volumes.get_volume)


def volumes(ctx: Context, attr: str, idents: list[str]) -> None:
    """Each of ``idents`` must name a volume, each missing one reported on ``attr``. Several
    are checked against one summary list of the array's volumes (all pages, IDs and names
    only) instead of one GET each: a collection planned with hundreds of known members costs
    a few requests, not hundreds. Only those the list lacks get the per-ID check, whose
    diagnostic says whether the ID belongs to another array."""
    from .client import volumes as vols

    cl = configured_client(ctx)
    wanted = [i for i in idents if c.is_id(i)]
    if cl is None or not wanted:
        return
    if len(wanted) > 1:
        listed = lookups(cl).get(
            ("volume ids",),
            lambda: c.call(
                lambda: frozenset(v.id.lower() for v in vols.list_volumes(cl, detail=False)),
                "list",
                "volume",
                "volumes",
                ROOT.attr(attr),
            ),
        )
        wanted = [i for i in wanted if i.lower() not in listed]
    report(ctx, *(functools.partial(volume, ctx, attr, i) for i in wanted))


def initiator_group(ctx: Context, attr: str, ident: str) -> Any:
    from .client import initiator_groups

    return _by_id(ctx, "initiator group", attr, ident, initiator_groups.get_initiator_group)


def chap_user(ctx: Context, attr: str, ident: str) -> Any:
    from .client import chap_users

    return _by_id(ctx, "CHAP user", attr, ident, chap_users.get_chap_user)


def volume_collection(ctx: Context, attr: str, ident: str) -> Any:
    from .client import volume_collections as vcs

    return _by_id(ctx, "volume collection", attr, ident, vcs.get_volume_collection)


# --- objects referred to by name ------------------------------------------------------------


def _named(
    ctx: Context, kind: str, attr: str, name: str, list_all: Callable[[Any], list[Any]]
) -> None:
    cl = configured_client(ctx)
    if cl is None:
        return
    path = ROOT.attr(attr)
    names: list[str] = lookups(cl).get(
        (kind, "*"),
        lambda: [o.name for o in c.call(lambda: list_all(cl), "find", kind, name, path)],
    )
    if name not in names:
        raise diag.reference_not_found(kind, name, path, names)


def pool(ctx: Context, name: str) -> None:
    """A diagnostic on `pool` unless the array has a pool of that name."""
    from .client import pools

    _named(ctx, "pool", "pool", name, pools.list_pools)


def performance_policy(ctx: Context, name: str) -> None:
    from .client import performance_policies as pp

    _named(ctx, "performance policy", "performance_policy", name, pp.list_performance_policies)


def pool_and_policy(ctx: Context, plan: object, state: object | None) -> None:
    """Plan: a `pool` or `performance_policy` name that is new (create, or changed) must be
    one the array has. Every resource with either attribute calls this."""
    checks: list[Callable[[], object]] = []
    for attr, check in (("pool", pool), ("performance_policy", performance_policy)):
        if hasattr(plan, attr):
            planned = getattr(plan, attr)
            if changed(planned, getattr(state, attr, None), state is None):
                checks.append(functools.partial(check, ctx, str(planned)))
    report(ctx, *checks)


# --- image sources --------------------------------------------------------------------------


def check_source(
    ctx: Context, source: Value[str], username: Value[str], password: Value[str]
) -> None:
    """Validate-time checks of an image master's source and its download credentials."""
    if is_known(source) and source is not None:
        problem = source_problem(source)
        if problem is not None:
            summary, detail = problem
            ctx.diagnostics.add_error(summary, detail, ROOT.attr("source"))
            return
    url = is_known(source) and source is not None and iw.is_url(source)
    local = is_known(source) and source is not None and not url
    for attr, value in (("source_username", username), ("source_password", password)):
        if value is not None and local:
            ctx.diagnostics.add_error(
                "Credentials For A Local Source",
                f"{attr} is only used to download an http(s):// source; source is a local "
                f"path. Remove {attr}.",
                ROOT.attr(attr),
            )
    if password is not None and username is None:
        ctx.diagnostics.add_error(
            "Missing Source Username",
            "source_password is set but source_username is not: HTTP Basic authentication "
            "sends both. Set source_username too.",
            ROOT.attr("source_username"),
        )
    if url and (username is not None or password is not None):
        assert isinstance(source, str)
        if source.lower().startswith("http://"):
            ctx.diagnostics.add_warning(
                "Credentials Sent In Clear Text",
                "source is an http:// URL, so source_username and source_password cross "
                "the network unencrypted. Use an https:// URL if the server offers one.",
                ROOT.attr("source"),
            )


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def source_problem(source: str) -> tuple[str, str] | None:
    """(summary, detail) of what is wrong with the form of a source, or None. The detail
    never repeats the URL: it may hold a password."""
    if not source.strip():
        return "Empty Image Source", "source is empty: set a local path or an http(s):// URL."
    m = _SCHEME.match(source)
    if m is None:
        return None  # a local path
    scheme = m.group(1).lower()
    if scheme not in ("http", "https"):
        return (
            "Unsupported Image Source",
            f"source is a {scheme}:// URL; only local paths and http:// or https:// URLs are "
            "supported. Download the image first and give its path, or serve it over HTTP(S).",
        )
    parts = urlsplit(source)
    if parts.username is not None or parts.password is not None:
        return (
            "Credentials In Image Source URL",
            "source holds user info (USER:PASSWORD@HOST): Terraform would show it in every "
            "plan and keep it in state unprotected. Remove it from the URL and set "
            "source_username and source_password (sensitive) instead.",
        )
    if not parts.hostname:
        return (
            "Image Source URL Has No Host",
            f"source must name a server, as in {scheme}://images.example/ubuntu.qcow2.",
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "Invalid Image Source URL", "source has a port that is not a number from 1 to 65535."
    return None


def local_source_exists(source: str) -> None:
    """Plan-time: a local source must exist (a URL is only fetched at apply)."""
    if iw.is_url(source) or os.path.isfile(source):
        return
    raise diag.source_missing(source)
