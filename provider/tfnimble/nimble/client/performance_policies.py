"""Performance policies (``/v1/performance_policies``), read-only here."""

from __future__ import annotations

from .models import PerformancePolicy
from .session import NimbleClient

__all__ = [
    "find_performance_policy_by_name",
    "get_performance_policy",
    "list_performance_policies",
]

_SET = "performance_policies"


def get_performance_policy(client: NimbleClient, policy_id: str) -> PerformancePolicy | None:
    data = client.get_object(_SET, policy_id, kind="performance policy")
    return PerformancePolicy.from_api(data) if data is not None else None


def find_performance_policy_by_name(client: NimbleClient, name: str) -> PerformancePolicy | None:
    for row in client.iter_objects(_SET, {"name": name}, kind="performance policy"):
        if row.get("name") == name:
            return PerformancePolicy.from_api(row)
    return None


def list_performance_policies(client: NimbleClient) -> list[PerformancePolicy]:
    return [
        PerformancePolicy.from_api(r) for r in client.iter_objects(_SET, kind="performance policy")
    ]
