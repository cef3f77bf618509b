"""Operations on the controller over a :class:`~tfnimble.glance.transport.Transport`; no Terraform.

One module per thing driven, each output parser beside the command it parses:
:mod:`.iscsi` (``iscsiadm``), :mod:`.block` (by-path links, ``blkid``, ``mkfs``),
:mod:`.identity` (which volume a device is), :mod:`.mounts` (``findmnt``, ``mount``),
:mod:`.host` (files, owners, users), :mod:`.service` (the glance-api unit) and
:mod:`.glance_api` (glance-api's bind address and its stores). Each function runs one or a few
commands as argument vectors and maps their exit statuses to the
:class:`ControllerError` subclasses; :mod:`tfnimble.glance.iscsi_store_ops` composes them into the
store's steps.
"""

from __future__ import annotations

from . import block, glance_api, host, identity, iscsi, mounts, service
from .base import CommandFailed, ControllerError
from .block import *  # noqa: F403
from .glance_api import *  # noqa: F403
from .host import *  # noqa: F403
from .identity import *  # noqa: F403
from .iscsi import *  # noqa: F403
from .mounts import *  # noqa: F403
from .service import *  # noqa: F403

__all__ = ["CommandFailed", "ControllerError"]
__all__ += block.__all__
__all__ += glance_api.__all__
__all__ += host.__all__
__all__ += identity.__all__
__all__ += iscsi.__all__
__all__ += mounts.__all__
__all__ += service.__all__
