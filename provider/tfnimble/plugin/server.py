"""tfplugin6 Provider service on grpclib: decode -> engine -> encode, nothing else.

Blocking work (REST calls, SSH, qemu-img) runs in worker threads, never on the
event loop, so Terraform's parallel requests are served concurrently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpclib.const
from grpclib.server import Stream
from tfplugin_proto import tfplugin6_5_pb2 as pb

from . import _proto
from .cty.values import CtyError
from .diagnostics import DiagnosticError, Diagnostics
from .engine import Engine

log = logging.getLogger("tfnimble.plugin.server")
T = TypeVar("T")
_SERVICE = "/tfplugin6.Provider/"


def _decode_error(exc: Exception, what: str) -> Diagnostics:
    diags = Diagnostics()
    if isinstance(exc, DiagnosticError):
        diags.add(exc.to_diagnostic())
    else:
        path = getattr(exc, "path", None)
        diags.add_error(
            "Invalid Value From Terraform",
            f"The provider could not decode the {what} it received: {exc}",
            path,
        )
    return diags


async def _recv(stream: Stream[Any, Any]) -> Any:
    req = await stream.recv_message()
    if req is None:
        from grpclib.const import Status
        from grpclib.exceptions import GRPCError

        raise GRPCError(Status.INVALID_ARGUMENT, "the request message is missing")
    return req


class ProviderService:
    def __init__(self, engine: Engine, max_workers: int = 64) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="tf-rpc")
        self._schema_response: pb.GetProviderSchema.Response | None = None

    async def _run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn)

    def shutdown(self) -> None:
        self.engine.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- metadata and schema ----------------------------------------------------------

    def _capabilities(self) -> pb.ServerCapabilities:
        return pb.ServerCapabilities(plan_destroy=False, get_provider_schema_optional=False)

    async def GetMetadata(self, stream: Stream[Any, Any]) -> None:
        await stream.recv_message()
        e = self.engine
        await stream.send_message(
            pb.GetMetadata.Response(
                server_capabilities=self._capabilities(),
                resources=[
                    pb.GetMetadata.ResourceMetadata(type_name=t) for t in e.resource_types()
                ],
                data_sources=[
                    pb.GetMetadata.DataSourceMetadata(type_name=t) for t in e.data_source_types()
                ],
            )
        )

    def _build_schema(self) -> pb.GetProviderSchema.Response:
        e = self.engine
        resp = pb.GetProviderSchema.Response(server_capabilities=self._capabilities())
        try:
            resp.provider.CopyFrom(_proto.schema_to_proto(e.provider_schema()))
            for t in e.resource_types():
                resp.resource_schemas[t].CopyFrom(_proto.schema_to_proto(e.resource_schema(t)))
            for t in e.data_source_types():
                resp.data_source_schemas[t].CopyFrom(
                    _proto.schema_to_proto(e.data_source_schema(t))
                )
        except Exception as exc:  # a schema bug must reach the user, not kill the plugin
            log.exception("building schema failed")
            diags = Diagnostics()
            diags.add_error("Provider Bug: Invalid Schema", str(exc))
            return pb.GetProviderSchema.Response(diagnostics=_proto.diagnostics_to_proto(diags))
        return resp

    async def GetProviderSchema(self, stream: Stream[Any, Any]) -> None:
        await stream.recv_message()
        if self._schema_response is None:
            self._schema_response = self._build_schema()
        await stream.send_message(self._schema_response)

    # --- configuration: decode a config, call the engine, answer with diagnostics ----------

    async def _config_rpc(
        self,
        stream: Stream[Any, Any],
        response: Any,
        what: str,
        schema: Callable[[Any], Any],
        call: Callable[[Any, Any], Diagnostics],
    ) -> None:
        req = await _recv(stream)

        def work() -> Diagnostics:
            try:
                cfg = _proto.decode_dynamic(req.config, schema(req).cty_type())
            except (CtyError, DiagnosticError) as exc:
                return _decode_error(exc, what)
            return call(req, cfg)

        diags = await self._run(work)
        await stream.send_message(response(diagnostics=_proto.diagnostics_to_proto(diags)))

    async def ValidateProviderConfig(self, stream: Stream[Any, Any]) -> None:
        e = self.engine
        await self._config_rpc(
            stream,
            pb.ValidateProviderConfig.Response,
            "provider configuration",
            lambda req: e.provider_schema(),
            lambda req, cfg: e.validate_provider_config(cfg),
        )

    async def ConfigureProvider(self, stream: Stream[Any, Any]) -> None:
        e = self.engine
        await self._config_rpc(
            stream,
            pb.ConfigureProvider.Response,
            "provider configuration",
            lambda req: e.provider_schema(),
            lambda req, cfg: e.configure_provider(cfg, req.terraform_version),
        )

    async def StopProvider(self, stream: Stream[Any, Any]) -> None:
        await stream.recv_message()
        self.engine.stop()
        await stream.send_message(pb.StopProvider.Response())

    async def ValidateResourceConfig(self, stream: Stream[Any, Any]) -> None:
        e = self.engine
        await self._config_rpc(
            stream,
            pb.ValidateResourceConfig.Response,
            "resource configuration",
            lambda req: e.resource_schema(req.type_name),
            lambda req, cfg: e.validate_resource_config(req.type_name, cfg),
        )

    async def ValidateDataResourceConfig(self, stream: Stream[Any, Any]) -> None:
        e = self.engine
        await self._config_rpc(
            stream,
            pb.ValidateDataResourceConfig.Response,
            "data source configuration",
            lambda req: e.data_source_schema(req.type_name),
            lambda req, cfg: e.validate_data_source_config(req.type_name, cfg),
        )

    # --- resources ---------------------------------------------------------------------------

    async def UpgradeResourceState(self, stream: Stream[Any, Any]) -> None:
        req = await _recv(stream)
        e = self.engine

        def work() -> pb.UpgradeResourceState.Response:
            try:
                ty = e.resource_schema(req.type_name).cty_type()
                raw = req.raw_state.json if req.raw_state.json else None
                if raw is None and not req.raw_state.flatmap:
                    raw = b"null"
                value, diags = e.upgrade_resource_state(req.type_name, req.version, raw)
                resp = pb.UpgradeResourceState.Response(
                    diagnostics=_proto.diagnostics_to_proto(diags)
                )
                if not diags.has_error():
                    resp.upgraded_state.CopyFrom(_proto.encode_dynamic(value, ty))
                return resp
            except (CtyError, DiagnosticError) as exc:
                return pb.UpgradeResourceState.Response(
                    diagnostics=_proto.diagnostics_to_proto(_decode_error(exc, "state"))
                )

        await stream.send_message(await self._run(work))

    async def ReadResource(self, stream: Stream[Any, Any]) -> None:
        req = await _recv(stream)
        e = self.engine

        def work() -> pb.ReadResource.Response:
            try:
                ty = e.resource_schema(req.type_name).cty_type()
                state = _proto.decode_dynamic(req.current_state, ty)
            except (CtyError, DiagnosticError) as exc:
                return pb.ReadResource.Response(
                    new_state=req.current_state,
                    private=req.private,
                    diagnostics=_proto.diagnostics_to_proto(_decode_error(exc, "state")),
                )
            result = e.read_resource(req.type_name, state, req.private)
            return pb.ReadResource.Response(
                new_state=_proto.encode_dynamic(result.state, ty),
                private=result.private,
                diagnostics=_proto.diagnostics_to_proto(result.diagnostics),
            )

        await stream.send_message(await self._run(work))

    async def PlanResourceChange(self, stream: Stream[Any, Any]) -> None:
        req = await _recv(stream)
        e = self.engine

        def work() -> pb.PlanResourceChange.Response:
            try:
                ty = e.resource_schema(req.type_name).cty_type()
                prior = _proto.decode_dynamic(req.prior_state, ty)
                proposed = _proto.decode_dynamic(req.proposed_new_state, ty)
                config = _proto.decode_dynamic(req.config, ty)
            except (CtyError, DiagnosticError) as exc:
                return pb.PlanResourceChange.Response(
                    diagnostics=_proto.diagnostics_to_proto(_decode_error(exc, "plan"))
                )
            result = e.plan_resource_change(
                req.type_name, prior, proposed, config, req.prior_private
            )
            return pb.PlanResourceChange.Response(
                planned_state=_proto.encode_dynamic(result.planned_state, ty),
                requires_replace=[_proto.path_to_proto(p) for p in result.requires_replace],
                planned_private=result.planned_private,
                diagnostics=_proto.diagnostics_to_proto(result.diagnostics),
            )

        await stream.send_message(await self._run(work))

    async def ApplyResourceChange(self, stream: Stream[Any, Any]) -> None:
        req = await _recv(stream)
        e = self.engine

        def work() -> pb.ApplyResourceChange.Response:
            try:
                ty = e.resource_schema(req.type_name).cty_type()
                prior = _proto.decode_dynamic(req.prior_state, ty)
                planned = _proto.decode_dynamic(req.planned_state, ty)
                config = _proto.decode_dynamic(req.config, ty)
            except (CtyError, DiagnosticError) as exc:
                return pb.ApplyResourceChange.Response(
                    new_state=req.prior_state,
                    diagnostics=_proto.diagnostics_to_proto(_decode_error(exc, "planned change")),
                )
            result = e.apply_resource_change(
                req.type_name, prior, planned, config, req.planned_private
            )
            return pb.ApplyResourceChange.Response(
                new_state=_proto.encode_dynamic(result.state, ty),
                private=result.private,
                diagnostics=_proto.diagnostics_to_proto(result.diagnostics),
            )

        await stream.send_message(await self._run(work))

    async def ImportResourceState(self, stream: Stream[Any, Any]) -> None:
        req = await _recv(stream)
        e = self.engine

        def work() -> pb.ImportResourceState.Response:
            try:
                ty = e.resource_schema(req.type_name).cty_type()
            except DiagnosticError as exc:
                return pb.ImportResourceState.Response(
                    diagnostics=_proto.diagnostics_to_proto(_decode_error(exc, "import"))
                )
            imported, diags = e.import_resource_state(req.type_name, req.id)
            return pb.ImportResourceState.Response(
                imported_resources=[
                    pb.ImportResourceState.ImportedResource(
                        type_name=t, state=_proto.encode_dynamic(s, ty), private=p
                    )
                    for t, s, p in imported
                ],
                diagnostics=_proto.diagnostics_to_proto(diags),
            )

        await stream.send_message(await self._run(work))

    async def ReadDataSource(self, stream: Stream[Any, Any]) -> None:
        req = await _recv(stream)
        e = self.engine

        def work() -> pb.ReadDataSource.Response:
            try:
                ty = e.data_source_schema(req.type_name).cty_type()
                config = _proto.decode_dynamic(req.config, ty)
            except (CtyError, DiagnosticError) as exc:
                return pb.ReadDataSource.Response(
                    diagnostics=_proto.diagnostics_to_proto(_decode_error(exc, "configuration"))
                )
            state, diags = e.read_data_source(req.type_name, config)
            resp = pb.ReadDataSource.Response(diagnostics=_proto.diagnostics_to_proto(diags))
            if not diags.has_error():
                resp.state.CopyFrom(_proto.encode_dynamic(state, ty))
            return resp

        await stream.send_message(await self._run(work))

    # --- functions: this provider defines none ----------------------------------------------

    async def GetFunctions(self, stream: Stream[Any, Any]) -> None:
        await stream.recv_message()
        await stream.send_message(pb.GetFunctions.Response())

    async def CallFunction(self, stream: Stream[Any, Any]) -> None:
        req = await _recv(stream)
        diags = Diagnostics()
        diags.add_error(
            "Function Not Found", f"This provider defines no function named {req.name!r}."
        )
        await stream.send_message(
            pb.CallFunction.Response(diagnostics=_proto.diagnostics_to_proto(diags))
        )

    def __mapping__(self) -> dict[str, grpclib.const.Handler]:
        unary = grpclib.const.Cardinality.UNARY_UNARY
        rpcs: dict[str, Any] = {
            "GetMetadata": pb.GetMetadata,
            "GetProviderSchema": pb.GetProviderSchema,
            "ValidateProviderConfig": pb.ValidateProviderConfig,
            "ValidateResourceConfig": pb.ValidateResourceConfig,
            "ValidateDataResourceConfig": pb.ValidateDataResourceConfig,
            "UpgradeResourceState": pb.UpgradeResourceState,
            "ConfigureProvider": pb.ConfigureProvider,
            "ReadResource": pb.ReadResource,
            "PlanResourceChange": pb.PlanResourceChange,
            "ApplyResourceChange": pb.ApplyResourceChange,
            "ImportResourceState": pb.ImportResourceState,
            "ReadDataSource": pb.ReadDataSource,
            "GetFunctions": pb.GetFunctions,
            "CallFunction": pb.CallFunction,
            "StopProvider": pb.StopProvider,
        }
        return {
            _SERVICE + name: grpclib.const.Handler(
                getattr(self, name), unary, msg.Request, msg.Response
            )
            for name, msg in rpcs.items()
        }
