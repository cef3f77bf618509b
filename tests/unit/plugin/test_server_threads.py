"""Where the server runs each RPC (worker thread or event loop), its worker threads, and the
transport that coalesces a connection's writes per turn of the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from _fake_stream import FakeStream
from grpclib.protocol import H2Protocol
from tfnimble.plugin import (
    Attribute,
    Context,
    Provider,
    Resource,
    Schema,
    Value,
    _proto,
    requires_replace_if,
    types,
)
from tfnimble.plugin._gen import tfplugin6_pb2 as pb
from tfnimble.plugin.cty import msgpack as cty_msgpack
from tfnimble.plugin.engine import Engine
from tfnimble.plugin.planmodifiers import AttributePlanRequest
from tfnimble.plugin.server import (
    ProviderService,
    Server,
    _Coalescing,
    _CoalescingTransport,
    _Workers,
)

#: (what ran, the thread it ran in), from every resource hook below
SEEN: list[tuple[str, str]] = []


def _seen(what: str) -> None:
    SEEN.append((what, threading.current_thread().name))


def _never_replace(req: AttributePlanRequest) -> bool:
    _seen("plan modifier")
    return False


@dataclass
class M:
    id: Value[str] = None
    name: Value[str] = None


class _Base(Resource):
    Model = M

    def schema(self) -> Schema:
        modifiers = (requires_replace_if(_never_replace, "never"),)
        name = Attribute(types.String, required=True, plan_modifiers=modifiers, description="N.")
        return Schema(
            {"id": Attribute(types.String, computed=True, description="ID."), "name": name}
        )

    def validate_config(self, ctx: Context, config: M) -> None:
        _seen("validate")

    def read(self, ctx: Context, state: M) -> M:
        _seen("read")
        return state


class Plain(_Base):
    """No modify_plan of its own: its plans are the plan rules alone."""

    TYPE_NAME = "plain"


class Planner(_Base):
    TYPE_NAME = "planner"

    def modify_plan(self, ctx: Context, plan: M, state: M | None, config: M) -> M:
        _seen("modify_plan")
        return plan


class P(Provider):
    TYPE_NAME = "t"
    ADDRESS = "registry.terraform.io/ito/t"

    def resources(self) -> list[type[Resource]]:
        return [Plain, Planner]


TY = types.Object({"id": types.String, "name": types.String})


def dv(value: object) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=cty_msgpack.encode(value, TY))


@pytest.fixture
def service() -> Iterator[ProviderService]:
    SEEN.clear()
    svc = ProviderService(Engine(P()), max_workers=2)
    yield svc
    svc.shutdown()


def run(method: Any, request: object) -> Any:
    stream = FakeStream(request)
    asyncio.run(method(stream))
    (reply,) = stream.sent
    assert not reply.diagnostics, reply.diagnostics
    return reply


def test_code_that_may_block_runs_in_workers_and_computation_on_the_loop(
    service: ProviderService,
) -> None:
    loop_thread = threading.current_thread().name  # asyncio.run runs the loop here
    state = dv({"id": "i", "name": "old"})
    proposed = dv({"id": "i", "name": "n"})  # a rename: the plan modifier is asked
    config = dv({"id": None, "name": "n"})
    run(
        service.ValidateResourceConfig,
        pb.ValidateResourceConfig.Request(type_name="t_plain", config=config),
    )
    for type_name in ("t_plain", "t_planner"):
        run(
            service.PlanResourceChange,
            pb.PlanResourceChange.Request(
                type_name=type_name, prior_state=state, proposed_new_state=proposed, config=config
            ),
        )
    run(service.ReadResource, pb.ReadResource.Request(type_name="t_plain", current_state=state))
    where = [(what, name == loop_thread) for what, name in SEEN]
    assert where == [
        ("validate", True),
        ("plan modifier", True),  # t_plain: no modify_plan, the whole plan on the loop
        ("plan modifier", False),  # t_planner: its plan goes to a worker ...
        ("modify_plan", False),
        ("read", False),
    ]
    assert all(name.startswith("tf-rpc") for what, name in SEEN if name != loop_thread)


def test_a_plan_is_told_apart_without_decoding_it(service: ProviderService) -> None:
    engine = service.engine
    assert engine.plan_runs_resource_code("t_planner")
    assert not engine.plan_runs_resource_code("t_plain")
    assert not engine.plan_runs_resource_code("t_nonexistent")  # answered with a diagnostic
    assert _proto.is_null(dv(None))
    assert _proto.is_null(pb.DynamicValue())
    assert _proto.is_null(pb.DynamicValue(json=b"null"))
    assert not _proto.is_null(dv({"id": None, "name": None}))
    assert not _proto.is_null(pb.DynamicValue(json=b"{}"))


def test_a_destroy_plan_runs_no_resource_code(service: ProviderService) -> None:
    state = dv({"id": "i", "name": "n"})
    reply = run(
        service.PlanResourceChange,
        pb.PlanResourceChange.Request(
            type_name="t_planner", prior_state=state, proposed_new_state=dv(None), config=dv(None)
        ),
    )
    assert _proto.is_null(reply.planned_state)
    assert SEEN == []


# --- worker threads ----------------------------------------------------------------------


def test_workers_run_jobs_in_at_most_max_threads_and_pass_exceptions_back() -> None:
    workers = _Workers(2, None)
    gate = threading.Event()
    names: set[str] = set()

    def blocking(i: int) -> int:
        gate.wait(10)
        names.add(threading.current_thread().name + str(threading.get_ident()))
        return i

    def boom() -> int:
        raise KeyError("from a worker")

    async def main() -> list[int]:
        futs = [workers.run(lambda i=i: blocking(i)) for i in range(5)]
        asyncio.get_running_loop().call_later(0.05, gate.set)
        results = list(await asyncio.gather(*futs))
        with pytest.raises(KeyError, match="from a worker"):
            await workers.run(boom)
        return results

    try:
        assert asyncio.run(main()) == [0, 1, 2, 3, 4]
    finally:
        workers.shutdown()
    assert 1 <= len(names) <= 2
    assert workers._threads <= 2


def test_a_cancelled_rpc_leaves_its_work_to_finish_quietly() -> None:
    workers = _Workers(1, None)
    started, release = threading.Event(), threading.Event()
    done: list[str] = []

    def slow() -> str:
        started.set()
        release.wait(10)
        done.append("slow")
        return "late"

    async def main() -> None:
        fut = workers.run(slow)
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        fut.cancel()  # Terraform cancelled the RPC; the worker is still busy
        release.set()
        follow = workers.run(lambda: "next")  # the same thread, once slow() is done
        assert await follow == "next"

    try:
        asyncio.run(main())
    finally:
        workers.shutdown()
    assert done == ["slow"]


def test_shutdown_cancels_queued_jobs_and_refuses_new_ones() -> None:
    workers = _Workers(1, None)
    started, release = threading.Event(), threading.Event()

    def busy() -> None:
        started.set()
        release.wait(10)

    async def main() -> None:
        running = workers.run(busy)
        queued = workers.run(lambda: "never")
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        workers.shutdown()
        with pytest.raises(asyncio.CancelledError):
            await queued
        with pytest.raises(RuntimeError, match="shutting down"):
            workers.run(lambda: None)
        release.set()
        await running

    asyncio.run(main())


# --- coalesced writes --------------------------------------------------------------------


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": "peer"}.get(name, default)


def test_one_turn_of_the_loop_writes_once_in_order() -> None:
    inner = FakeTransport()

    async def main() -> None:
        t = _CoalescingTransport(inner)
        t.write(b"headers")
        t.write(b"")
        t.write(bytearray(b"message"))
        t.write(b"trailers")
        assert inner.writes == []  # nothing yet: the turn is not over
        assert t.get_write_buffer_size() == len(b"headersmessagetrailers")
        await asyncio.sleep(0)
        assert inner.writes == [b"headersmessagetrailers"]
        t.write(b"next")
        await asyncio.sleep(0)
        assert inner.writes[1:] == [b"next"]
        assert t.get_extra_info("peername") == "peer"
        t.write(b"last")
        t.close()  # what is pending goes out before the close
        assert inner.writes[2:] == [b"last"] and inner.closed
        t.write(b"after")
        await asyncio.sleep(0)
        assert inner.writes[3:] == []  # the connection is closing: dropped

    asyncio.run(main())


def test_the_server_wraps_grpclibs_protocol() -> None:
    """The hook the coalescing relies on (grpclib's per-connection protocol factory)."""

    async def main() -> None:
        server = Server([])
        proto = server._protocol_factory()
        assert isinstance(proto, _Coalescing)
        assert isinstance(proto._inner, H2Protocol)
        inner = FakeTransport()
        proto.connection_made(inner)
        await asyncio.sleep(0)
        assert inner.writes  # the server's HTTP/2 preface (SETTINGS), through the wrapper
        assert isinstance(proto._inner.connection._transport, _CoalescingTransport)

    asyncio.run(main())
