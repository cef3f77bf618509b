"""tfplugin6 Provider service on grpclib: decode -> engine -> encode, nothing else.

Every RPC goes through one helper, :meth:`ProviderService._unary`: `_proto` decodes the
protobuf request into a typed request (:mod:`.rpc`), the engine answers with a typed
response, and `_proto` encodes it. A request that cannot be decoded is answered with an
"Invalid Value From Terraform" diagnostic; this module never builds or reads protobuf.

Work that may block (REST calls, SSH, qemu-img) runs in worker threads, never on the
event loop, so Terraform's parallel requests are served concurrently. The metadata,
schema, function and StopProvider RPCs answer on the event loop: StopProvider must get
through even when every worker is busy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpclib.const
from google.protobuf.message import Message
from grpclib.exceptions import GRPCError
from grpclib.server import Stream

from . import _proto
from .cty.path import CtyError
from .diagnostics import DiagnosticError, Diagnostics
from .engine import Engine
from .rpc import CallFunctionRequest, ConfigRequest

PbReq = TypeVar("PbReq", bound=Message)
PbResp = TypeVar("PbResp", bound=Message)
Req = TypeVar("Req")
Resp = TypeVar("Resp")
_SERVICE = "/tfplugin6.Provider/"


def _decode_error(exc: CtyError | DiagnosticError, what: str) -> Diagnostics:
    diags = Diagnostics()
    if isinstance(exc, DiagnosticError):
        diags.add(exc.to_diagnostic())
    else:
        diags.add_error(
            "Invalid Value From Terraform",
            f"The provider could not decode the {what} it received: {exc}",
            exc.path,
        )
    return diags


def _no_function(req: CallFunctionRequest) -> Diagnostics:
    diags = Diagnostics()
    diags.add_error("Function Not Found", f"This provider defines no function named {req.name!r}.")
    return diags


class ProviderService:
    def __init__(self, engine: Engine, max_workers: int = 64) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="tf-rpc")

    def shutdown(self) -> None:
        self.engine.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _unary(
        self,
        stream: Stream[PbReq, PbResp],
        rpc: _proto.Rpc[PbReq, Req, Resp, PbResp],
        handle: Callable[[Req], Resp],
        *,
        in_worker: bool = True,
    ) -> None:
        """Receive, decode, call the engine, encode, send: every RPC, one way."""
        msg = rpc.given(await stream.recv_message())
        if msg is None:
            raise GRPCError(grpclib.const.Status.INVALID_ARGUMENT, "the request message is missing")
        request = msg

        def work() -> PbResp:
            try:
                req = rpc.decode(request, self.engine)
            except (CtyError, DiagnosticError) as exc:
                return rpc.reject(request, _decode_error(exc, rpc.what))
            return rpc.encode(req, handle(req))

        if in_worker:
            reply = await asyncio.get_running_loop().run_in_executor(self._pool, work)
        else:
            reply = work()
        await stream.send_message(reply)

    # --- metadata and schema ----------------------------------------------------------

    async def GetMetadata(self, stream: Stream[Any, Any]) -> None:
        e = self.engine
        await self._unary(stream, _proto.GET_METADATA, lambda _: e.get_metadata(), in_worker=False)

    async def GetProviderSchema(self, stream: Stream[Any, Any]) -> None:
        e = self.engine
        await self._unary(
            stream, _proto.GET_PROVIDER_SCHEMA, lambda _: e.get_provider_schema(), in_worker=False
        )

    # --- configuration ----------------------------------------------------------------------

    async def ValidateProviderConfig(self, stream: Stream[Any, Any]) -> None:
        e = self.engine

        def handle(req: ConfigRequest) -> Diagnostics:
            return e.validate_provider_config(req.config)

        await self._unary(stream, _proto.VALIDATE_PROVIDER_CONFIG, handle)

    async def ConfigureProvider(self, stream: Stream[Any, Any]) -> None:
        e = self.engine

        def handle(req: ConfigRequest) -> Diagnostics:
            return e.configure_provider(req.config, req.terraform_version)

        await self._unary(stream, _proto.CONFIGURE_PROVIDER, handle)

    async def StopProvider(self, stream: Stream[Any, Any]) -> None:
        e = self.engine
        await self._unary(stream, _proto.STOP_PROVIDER, lambda _: e.stop(), in_worker=False)

    async def ValidateResourceConfig(self, stream: Stream[Any, Any]) -> None:
        e = self.engine

        def handle(req: ConfigRequest) -> Diagnostics:
            return e.validate_resource_config(req.type_name, req.config)

        await self._unary(stream, _proto.VALIDATE_RESOURCE_CONFIG, handle)

    async def ValidateDataResourceConfig(self, stream: Stream[Any, Any]) -> None:
        e = self.engine

        def handle(req: ConfigRequest) -> Diagnostics:
            return e.validate_data_source_config(req.type_name, req.config)

        await self._unary(stream, _proto.VALIDATE_DATA_RESOURCE_CONFIG, handle)

    # --- resources and data sources ---------------------------------------------------------

    async def UpgradeResourceState(self, stream: Stream[Any, Any]) -> None:
        e = self.engine
        await self._unary(
            stream,
            _proto.UPGRADE_RESOURCE_STATE,
            lambda req: e.upgrade_resource_state(req.type_name, req.version, req.raw_json),
        )

    async def ReadResource(self, stream: Stream[Any, Any]) -> None:
        e = self.engine
        await self._unary(
            stream,
            _proto.READ_RESOURCE,
            lambda req: e.read_resource(req.type_name, req.current_state, req.private),
        )

    async def PlanResourceChange(self, stream: Stream[Any, Any]) -> None:
        e = self.engine
        await self._unary(
            stream,
            _proto.PLAN_RESOURCE_CHANGE,
            lambda req: e.plan_resource_change(
                req.type_name,
                req.prior_state,
                req.proposed_new_state,
                req.config,
                req.prior_private,
            ),
        )

    async def ApplyResourceChange(self, stream: Stream[Any, Any]) -> None:
        e = self.engine
        await self._unary(
            stream,
            _proto.APPLY_RESOURCE_CHANGE,
            lambda req: e.apply_resource_change(
                req.type_name, req.prior_state, req.planned_state, req.config, req.planned_private
            ),
        )

    async def ImportResourceState(self, stream: Stream[Any, Any]) -> None:
        e = self.engine
        await self._unary(
            stream,
            _proto.IMPORT_RESOURCE_STATE,
            lambda req: e.import_resource_state(req.type_name, req.id),
        )

    async def ReadDataSource(self, stream: Stream[Any, Any]) -> None:
        e = self.engine
        await self._unary(
            stream,
            _proto.READ_DATA_SOURCE,
            lambda req: e.read_data_source(req.type_name, req.config),
        )

    # --- functions: this provider defines none ----------------------------------------------

    async def GetFunctions(self, stream: Stream[Any, Any]) -> None:
        await self._unary(stream, _proto.GET_FUNCTIONS, lambda _: None, in_worker=False)

    async def CallFunction(self, stream: Stream[Any, Any]) -> None:
        await self._unary(stream, _proto.CALL_FUNCTION, _no_function, in_worker=False)

    def __mapping__(self) -> dict[str, grpclib.const.Handler]:
        unary = grpclib.const.Cardinality.UNARY_UNARY
        rpcs: list[_proto.Rpc[Any, Any, Any, Any]] = [
            _proto.GET_METADATA,
            _proto.GET_PROVIDER_SCHEMA,
            _proto.VALIDATE_PROVIDER_CONFIG,
            _proto.VALIDATE_RESOURCE_CONFIG,
            _proto.VALIDATE_DATA_RESOURCE_CONFIG,
            _proto.UPGRADE_RESOURCE_STATE,
            _proto.CONFIGURE_PROVIDER,
            _proto.READ_RESOURCE,
            _proto.PLAN_RESOURCE_CHANGE,
            _proto.APPLY_RESOURCE_CHANGE,
            _proto.IMPORT_RESOURCE_STATE,
            _proto.READ_DATA_SOURCE,
            _proto.GET_FUNCTIONS,
            _proto.CALL_FUNCTION,
            _proto.STOP_PROVIDER,
        ]
        return {
            _SERVICE + rpc.name: grpclib.const.Handler(
                getattr(self, rpc.name), unary, rpc.request_type, rpc.response_type
            )
            for rpc in rpcs
        }
