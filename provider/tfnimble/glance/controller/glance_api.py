"""glance-api itself: where its configuration says it listens, and the stores it reports."""

from __future__ import annotations

import json

from .. import glance_conf
from ..transport.base import Transport
from .base import ControllerError

__all__ = ["ConfigError", "glance_store_data_dirs", "store_detail_url"]


class ConfigError(ControllerError, summary="Cannot Edit glance-api.conf"):
    """glance-api.conf is missing or cannot be read or changed as the store needs."""


def store_detail_url(conf_text: str) -> str:
    """``GET /v2/info/stores/detail`` on the address glance-api binds to (loopback for any)."""
    host = glance_conf.get_option(conf_text, "DEFAULT", "bind_host") or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = glance_conf.get_option(conf_text, "DEFAULT", "bind_port") or "9292"
    return f"http://{host}:{port}/v2/info/stores/detail"


_FETCH = (
    "import sys, urllib.request\n"
    "try:\n"
    "    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:\n"
    "        sys.stdout.write(r.read().decode())\n"
    "except Exception as e:\n"
    "    sys.stderr.write(str(e))\n"
    "    sys.exit(3)\n"
)


def glance_store_data_dirs(t: Transport, url: str) -> dict[str, str] | None:
    """``{store id: data_dir}`` from ``GET /v2/info/stores/detail`` as seen on the controller,
    or None when the API does not answer that (not running, needs a token, single-store)."""
    r = t.run(["python3", "-c", _FETCH, url], idempotent=True, timeout=30)
    if r.returncode != 0:
        return None
    try:
        stores = json.loads(r.stdout).get("stores", [])
    except (ValueError, AttributeError):
        return None
    out: dict[str, str] = {}
    for store in stores if isinstance(stores, list) else []:
        props = store.get("properties") or {}
        data_dir = props.get("data_dir") or props.get("datadir")
        if isinstance(store.get("id"), str) and isinstance(data_dir, str):
            out[store["id"]] = data_dir
    return out
