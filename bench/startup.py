"""Exec-to-handshake time of a provider process, against a bare Python floor.

    python bench/startup.py [--runs 30]

Starts each command the way Terraform does (magic cookie, protocol versions and, for
the provider, an AutoMTLS client certificate), measures the time from exec until the
handshake line arrives on stdout, and prints medians and the ratio to the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/protocol"))

from plugin_process import COOKIE, ClientCert, make_client_cert  # noqa: E402


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


def time_to_first_rpc(argv: list[str], env: dict[str, str], cert: ClientCert) -> float:
    """Exec until GetProviderSchema is answered over mTLS: what Terraform actually waits for."""
    import base64

    import grpc
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from tfplugin_proto import tfplugin6_5_pb2 as pb
    from tfplugin_proto import tfplugin6_5_pb2_grpc as pb_grpc

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
        pb_grpc.ProviderStub(ch).GetProviderSchema(pb.GetProviderSchema.Request(), timeout=30)
    elapsed = time.perf_counter() - start
    proc.kill()
    proc.wait()
    return elapsed * 1000


def measure(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    time_to_first_line(argv, env)  # warm the page cache
    return [time_to_first_line(argv, env) for _ in range(runs)]


def main() -> dict[str, float]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--json", action="store_true")
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
    for name in ("nimble", "glance"):
        argv = [py, "-E", "-s", "-m", f"tfnimble.{name}.main"]
        time_to_first_rpc(argv, env, client)
        results[f"{name}_first_rpc"] = [
            time_to_first_rpc(argv, env, client) for _ in range(args.runs)
        ]
    medians = {k: statistics.median(v) for k, v in results.items()}
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
    for k, v in medians.items():
        ratio = v / medians["python_floor"]
        p90 = sorted(results[k])[int(0.9 * len(results[k]))]
        print(f"{k:14s} median {v:7.1f} ms  p90 {p90:7.1f} ms  x{ratio:4.1f} floor")
    return medians


if __name__ == "__main__":
    main()
