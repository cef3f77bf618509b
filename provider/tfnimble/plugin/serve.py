"""serve(): run a Provider as a Terraform plugin process (or in --debug mode)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from . import goplugin
from . import logging as plog
from .engine import Engine
from .resource import Provider

log = logging.getLogger("tfnimble.plugin.serve")


def serve(factory: Callable[[], Provider], argv: Sequence[str] | None = None) -> NoReturn:
    provider = factory()
    program = f"terraform-provider-{provider.TYPE_NAME}"
    parser = argparse.ArgumentParser(
        prog=program, description=f"Terraform provider {provider.ADDRESS}"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="serve without Terraform starting us; print TF_REATTACH_PROVIDERS to use it",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    args = parser.parse_args(argv)
    if args.version:
        print(f"{program} {provider.VERSION}")
        sys.exit(0)
    plog.setup(f"provider.{program}")
    env = os.environ
    if not args.debug:
        try:
            goplugin.check_magic_cookie(env, program)
            goplugin.negotiate_protocol(env)
        except goplugin.HandshakeError as exc:
            print(str(exc), file=sys.stderr)
            sys.exit(1)
    try:
        code = asyncio.run(_serve(provider, debug=args.debug))
    except KeyboardInterrupt:
        code = 0
    sys.stdout.flush()
    sys.stderr.flush()
    # Worker threads may be blocked in network calls; Terraform is done with us.
    os._exit(code)


async def _serve(provider: Provider, *, debug: bool) -> int:
    from grpclib.server import Server

    from .server import ProviderService

    shutdown = asyncio.Event()
    workdir, sock_path = goplugin.private_socket_path()
    try:
        client_cert = os.environ.get("PLUGIN_CLIENT_CERT", "")
        tls = None
        if client_cert and not debug:
            tls = goplugin.make_server_tls(client_cert, workdir)
        service = ProviderService(Engine(provider))
        server = Server(
            [service, goplugin.Controller(shutdown), goplugin.Stdio(shutdown), goplugin.Health()]
        )
        await server.start(path=sock_path, ssl=tls.context if tls else None)
        loop = asyncio.get_running_loop()
        if debug:
            reattach = {
                provider.ADDRESS: {
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
            loop.add_signal_handler(signal.SIGINT, shutdown.set)
        else:
            # Terraform forwards Ctrl-C to the process group; it will call StopProvider.
            loop.add_signal_handler(signal.SIGINT, lambda: None)
            goplugin.write_handshake(goplugin.handshake_line(sock_path, tls))
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
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
