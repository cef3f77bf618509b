"""REST client for HPE Nimble arrays (NimbleOS API v1).

Knows HTTP and the Nimble API, nothing of Terraform. Usage::

    from tfnimble.nimble.client import NimbleClient, volumes

    with NimbleClient("array.example", username="admin", password=pw, ca_file="ca.pem") as c:
        vol = volumes.create_volume(c, "data-1", size_mib=10240)

Object modules (``volumes``, ``snapshots``, ``initiator_groups``, ``access_control_records``,
``chap_users``,
``pools``, ``performance_policies``, ``groups``, ``network``) hold verb functions that take
the client as their first argument and return frozen dataclasses from ``models`` (deletes and
actions return nothing). Every create survives a lost response without duplicating the object
(see ``NimbleClient.create_or_adopt``).
"""

from . import (
    access_control_records,
    chap_users,
    groups,
    initiator_groups,
    network,
    performance_policies,
    pools,
    protection_schedules,
    snapshots,
    volume_collections,
    volumes,
)
from .errors import (
    AuthenticationFailed,
    BadRequest,
    Conflict,
    ConnectionFailed,
    InvalidObjectID,
    LostResponseConflict,
    LostResponseMismatch,
    NimbleAPIError,
    NimbleError,
    NotFound,
    ResponseLost,
    TLSVerificationFailed,
    Unauthorized,
)
from .models import (
    AccessControlRecord,
    ChapUser,
    Discovery,
    Group,
    Initiator,
    InitiatorGroup,
    NetworkConfig,
    PerformancePolicy,
    Pool,
    Snapshot,
    Volume,
)
from .session import NimbleClient

__all__ = [
    "AccessControlRecord",
    "AuthenticationFailed",
    "BadRequest",
    "ChapUser",
    "Conflict",
    "ConnectionFailed",
    "Discovery",
    "Group",
    "Initiator",
    "InitiatorGroup",
    "InvalidObjectID",
    "LostResponseConflict",
    "LostResponseMismatch",
    "NetworkConfig",
    "NimbleAPIError",
    "NimbleClient",
    "NimbleError",
    "NotFound",
    "PerformancePolicy",
    "Pool",
    "ResponseLost",
    "Snapshot",
    "TLSVerificationFailed",
    "Unauthorized",
    "Volume",
    "access_control_records",
    "chap_users",
    "groups",
    "initiator_groups",
    "network",
    "performance_policies",
    "pools",
    "protection_schedules",
    "snapshots",
    "volume_collections",
    "volumes",
]
