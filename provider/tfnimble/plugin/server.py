"""tfplugin6 Provider service on grpclib: decode -> engine -> encode, nothing else.

Every RPC goes through one helper, :meth:`ProviderService._unary`: `_proto` decodes the
protobuf request into a typed request (:mod:`.rpc`), the engine answers with a typed
response, and `_proto` encodes it. A request that cannot be decoded is answered with an
"Invalid Value From Terraform" diagnostic; this module never builds or reads protobuf.

Work that may block (REST calls, SSH, qemu-img) runs in worker threads, never on the
event loop, so Terraform's parallel requests are served concurrently: configure, read,
apply, import, data source reads, and a plan whose resource has its own `modify_plan`.
Everything else is computation on the values alone (validation, state upgrades, the plan
rules; see rule 5 in :mod:`.resource`) and answers on the event loop: handing it to a
thread and back would cost more CPU than the work itself (under the GIL a thread adds no
parallelism to computation). StopProvider answers there too, so it gets through even
when every worker is busy.

:class:`Server` is grpclib's server with one change below HTTP/2: what grpclib writes to a
connection during one turn of the event loop goes to the TLS transport as one write. grpclib
writes each frame block as it is made (a reply's headers, its message, its trailers, a
window update), and every write is a TLS record of its own, encrypted, sent with a system
call and read by Terraform on its own; coalesced, a reply is one record.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import grpclib.const
import grpclib.server
from google.protobuf.message import DecodeError, Message
from grpclib.exceptions import GRPCError
from grpclib.server import Stream

from . import _proto
from .cty.path import CtyError
from .diagnostics import DiagnosticError, Diagnostics
from .engine import Engine
from .rpc import CallFunctionRequest

if TYPE_CHECKING:
    from .profiling import Recorder

PbReq = TypeVar("PbReq", bound=Message)
PbResp = TypeVar("PbResp", bound=Message)
Req = TypeVar("Req")
T = TypeVar("T")
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
#: Whether an RPC runs in a worker thread: always, never, or as the request decides.
InWorker = bool | Callable[[Engine, Any], bool]


def _method(
    rpc: _proto.Rpc[PbReq, Req, Resp, PbResp],
    handle: Callable[[Engine, Req], Resp],
    *,
    in_worker: InWorker = True,
) -> Method:
    """The servicer method of one RPC: `handle` calls the engine with the typed request."""

    async def method(self: ProviderService, stream: Stream[PbReq, PbResp]) -> None:
        await self._unary(stream, rpc, lambda req: handle(self.engine, req), in_worker)

    method.__name__ = method.__qualname__ = rpc.name
    return method


class _Workers:
    """The threads that run RPCs off the event loop: at most `max_workers`, started as
    needed and kept. Leaner than a ThreadPoolExecutor plus `run_in_executor` (which chain a
    concurrent future, its lock and condition, into an asyncio one): a job settles its
    asyncio future directly, with one `call_soon_threadsafe`."""

    def __init__(self, max_workers: int, initializer: Callable[[], None] | None) -> None:
        self._max = max_workers
        self._initializer = initializer
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0  # threads waiting for a job that no submit has counted on yet
        self._closed = False

    def run(self, work: Callable[[], T]) -> asyncio.Future[T]:
        """`work()` in a worker thread; its result (or exception) on the running loop."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the provider is shutting down")
            start = not self._idle and self._threads < self._max
            if start:
                self._threads += 1
            elif self._idle:
                self._idle -= 1
        self._jobs.put(_Job(loop, fut, work))
        if start:
            threading.Thread(target=self._serve, name="tf-rpc", daemon=True).start()
        return fut

    def _serve(self) -> None:
        if self._initializer is not None:
            self._initializer()
        while (job := self._jobs.get()) is not None:
            job.run()
            del job  # nothing of a finished RPC stays alive while the thread waits
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        """No new jobs; the queued ones are cancelled, and every thread ends once its
        current job is done."""
        with self._lock:
            self._closed = True
            threads = self._threads
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.settle(None, None, cancel=True)
        for _ in range(threads):
            self._jobs.put(None)


class _Job(Generic[T]):
    """One RPC's work, and the asyncio future on its loop that waits for it."""

    __slots__ = ("fut", "loop", "work")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[T], work: Callable[[], T]
    ) -> None:
        self.loop, self.fut, self.work = loop, fut, work

    def run(self) -> None:
        try:
            result = self.work()
        except BaseException as exc:
            self.settle(None, exc)
        else:
            self.settle(result, None)

    def settle(self, result: T | None, exc: BaseException | None, cancel: bool = False) -> None:
        try:
            self.loop.call_soon_threadsafe(_settle, self.fut, result, exc, cancel)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass


def _settle(
    fut: asyncio.Future[T], result: T | None, exc: BaseException | None, cancel: bool
) -> None:
    if fut.done():  # the RPC was cancelled while its work ran
        return
    if cancel:
        fut.cancel()
    elif exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)  # type: ignore[arg-type]


class ProviderService:
    def __init__(
        self, engine: Engine, max_workers: int = 64, recorder: Recorder | None = None
    ) -> None:
        self.engine = engine
        self._recorder = recorder
        self._workers = _Workers(
            max_workers, None if recorder is None else recorder.profile_this_thread
        )

    def shutdown(self) -> None:
        self.engine.stop()
        self._workers.shutdown()

    async def _unary(
        self,
        stream: Stream[PbReq, PbResp],
        rpc: _proto.Rpc[PbReq, Req, Resp, PbResp],
        handle: Callable[[Req], Resp],
        in_worker: InWorker,
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

        if self._recorder is not None:
            work = self._recorder.timed(rpc.name, work)
        if in_worker is True or (in_worker is not False and in_worker(self.engine, request)):
            reply = await self._workers.run(work)
        else:
            reply = work()
        await stream.send_message(reply)

    # --- metadata, schema and StopProvider answer on the event loop ---------------------

    GetMetadata = _method(_proto.GET_METADATA, lambda e, _: e.get_metadata(), in_worker=False)
    GetProviderSchema = _method(
        _proto.GET_PROVIDER_SCHEMA, lambda e, _: e.get_provider_schema(), in_worker=False
    )
    StopProvider = _method(_proto.STOP_PROVIDER, lambda e, _: e.stop(), in_worker=False)

    # --- configuration: validation answers on the event loop -------------------------------

    ValidateProviderConfig = _method(
        _proto.VALIDATE_PROVIDER_CONFIG,
        lambda e, req: e.validate_provider_config(req.config),
        in_worker=False,
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
        in_worker=False,
    )
    ValidateDataResourceConfig = _method(
        _proto.VALIDATE_DATA_RESOURCE_CONFIG,
        lambda e, req: e.validate_data_source_config(req.type_name, req.config),
        in_worker=False,
    )

    # --- resources and data sources ---------------------------------------------------------

    UpgradeResourceState = _method(
        _proto.UPGRADE_RESOURCE_STATE,
        lambda e, req: e.upgrade_resource_state(req.type_name, req.version, req.raw_json),
        in_worker=False,
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
        # a destroy's plan runs no resource code; a change's only through modify_plan
        in_worker=lambda e, msg: (
            not _proto.is_null(msg.proposed_new_state) and e.plan_runs_resource_code(msg.type_name)
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


# --- the server: grpclib's, its writes coalesced per turn of the event loop ----------------


class _CoalescingTransport(asyncio.Transport):
    """The connection's transport as grpclib sees it: `write` collects, and what one turn of
    the event loop wrote goes out as one write at the start of the next (in order; `close`
    sends what is pending first). Everything else is the real transport's."""

    def __init__(self, transport: asyncio.Transport) -> None:
        super().__init__()
        self._transport = transport
        self._pending: list[bytes] = []
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def _flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(d) for d in self._pending)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()


class _Coalescing(asyncio.Protocol):
    """grpclib's protocol for one connection, given a :class:`_CoalescingTransport`."""

    def __init__(self, inner: asyncio.Protocol) -> None:
        self._inner = inner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transport is not a subclass of asyncio.Transport, but is one
        self._inner.connection_made(_CoalescingTransport(cast(asyncio.Transport, transport)))

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)


class Server(grpclib.server.Server):  # type: ignore[misc]  # grpclib: follow_imports=skip
    """grpclib's server; each connection's writes coalesced per turn of the event loop."""

    def _protocol_factory(self) -> Any:
        return _Coalescing(super()._protocol_factory())
