"""Provider CPU per RPC of the plugin layer alone: the no-op provider driven without Terraform.

    .venv/bin/python bench/rpc_cpu.py [--count 500] [--parallel 10] [--rounds 3]
                                      [--cprofile] [--top 30] [--json]
                                      [--baseline CHECKOUT]

Starts the no-op test provider (tests/testprovider) the way Terraform does (magic cookie,
AutoMTLS over a unix socket, the provider's recorder on through TFNIMBLE_PROFILE_DIR) and
drives it with grpcio (gRPC C-core, like Terraform's grpc-go an independent implementation
whose own CPU is spent in this process, not the provider's), --parallel calls in flight
like Terraform's default parallelism. Per thing, the RPCs Terraform sends for an apply, a
no-change plan and a destroy: ValidateResourceConfig, PlanResourceChange and
ApplyResourceChange (create), ReadResource and PlanResourceChange (refresh and plan), and
PlanResourceChange and ApplyResourceChange (destroy); the planned and new states are the
ones the provider answered.

It prints the provider's CPU per RPC once serving (imports and the handshake excluded), the
RPCs' own work (decode, engine, resource code, encode; in a worker thread or on the event
loop) and the rest (gRPC, HTTP/2, TLS, thread hand-offs), per RPC method, the median over
--rounds fresh processes. CPU time, not wall time: robust to a busy machine. With
--cprofile, one more round runs under cProfile and the top functions by own time are
printed. With --baseline CHECKOUT (another worktree of this repository, e.g. main's), every
round also runs that checkout's plugin layer (its provider/ first on the provider's
PYTHONPATH), interleaved, and the ratio this / baseline is printed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/protocol"))
sys.path.insert(0, str(ROOT / "tests/testprovider"))

from plugin_process import EXAMPLE_MAIN, make_client_cert, start_plugin  # noqa: E402


def _state_type() -> Any:
    from example_provider import ExampleProvider
    from tfnimble.plugin.engine import Engine

    return Engine(ExampleProvider()).resource_schema("example_thing").cty_type()


def _drive(sock: str, server_pem: bytes, cert: Any, count: int, parallel: int) -> int:
    """Every thing's RPCs, `parallel` at a time; the number of RPCs sent."""
    import grpc
    from provider_stub import ProviderStub
    from tfnimble.plugin._gen import tfplugin6_pb2 as pb
    from tfnimble.plugin.cty import msgpack

    ty = _state_type()

    def dv(value: Any) -> Any:
        return pb.DynamicValue(msgpack=msgpack.encode(value, ty))

    creds = grpc.ssl_channel_credentials(server_pem, cert.key_pem, cert.cert_pem)
    opts = [("grpc.ssl_target_name_override", "localhost")]
    sent = 0
    with grpc.secure_channel(f"unix:{sock}", creds, options=opts) as ch:
        stub = ProviderStub(ch)
        stub.GetProviderSchema(pb.GetProviderSchema.Request(), timeout=30)
        cfg_ty = _provider_type()
        stub.ConfigureProvider(
            pb.ConfigureProvider.Request(
                terraform_version="1.11.4",
                config=pb.DynamicValue(msgpack=msgpack.encode({"store_dir": None}, cfg_ty)),
            ),
            timeout=30,
        )

        def checked(resp: Any) -> Any:
            if resp.diagnostics:
                raise RuntimeError(str(resp.diagnostics))
            return resp

        t = "example_thing"

        def plan(prior: Any, proposed: Any, config: Any, private: bytes = b"") -> Any:
            req = pb.PlanResourceChange.Request(
                type_name=t, prior_state=prior, proposed_new_state=proposed, config=config
            )
            req.prior_private = private
            return checked(stub.PlanResourceChange(req))

        def apply(prior: Any, planned: Any, config: Any) -> Any:
            req = pb.ApplyResourceChange.Request(
                type_name=t, prior_state=prior, planned_state=planned.planned_state, config=config
            )
            req.planned_private = planned.planned_private
            return checked(stub.ApplyResourceChange(req))

        def one(i: int) -> int:
            config = {k: None for k in ty.attributes}
            config["name"] = f"thing-{i}"
            c, null = dv(config), dv(None)
            checked(
                stub.ValidateResourceConfig(
                    pb.ValidateResourceConfig.Request(type_name=t, config=c)
                )
            )
            new = apply(null, plan(null, c, c), c)
            read = checked(
                stub.ReadResource(
                    pb.ReadResource.Request(
                        type_name=t, current_state=new.new_state, private=new.private
                    )
                )
            )
            plan(read.new_state, read.new_state, c, read.private)
            apply(read.new_state, plan(read.new_state, null, null, read.private), null)
            return 7

        with ThreadPoolExecutor(parallel) as pool:
            sent = sum(pool.map(one, range(count))) + 2
        from tfnimble.plugin._gen import grpc_controller_pb2

        shutdown: Callable[..., Any] = ch.unary_unary(
            "/plugin.GRPCController/Shutdown",
            request_serializer=grpc_controller_pb2.Empty.SerializeToString,
            response_deserializer=grpc_controller_pb2.Empty.FromString,
        )
        shutdown(grpc_controller_pb2.Empty(), timeout=30)
    return sent


def _provider_type() -> Any:
    from example_provider import ExampleProvider

    return ExampleProvider().schema().cty_type()


def one_round(
    count: int, parallel: int, cprofile: bool, code: Path | None = None
) -> tuple[dict[str, Any], Path]:
    """One fresh provider process (running the plugin layer of checkout `code`, this one by
    default): its recorder's summary (and the directory it wrote to)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    out = Path(tempfile.mkdtemp(prefix="rpc-cpu-"))
    cert = make_client_cert()
    env = {
        "PLUGIN_CLIENT_CERT": cert.cert_pem.decode(),
        "EXAMPLE_STORE_DIR": str(out / "store"),
        "TFNIMBLE_PROFILE_DIR": str(out),
        "TFNIMBLE_PROFILE": "cprofile" if cprofile else "stats",
    }
    if code is not None:
        env["PYTHONPATH"] = str(code / "provider")
    p = start_plugin(env, EXAMPLE_MAIN, stderr=subprocess.DEVNULL)
    try:
        der = base64.b64decode(p.handshake[5] + "=" * (-len(p.handshake[5]) % 4))
        pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
        sent = _drive(p.socket_path, pem, cert, count, parallel)
        p.proc.wait(timeout=60)
    finally:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait()
    (summary,) = [json.loads(f.read_text()) for f in out.glob("*.json")]
    summary["sent"] = sent
    return summary, out


def figures(s: dict[str, Any]) -> dict[str, Any]:
    n = s["rpc_total"]
    worker = sum(s["worker_cpu_s"].values())
    return {
        "rpcs": n,
        "serving_ms_per_rpc": s["serving_cpu_s"] / n * 1000,
        "worker_ms_per_rpc": worker / n * 1000,
        "loop_ms_per_rpc": (s["serving_cpu_s"] - worker) / n * 1000,
        "by_method_ms": {k: s["worker_cpu_s"][k] / c * 1000 for k, c in s["rpcs"].items()},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--parallel", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cprofile", action="store_true")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--baseline", type=Path, default=None, help="a checkout to compare with")
    args = ap.parse_args()
    keys = ("serving_ms_per_rpc", "worker_ms_per_rpc", "loop_ms_per_rpc")
    rounds, base = [], []
    for _ in range(args.rounds):
        rounds.append(figures(one_round(args.count, args.parallel, False)[0]))
        if args.baseline is not None:
            base.append(figures(one_round(args.count, args.parallel, False, args.baseline)[0]))
    med = {k: statistics.median(r[k] for r in rounds) for k in keys}
    methods = rounds[0]["by_method_ms"]
    by_method = {m: statistics.median(r["by_method_ms"][m] for r in rounds) for m in methods}
    result = {
        "count": args.count,
        "rpcs": rounds[0]["rpcs"],
        "load1": os.getloadavg()[0],
        **med,
        "by_method_ms": by_method,
    }
    if base:
        result["baseline"] = {k: statistics.median(r[k] for r in base) for k in keys}
        result["over_baseline"] = {k: med[k] / result["baseline"][k] for k in keys}
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"no-op provider, {args.count} things, {result['rpcs']} RPCs, {args.parallel} in "
            f"flight, median of {args.rounds} processes, load {result['load1']:.2f}"
        )
        print(
            f"CPU per RPC once serving {med['serving_ms_per_rpc']:.3f} ms = own work "
            f"{med['worker_ms_per_rpc']:.3f} ms + gRPC, HTTP/2, TLS, hand-offs "
            f"{med['loop_ms_per_rpc']:.3f} ms"
        )
        for m, ms in sorted(by_method.items(), key=lambda kv: -kv[1]):
            print(f"  {m:26s} own work {ms:.3f} ms")
        if base:
            b, r = result["baseline"], result["over_baseline"]
            print(
                f"baseline {args.baseline}: {b['serving_ms_per_rpc']:.3f} ms = "
                f"{b['worker_ms_per_rpc']:.3f} + {b['loop_ms_per_rpc']:.3f}; this / baseline: "
                + ", ".join(f"{k.split('_')[0]} {v:.2f}" for k, v in r.items())
            )
    if args.cprofile:
        _, out = one_round(args.count, args.parallel, True)
        stats = pstats.Stats(*[str(f) for f in out.glob("*.pstats")])
        print(f"\ntop {args.top} functions by own CPU time, every provider thread:")
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
