"""Provider `glance`: the OpenStack controller, reached over SSH (or locally)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from tfnimble import __version__
from tfnimble.plugin import (
    Attribute,
    AttributePath,
    Context,
    DataSource,
    Provider,
    Resource,
    Schema,
    Value,
    is_unknown,
    types,
)
from tfnimble.plugin import logging as plog

from .transport.base import Lazy, Transport, default_username

ENV = {
    "host": "GLANCE_SSH_HOST",
    "port": "GLANCE_SSH_PORT",
    "user": "GLANCE_SSH_USER",
    "private_key": "GLANCE_SSH_PRIVATE_KEY",
    "private_key_file": "GLANCE_SSH_PRIVATE_KEY_FILE",
    "password": "GLANCE_SSH_PASSWORD",
    "known_hosts_file": "GLANCE_SSH_KNOWN_HOSTS_FILE",
    "host_key": "GLANCE_SSH_HOST_KEY",
    "insecure_ignore_host_key": "GLANCE_SSH_INSECURE_IGNORE_HOST_KEY",
    "sudo": "GLANCE_SSH_SUDO",
}


@dataclass
class GlanceProviderModel:
    host: Value[str] = None
    port: Value[int] = None
    user: Value[str] = None
    private_key: Value[str] = None
    private_key_file: Value[str] = None
    password: Value[str] = None
    known_hosts_file: Value[str] = None
    host_key: Value[str] = None
    insecure_ignore_host_key: Value[bool] = None
    sudo: Value[bool] = None


class ControllerConnection:
    """Opens the transport on first use (plans of unrelated resources never connect)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self._transport: Lazy[Transport] = Lazy(lambda: self._open(), lambda t: t.close())

    @property
    def description(self) -> str:
        host = self.settings.get("host")
        user = self.settings.get("user") or default_username()
        return f"{user}@{host}" if host else "the local machine"

    def close(self) -> None:
        self._transport.close()

    def transport(self) -> Transport:
        return self._transport.get()

    def _open(self) -> Transport:
        s = self.settings
        if not s.get("host"):
            from .transport.local import LocalTransport

            return LocalTransport(sudo=bool(s.get("sudo")))
        from .transport.ssh import SSHTransport

        return SSHTransport(
            s["host"],
            port=int(s.get("port") or 22),
            username=s.get("user"),
            private_key=s.get("private_key"),
            private_key_file=s.get("private_key_file"),
            password=s.get("password"),
            use_agent=not (s.get("private_key") or s.get("private_key_file") or s.get("password")),
            known_hosts_file=s.get("known_hosts_file"),
            host_key=s.get("host_key"),
            insecure_ignore_host_key=bool(s.get("insecure_ignore_host_key")),
            sudo=bool(s.get("sudo")),
        )


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


class GlanceProvider(Provider):
    TYPE_NAME = "glance"
    ADDRESS = "registry.terraform.io/ito/glance"
    VERSION = __version__
    Model = GlanceProviderModel

    def schema(self) -> Schema:
        def s(desc: str, env: str, **kw: Any) -> Attribute:
            kw.setdefault("type", types.String)
            return Attribute(optional=True, description=f"{desc} Falls back to `{env}`.", **kw)

        return Schema(
            description=(
                "The OpenStack controller that runs glance-api, reached over SSH (or the local "
                "machine when `host` is omitted). Commands are argument vectors: run directly "
                "on the local machine, and with every argument quoted for the remote shell over "
                "SSH, so no value is ever interpreted as shell syntax. Host keys are checked by "
                "default."
            ),
            attributes={
                "host": s(
                    "Controller host name or IP. Omit to manage the local machine.", ENV["host"]
                ),
                "port": s("SSH port (default 22).", ENV["port"], type=types.Number),
                "user": s(
                    "SSH user. Defaults, as `ssh` does, to the name of the local user running "
                    "Terraform. Use `sudo` for a user other than root.",
                    ENV["user"],
                ),
                "private_key": s("PEM private key for SSH.", ENV["private_key"], sensitive=True),
                "private_key_file": s("Path of an SSH private key file.", ENV["private_key_file"]),
                "password": s("SSH password (prefer keys).", ENV["password"], sensitive=True),
                "known_hosts_file": s(
                    "known_hosts file used to verify the controller's host key "
                    "(default ~/.ssh/known_hosts).",
                    ENV["known_hosts_file"],
                ),
                "host_key": s(
                    'The controller\'s public host key, e.g. "ssh-ed25519 AAAA...", checked '
                    "instead of known_hosts.",
                    ENV["host_key"],
                ),
                "insecure_ignore_host_key": s(
                    "Accept any host key. Only for throwaway test controllers.",
                    ENV["insecure_ignore_host_key"],
                    type=types.Bool,
                ),
                "sudo": s(
                    "Run commands through `sudo -n` (for a non-root user).",
                    ENV["sudo"],
                    type=types.Bool,
                ),
            },
        )

    def configure(self, ctx: Context, config: GlanceProviderModel) -> ControllerConnection:
        settings: dict[str, Any] = {}
        for name, env in ENV.items():
            value = getattr(config, name)
            if is_unknown(value):
                ctx.diagnostics.add_error(
                    "Unknown Provider Configuration",
                    f"The glance provider's {name} is not known until apply. Set it to a "
                    f"value known at plan time, or use the {env} environment variable.",
                    AttributePath.root().attr(name),
                )
                continue
            if value is None and os.environ.get(env):
                raw = os.environ[env]
                if name in ("insecure_ignore_host_key", "sudo"):
                    value = _truthy(raw)
                elif name == "port":
                    try:
                        value = int(raw)
                    except ValueError:
                        ctx.diagnostics.add_error(
                            "Invalid Provider Configuration",
                            f"{env}={raw!r} is not a port number.",
                        )
                        continue
                else:
                    value = raw
            settings[name] = value
        plog.redact(settings.get("password"))
        plog.redact(settings.get("private_key"))
        return ControllerConnection(settings)

    def resources(self) -> list[type[Resource]]:
        from .resource_iscsi_store import IscsiStoreResource

        return [IscsiStoreResource]

    def data_sources(self) -> list[type[DataSource]]:
        return []
