"""Exec-to-handshake time of a provider process, against a bare Python floor.

    python bench/startup.py [--runs 30] [--dist dist]

Starts each command the way Terraform does (magic cookie, protocol versions and, for
the provider, an AutoMTLS client certificate), measures the time from exec until the
handshake line arrives on stdout, and prints medians and the ratio to the floor.

*_first_rpc is exec until GetProviderSchema is answered over mTLS; *_first_rpc_own_cpu the
CPU the provider process itself spent until then (the critical path: about what the wall
time comes down to on an idle machine, whatever the load of this one), *_first_rpc_cpu the
CPU of the provider and its certificate child until the provider exits. The import floors
say what no start-up can go below, each exec until a process that only imports something
prints a line: import_grpc_stack imports what any tfplugin6 server on grpclib needs (ssl,
asyncio with uvloop, grpclib with h2, protobuf and the tfplugin6 messages),
import_plugin_layer adds this project's protocol layer (engine, cty, codec), and
import_cryptography is what the certificate child loads (off the critical path: it runs on
the other core). Provider runs and floors are interleaved run by run.

When `make release` has left packaged providers in DIST, each is unpacked the way Terraform
unpacks it and its exec-to-first-answered-RPC is measured side by side with the venv
launcher's (runs interleaved, so both see the same machine load): *_bundle_first_rpc and
*_bundle_ratio (bundle / venv; the goal is at most 1.15).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/protocol"))

from plugin_process import COOKIE, ClientCert, make_client_cert  # noqa: E402
from provider_stub import ProviderStub  # noqa: E402


def time_to_first_line(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.kill()
    proc.wait()
    if not line:
        raise RuntimeError(f"{argv} printed nothing")
    return elapsed * 1000


def children_cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def first_rpc_with_cpu(
    argv: list[str], env: dict[str, str], cert: ClientCert
) -> tuple[float, float, float]:
    """(exec -> first RPC answered, the provider's own CPU ms until then, CPU ms of the
    provider and its certificate child until it exits)."""
    before, own = children_cpu_ms(), []
    wall = time_to_first_rpc(argv, env, cert, own)
    return wall, own[0], children_cpu_ms() - before


PROVIDERS = ("nimble", "glance")
# exec until a process that only imports these prints a line (no interpreter shutdown counted)
IMPORT_FLOORS = {
    "import_grpc_stack": "import ssl, uvloop, grpclib.server; "
    "from tfnimble.plugin._gen import tfplugin6_pb2",
    "import_plugin_layer": "import ssl, uvloop, grpclib.server, tfnimble.plugin.server",
    "import_cryptography": "import cryptography.x509",
}


def own_cpu_ms(pid: int) -> float:
    """CPU the process itself (every thread, not its children) has run for, from schedstat."""
    return (
        sum(
            int((task / "schedstat").read_text().split()[0])
            for task in Path(f"/proc/{pid}/task").iterdir()
        )
        / 1e6
    )


def time_to_first_rpc(
    argv: list[str], env: dict[str, str], cert: ClientCert, own_cpu: list[float] | None = None
) -> float:
    """Exec until GetProviderSchema is answered over mTLS: what Terraform actually waits for.
    `own_cpu` gets the provider process's own CPU until then (its certificate child apart):
    the start-up's critical path, what the wall time comes down to on an idle machine."""
    import base64

    import grpc
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from tfnimble.plugin._gen import tfplugin6_pb2 as pb

    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    parts = proc.stdout.readline().decode().strip().split("|")
    der = base64.b64decode(parts[5] + "=" * (-len(parts[5]) % 4))
    server_pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    creds = grpc.ssl_channel_credentials(server_pem, cert.key_pem, cert.cert_pem)
    with grpc.secure_channel(
        f"unix:{parts[3]}", creds, options=[("grpc.ssl_target_name_override", "localhost")]
    ) as ch:
        ProviderStub(ch).GetProviderSchema(pb.GetProviderSchema.Request(), timeout=30)
    elapsed = time.perf_counter() - start
    if own_cpu is not None:
        own_cpu.append(own_cpu_ms(proc.pid))
    proc.kill()
    proc.wait()
    return elapsed * 1000


def measure(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    time_to_first_line(argv, env)  # warm the page cache
    return [time_to_first_line(argv, env) for _ in range(runs)]


def unpack_bundles(dist: Path, into: Path) -> dict[str, str]:
    """{name: packaged launcher} for every provider zip of this platform in `dist`, unpacked
    with its modes (as Terraform's installer does)."""
    sys.path.insert(0, str(ROOT / "tools"))
    from install_plugin import os_arch, version

    ver, found = version(), {}
    for name in ("nimble", "glance"):
        archive = dist / f"terraform-provider-{name}_{ver}_{os_arch()}.zip"
        if not archive.exists():
            continue
        dest = into / name
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                out = Path(zf.extract(info, dest))
                if info.external_attr >> 16:
                    out.chmod((info.external_attr >> 16) & 0o777)
        found[name] = str(dest / f"terraform-provider-{name}_v{ver}")
    return found


def side_by_side(
    pairs: dict[str, tuple[list[str], list[str]]],
    env: dict[str, str],
    cert: ClientCert,
    runs: int,
) -> dict[str, list[float]]:
    """First-RPC times of the venv launcher and the bundle, interleaved run by run."""
    out: dict[str, list[float]] = {}
    for name, (venv, bundle) in pairs.items():
        time_to_first_rpc(venv, env, cert)
        time_to_first_rpc(bundle, env, cert)
        out[f"{name}_venv_first_rpc"], out[f"{name}_bundle_first_rpc"] = [], []
        for _ in range(runs):
            out[f"{name}_venv_first_rpc"].append(time_to_first_rpc(venv, env, cert))
            out[f"{name}_bundle_first_rpc"].append(time_to_first_rpc(bundle, env, cert))
    return out


def main() -> dict[str, float]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--dist", type=Path, default=ROOT / "dist")
    args = ap.parse_args()
    py = str(ROOT / ".venv/bin/python")
    client = make_client_cert()
    cert = client.cert_pem.decode()
    env = {
        **os.environ,
        "TF_PLUGIN_MAGIC_COOKIE": COOKIE,
        "PLUGIN_PROTOCOL_VERSIONS": "5,6",
        "PLUGIN_CLIENT_CERT": cert,
    }
    results = {
        "python_floor": measure(
            [py, "-E", "-s", "-c", "print('1|6|unix|x|grpc|')"], env, args.runs
        ),
        "nimble": measure([py, "-E", "-s", "-m", "tfnimble.nimble.main"], env, args.runs),
        "glance": measure([py, "-E", "-s", "-m", "tfnimble.glance.main"], env, args.runs),
    }
    # the first RPCs and the import floors interleaved run by run: they see the same load
    providers = {name: [py, "-E", "-s", "-m", f"tfnimble.{name}.main"] for name in PROVIDERS}
    floors = {k: [py, "-E", "-s", "-c", f"{code}; print(1)"] for k, code in IMPORT_FLOORS.items()}
    for argv in providers.values():
        time_to_first_rpc(argv, env, client)
    for argv in floors.values():
        time_to_first_line(argv, env)
    for _ in range(args.runs):
        for name, argv in providers.items():
            wall, own, cpu = first_rpc_with_cpu(argv, env, client)
            results.setdefault(f"{name}_first_rpc", []).append(wall)
            results.setdefault(f"{name}_first_rpc_own_cpu", []).append(own)
            results.setdefault(f"{name}_first_rpc_cpu", []).append(cpu)
        for k, argv in floors.items():
            results.setdefault(k, []).append(time_to_first_line(argv, env))
    with tempfile.TemporaryDirectory(prefix="startup-bundle-") as tmp:
        bundles = unpack_bundles(args.dist, Path(tmp))
        pairs = {
            name: ([py, "-E", "-s", "-m", f"tfnimble.{name}.main"], [exe])
            for name, exe in bundles.items()
        }
        results.update(side_by_side(pairs, env, client, args.runs))
    medians = {k: statistics.median(v) for k, v in results.items()}
    for name in bundles:
        medians[f"{name}_bundle_ratio"] = (
            medians[f"{name}_bundle_first_rpc"] / medians[f"{name}_venv_first_rpc"]
        )
        results[f"{name}_bundle_ratio"] = [medians[f"{name}_bundle_ratio"]]
    if args.json:
        print(json.dumps(medians))
        return medians
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"runs per command: {args.runs}; exec -> handshake line (and *_first_rpc: exec -> "
        "GetProviderSchema answered over mTLS), AutoMTLS on"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    for k, v in medians.items():
        if k.endswith("_bundle_ratio"):
            print(f"{k:24s} {v:5.3f} (packaged / venv launcher, goal <= 1.15)")
            continue
        if k.endswith("_own_cpu"):
            print(f"{k:24s} median {v:7.1f} ms CPU (the provider alone: the critical path)")
            continue
        if k.endswith("_cpu"):
            print(f"{k:24s} median {v:7.1f} ms CPU (provider and its certificate child)")
            continue
        ratio = v / medians["python_floor"]
        p90 = sorted(results[k])[int(0.9 * len(results[k]))]
        print(f"{k:24s} median {v:7.1f} ms  p90 {p90:7.1f} ms  x{ratio:4.1f} floor")
    return medians


if __name__ == "__main__":
    main()
