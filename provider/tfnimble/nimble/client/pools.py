"""Storage pools (``/v1/pools``), read-only here."""

from __future__ import annotations

from .models import Pool
from .objects import ObjectSet
from .session import NimbleClient

__all__ = ["find_pool_by_name", "get_pool", "list_pools"]

_POOLS = ObjectSet("pools", "pool", Pool.from_api)


def get_pool(client: NimbleClient, pool_id: str) -> Pool | None:
    """The pool with that id, or ``None``."""
    return _POOLS.get(client, pool_id)


def find_pool_by_name(client: NimbleClient, name: str) -> Pool | None:
    """The pool with that exact name, or ``None``."""
    return _POOLS.find_by_name(client, name)


def list_pools(client: NimbleClient) -> list[Pool]:
    """Every pool."""
    return _POOLS.list(client)
