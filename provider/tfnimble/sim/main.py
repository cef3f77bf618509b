"""nimble-sim command line: ``nimble-sim serve --listen HOST:PORT --state-dir DIR ...``.

When ready it prints exactly one JSON line on stdout
(``{"url", "ca_file", "username", "state_dir", "pid"}``); logs go to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
import threading
from typing import Any

from .constants import DEFAULT_GROUP_NAME, DEFAULT_ISCSI_TARGET_SCOPE, TARGET_SCOPES, TIB
from .faults import Rule, parse_cli_rule
from .server import SimServer, parse_portal
from .store import StateLocked

log = logging.getLogger("nimble-sim")

DATA_PLANE_MODULE = "tfnimble.sim.dataplane"


def _listen(text: str) -> tuple[str, int]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


def _portal(text: str) -> str:
    try:
        parse_portal(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _fault(text: str) -> Rule:
    try:
        return parse_cli_rule(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _size(text: str) -> int:
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
    raw = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = raw[-1] if raw and raw[-1] in units else ""
    number = raw[:-1] if unit else raw
    try:
        value = int(float(number) * units[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid size {text!r} (e.g. 10TiB)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("size must be positive")
    return value


def _timeout(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected whole seconds") from None
    if not 1 <= value <= 43200:
        raise argparse.ArgumentTypeError("the array accepts 1..43200 seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    from tfnimble import __version__

    parser = argparse.ArgumentParser(
        prog="nimble-sim",
        description=(
            "A NimbleOS REST API v1 simulator: volumes, snapshots, zero-copy clones, access "
            "control and honest space accounting over HTTPS, state in SQLite, optionally with "
            "a real iSCSI data plane. Prints one JSON line (url, ca_file, username, state_dir, "
            "pid) when it is ready."
        ),
    )
    parser.add_argument("--version", action="version", version=f"nimble-sim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the simulator over HTTPS")
    serve.add_argument(
        "--listen",
        type=_listen,
        default=("127.0.0.1", 5392),
        help="HOST:PORT to listen on; port 0 picks a free port (default 127.0.0.1:5392)",
    )
    serve.add_argument(
        "--state-dir",
        required=True,
        help="directory for the SQLite state, the CA and the server certificate",
    )
    serve.add_argument("--username", default=None, help="API user (default admin)")
    serve.add_argument(
        "--password",
        default=None,
        help="API password (default: $NIMBLE_SIM_PASSWORD, else admin); prefer the "
        "environment variable, which the process list does not show",
    )
    serve.add_argument(
        "--group-name",
        default=DEFAULT_GROUP_NAME,
        help=f"name of the simulated group (default {DEFAULT_GROUP_NAME})",
    )
    serve.add_argument(
        "--pool-capacity",
        type=_size,
        default=10 * TIB,
        help="capacity of the default pool, e.g. 500GiB (default 10TiB)",
    )
    serve.add_argument(
        "--iscsi-portal",
        type=_portal,
        default="127.0.0.1:3260",
        help="IP[:PORT] reported as the data subnet's discovery_ip, where --data-plane's tgtd "
        "listens (default 127.0.0.1:3260)",
    )
    serve.add_argument(
        "--target-scope",
        choices=TARGET_SCOPES,
        default=DEFAULT_ISCSI_TARGET_SCOPE,
        help="iSCSI target scope of new volumes: group (one group target, a LUN per volume; "
        "the default, as on real groups) or volume (a target per volume)",
    )
    serve.add_argument(
        "--session-timeout",
        type=_timeout,
        default=None,
        help="the group's user_inactivity_timeout in seconds, 1..43200 (default 1800)",
    )
    serve.add_argument(
        "--tls-san",
        action="append",
        default=[],
        help="extra DNS name or IP for the server certificate (repeatable)",
    )
    serve.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        help="fault rule, repeatable: method=POST,path=^/v1/volumes,"
        "error=0.3,status=503,latency=50,drop=0.1,expire=0.05,times=N",
    )
    serve.add_argument(
        "--fault-seed",
        type=int,
        default=None,
        help="seed for fault draws, for reproducible faults (default: random)",
    )
    serve.add_argument(
        "--data-plane",
        action="store_true",
        help=(
            "attach the real iSCSI data plane: a loop-mounted XFS reflink pool and a private "
            "tgtd serving --iscsi-portal; needs root, tgtd/tgtadm and xfsprogs"
        ),
    )
    serve.add_argument(
        "--no-fsync",
        action="store_true",
        help="SQLite synchronous=NORMAL: survives kill -9 but not power loss (default: fsync "
        "every commit)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="default info",
    )
    return parser


def _load_data_plane(state_dir: str, portal: str) -> Any:
    try:
        module = importlib.import_module(DATA_PLANE_MODULE)
    except ImportError as exc:
        raise SystemExit(f"nimble-sim: --data-plane needs {DATA_PLANE_MODULE}: {exc}") from None
    if not hasattr(module, "DataPlane"):
        raise SystemExit(f"nimble-sim: {DATA_PLANE_MODULE} has no DataPlane class")
    from .attach import open_tgt_data_plane

    try:
        return open_tgt_data_plane(state_dir, portal)
    except Exception as exc:
        raise SystemExit(f"nimble-sim: the data plane did not start: {exc}") from None


def serve(args: argparse.Namespace) -> int:
    username = args.username
    password = args.password or os.environ.get("NIMBLE_SIM_PASSWORD")
    if password is None:
        log.warning(
            "no --password given: using %s/admin; pass --password (or "
            "NIMBLE_SIM_PASSWORD) for anything but a throwaway test",
            username or "admin",
        )
    username = username or "admin"
    password = password or "admin"
    host, port = args.listen
    data_plane = _load_data_plane(args.state_dir, args.iscsi_portal) if args.data_plane else None
    sim = SimServer(
        args.state_dir,
        host,
        port,
        username,
        password,
        group_name=args.group_name,
        pool_capacity=args.pool_capacity,
        iscsi_portal=args.iscsi_portal,
        session_timeout=args.session_timeout,
        fault_rules=args.fault,
        fault_seed=args.fault_seed,
        data_plane=data_plane,
        tls_names=args.tls_san,
        durable=not args.no_fsync,
        target_scope=args.target_scope,
    )
    try:
        sim.start()
    except StateLocked as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", host, port, exc)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    ready = {
        "url": sim.url,
        "ca_file": sim.ca_file,
        "username": username,
        "state_dir": os.path.abspath(args.state_dir),
        "pid": os.getpid(),
    }
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    log.info("nimble-sim serving %s (group %s, state %s)", sim.url, args.group_name, args.state_dir)
    while not stop.wait(1.0):
        pass
    log.info("shutting down")
    sim.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
