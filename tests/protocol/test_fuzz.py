"""Protocol fuzz: thousands of malformed requests to every RPC of real provider processes.

Both the nimble provider and the test provider run as Terraform starts them (go-plugin
handshake, AutoMTLS) and are called over grpcio with a seeded random generator:
malformed DynamicValues (random and truncated msgpack, unknown ext types, wrong types, huge
and non-finite numbers, deep nesting, bad JSON), hostile strings (type names, import IDs
such as ``../../sim/stats``) and request bytes that are not protobuf at all.

Asserted: every call is answered within a per-call deadline; no answer is an "Unexpected
Provider Error" or an UNKNOWN/INTERNAL gRPC status; the provider's stderr holds no
traceback; the process is alive with a bounded resident set (VmRSS); and a valid call
still works afterwards. The counts are printed (they go into docs/reliability.md).
"""

from __future__ import annotations

import collections
import json
import random
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import msgpack
import pytest
from plugin_process import ROOT, ClientCert, PluginProcess, make_client_cert, start_plugin
from tfnimble.plugin._gen import tfplugin6_pb2 as pb

SEED = 20240611
CALLS_PER_RPC = 400
#: Per-call deadline: generous, so a loaded 2-core machine does not miss it; a hang
#: (e.g. a million-digit int() or a pool of 10**12 connections) does.
CALL_TIMEOUT = 30.0
#: A provider process after the run, in KiB of resident memory.
MAX_RSS_KIB = 256 * 1024
SERVICE = "/tfplugin6.Provider/"

HOSTILE_STRINGS = [
    "../../sim/stats",
    "%2e%2e/x",
    "a/b?c#d",
    "x y",
    "",
    "\x00",
    "\udcff".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    "0" * 41 + "/",
    "ñ" * 300,
    "a" * 5000,
    "${path}",
]
HOSTILE_NUMBERS: list[Any] = [
    0,
    -1,
    70000,
    2**63,
    2**64 - 1,
    -(2**63),
    1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    1.5,
    1e12,
]
HUGE_NUMBER_TEXT = ["1e999999", "-1e999999", "9" * 9000, "1e-999999", "NaN", "Infinity", "1_0"]


def _ext(code: int, data: bytes) -> msgpack.ExtType:
    return msgpack.ExtType(code, data)


class Fuzzer:
    """Malformed DynamicValues and request fields from one seeded generator."""

    def __init__(self, rng: random.Random, type_names: list[str]) -> None:
        self.rng = rng
        self.type_names = type_names

    def leaf(self) -> Any:
        r = self.rng
        choice = r.randrange(9)
        if choice == 0:
            return r.choice(HOSTILE_STRINGS)
        if choice == 1:
            return r.choice(HOSTILE_NUMBERS)
        if choice == 2:
            return r.choice(HUGE_NUMBER_TEXT)
        if choice == 3:
            return r.choice([True, False, None])
        if choice == 4:
            return _ext(r.choice([0, 1, 2, 5, 42, 127]), r.randbytes(r.randrange(0, 12)))
        if choice == 5:
            return r.randbytes(r.randrange(0, 16))
        if choice == 6:
            return [self.leaf() for _ in range(r.randrange(4))]
        if choice == 7:
            return {r.choice(["id", "name", "size_mib", "port", "host", "timeouts"]): self.leaf()}
        return r.randrange(-5, 100)

    def shaped(self) -> dict[Any, Any]:
        """An object with the schema's usual attribute names and hostile values."""
        names = [
            "id",
            "name",
            "size_mib",
            "port",
            "max_concurrency",
            "password",
            "username",
            "ca_file",
            "insecure",
            "snapshot_id",
            "volume_id",
            "initiator_group_id",
            "lun",
            "timeouts",
            "description",
            "initiators",
            "secret",
            "count",
            "tags",
        ]
        obj: dict[Any, Any] = {n: self.leaf() for n in self.rng.sample(names, 6)}
        if self.rng.random() < 0.2:
            obj[self.rng.choice([1, b"k", None, 2.5])] = "non-string key"
        return obj

    def msgpack_bytes(self) -> bytes:
        r = self.rng
        kind = r.randrange(8)
        if kind == 0:
            return r.randbytes(r.randrange(1, 64))
        if kind == 1:  # truncated
            data = msgpack.packb(self.shaped(), use_bin_type=True)
            return data[: r.randrange(1, max(2, len(data)))]
        if kind == 2:  # deep nesting: arrays (0x91) or maps ({"a": ...}) many levels down
            depth = r.choice([100, 1000, 20000, 200000])
            if r.random() < 0.5:
                return b"\x91" * depth + b"\xc0"
            return b"\x81\xa1a" * depth + b"\xc0"
        if kind == 3:  # a huge declared length with nothing behind it
            return r.choice(
                [b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xdb\xff\xff\xff\xf0"]
            )
        if kind == 4:  # an unknown value / refinements ext with junk, or a negative ext type
            if r.random() < 0.3:
                return r.choice([b"\xd4\xff\x00", b"\xd6\xff\x00\x00\x00\x01", b"\xc7\x03\x80abc"])
            return msgpack.packb(_ext(r.choice([0, 12, 127]), r.randbytes(8)), use_bin_type=True)
        if kind == 5:  # a number position holding a float64 NaN / inf / huge decimal text
            return msgpack.packb(
                {"id": struct.unpack(">d", struct.pack(">Q", 0x7FF8000000000001))[0]}
                | {"size_mib": r.choice(HUGE_NUMBER_TEXT), "port": r.choice(HOSTILE_NUMBERS)},
                use_bin_type=True,
            )
        if kind == 6:  # wrong top-level type
            return msgpack.packb(self.leaf(), use_bin_type=True)
        return msgpack.packb(self.shaped(), use_bin_type=True)

    def json_bytes(self) -> bytes:
        r = self.rng
        kind = r.randrange(6)
        if kind == 0:
            return r.choice([b"{", b"[", b'{"a":', b"\xff\xfe", b"nul", b'"unterminated'])
        if kind == 1:
            return b"[" * r.choice([1000, 100000]) + b"]" * r.choice([0, 1000])
        if kind == 2:
            return f'{{"size_mib": {r.choice(HUGE_NUMBER_TEXT)}, "port": 1e999999}}'.encode()
        if kind == 3:
            return json.dumps([1, "x", None]).encode()
        if kind == 4:
            return b'{"id": {"nested": ' * 5000 + b"1" + b"}}" * 5000
        obj = {k: v for k, v in self.shaped().items() if isinstance(k, str)}
        return json.dumps(obj, default=lambda o: repr(o)).encode()

    def dynamic(self) -> pb.DynamicValue:
        if self.rng.random() < 0.7:
            return pb.DynamicValue(msgpack=self.msgpack_bytes())
        if self.rng.random() < 0.8:
            return pb.DynamicValue(json=self.json_bytes())
        return pb.DynamicValue(msgpack=self.msgpack_bytes(), json=self.json_bytes())

    def type_name(self) -> str:
        if self.rng.random() < 0.8:
            return self.rng.choice(self.type_names)
        return self.rng.choice(HOSTILE_STRINGS)

    def private(self) -> bytes:
        return self.rng.choice([b"", b"{", b"[]", b'{"a": 1}', self.rng.randbytes(20)])

    def request(self, rpc: str) -> Any:
        t, dv = self.type_name, self.dynamic
        if rpc == "ValidateProviderConfig":
            return pb.ValidateProviderConfig.Request(config=dv())
        if rpc == "ConfigureProvider":
            return pb.ConfigureProvider.Request(terraform_version="1.11.0", config=dv())
        if rpc == "ValidateResourceConfig":
            return pb.ValidateResourceConfig.Request(type_name=t(), config=dv())
        if rpc == "ValidateDataResourceConfig":
            return pb.ValidateDataResourceConfig.Request(type_name=t(), config=dv())
        if rpc == "UpgradeResourceState":
            raw = self.json_bytes() if self.rng.random() < 0.9 else b""
            return pb.UpgradeResourceState.Request(
                type_name=t(),
                version=self.rng.choice([0, 1, -1, 2**62]),
                raw_state=pb.RawState(json=raw),
            )
        if rpc == "ReadResource":
            return pb.ReadResource.Request(
                type_name=t(), current_state=dv(), private=self.private()
            )
        if rpc == "PlanResourceChange":
            return pb.PlanResourceChange.Request(
                type_name=t(),
                prior_state=dv(),
                proposed_new_state=dv(),
                config=dv(),
                prior_private=self.private(),
            )
        if rpc == "ApplyResourceChange":
            return pb.ApplyResourceChange.Request(
                type_name=t(),
                prior_state=dv(),
                planned_state=dv(),
                config=dv(),
                planned_private=self.private(),
            )
        if rpc == "ImportResourceState":
            return pb.ImportResourceState.Request(
                type_name=t(), id=self.rng.choice(HOSTILE_STRINGS)
            )
        if rpc == "ReadDataSource":
            return pb.ReadDataSource.Request(type_name=t(), config=dv())
        if rpc == "CallFunction":
            return pb.CallFunction.Request(name=self.rng.choice(HOSTILE_STRINGS), arguments=[dv()])
        if rpc == "GetProviderSchema":
            return pb.GetProviderSchema.Request()
        if rpc == "GetMetadata":
            return pb.GetMetadata.Request()
        if rpc == "GetFunctions":
            return pb.GetFunctions.Request()
        raise AssertionError(rpc)


RPCS: dict[str, type[Any]] = {
    "GetMetadata": pb.GetMetadata.Response,
    "GetProviderSchema": pb.GetProviderSchema.Response,
    "ValidateProviderConfig": pb.ValidateProviderConfig.Response,
    "ValidateResourceConfig": pb.ValidateResourceConfig.Response,
    "ValidateDataResourceConfig": pb.ValidateDataResourceConfig.Response,
    "UpgradeResourceState": pb.UpgradeResourceState.Response,
    "ConfigureProvider": pb.ConfigureProvider.Response,
    "ReadResource": pb.ReadResource.Response,
    "PlanResourceChange": pb.PlanResourceChange.Response,
    "ApplyResourceChange": pb.ApplyResourceChange.Response,
    "ImportResourceState": pb.ImportResourceState.Response,
    "ReadDataSource": pb.ReadDataSource.Response,
    "GetFunctions": pb.GetFunctions.Response,
    "CallFunction": pb.CallFunction.Response,
}
#: Requests without fields get few calls; the rest the full count.
LIGHT = {"GetMetadata", "GetProviderSchema", "GetFunctions"}


@dataclass
class Tally:
    sent: collections.Counter[str] = field(default_factory=collections.Counter)
    outcomes: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)

    def table(self, provider: str) -> str:
        lines = [f"{provider}: {sum(self.sent.values())} calls"]
        for rpc in sorted(self.sent):
            out = {o: n for (r, o), n in self.outcomes.items() if r == rpc}
            lines.append(f"  {rpc:28} {self.sent[rpc]:5}  {dict(sorted(out.items()))}")
        return "\n".join(lines)


def _diagnostics(resp: Any) -> list[Any]:
    return list(getattr(resp, "diagnostics", []))


def _outcome(resp: Any) -> str:
    diags = _diagnostics(resp)
    if any(d.severity == pb.Diagnostic.ERROR for d in diags):
        return "error diagnostic"
    return "warning" if diags else "ok"


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _channel(p: PluginProcess, cert: ClientCert) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=p.server_cert_pem(),
        private_key=cert.key_pem,
        certificate_chain=cert.cert_pem,
    )
    return grpc.secure_channel(
        f"unix:{p.socket_path}",
        creds,
        options=[
            ("grpc.ssl_target_name_override", "localhost"),
            ("grpc.max_send_message_length", 64 << 20),
            ("grpc.max_receive_message_length", 64 << 20),
        ],
    )


def _call(ch: grpc.Channel, rpc: str, payload: bytes) -> Any:
    method = ch.unary_unary(
        SERVICE + rpc,
        request_serializer=lambda b: b,
        response_deserializer=RPCS[rpc].FromString,
    )
    return method(payload, timeout=CALL_TIMEOUT)


def _fuzz(p: PluginProcess, cert: ClientCert, type_names: list[str], seed: int) -> Tally:
    """Send the calls (4 in flight at once, as Terraform does) and tally the answers."""
    rng = random.Random(seed)
    fz = Fuzzer(rng, type_names)
    jobs: list[tuple[str, bytes]] = []
    for rpc in RPCS:
        n = 10 if rpc in LIGHT else CALLS_PER_RPC
        for _ in range(n):
            if rng.random() < 0.08:  # not a protobuf message of this type at all
                jobs.append((rpc, rng.randbytes(rng.randrange(1, 40))))
            else:
                jobs.append((rpc, fz.request(rpc).SerializeToString()))
    rng.shuffle(jobs)
    tally = Tally()
    with _channel(p, cert) as ch:

        def one(job: tuple[str, bytes]) -> tuple[str, str, str | None]:
            rpc, payload = job
            try:
                resp = _call(ch, rpc, payload)
            except grpc.RpcError as err:
                code = err.code()
                bad = code in (
                    grpc.StatusCode.UNKNOWN,
                    grpc.StatusCode.INTERNAL,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    grpc.StatusCode.UNAVAILABLE,
                )
                name = f"grpc {code.name}"
                return rpc, name, f"{rpc}: {name}: {err.details()}" if bad else None
            unexpected = [
                d.summary
                for d in _diagnostics(resp)
                if "Unexpected" in d.summary or "Bug" in d.summary
            ]
            if unexpected:
                detail = [d.detail for d in _diagnostics(resp)][:1]
                return rpc, "unexpected", f"{rpc}: {unexpected} {detail}"
            return rpc, _outcome(resp), None

        with ThreadPoolExecutor(max_workers=4) as pool:
            for rpc, outcome, failure in pool.map(one, jobs):
                tally.sent[rpc] += 1
                tally.outcomes[(rpc, outcome)] += 1
                if failure:
                    tally.failures.append(failure)
    return tally


@pytest.fixture
def cert() -> ClientCert:
    return make_client_cert()


def _run(
    name: str,
    script: Path,
    env: dict[str, str],
    cert: ClientCert,
    tmp_path: Path,
    still_works: Callable[[grpc.Channel], None],
) -> None:
    log = tmp_path / f"{name}.stderr"
    with open(log, "wb") as err:
        p = start_plugin({"PLUGIN_CLIENT_CERT": cert.cert_pem.decode(), **env}, script, err)
    try:
        with _channel(p, cert) as ch:
            schema = pb.GetProviderSchema.Response.FromString(
                _call(ch, "GetProviderSchema", b"").SerializeToString()
            )
        types = sorted({*schema.resource_schemas, *schema.data_source_schemas})
        tally = _fuzz(p, cert, types, SEED)
        print("\n" + tally.table(name))
        assert p.proc.poll() is None, f"the {name} provider died; stderr: {log.read_text()[-2000:]}"
        rss = _rss_kib(p.proc.pid)
        print(f"  VmRSS after the run: {rss // 1024} MiB (bound {MAX_RSS_KIB // 1024} MiB)")
        assert not tally.failures, "\n".join(tally.failures[:20])
        assert rss < MAX_RSS_KIB
        with _channel(p, cert) as ch:
            still_works(ch)
        stderr = log.read_text(errors="replace")
        assert "Traceback" not in stderr, stderr[-3000:]
        assert sum(tally.sent.values()) >= 11 * CALLS_PER_RPC
    finally:
        p.proc.kill()
        p.proc.wait(timeout=10)


def _env_without_nimble() -> dict[str, str]:
    return {"NIMBLE_HOST": "", "NIMBLE_USERNAME": "", "NIMBLE_PASSWORD": "", "NIMBLE_PORT": ""}


def test_fuzz_nimble_provider(cert: ClientCert, tmp_path: Path) -> None:
    def still_works(ch: grpc.Channel) -> None:
        good = msgpack.packb(
            {
                "host": "array.example",
                "port": 70000,
                "username": "admin",
                "password": "pw",
                "ca_file": None,
                "insecure": None,
                "max_concurrency": 8,
            }
        )
        resp = _call(
            ch,
            "ValidateProviderConfig",
            pb.ValidateProviderConfig.Request(
                config=pb.DynamicValue(msgpack=good)
            ).SerializeToString(),
        )
        assert [
            (d.summary, [s.attribute_name for s in d.attribute.steps]) for d in resp.diagnostics
        ] == [("Invalid Attribute Value", ["port"])]

    launcher = tmp_path / "nimble_main.py"
    launcher.write_text("from tfnimble.nimble.main import main\n\nmain()\n")
    _run("nimble", launcher, _env_without_nimble(), cert, tmp_path, still_works)


def test_fuzz_test_provider(cert: ClientCert, tmp_path: Path) -> None:
    store = tmp_path / "store"

    def still_works(ch: grpc.Channel) -> None:
        resp = _call(ch, "GetProviderSchema", b"")
        assert "example_thing" in resp.resource_schemas
        conf = _call(
            ch,
            "ConfigureProvider",
            pb.ConfigureProvider.Request(
                config=pb.DynamicValue(msgpack=msgpack.packb({"store_dir": None}))
            ).SerializeToString(),
        )
        assert not [d for d in conf.diagnostics if d.severity == pb.Diagnostic.ERROR]

    _run(
        "example",
        ROOT / "tests/testprovider/main.py",
        {"EXAMPLE_STORE_DIR": str(store)},
        cert,
        tmp_path,
        still_works,
    )


def test_fuzz_inputs_are_reproducible() -> None:
    a = Fuzzer(random.Random(SEED), ["x"]).request("PlanResourceChange").SerializeToString()
    b = Fuzzer(random.Random(SEED), ["x"]).request("PlanResourceChange").SerializeToString()
    assert a == b
