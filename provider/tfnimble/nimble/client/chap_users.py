"""CHAP users (``/v1/chap_users``): the accounts iSCSI initiators authenticate with.

The secret (the array's ``password``) is sent on create and update and never read back; no
function here logs it or puts it in an exception. The array changes ``initiator_iqns`` only
in a PUT of its own, so an update that changes them sends two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .models import ChapUser
from .objects import ObjectSet, gone
from .session import NimbleClient

__all__ = [
    "create_chap_user",
    "delete_chap_user",
    "find_chap_user_by_name",
    "get_chap_user",
    "list_chap_users",
    "update_chap_user",
]

_USERS = ObjectSet("chap_users", "CHAP user", ChapUser.from_api)


def _iqns(iqns: Sequence[str]) -> list[dict[str, str]]:
    return [{"name": iqn} for iqn in iqns]


def create_chap_user(
    client: NimbleClient,
    name: str,
    secret: str,
    *,
    description: str | None = None,
    initiator_iqns: Sequence[str] = (),
) -> ChapUser:
    """Create a CHAP user. A lost response adopts the user of that name only if it was
    created within this call's time window with the same description."""
    body: dict[str, Any] = {"name": name, "password": secret}
    if description is not None:
        body["description"] = description
    if initiator_iqns:
        body["initiator_iqns"] = _iqns(initiator_iqns)

    def mismatch(user: ChapUser) -> str | None:
        if description is not None and user.description != description:
            return "its description differs"
        return None

    return _USERS.create_or_adopt(
        client,
        body,
        name=name,
        find=lambda: find_chap_user_by_name(client, name),
        mismatch=mismatch,
    )


def get_chap_user(client: NimbleClient, user_id: str) -> ChapUser | None:
    """The CHAP user with that id, or ``None``."""
    return _USERS.get(client, user_id)


def find_chap_user_by_name(client: NimbleClient, name: str) -> ChapUser | None:
    """The CHAP user with that exact name, or ``None``."""
    return _USERS.find_by_name(client, name)


def list_chap_users(client: NimbleClient) -> list[ChapUser]:
    """Every CHAP user (all pages)."""
    return _USERS.list(client)


def update_chap_user(
    client: NimbleClient,
    user_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    secret: str | None = None,
    initiator_iqns: Sequence[str] | None = None,
) -> ChapUser:
    """Change what is given: name, description and secret in one PUT, the initiators in a
    second (the array refuses them together with anything else)."""
    body: dict[str, Any] = {}
    if name is not None:
        body["name"] = name
    if description is not None:
        body["description"] = description
    if secret is not None:
        body["password"] = secret
    user = _USERS.update(client, user_id, body) if body else None
    if initiator_iqns is not None:
        user = _USERS.update(client, user_id, {"initiator_iqns": _iqns(initiator_iqns)})
    if user is None:
        user = get_chap_user(client, user_id)
        if user is None:
            raise gone("update CHAP user", user_id, "no such CHAP user")
    return user


def delete_chap_user(client: NimbleClient, user_id: str, *, missing_ok: bool = False) -> None:
    """Delete a CHAP user; a 404 is an error unless ``missing_ok``. The array refuses while
    an access control record names the user."""
    _USERS.delete(client, user_id, missing_ok=missing_ok)
