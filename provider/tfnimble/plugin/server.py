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
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpclib.const
from google.protobuf.message import DecodeError, Message
from grpclib.exceptions import GRPCError
from grpclib.server import Stream

from . import _proto
from .cty.path import CtyError
from .diagnostics import DiagnosticError, Diagnostics
from .engine import Engine
from .rpc import CallFunctionRequest

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


def _no_function(_engine: Engine, req: CallFunctionRequest) -> Diagnostics:
    diags = Diagnostics()
    diags.add_error("Function Not Found", f"This provider defines no function named {req.name!r}.")
    return diags


Method = Callable[["ProviderService", Stream[Any, Any]], Awaitable[None]]


def _method(
    rpc: _proto.Rpc[PbReq, Req, Resp, PbResp],
    handle: Callable[[Engine, Req], Resp],
    *,
    in_worker: bool = True,
) -> Method:
    """The servicer method of one RPC: `handle` calls the engine with the typed request."""

    async def method(self: ProviderService, stream: Stream[PbReq, PbResp]) -> None:
        await self._unary(stream, rpc, lambda req: handle(self.engine, req), in_worker)

    method.__name__ = method.__qualname__ = rpc.name
    return method


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
        in_worker: bool,
    ) -> None:
        """Receive, decode, call the engine, encode, send: every RPC, one way. Bytes that are
        not a protobuf message of the request type are answered INVALID_ARGUMENT."""
        try:
            received = await stream.recv_message()
        except DecodeError:
            raise GRPCError(
                grpclib.const.Status.INVALID_ARGUMENT,
                f"the request is not a valid {rpc.request_type.__name__} message",
            ) from None
        msg = rpc.given(received)
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

    # --- metadata, schema and StopProvider answer on the event loop ---------------------

    GetMetadata = _method(_proto.GET_METADATA, lambda e, _: e.get_metadata(), in_worker=False)
    GetProviderSchema = _method(
        _proto.GET_PROVIDER_SCHEMA, lambda e, _: e.get_provider_schema(), in_worker=False
    )
    StopProvider = _method(_proto.STOP_PROVIDER, lambda e, _: e.stop(), in_worker=False)

    # --- configuration ----------------------------------------------------------------------

    ValidateProviderConfig = _method(
        _proto.VALIDATE_PROVIDER_CONFIG, lambda e, req: e.validate_provider_config(req.config)
    )
    ConfigureProvider = _method(
        _proto.CONFIGURE_PROVIDER,
        lambda e, req: e.configure_provider(req.config, req.terraform_version),
    )
    ValidateResourceConfig = _method(
        _proto.VALIDATE_RESOURCE_CONFIG,
        lambda e, req: e.validate_resource_config(
            req.type_name, req.config, req.write_only_allowed
        ),
    )
    ValidateDataResourceConfig = _method(
        _proto.VALIDATE_DATA_RESOURCE_CONFIG,
        lambda e, req: e.validate_data_source_config(req.type_name, req.config),
    )

    # --- resources and data sources ---------------------------------------------------------

    UpgradeResourceState = _method(
        _proto.UPGRADE_RESOURCE_STATE,
        lambda e, req: e.upgrade_resource_state(req.type_name, req.version, req.raw_json),
    )
    ReadResource = _method(
        _proto.READ_RESOURCE,
        lambda e, req: e.read_resource(req.type_name, req.current_state, req.private),
    )
    PlanResourceChange = _method(
        _proto.PLAN_RESOURCE_CHANGE,
        lambda e, req: e.plan_resource_change(
            req.type_name, req.prior_state, req.proposed_new_state, req.config, req.prior_private
        ),
    )
    ApplyResourceChange = _method(
        _proto.APPLY_RESOURCE_CHANGE,
        lambda e, req: e.apply_resource_change(
            req.type_name, req.prior_state, req.planned_state, req.config, req.planned_private
        ),
    )
    ImportResourceState = _method(
        _proto.IMPORT_RESOURCE_STATE, lambda e, req: e.import_resource_state(req.type_name, req.id)
    )
    ReadDataSource = _method(
        _proto.READ_DATA_SOURCE, lambda e, req: e.read_data_source(req.type_name, req.config)
    )

    # --- functions: this provider defines none ----------------------------------------------

    GetFunctions = _method(_proto.GET_FUNCTIONS, lambda e, _: None, in_worker=False)
    CallFunction = _method(_proto.CALL_FUNCTION, _no_function, in_worker=False)

    def __mapping__(self) -> dict[str, grpclib.const.Handler]:
        unary = grpclib.const.Cardinality.UNARY_UNARY
        return {
            _SERVICE + rpc.name: grpclib.const.Handler(
                getattr(self, rpc.name), unary, rpc.request_type, rpc.response_type
            )
            for rpc in _proto.RPCS
        }
