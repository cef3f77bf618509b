"""Storage pools (``/v1/pools``), read-only here."""

from __future__ import annotations

from .models import Pool
from .session import NimbleClient

__all__ = ["find_pool_by_name", "get_pool", "list_pools"]

_SET = "pools"


def get_pool(client: NimbleClient, pool_id: str) -> Pool | None:
    data = client.get_object(_SET, pool_id, kind="pool")
    return Pool.from_api(data) if data is not None else None


def find_pool_by_name(client: NimbleClient, name: str) -> Pool | None:
    for row in client.iter_objects(_SET, {"name": name}, kind="pool"):
        if row.get("name") == name:
            return Pool.from_api(row)
    return None


def list_pools(client: NimbleClient) -> list[Pool]:
    return [Pool.from_api(r) for r in client.iter_objects(_SET, kind="pool")]
