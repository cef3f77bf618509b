"""The protocol-free core: what happens between decoding a request and encoding a reply.

Values here are decoded cty values (dicts for objects, `UNKNOWN` for unknown, `None`
for null). The server decodes protobuf into a request of :mod:`.rpc`, calls one engine
method, and encodes the response it returns. The plan rules (computed values become
unknown, `use_state_for_unknown`, requires-replace paths, a plan that respects the
configuration, an apply that matches the plan) live in :mod:`.plan`; this module runs
them around the resource's own code and adds:

Rule 5: a read that finds the object gone removes it from state; a create or update
        that fails after `ctx.set_partial_state()` returns that state (unknowns as null),
        so nothing is orphaned.
Rule 6: resource code may raise; a DiagnosticError becomes its diagnostic, anything else
        an "Unexpected Provider Error"; otherwise a failed operation keeps the prior state.
Rule 9: a provider with ``CONFIGURE_REQUIRED`` answers reads, applies and imports with
        "Provider Not Configured" until a ConfigureProvider has succeeded (Terraform never
        asks before; a client that does must get an error, not a crash); a plan is modified
        as usual, but plan code that fails then reports the same error.
Rule 8: no diagnostic points at a sensitive attribute: Terraform would print that line of
        the configuration (and so the secret) under the error. Every diagnostic an RPC
        answers with whose path is (or lies inside) a sensitive attribute of that RPC's
        schema loses its path, so it is shown against the resource or provider block.
Rule 10: write-only attributes are null in every plan and state (:mod:`.plan`); create
        and update see the configured values; Terraform < 1.11 is refused at validation.
Rule 7: when the provider is configured, the string values of its sensitive attributes
        (three characters or more) are registered with the log redactor
        (:func:`.logging.redact`), so no log line written through
        :func:`.logging.setup`'s handler shows them.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

from . import logging as plog
from .cty import json as cty_json
from .cty import types as ct
from .cty.path import AttributePath
from .cty.values import CtyError, conform, is_known, walk
from .diagnostics import DiagnosticError, Diagnostics
from .plan import (
    check_apply_matches_plan,
    check_plan_respects_config,
    check_write_only,
    propose,
    refuse_unsupported_write_only,
    run_validators,
    unknown_to_null,
    with_write_only,
    without_write_only,
)
from .resource import (
    Context,
    DataSource,
    Provider,
    Resource,
    decode_private,
    encode_private,
    model_from_value,
    model_to_value,
    timeout_for,
)
from .rpc import (
    GetMetadataResponse,
    GetProviderSchemaResponse,
    ImportedResource,
    ImportResourceStateResponse,
    PlanResourceChangeResponse,
    ReadDataSourceResponse,
    StateResponse,
    UpgradeResourceStateResponse,
)
from .schema import Block, BlockNesting, Nesting, Schema

log = logging.getLogger("tfnimble.plugin.engine")
T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")
SchemaKind = Literal["provider", "resource", "data source"]


def _screened(
    kind: SchemaKind,
) -> Callable[[Callable[Concatenate[Engine, P], R]], Callable[Concatenate[Engine, P], R]]:
    """Rule 8 for one engine method: the diagnostics it answers with (the response itself
    or its ``diagnostics``) lose every path into a sensitive attribute of the schema of
    ``kind`` (the type name is the method's first argument for resources and data sources)."""

    def wrap(fn: Callable[Concatenate[Engine, P], R]) -> Callable[Concatenate[Engine, P], R]:
        @functools.wraps(fn)
        def method(self: Engine, /, *args: P.args, **kwargs: P.kwargs) -> R:
            resp = fn(self, *args, **kwargs)
            diags = resp if isinstance(resp, Diagnostics) else getattr(resp, "diagnostics", None)
            if isinstance(diags, Diagnostics) and diags:
                type_name = str(args[0]) if kind != "provider" and args else ""
                self.hide_sensitive_paths(kind, type_name, diags)
            return resp

        return method

    return wrap


class Engine:
    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.stop_event = threading.Event()
        #: What the provider's configure() returned; every resource gets it in its Context.
        self.provider_data: Any = None
        self.configured = False
        self._resources: dict[str, Resource] = {}
        self._data_sources: dict[str, DataSource] = {}
        self._schemas: dict[str, Schema] = {}
        self._ds_schemas: dict[str, Schema] = {}
        prefix = provider.TYPE_NAME + "_"
        for rcls in provider.resources():
            self._resources[prefix + rcls.TYPE_NAME] = rcls()
        for dcls in provider.data_sources():
            self._data_sources[prefix + dcls.TYPE_NAME] = dcls()
        self._provider_schema: Schema | None = None
        self._schema_response: GetProviderSchemaResponse | None = None

    # --- metadata and schemas -------------------------------------------------------

    def get_metadata(self) -> GetMetadataResponse:
        return GetMetadataResponse(self.resource_types(), self.data_source_types())

    def get_provider_schema(self) -> GetProviderSchemaResponse:
        """Every schema, built once; a schema that cannot be built is reported, not raised."""
        if self._schema_response is None:
            try:
                self._schema_response = GetProviderSchemaResponse(
                    self.provider_schema(),
                    {t: self.resource_schema(t) for t in self.resource_types()},
                    {t: self.data_source_schema(t) for t in self.data_source_types()},
                )
                check_write_only(self._schema_response)
            except Exception as exc:  # a schema bug must reach the user, not kill the plugin
                log.exception("building schema failed")
                diags = Diagnostics()
                diags.add_error("Provider Bug: Invalid Schema", str(exc))
                self._schema_response = GetProviderSchemaResponse(diagnostics=diags)
        return self._schema_response

    def provider_schema(self) -> Schema:
        if self._provider_schema is None:
            self._provider_schema = self.provider.schema()
        return self._provider_schema

    def resource_schema(self, type_name: str) -> Schema:
        if type_name not in self._schemas:
            self._schemas[type_name] = self._resource(type_name).schema()
        return self._schemas[type_name]

    def data_source_schema(self, type_name: str) -> Schema:
        if type_name not in self._ds_schemas:
            self._ds_schemas[type_name] = self._data_source(type_name).schema()
        return self._ds_schemas[type_name]

    def resource_types(self) -> list[str]:
        return sorted(self._resources)

    def data_source_types(self) -> list[str]:
        return sorted(self._data_sources)

    def plan_runs_resource_code(self, type_name: str) -> bool:
        """Whether planning a change of `type_name` calls the resource's own `modify_plan`
        (which may call its API); the rest of a plan is the plan rules, pure computation."""
        res = self._resources.get(type_name)
        return res is not None and type(res).modify_plan is not Resource.modify_plan

    def _resource(self, type_name: str) -> Resource:
        return _lookup(self._resources, type_name, "resource type", "Unknown Resource Type")

    def _data_source(self, type_name: str) -> DataSource:
        return _lookup(
            self._data_sources, type_name, "data source type", "Unknown Data Source Type"
        )

    def _unconfigured(self) -> Diagnostics | None:
        """Rule 9: the error to answer with when resource code needs a configured provider."""
        if self.configured or not self.provider.CONFIGURE_REQUIRED:
            return None
        diags = Diagnostics()
        diags.add_error(
            "Provider Not Configured",
            f"The {self.provider.TYPE_NAME} provider has not been configured (ConfigureProvider "
            "has not succeeded), so it cannot reach its API. Fix the provider configuration.",
        )
        return diags

    def _ctx(
        self, private: Mapping[str, Any] | None = None, timeout: float | None = None
    ) -> Context:
        return Context(
            provider_data=self.provider_data,
            private=private,
            stop_event=self.stop_event,
            timeout=timeout,
        )

    # --- provider -------------------------------------------------------------------

    @_screened("provider")
    def configure_provider(self, config: Any, terraform_version: str = "") -> Diagnostics:
        _redact_sensitive(self.provider_schema().block, config)
        ctx = self._ctx()
        model: Any = model_from_value(self.provider.Model, config)

        def run() -> None:
            self.provider_data = self.provider.configure(ctx, model)
            self.configured = True

        _guard(ctx, run)
        return ctx.diagnostics

    def hide_sensitive_paths(self, kind: SchemaKind, type_name: str, diags: Diagnostics) -> int:
        """Rule 8: drop every diagnostic path into a sensitive attribute; how many were."""
        try:
            if kind == "provider":
                block = self.provider_schema().block
            elif kind == "resource":
                block = self.resource_schema(type_name).block
            else:
                block = self.data_source_schema(type_name).block
        except Exception:  # an unknown type name was answered already; nothing to hide
            return 0
        hidden = diags.detach(block.is_sensitive_path)
        if hidden:
            log.debug("rule 8: %d diagnostic(s) no longer point at a sensitive attribute", hidden)
        return hidden

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        """Let the provider release its session; errors are logged, never raised."""
        if not self.configured:
            return
        try:
            self.provider.close(self.provider_data)
        except Exception:
            log.debug("closing the provider failed", exc_info=True)

    # --- validation -----------------------------------------------------------------

    @_screened("provider")
    def validate_provider_config(self, config: Any) -> Diagnostics:
        p = self.provider
        return self._validate(self.provider_schema(), p.Model, p.validate_config, config)

    @_screened("resource")
    def validate_resource_config(
        self, type_name: str, config: Any, write_only_allowed: bool = False
    ) -> Diagnostics:
        res = self._resource(type_name)
        schema = self.resource_schema(type_name)
        diags = self._validate(schema, res.Model, res.validate_config, config)
        if schema.has_write_only and not write_only_allowed:
            refuse_unsupported_write_only(schema.block, config, AttributePath.root(), diags)
        return diags

    @_screened("data source")
    def validate_data_source_config(self, type_name: str, config: Any) -> Diagnostics:
        ds = self._data_source(type_name)
        schema = self.data_source_schema(type_name)
        return self._validate(schema, ds.Model, ds.validate_config, config)

    def _validate(
        self,
        schema: Schema,
        model_cls: type,
        validate: Callable[[Context, Any], None],
        config: Any,
    ) -> Diagnostics:
        """Attribute validators first, then the author's validate_config on the model."""
        diags = Diagnostics()
        run_validators(schema.block, config, AttributePath.root(), diags)
        ctx = self._ctx()
        _guard(ctx, lambda: validate(ctx, model_from_value(model_cls, config)))
        diags.extend(ctx.diagnostics)
        return diags

    # --- state upgrade --------------------------------------------------------------

    @_screened("resource")
    def upgrade_resource_state(
        self, type_name: str, version: int, raw_json: bytes | None
    ) -> UpgradeResourceStateResponse:
        res = self._resource(type_name)
        schema = self.resource_schema(type_name)
        ty = schema.cty_type()
        diags = Diagnostics()
        failed = UpgradeResourceStateResponse(None, diags)
        if raw_json is None:
            diags.add_error(
                "Unsupported State Format",
                "This provider only reads JSON state (flatmap state is from Terraform 0.11 "
                "and older). Re-import the resource.",
            )
            return failed
        try:
            if version == schema.version:
                value = cty_json.decode(raw_json, ty, ignore_unknown_attributes=True)
                return UpgradeResourceStateResponse(value, diags)
            if version > schema.version:
                diags.add_error(
                    "Resource State From A Newer Provider",
                    f"The state of this {type_name} was written by a newer provider (schema "
                    f"version {version}; this provider knows up to {schema.version}). Use that "
                    "provider version or newer.",
                )
                return failed
            upgrader = res.STATE_UPGRADERS.get(version)
            if upgrader is None:
                diags.add_error(
                    "Unable To Upgrade Resource State",
                    f"There is no upgrade from schema version {version} of {type_name} to "
                    f"version {schema.version}.",
                )
                return failed
            upgraded = json.dumps(upgrader(json.loads(raw_json))).encode()
            return UpgradeResourceStateResponse(cty_json.decode(upgraded, ty), diags)
        except (CtyError, ValueError) as exc:
            diags.add_error(
                "Unable To Read Resource State",
                f"The stored state of this {type_name} does not match its schema: {exc}",
            )
            return failed

    # --- read -----------------------------------------------------------------------

    @_screened("resource")
    def read_resource(self, type_name: str, state: Any, private: bytes | None) -> StateResponse:
        res = self._resource(type_name)
        ty = (schema := self.resource_schema(type_name)).cty_type()
        if state is None:
            return StateResponse(None, private or b"", Diagnostics())
        if (unconfigured := self._unconfigured()) is not None:
            return StateResponse(state, private or b"", unconfigured)
        ctx = self._ctx(
            decode_private(private),
            timeout=timeout_for(
                model_from_value(res.Model, state), "read", res.DEFAULT_TIMEOUTS, 5 * 60
            ),
        )

        def run() -> dict[str, Any] | None:
            model = res.read(ctx, model_from_value(res.Model, state))
            return None if model is None else model_to_value(model, ty)

        ok, new_state = _attempt(ctx, run)
        if not ok:
            return StateResponse(state, private or b"", ctx.diagnostics)
        if new_state is not None:
            new_state = self._finish_state(new_state, ty, ctx.diagnostics, "read")
            if new_state is None:
                return StateResponse(state, private or b"", ctx.diagnostics)
            new_state = without_write_only(schema, new_state)
        return StateResponse(new_state, encode_private(ctx.private), ctx.diagnostics)

    # --- plan -----------------------------------------------------------------------

    @_screened("resource")
    def plan_resource_change(
        self,
        type_name: str,
        prior: Any,
        proposed: Any,
        config: Any,
        prior_private: bytes | None,
    ) -> PlanResourceChangeResponse:
        res = self._resource(type_name)
        schema = self.resource_schema(type_name)
        ty = schema.cty_type()
        diags = Diagnostics()
        if proposed is None:  # destroy
            return PlanResourceChangeResponse(None, [], prior_private or b"", diags)
        proposed = without_write_only(schema, proposed)  # plans hold no write-only value
        planned, replace = propose(schema.block, ty, prior, proposed, config, diags)
        ctx = self._ctx(decode_private(prior_private))

        def run() -> Any:
            try:
                new_plan = res.modify_plan(
                    ctx,
                    model_from_value(res.Model, planned),
                    None if prior is None else model_from_value(res.Model, prior),
                    model_from_value(res.Model, config),
                )
            except Exception as exc:  # rule 9: plan code may need what configure returns
                unconfigured = self._unconfigured()
                if unconfigured is None or isinstance(exc, DiagnosticError):
                    raise
                ctx.diagnostics.extend(unconfigured)
                return planned
            return model_to_value(new_plan, ty)

        _, modified = _attempt(ctx, run)
        diags.extend(ctx.diagnostics)
        if modified is not None:
            planned = modified
        planned = without_write_only(schema, planned)
        if diags.has_error():
            return PlanResourceChangeResponse(planned, replace, prior_private or b"", diags)
        try:
            planned = conform(planned, ty)
        except CtyError as exc:
            diags.add_error("Provider Bug: Invalid Plan", f"{exc}", exc.path)
            return PlanResourceChangeResponse(proposed, replace, prior_private or b"", diags)
        check_plan_respects_config(schema.block, planned, config, AttributePath.root(), diags)
        return PlanResourceChangeResponse(planned, replace, encode_private(ctx.private), diags)

    # --- apply ----------------------------------------------------------------------

    @_screened("resource")
    def apply_resource_change(
        self,
        type_name: str,
        prior: Any,
        planned: Any,
        config: Any,
        planned_private: bytes | None,
    ) -> StateResponse:
        res = self._resource(type_name)
        ty = (schema := self.resource_schema(type_name)).cty_type()
        private = decode_private(planned_private)
        if (unconfigured := self._unconfigured()) is not None:
            return StateResponse(prior, planned_private or b"", unconfigured)
        if planned is None:
            ctx = self._ctx(
                private,
                timeout_for(model_from_value(res.Model, prior), "delete", res.DEFAULT_TIMEOUTS),
            )
            if _guard(ctx, lambda: res.delete(ctx, model_from_value(res.Model, prior))):
                return StateResponse(None, b"", ctx.diagnostics)
            return StateResponse(prior, planned_private or b"", ctx.diagnostics)

        op = "create" if prior is None else "update"
        plan_model: Any = model_from_value(res.Model, with_write_only(schema, planned, config))
        ctx = self._ctx(private, timeout_for(plan_model, op, res.DEFAULT_TIMEOUTS))

        def run() -> object:
            if prior is None:
                return res.create(ctx, plan_model)
            return res.update(ctx, plan_model, model_from_value(res.Model, prior))

        ok, model = _attempt(ctx, run)
        if not ok:
            fallback = prior
            if ctx.partial_state is not None:
                fallback = self._finish_state(
                    model_to_value(ctx.partial_state, ty), ty, ctx.diagnostics, op, partial=True
                )
            fallback = without_write_only(schema, fallback)
            return StateResponse(fallback, encode_private(ctx.private), ctx.diagnostics)
        finished = self._finish_state(model_to_value(model, ty), ty, ctx.diagnostics, op)
        if finished is None:
            return StateResponse(prior, encode_private(ctx.private), ctx.diagnostics)
        finished = without_write_only(schema, finished)
        check_apply_matches_plan(planned, finished, ty, AttributePath.root(), ctx.diagnostics)
        return StateResponse(finished, encode_private(ctx.private), ctx.diagnostics)

    def _finish_state(
        self, value: Any, ty: ct.CtyType, diags: Diagnostics, op: str, partial: bool = False
    ) -> Any:
        try:
            value = conform(value, ty)
        except CtyError as exc:
            diags.add_error("Provider Bug: Invalid State", f"after {op}: {exc}", exc.path)
            return None
        if not is_known(value):
            if partial:
                return unknown_to_null(value)
            diags.add_error(
                "Provider Bug: Unknown Value In State",
                f"after {op} the resource left a value unknown; every value must be known "
                "once the operation has finished.",
            )
            return None
        return value

    # --- import ---------------------------------------------------------------------

    @_screened("resource")
    def import_resource_state(self, type_name: str, import_id: str) -> ImportResourceStateResponse:
        res = self._resource(type_name)
        ty = (schema := self.resource_schema(type_name)).cty_type()
        if (unconfigured := self._unconfigured()) is not None:
            return ImportResourceStateResponse([], unconfigured)
        ctx = self._ctx()
        ok, model = _attempt(ctx, lambda: res.import_state(ctx, import_id))
        if not ok:
            return ImportResourceStateResponse([], ctx.diagnostics)
        state = self._finish_state(
            model_to_value(model, ty), ty, ctx.diagnostics, "import", partial=True
        )
        if state is None:
            return ImportResourceStateResponse([], ctx.diagnostics)
        state = without_write_only(schema, state)
        imported = ImportedResource(type_name, state, encode_private(ctx.private))
        return ImportResourceStateResponse([imported], ctx.diagnostics)

    # --- data sources ---------------------------------------------------------------

    @_screened("data source")
    def read_data_source(self, type_name: str, config: Any) -> ReadDataSourceResponse:
        ds = self._data_source(type_name)
        ty = self.data_source_schema(type_name).cty_type()
        if (unconfigured := self._unconfigured()) is not None:
            return ReadDataSourceResponse(None, unconfigured)
        ctx = self._ctx(timeout=5 * 60)
        ok, model = _attempt(ctx, lambda: ds.read(ctx, model_from_value(ds.Model, config)))
        if not ok:
            return ReadDataSourceResponse(None, ctx.diagnostics)
        state = self._finish_state(model_to_value(model, ty), ty, ctx.diagnostics, "read")
        return ReadDataSourceResponse(state, ctx.diagnostics)


# --- helpers --------------------------------------------------------------------------------


def _lookup(table: Mapping[str, T], type_name: str, kind: str, summary: str) -> T:
    try:
        return table[type_name]
    except KeyError:
        raise DiagnosticError(summary, f"This provider has no {kind} {type_name!r}.") from None


def _attempt(ctx: Context, fn: Callable[[], T]) -> tuple[bool, T | None]:
    """Run resource code: (True, result) when it returned without an error diagnostic;
    otherwise False, with its result if it returned at all. A DiagnosticError becomes its
    diagnostic and an unexpected exception an "Unexpected Provider Error"."""
    try:
        result = fn()
    except DiagnosticError as exc:
        ctx.diagnostics.add(exc.to_diagnostic())
        return False, None
    except Exception as exc:
        log.exception("unexpected provider error")
        ctx.diagnostics.add_error(
            "Unexpected Provider Error",
            f"{type(exc).__name__}: {exc}. This is a bug in the provider; please report it "
            "with the TF_LOG=DEBUG output.",
        )
        return False, None
    return not ctx.diagnostics.has_error(), result


def _guard(ctx: Context, fn: Callable[[], object]) -> bool:
    """Run resource code for its effect; False if it failed (see :func:`_attempt`)."""
    return _attempt(ctx, fn)[0]


def _redact_sensitive(block: Block, config: Any) -> None:
    """Register every string inside the configured values of sensitive attributes,
    in nested blocks and nested attributes too."""
    if not isinstance(config, dict):
        return

    def register(_path: AttributePath, value: Any, _ty: ct.CtyType) -> None:
        if isinstance(value, str):
            plog.redact(value)

    for name, attr in block.attributes.items():
        value = config.get(name)
        if attr.sensitive and value is not None:
            walk(value, attr.cty_type(), register)
        elif attr.nested is not None:
            nested = Block(attributes=attr.nested.attributes)
            for elem in _elements(attr.nested.nesting, value):
                _redact_sensitive(nested, elem)
    for name, nb in block.blocks.items():
        for elem in _elements(nb.nesting, config.get(name)):
            _redact_sensitive(nb.block, elem)


def _elements(nesting: Nesting | BlockNesting, value: Any) -> list[Any]:
    """The objects of a nested block or attribute value, whatever its nesting."""
    if value is None or not is_known(value, deep=False):
        return []
    if nesting in (Nesting.SINGLE, BlockNesting.SINGLE, BlockNesting.GROUP):
        return [value]
    if nesting in (Nesting.MAP, BlockNesting.MAP):
        return list(value.values())
    return list(value)


__all__ = ["Engine", "run_validators"]
