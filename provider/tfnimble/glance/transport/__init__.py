"""Controller transport (layer 4): run argument vectors on the controller, locally or over SSH.

Knows nothing of Glance or Terraform. ``SSHTransport`` is imported lazily so that importing
this package does not import paramiko.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import CommandError, CommandResult, CommandTimeout, Transport, TransportError
from .fake import FakeTransport
from .local import LocalTransport

if TYPE_CHECKING:
    from .ssh import AuthenticationFailed, HostKeyError, SSHTransport

__all__ = [
    "AuthenticationFailed",
    "CommandError",
    "CommandResult",
    "CommandTimeout",
    "FakeTransport",
    "HostKeyError",
    "LocalTransport",
    "SSHTransport",
    "Transport",
    "TransportError",
]

_LAZY = {"SSHTransport", "HostKeyError", "AuthenticationFailed"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import ssh

        return getattr(ssh, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
