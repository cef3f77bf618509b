"""The protocol-free core: what happens between decoding a request and encoding a reply.

Values here are decoded cty values (dicts for objects, `UNKNOWN` for unknown, `None`
for null). The server decodes protobuf, calls one engine method, and encodes the
result; everything Terraform expects of a provider's plan and apply lives here:

Rule 1 (create): computed attributes with no config value are unknown in the plan,
        unless they have a default.
Rule 2 (update): when anything changes, computed attributes with no config value
        become unknown again, except where `use_state_for_unknown` keeps the prior value.
Rule 3: requires-replace paths come from the attributes' plan modifiers.
Rule 4: apply returns exactly what the plan promised for every known value; the engine
        checks it and reports a provider bug in plain words if not.
Rule 5: a read that finds the object gone removes it from state; a failed create
        returns the partial state the resource recorded, so nothing is orphaned.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .cty import json as cty_json
from .cty import types as ct
from .cty.path import AttributePath
from .cty.values import UNKNOWN, CtyError, conform, is_known, is_unknown, values_equal
from .diagnostics import DiagnosticError, Diagnostics
from .planmodifiers import AttributePlanRequest
from .resource import (
    Context,
    DataSource,
    Provider,
    Resource,
    model_from_value,
    model_to_value,
    timeout_for,
)
from .schema import Block, BlockNesting, Nesting, Schema

log = logging.getLogger("tfnimble.plugin.engine")


@dataclass
class PlanResult:
    planned_state: Any
    requires_replace: list[AttributePath]
    planned_private: bytes
    diagnostics: Diagnostics


@dataclass
class StateResult:
    state: Any
    private: bytes
    diagnostics: Diagnostics


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


class Engine:
    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.stop_event = threading.Event()
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

    # --- schemas --------------------------------------------------------------------

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

    def _resource(self, type_name: str) -> Resource:
        try:
            return self._resources[type_name]
        except KeyError:
            raise DiagnosticError(
                "Unknown Resource Type",
                f"This provider has no resource type {type_name!r}.",
            ) from None

    def _data_source(self, type_name: str) -> DataSource:
        try:
            return self._data_sources[type_name]
        except KeyError:
            raise DiagnosticError(
                "Unknown Data Source Type",
                f"This provider has no data source type {type_name!r}.",
            ) from None

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

    def validate_provider_config(self, config: Any) -> Diagnostics:
        schema = self.provider_schema()
        diags = Diagnostics()
        run_validators(schema.block, config, AttributePath.root(), diags)
        ctx = self._ctx()
        _guard(
            ctx,
            lambda: self.provider.validate_config(
                ctx, model_from_value(self.provider.Model, config)
            ),
        )
        diags.extend(ctx.diagnostics)
        return diags

    def configure_provider(self, config: Any, terraform_version: str = "") -> Diagnostics:
        ctx = self._ctx()
        model: Any = model_from_value(self.provider.Model, config)

        def run() -> None:
            self.provider_data = self.provider.configure(ctx, model)
            self.configured = True

        _guard(ctx, run)
        return ctx.diagnostics

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

    def validate_resource_config(self, type_name: str, config: Any) -> Diagnostics:
        res = self._resource(type_name)
        schema = self.resource_schema(type_name)
        diags = Diagnostics()
        run_validators(schema.block, config, AttributePath.root(), diags)
        ctx = self._ctx()
        _guard(ctx, lambda: res.validate_config(ctx, model_from_value(res.Model, config)))
        diags.extend(ctx.diagnostics)
        return diags

    def validate_data_source_config(self, type_name: str, config: Any) -> Diagnostics:
        ds = self._data_source(type_name)
        schema = self.data_source_schema(type_name)
        diags = Diagnostics()
        run_validators(schema.block, config, AttributePath.root(), diags)
        ctx = self._ctx()
        _guard(ctx, lambda: ds.validate_config(ctx, model_from_value(ds.Model, config)))
        diags.extend(ctx.diagnostics)
        return diags

    # --- state upgrade --------------------------------------------------------------

    def upgrade_resource_state(
        self, type_name: str, version: int, raw_json: bytes | None
    ) -> tuple[Any, Diagnostics]:
        res = self._resource(type_name)
        schema = self.resource_schema(type_name)
        ty = schema.cty_type()
        diags = Diagnostics()
        if raw_json is None:
            diags.add_error(
                "Unsupported State Format",
                "This provider only reads JSON state (flatmap state is from Terraform 0.11 "
                "and older). Re-import the resource.",
            )
            return None, diags
        try:
            if version == schema.version:
                return cty_json.decode(raw_json, ty, ignore_unknown_attributes=True), diags
            if version > schema.version:
                diags.add_error(
                    "Resource State From A Newer Provider",
                    f"The state of this {type_name} was written by a newer provider (schema "
                    f"version {version}; this provider knows up to {schema.version}). Use that "
                    "provider version or newer.",
                )
                return None, diags
            upgrader = res.STATE_UPGRADERS.get(version)
            if upgrader is None:
                diags.add_error(
                    "Unable To Upgrade Resource State",
                    f"There is no upgrade from schema version {version} of {type_name} to "
                    f"version {schema.version}.",
                )
                return None, diags
            raw = json.loads(raw_json)
            upgraded = upgrader(raw)
            encoded = json.dumps(upgraded).encode()
            return cty_json.decode(encoded, ty), diags
        except (CtyError, ValueError) as exc:
            diags.add_error(
                "Unable To Read Resource State",
                f"The stored state of this {type_name} does not match its schema: {exc}",
            )
            return None, diags

    # --- read -----------------------------------------------------------------------

    def read_resource(self, type_name: str, state: Any, private: bytes | None) -> StateResult:
        res = self._resource(type_name)
        schema = self.resource_schema(type_name)
        ty = schema.cty_type()
        if state is None:
            return StateResult(None, private or b"", Diagnostics())
        ctx = self._ctx(
            decode_private(private),
            timeout=timeout_for(
                model_from_value(res.Model, state), "read", res.DEFAULT_TIMEOUTS, 5 * 60
            ),
        )
        result: dict[str, Any] = {"state": state}

        def run() -> None:
            model = res.read(ctx, model_from_value(res.Model, state))
            result["state"] = None if model is None else model_to_value(model, ty)

        if not _guard(ctx, run):
            return StateResult(state, private or b"", ctx.diagnostics)
        new_state = result["state"]
        if new_state is not None:
            new_state = self._finish_state(new_state, ty, ctx.diagnostics, "read")
            if new_state is None:
                return StateResult(state, private or b"", ctx.diagnostics)
        return StateResult(new_state, encode_private(ctx.private), ctx.diagnostics)

    # --- plan -----------------------------------------------------------------------

    def plan_resource_change(
        self,
        type_name: str,
        prior: Any,
        proposed: Any,
        config: Any,
        prior_private: bytes | None,
    ) -> PlanResult:
        res = self._resource(type_name)
        schema = self.resource_schema(type_name)
        ty = schema.cty_type()
        diags = Diagnostics()
        if proposed is None:  # destroy
            return PlanResult(None, [], prior_private or b"", diags)
        creating = prior is None
        planned = copy.deepcopy(proposed)
        _apply_defaults(schema.block, planned, config)
        if creating or not values_equal(planned, prior, ty):
            _mark_computed_unknown(schema.block, planned, config)
        replace: list[AttributePath] = []
        _run_plan_modifiers(
            schema.block, planned, config, prior, creating, AttributePath.root(), replace, diags
        )
        ctx = self._ctx(decode_private(prior_private))
        out: dict[str, Any] = {"plan": planned}

        def run() -> None:
            new_plan = res.modify_plan(
                ctx,
                model_from_value(res.Model, planned),
                None if prior is None else model_from_value(res.Model, prior),
                model_from_value(res.Model, config),
            )
            out["plan"] = model_to_value(new_plan, ty)

        _guard(ctx, run)
        diags.extend(ctx.diagnostics)
        planned = out["plan"]
        if diags.has_error():
            return PlanResult(planned, replace, prior_private or b"", diags)
        try:
            planned = conform(planned, ty)
        except CtyError as exc:
            diags.add_error("Provider Bug: Invalid Plan", f"{exc}", exc.path)
            return PlanResult(proposed, replace, prior_private or b"", diags)
        _check_plan_respects_config(schema.block, planned, config, AttributePath.root(), diags)
        return PlanResult(planned, replace, encode_private(ctx.private), diags)

    # --- apply ----------------------------------------------------------------------

    def apply_resource_change(
        self,
        type_name: str,
        prior: Any,
        planned: Any,
        config: Any,
        planned_private: bytes | None,
    ) -> StateResult:
        res = self._resource(type_name)
        schema = self.resource_schema(type_name)
        ty = schema.cty_type()
        private = decode_private(planned_private)
        if planned is None:
            ctx = self._ctx(
                private,
                timeout_for(model_from_value(res.Model, prior), "delete", res.DEFAULT_TIMEOUTS),
            )
            if _guard(ctx, lambda: res.delete(ctx, model_from_value(res.Model, prior))):
                return StateResult(None, b"", ctx.diagnostics)
            return StateResult(prior, planned_private or b"", ctx.diagnostics)

        op = "create" if prior is None else "update"
        plan_model: Any = model_from_value(res.Model, planned)
        ctx = self._ctx(private, timeout_for(plan_model, op, res.DEFAULT_TIMEOUTS))
        out: dict[str, Any] = {}

        def run() -> None:
            if prior is None:
                out["model"] = res.create(ctx, plan_model)
            else:
                out["model"] = res.update(ctx, plan_model, model_from_value(res.Model, prior))

        if not _guard(ctx, run):
            fallback = prior
            if ctx.partial_state is not None:
                fallback = self._finish_state(
                    model_to_value(ctx.partial_state, ty), ty, ctx.diagnostics, op, partial=True
                )
            return StateResult(fallback, encode_private(ctx.private), ctx.diagnostics)
        new_state = model_to_value(out["model"], ty)
        finished = self._finish_state(new_state, ty, ctx.diagnostics, op)
        if finished is None:
            return StateResult(prior, encode_private(ctx.private), ctx.diagnostics)
        _check_apply_matches_plan(planned, finished, ty, AttributePath.root(), ctx.diagnostics)
        return StateResult(finished, encode_private(ctx.private), ctx.diagnostics)

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
                return _unknown_to_null(value)
            diags.add_error(
                "Provider Bug: Unknown Value In State",
                f"after {op} the resource left a value unknown; every value must be known "
                "once the operation has finished.",
            )
            return None
        return value

    # --- import ---------------------------------------------------------------------

    def import_resource_state(
        self, type_name: str, import_id: str
    ) -> tuple[list[tuple[str, Any, bytes]], Diagnostics]:
        res = self._resource(type_name)
        ty = self.resource_schema(type_name).cty_type()
        ctx = self._ctx()
        out: dict[str, Any] = {}

        def run() -> None:
            out["model"] = res.import_state(ctx, import_id)

        if not _guard(ctx, run):
            return [], ctx.diagnostics
        state = self._finish_state(
            model_to_value(out["model"], ty), ty, ctx.diagnostics, "import", partial=True
        )
        if state is None:
            return [], ctx.diagnostics
        return [(type_name, state, encode_private(ctx.private))], ctx.diagnostics

    # --- data sources ---------------------------------------------------------------

    def read_data_source(self, type_name: str, config: Any) -> tuple[Any, Diagnostics]:
        ds = self._data_source(type_name)
        ty = self.data_source_schema(type_name).cty_type()
        ctx = self._ctx(timeout=5 * 60)
        out: dict[str, Any] = {}

        def run() -> None:
            out["model"] = ds.read(ctx, model_from_value(ds.Model, config))

        if not _guard(ctx, run):
            return None, ctx.diagnostics
        state = self._finish_state(model_to_value(out["model"], ty), ty, ctx.diagnostics, "read")
        return state, ctx.diagnostics


# --- helpers --------------------------------------------------------------------------------


def _guard(ctx: Context, fn: Any) -> bool:
    """Run resource code; turn DiagnosticError and unexpected exceptions into diagnostics."""
    try:
        fn()
    except DiagnosticError as exc:
        ctx.diagnostics.add(exc.to_diagnostic())
        return False
    except Exception as exc:
        log.exception("unexpected provider error")
        ctx.diagnostics.add_error(
            "Unexpected Provider Error",
            f"{type(exc).__name__}: {exc}. This is a bug in the provider; please report it "
            "with the TF_LOG=DEBUG output.",
        )
        return False
    return not ctx.diagnostics.has_error()


def _unknown_to_null(value: Any) -> Any:
    if is_unknown(value):
        return None
    if isinstance(value, dict):
        return {k: _unknown_to_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknown_to_null(v) for v in value]
    return value


def _child_objects(nesting: Any, value: Any) -> list[tuple[Any, Any]]:
    """(key, element) pairs of a nested block/attribute value we can align by key."""
    if value is None or is_unknown(value):
        return []
    if nesting in (BlockNesting.SINGLE, BlockNesting.GROUP, Nesting.SINGLE):
        return [(None, value)]
    if nesting in (BlockNesting.LIST, Nesting.LIST):
        return list(enumerate(value))
    if nesting in (BlockNesting.MAP, Nesting.MAP):
        return list(value.items())
    return []  # sets cannot be aligned element by element


def _sub(value: Any, key: Any) -> Any:
    if value is None or is_unknown(value):
        return None
    if key is None:
        return value
    try:
        return value[key]
    except (KeyError, IndexError, TypeError):
        return None


def _nested_children(block: Block) -> list[tuple[str, Any, Block]]:
    out: list[tuple[str, Any, Block]] = []
    for name, nb in block.blocks.items():
        out.append((name, nb.nesting, nb.block))
    for name, attr in block.attributes.items():
        if attr.nested is not None:
            out.append((name, attr.nested.nesting, Block(attributes=attr.nested.attributes)))
    return out


def _apply_defaults(block: Block, planned: Any, config: Any) -> None:
    if not isinstance(planned, dict):
        return
    for name, attr in block.attributes.items():
        cfg = _sub(config, name) if isinstance(config, dict) else None
        if attr.has_default and cfg is None:
            planned[name] = copy.deepcopy(attr.default)
    for name, nesting, child in _nested_children(block):
        for key, elem in _child_objects(nesting, planned.get(name)):
            _apply_defaults(child, elem, _sub(_sub(config, name), key))


def _mark_computed_unknown(block: Block, planned: Any, config: Any) -> None:
    if not isinstance(planned, dict):
        return
    for name, attr in block.attributes.items():
        cfg = _sub(config, name) if isinstance(config, dict) else None
        if attr.computed and cfg is None and not attr.has_default:
            planned[name] = UNKNOWN
    for name, nesting, child in _nested_children(block):
        for key, elem in _child_objects(nesting, planned.get(name)):
            _mark_computed_unknown(child, elem, _sub(_sub(config, name), key))


def _run_plan_modifiers(
    block: Block,
    planned: Any,
    config: Any,
    prior: Any,
    creating: bool,
    path: AttributePath,
    replace: list[AttributePath],
    diags: Diagnostics,
) -> None:
    if not isinstance(planned, dict):
        return
    for name, attr in block.attributes.items():
        if not attr.plan_modifiers:
            continue
        apath = path.attr(name)
        value = planned.get(name)
        for mod in attr.plan_modifiers:
            req = AttributePlanRequest(
                path=apath,
                type=attr.cty_type(),
                config_value=_sub(config, name),
                state_value=_sub(prior, name),
                plan_value=value,
                creating=creating,
                diagnostics=diags,
            )
            result = mod.modify(req)
            value = result.plan_value
            if result.requires_replace and apath not in replace:
                replace.append(apath)
        planned[name] = value
    for name, nesting, child in _nested_children(block):
        for key, elem in _child_objects(nesting, planned.get(name)):
            sub_path = path.attr(name)
            if isinstance(key, int):
                sub_path = sub_path.index(key)
            elif isinstance(key, str):
                sub_path = sub_path.key(key)
            _run_plan_modifiers(
                child,
                elem,
                _sub(_sub(config, name), key),
                _sub(_sub(prior, name), key),
                creating,
                sub_path,
                replace,
                diags,
            )


def _check_plan_respects_config(
    block: Block, planned: Any, config: Any, path: AttributePath, diags: Diagnostics
) -> None:
    if not isinstance(planned, dict) or not isinstance(config, dict):
        return
    for name, attr in block.attributes.items():
        cfg = config.get(name)
        if cfg is None and attr.computed:
            continue
        if attr.nested is not None:
            continue
        if is_unknown(cfg):
            continue
        if not values_equal(planned.get(name), cfg, attr.cty_type()):
            diags.add_error(
                "Provider Bug: Plan Changes A Configured Value",
                f"The plan changed {path.attr(name)} away from its configured value.",
                path.attr(name),
            )


def _check_apply_matches_plan(
    planned: Any, new: Any, ty: ct.CtyType, path: AttributePath, diags: Diagnostics
) -> None:
    if is_unknown(planned):
        return
    if isinstance(ty, ct.Object) and isinstance(planned, dict) and isinstance(new, dict):
        for name, aty in ty.attributes.items():
            _check_apply_matches_plan(planned.get(name), new.get(name), aty, path.attr(name), diags)
        return
    if (
        isinstance(ty, ct.List | ct.Tuple)
        and isinstance(planned, list)
        and isinstance(new, list)
        and len(planned) == len(new)
    ):
        for i, (p, n) in enumerate(zip(planned, new, strict=True)):
            ety = ty.element if isinstance(ty, ct.List) else ty.elements[i]
            _check_apply_matches_plan(p, n, ety, path.index(i), diags)
        return
    if not is_known(planned):
        return
    if not values_equal(planned, new, ty):
        diags.add_error(
            "Provider Bug: Apply Result Differs From Plan",
            f"The plan promised {planned!r} for {path}, but the operation produced {new!r}. "
            "The change was applied; run terraform apply -refresh-only to record the real value, "
            "and please report this bug.",
            path,
        )


def run_validators(block: Block, config: Any, path: AttributePath, diags: Diagnostics) -> None:
    """Run attribute validators on known, non-null config values (recursively)."""
    if not isinstance(config, dict):
        return
    for name, attr in block.attributes.items():
        value = config.get(name)
        apath = path.attr(name)
        if attr.deprecation_message and value is not None:
            diags.add_warning("Deprecated Attribute", attr.deprecation_message, apath)
        if value is None or not is_known(value):
            continue
        for validator in attr.validators:
            diags.extend(validator(value, apath))
    for name, nesting, child in _nested_children(block):
        for key, elem in _child_objects(nesting, config.get(name)):
            sub_path = path.attr(name)
            if isinstance(key, int):
                sub_path = sub_path.index(key)
            elif isinstance(key, str):
                sub_path = sub_path.key(key)
            run_validators(child, elem, sub_path, diags)


__all__ = ["Engine", "PlanResult", "StateResult", "run_validators"]
