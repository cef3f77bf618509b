"""The array group (``/v1/groups``): there is exactly one."""

from __future__ import annotations

from .errors import NimbleError
from .models import Group
from .session import NimbleClient

__all__ = ["get_group"]


def get_group(client: NimbleClient) -> Group:
    """The group this array belongs to."""
    for row in client.iter_objects("groups", kind="group"):
        return Group.from_api(row)
    raise NimbleError(f"the array at {client.host}:{client.port} reports no group")
