"""serve(): run a Provider as a Terraform plugin process (or in --debug mode).

Start-up order matters: Terraform starts a provider 3-5 times per command. The unix
socket is bound using only the standard library; then a forked child imports `cryptography`,
makes the AutoMTLS certificate and prints the handshake line (autotls.py) while this process
imports the gRPC stack, the protocol messages and the provider's own modules on the other
core. Terraform's plugin client connects as soon as the line is out; connections wait in the
socket's backlog until the server is up.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from . import autotls, goplugin

if TYPE_CHECKING:
    import socket

    from .profiling import Recorder
    from .resource import Provider

USAGE = """usage: {prog} [--debug] [--version]

Terraform provider {address}. Terraform starts it; to debug it, run it with --debug
and export the TF_REATTACH_PROVIDERS line it prints.
"""


def serve_lazily(spec: str, address: str, version: str) -> NoReturn:
    """Serve the provider class ``spec`` (``"package.module:Class"``) at ``address``
    (``registry.terraform.io/NAMESPACE/NAME``), importing its modules only after the handshake
    line is out: what a provider's ``main()`` does."""

    # No cyclic garbage collection until the server is up (_serve): during the start-up
    # imports it costs a tenth of their CPU and finds a few hundred cycles.
    gc.disable()

    def factory() -> Provider:
        module, _, cls = spec.partition(":")
        built: Provider = getattr(importlib.import_module(module), cls)()
        return built

    serve(factory, name=address.rsplit("/", 1)[-1], address=address, version=version)


def serve(
    factory: Callable[[], Provider],
    argv: Sequence[str] | None = None,
    *,
    name: str | None = None,
    address: str | None = None,
    version: str | None = None,
) -> NoReturn:
    """Serve the provider `factory()` builds. `name`/`address`/`version` let the process
    answer the handshake before the provider's modules are imported."""
    args = list(sys.argv[1:] if argv is None else argv)
    provider: Provider | None = None
    if name is None or address is None or version is None:
        provider = factory()
        name, address, version = provider.TYPE_NAME, provider.ADDRESS, provider.VERSION
    program = f"terraform-provider-{name}"
    if "--version" in args:
        print(f"{program} {version}")
        sys.exit(0)
    if any(a in ("-h", "--help") for a in args) or set(args) - {"--debug"}:
        print(USAGE.format(prog=program, address=address), file=sys.stderr)
        sys.exit(0 if set(args) <= {"-h", "--help"} else 2)
    debug = "--debug" in args
    env = os.environ
    if not debug:
        try:
            goplugin.check_magic_cookie(env, program)
            goplugin.negotiate_protocol(env)
        except goplugin.HandshakeError as exc:
            print(str(exc), file=sys.stderr)
            sys.exit(1)
    workdir, sock_path = goplugin.private_socket_path()
    code = 1
    tls: autotls.PendingTLS | None = None
    try:
        sock = goplugin.bind_unix_socket(sock_path)
        client_cert = env.get("PLUGIN_CLIENT_CERT", "")
        if debug:
            _print_reattach(address, sock_path)
        elif client_cert:
            # a forked child makes the certificate and prints the handshake line while this
            # process imports the gRPC stack and the provider (autotls.py)
            tls = autotls.start(sock_path, client_cert)
        else:
            goplugin.write_handshake(goplugin.handshake_line(sock_path, None))
        code = _run(factory, provider, program, sock, tls, debug, workdir)
    except KeyboardInterrupt:
        code = 0
    except autotls.CertificateError as exc:
        print(f"{program}: could not make its AutoMTLS certificate: {exc}", file=sys.stderr)
    finally:
        if tls is not None:
            tls.abandon()
        shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # Worker threads may be blocked in network calls; Terraform is done with us.
    os._exit(code)


def _print_reattach(address: str, sock_path: str) -> None:
    reattach = {
        address: {
            "Protocol": "grpc",
            "ProtocolVersion": goplugin.APP_PROTOCOL_VERSION,
            "Pid": os.getpid(),
            "Test": True,
            "Addr": {"Network": "unix", "String": sock_path},
        }
    }
    print(
        "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS "
        "environment variable with the following:\n\n"
        f"\tTF_REATTACH_PROVIDERS='{json.dumps(reattach)}'\n",
        flush=True,
    )


def _run(
    factory: Callable[[], Provider],
    provider: Provider | None,
    program: str,
    sock: socket.socket,
    tls: autotls.PendingTLS | None,
    debug: bool,
    workdir: str,
) -> int:
    import uvloop

    from . import logging as plog

    plog.setup(f"provider.{program}")
    recorder = None
    if os.environ.get("TFNIMBLE_PROFILE_DIR"):
        from . import profiling

        recorder = profiling.from_env(program, os.environ)
    try:
        # uvloop: the event loop and its TLS transport in C (libuv), where asyncio's
        # SSLProtocol is Python; grpclib runs on it unchanged
        return uvloop.run(_serve(factory, provider, sock, tls, workdir, debug, recorder))
    finally:
        if recorder is not None:
            recorder.write()


async def _serve(
    factory: Callable[[], Provider],
    provider: Provider | None,
    sock: socket.socket,
    tls: autotls.PendingTLS | None,
    workdir: str,
    debug: bool,
    recorder: Recorder | None = None,
) -> int:
    import asyncio
    import logging

    from .engine import Engine
    from .server import ProviderService, Server

    log = logging.getLogger("tfnimble.plugin.serve")
    shutdown = asyncio.Event()
    engine = Engine(provider if provider is not None else factory())
    service = ProviderService(engine, recorder=recorder)
    server = Server(
        [service, goplugin.Controller(shutdown), goplugin.Stdio(shutdown), goplugin.Health()]
    )
    # the certificate child has long finished by now: it had only `cryptography` to import
    context = tls.result().context(workdir) if tls is not None else None
    await server.start(sock=sock, ssl=context)
    # Start-up is over. What it built (modules, classes, the provider) lives as long as the
    # process: freeze it, so that no collection walks it again, and collect what RPCs leave.
    gc.freeze()
    gc.enable()
    if recorder is not None:
        recorder.serving()
    loop = asyncio.get_running_loop()
    if debug:
        loop.add_signal_handler(signal.SIGINT, shutdown.set)
    else:
        # Terraform forwards Ctrl-C to the process group; it will call StopProvider.
        loop.add_signal_handler(signal.SIGINT, lambda: None)
    loop.add_signal_handler(signal.SIGTERM, shutdown.set)
    await shutdown.wait()
    # Log out of the array / close SSH, but never let Terraform wait on it for long.
    try:
        await asyncio.wait_for(loop.run_in_executor(None, service.engine.close), timeout=3)
    except TimeoutError:
        log.debug("provider close did not finish in time")
    service.shutdown()
    server.close()
    try:
        await asyncio.wait_for(server.wait_closed(), timeout=2)
    except TimeoutError:
        pass
    return 0
