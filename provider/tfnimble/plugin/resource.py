"""What resource, data source and provider authors implement and what they see.

Resource code never sees protobuf or msgpack: it gets its own typed `Model`
dataclass (one field per schema attribute; unknown values are `UNKNOWN`, nulls are
`None`) and a `Context` carrying diagnostics, the configured provider data, private
state, the operation deadline and cancellation.

Rules for every resource (the engine applies 1, 3 and 4; 2 is the author's part):
1. `read` returning `None` means the object is gone: it is removed from state.
2. `create` that fails after the remote object exists must call
   `ctx.set_partial_state(model)` first; the engine then returns that state, so
   Terraform records (and taints) the object instead of orphaning it.
3. Known planned values are what apply must return; the engine reports a clear
   provider bug otherwise, instead of Terraform's "inconsistent result".
4. The values of the provider's `sensitive=True` attributes are registered with the
   log redactor when the provider is configured. Secrets found elsewhere (a token the
   array hands out) are the author's to pass to `tfnimble.plugin.logging.redact`.
5. Validation (`validate_config`, attribute validators), plan modifiers and
   `STATE_UPGRADERS` look at the values they are given and nothing else: they run on the
   server's event loop, so they must not block (Terraform validates before it configures
   the provider, so there is no API to call then anyway). Everything that may call the API,
   `modify_plan` included, runs in a worker thread.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from .cty import types as ct
from .cty.path import AttributePath
from .cty.values import UNKNOWN, is_unknown
from .diagnostics import Diagnostic, DiagnosticError, Diagnostics, Severity
from .schema import Attribute, Block, BlockNesting, NestedBlock, Schema

M = TypeVar("M")


class Context:
    """Per-request context handed to resource code."""

    def __init__(
        self,
        *,
        provider_data: Any = None,
        private: Mapping[str, Any] | None = None,
        stop_event: threading.Event | None = None,
        timeout: float | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.diagnostics = Diagnostics()
        self.provider_data = provider_data
        self.private: dict[str, Any] = dict(private or {})
        self._stop_event = stop_event or threading.Event()
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout if timeout else None
        self.logger = logger or logging.getLogger("tfnimble.provider")
        #: The model set_partial_state() recorded, if any.
        self.partial_state: object = None

    @property
    def stop_event(self) -> threading.Event:
        return self._stop_event

    def stopped(self) -> bool:
        return self._stop_event.is_set()

    def remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def check(self, what: str = "the operation") -> None:
        """Raise a diagnostic if Terraform asked us to stop or the timeout has passed."""
        if self.stopped():
            raise DiagnosticError(
                "Operation Cancelled", f"Terraform asked the provider to stop during {what}."
            )
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DiagnosticError(
                "Operation Timed Out",
                f"{what} did not finish within {format_duration(self.timeout or 0)}. "
                "Raise the limit with a timeouts block if the array is slow.",
            )

    def set_partial_state(self, model: object) -> None:
        """Record what exists so far; returned to Terraform if the operation then fails."""
        self.partial_state = model


class Resource:
    """Base class for managed resources. Subclasses set TYPE_NAME and Model."""

    TYPE_NAME: ClassVar[str]
    Model: ClassVar[type]
    #: Default timeouts in seconds per operation, used when the config has no timeouts block.
    DEFAULT_TIMEOUTS: ClassVar[Mapping[str, float]] = {}
    #: Upgraders from an old schema version straight to the current one (raw JSON dict -> dict;
    #: pure functions: rule 5).
    STATE_UPGRADERS: ClassVar[Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {}

    def schema(self) -> Schema:
        raise NotImplementedError

    def validate_config(self, ctx: Context, config: Any) -> None:
        """Check a configuration that may hold unknown values; add diagnostics to ctx.
        The configuration alone: no API calls (rule 5)."""

    def modify_plan(self, ctx: Context, plan: Any, state: Any | None, config: Any) -> Any:
        """Adjust the plan (e.g. refuse a shrink at plan time). Return the plan. May call the
        API (it runs in a worker thread; a resource without one plans on the event loop)."""
        return plan

    def create(self, ctx: Context, plan: Any) -> Any:
        raise NotImplementedError

    def read(self, ctx: Context, state: Any) -> Any | None:
        raise NotImplementedError

    def update(self, ctx: Context, plan: Any, state: Any) -> Any:
        raise DiagnosticError(
            "Update Not Supported",
            f"{type(self).__name__} has no in-place update; this is a provider bug.",
        )

    def delete(self, ctx: Context, state: Any) -> None:
        raise NotImplementedError

    def import_state(self, ctx: Context, import_id: str) -> Any:
        raise DiagnosticError(
            "Import Not Supported", f"Resources of type {self.TYPE_NAME} cannot be imported."
        )


class DataSource:
    TYPE_NAME: ClassVar[str]
    Model: ClassVar[type]

    def schema(self) -> Schema:
        raise NotImplementedError

    def validate_config(self, ctx: Context, config: Any) -> None:
        """Check a configuration that may hold unknown values (no API calls: rule 5)."""

    def read(self, ctx: Context, config: Any) -> Any:
        raise NotImplementedError


class Provider:
    """A provider: its schema, how to configure it, and its resource types."""

    TYPE_NAME: ClassVar[str]
    #: e.g. "registry.terraform.io/ito/nimble"; printed by --debug for TF_REATTACH_PROVIDERS.
    ADDRESS: ClassVar[str]
    Model: ClassVar[type]
    #: The provider's version, printed by --version.
    VERSION: ClassVar[str] = "0.0.0"
    #: True when resource and data source code needs what configure() returned: until a
    #: configure has succeeded, reads, plans, applies and imports are then answered with a
    #: "Provider Not Configured" error instead of reaching that code.
    CONFIGURE_REQUIRED: ClassVar[bool] = False

    def schema(self) -> Schema:
        return Schema()

    def validate_config(self, ctx: Context, config: Any) -> None:
        """Check the provider configuration (may hold unknown values; no I/O: rule 5)."""

    def configure(self, ctx: Context, config: Any) -> Any:
        """Return the data every resource receives as ctx.provider_data."""
        return None

    def resources(self) -> list[type[Resource]]:
        return []

    def data_sources(self) -> list[type[DataSource]]:
        return []

    def close(self, provider_data: Any) -> None:
        """Release what configure() opened (log out of the array, close SSH).

        Called once when Terraform shuts the plugin down; the default calls
        `provider_data.close()` if there is one.
        """
        close = getattr(provider_data, "close", None)
        if callable(close):
            close()


# --- private state ----------------------------------------------------------------------


def encode_private(private: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(private), sort_keys=True).encode() if private else b""


def decode_private(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# --- typed models -----------------------------------------------------------------------


def model_from_value(cls: type[M], value: Mapping[str, Any] | None) -> M:
    """Build a Model dataclass from a decoded object value (missing attrs -> None; a wholly
    unknown object -> every attribute unknown)."""
    names = _field_names(cls)
    if is_unknown(value):
        return cls(**dict.fromkeys(names, UNKNOWN))
    value = value or {}
    return cls(**{name: value.get(name) for name in names})


def model_to_value(model: Any, ty: ct.CtyType) -> dict[str, Any]:
    """Turn a Model back into an object value of `ty` (fields not in the type are ignored)."""
    assert isinstance(ty, ct.Object)
    fields = _field_set(type(model))
    return {name: getattr(model, name) if name in fields else None for name in ty.attributes}


_FIELDS: dict[type, tuple[tuple[str, ...], frozenset[str]]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """A Model class's field names, in order (looked up on every RPC, so once per class)."""
    return _fields_of(cls)[0]


def _field_set(cls: type) -> frozenset[str]:
    return _fields_of(cls)[1]


def _fields_of(cls: type) -> tuple[tuple[str, ...], frozenset[str]]:
    known = _FIELDS.get(cls)
    if known is None:
        names = tuple(f.name for f in dataclasses.fields(cls))
        known = _FIELDS[cls] = (names, frozenset(names))
    return known


def check_model_matches_schema(model_cls: type, schema: Schema) -> list[str]:
    """Names that are in one but not the other (used by unit tests of every resource)."""
    fields = {f.name for f in dataclasses.fields(model_cls)}
    names = set(schema.attributes) | set(schema.blocks)
    return sorted(fields ^ names)


# --- timeouts ---------------------------------------------------------------------------

_DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(text: str) -> float:
    """Parse a Go-style duration ("90s", "20m", "1h30m") into seconds."""
    m = _DURATION_RE.match(text.strip()) if text else None
    if not text or not m or not any(m.groups()):
        raise ValueError(
            f'"{text}" is not a duration; use a number with a unit, like "30s", "20m" or "1h"'
        )
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + s


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s or not (h or m) else "")
    return out


def _duration_validator(value: Any, path: AttributePath) -> list[Diagnostic]:
    try:
        parse_duration(value)
    except ValueError as exc:
        return [Diagnostic(Severity.ERROR, "Invalid Timeout", str(exc), path)]
    return []


def timeouts_block(*operations: str) -> NestedBlock:
    """A `timeouts { create = "20m" }` block for the given operations."""
    ops = operations or ("create", "update", "delete")
    attrs = {
        op: Attribute(
            type=ct.String,
            optional=True,
            validators=(_duration_validator,),
            description=(
                f'How long to wait for the {op} operation, as a duration such as "30s", '
                f'"20m" or "1h".'
            ),
        )
        for op in ops
    }
    return NestedBlock(
        Block(attributes=attrs, description="Operation timeouts."), nesting=BlockNesting.SINGLE
    )


def timeout_for(
    model: Any, op: str, defaults: Mapping[str, float], fallback: float = 20 * 60
) -> float:
    block = getattr(model, "timeouts", None)
    if isinstance(block, Mapping):
        raw = block.get(op)
        if isinstance(raw, str):
            try:
                return parse_duration(raw)
            except ValueError:
                pass
    return float(defaults.get(op, fallback))


# --- import helpers -----------------------------------------------------------------------


def split_import_id(import_id: str, names: list[str], sep: str = ",") -> dict[str, str]:
    """Split "a,b,c" into named parts, with a diagnostic that shows the expected form."""
    parts = import_id.split(sep)
    if len(parts) != len(names) or any(not p for p in parts):
        raise DiagnosticError(
            "Unexpected Import Identifier",
            f"Expected an import ID of the form {sep.join(names)!s}, got {import_id!r}.",
        )
    return dict(zip(names, parts, strict=True))
