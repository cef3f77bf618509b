"""go-plugin handshake and AutoMTLS, checked with grpcio as an independent client."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import grpc
import msgpack
import pytest
from plugin_process import (
    COOKIE,
    EXAMPLE_MAIN,
    ClientCert,
    PluginProcess,
    make_client_cert,
    start_plugin,
)
from provider_stub import ProviderStub
from tfnimble.plugin._gen import grpc_controller_pb2
from tfnimble.plugin._gen import tfplugin6_pb2 as pb


def secure_channel(p: PluginProcess, cert: ClientCert) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=p.server_cert_pem(),
        private_key=cert.key_pem,
        certificate_chain=cert.cert_pem,
    )
    return grpc.secure_channel(
        f"unix:{p.socket_path}", creds, options=[("grpc.ssl_target_name_override", "localhost")]
    )


def test_handshake_line_and_private_socket(plugin: PluginProcess) -> None:
    core, app, network, path, proto, cert = plugin.handshake
    assert (core, app, network, proto) == ("1", "6", "unix", "grpc")
    assert cert, "AutoMTLS: the server certificate must be in the handshake"
    mode = os.stat(os.path.dirname(path)).st_mode
    assert stat.S_IMODE(mode) == 0o700
    assert stat.S_ISSOCK(os.stat(path).st_mode)


def test_mtls_schema_over_grpcio(plugin: PluginProcess, client_cert: ClientCert) -> None:
    with secure_channel(plugin, client_cert) as ch:
        stub = ProviderStub(ch)
        resp = stub.GetProviderSchema(pb.GetProviderSchema.Request(), timeout=10)
    assert "example_thing" in resp.resource_schemas
    attrs = {a.name: a for a in resp.resource_schemas["example_thing"].block.attributes}
    assert attrs["id"].computed and not attrs["id"].optional
    assert attrs["secret"].sensitive
    assert attrs["name"].required
    assert resp.server_capabilities is not None


def test_mtls_refuses_client_without_certificate(plugin: PluginProcess) -> None:
    creds = grpc.ssl_channel_credentials(root_certificates=plugin.server_cert_pem())
    ch = grpc.secure_channel(
        f"unix:{plugin.socket_path}",
        creds,
        options=[("grpc.ssl_target_name_override", "localhost")],
    )
    with ch, pytest.raises(grpc.RpcError):
        ProviderStub(ch).GetProviderSchema(pb.GetProviderSchema.Request(), timeout=5)


def test_mtls_refuses_a_different_client_certificate(plugin: PluginProcess) -> None:
    stranger = make_client_cert()
    with secure_channel(plugin, stranger) as ch, pytest.raises(grpc.RpcError):
        ProviderStub(ch).GetProviderSchema(pb.GetProviderSchema.Request(), timeout=5)


def test_plain_mode_only_without_client_cert(tmp_path: Path) -> None:
    p = start_plugin({"EXAMPLE_STORE_DIR": str(tmp_path)})
    try:
        assert p.handshake[5] == ""
        with grpc.insecure_channel(f"unix:{p.socket_path}") as ch:
            resp = ProviderStub(ch).GetProviderSchema(pb.GetProviderSchema.Request(), timeout=10)
        assert "example_thing" in resp.resource_schemas
    finally:
        p.proc.kill()
        p.proc.wait()


def test_shutdown_ends_the_process(
    plugin: PluginProcess, client_cert: ClientCert, tmp_path: Path
) -> None:
    with secure_channel(plugin, client_cert) as ch:
        stub = ProviderStub(ch)
        schema = stub.GetProviderSchema(pb.GetProviderSchema.Request(), timeout=5)
        empty_cfg = msgpack.packb({"store_dir": str(tmp_path)})
        assert schema.provider.block.attributes[0].name == "store_dir"
        resp = stub.ConfigureProvider(
            pb.ConfigureProvider.Request(config=pb.DynamicValue(msgpack=empty_cfg)), timeout=5
        )
        assert not resp.diagnostics
        shutdown = ch.unary_unary(
            "/plugin.GRPCController/Shutdown",
            request_serializer=grpc_controller_pb2.Empty.SerializeToString,
            response_deserializer=grpc_controller_pb2.Empty.FromString,
        )
        shutdown(grpc_controller_pb2.Empty(), timeout=5)
    assert plugin.proc.wait(timeout=5) == 0
    assert not os.path.exists(os.path.dirname(plugin.socket_path))
    # the provider released what configure opened (the nimble provider logs out here)
    assert (tmp_path / "closed.marker").read_text() == "closed"


def test_health_check_serves_plugin(plugin: PluginProcess, client_cert: ClientCert) -> None:
    from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

    with secure_channel(plugin, client_cert) as ch:
        check = ch.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=HealthCheckRequest.SerializeToString,
            response_deserializer=HealthCheckResponse.FromString,
        )
        resp = check(HealthCheckRequest(service="plugin"), timeout=5)
    assert resp.status == HealthCheckResponse.SERVING


def test_stop_provider_answers_and_keeps_serving(
    plugin: PluginProcess, client_cert: ClientCert
) -> None:
    with secure_channel(plugin, client_cert) as ch:
        stub = ProviderStub(ch)
        assert stub.StopProvider(pb.StopProvider.Request(), timeout=5).Error == ""
        assert stub.GetProviderSchema(pb.GetProviderSchema.Request(), timeout=5).resource_schemas


def test_malformed_msgpack_gives_diagnostic_not_crash(
    plugin: PluginProcess, client_cert: ClientCert
) -> None:
    with secure_channel(plugin, client_cert) as ch:
        stub = ProviderStub(ch)
        for garbage in (b"\xc1", b"\x92\x01", msgpack.packb({"name": 5}), b"\xdd\xff\xff\xff\xff"):
            resp = stub.ValidateResourceConfig(
                pb.ValidateResourceConfig.Request(
                    type_name="example_thing", config=pb.DynamicValue(msgpack=garbage)
                ),
                timeout=5,
            )
            assert resp.diagnostics and resp.diagnostics[0].severity == pb.Diagnostic.ERROR
        resp2 = stub.ValidateResourceConfig(
            pb.ValidateResourceConfig.Request(type_name="no_such_type"), timeout=5
        )
        assert "no resource type" in resp2.diagnostics[0].detail
        fn = stub.CallFunction(pb.CallFunction.Request(name="nope"), timeout=5)
        assert fn.error.text.startswith("Function Not Found: ")
        assert not stub.GetFunctions(pb.GetFunctions.Request(), timeout=5).functions


def test_started_by_hand_explains_itself() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TF_PLUGIN_MAGIC_COOKIE"}
    res = subprocess.run(
        [sys.executable, str(EXAMPLE_MAIN)], env=env, capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 1
    assert "Terraform starts it for you" in res.stderr


def test_refuses_protocol_5_only(tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, str(EXAMPLE_MAIN)],
        env={
            **os.environ,
            "TF_PLUGIN_MAGIC_COOKIE": COOKIE,
            "PLUGIN_PROTOCOL_VERSIONS": "5",
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 1
    assert "speaks version 6" in p.stderr


def test_debug_mode_prints_reattach(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE_MAIN), "--debug"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "EXAMPLE_STORE_DIR": str(tmp_path)},
    )
    try:
        deadline = time.monotonic() + 20
        out = ""
        assert proc.stdout is not None
        while "Addr" not in out and time.monotonic() < deadline:
            out += proc.stdout.readline()
        assert "registry.terraform.io/ito/example" in out
        assert '"Network": "unix"' in out
    finally:
        proc.terminate()
        proc.wait(timeout=10)
