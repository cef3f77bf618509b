"""Performance policies (``/v1/performance_policies``), read-only here."""

from __future__ import annotations

from .models import PerformancePolicy
from .objects import ObjectSet
from .session import NimbleClient

__all__ = [
    "find_performance_policy_by_name",
    "get_performance_policy",
    "list_performance_policies",
]

_POLICIES = ObjectSet("performance_policies", "performance policy", PerformancePolicy.from_api)


def get_performance_policy(client: NimbleClient, policy_id: str) -> PerformancePolicy | None:
    """The policy with that id, or ``None``."""
    return _POLICIES.get(client, policy_id)


def find_performance_policy_by_name(client: NimbleClient, name: str) -> PerformancePolicy | None:
    """The policy with that exact name, or ``None``."""
    return _POLICIES.find_by_name(client, name)


def list_performance_policies(client: NimbleClient) -> list[PerformancePolicy]:
    """Every performance policy."""
    return _POLICIES.list(client)
