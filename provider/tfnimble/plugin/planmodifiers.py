"""Attribute plan modifiers, applied by the engine after Terraform proposes a plan.

Each modifier sees the attribute's config, prior state and planned values and may
change the planned value (only where the config leaves it open) or ask for the
resource to be replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .cty import types as ct
from .cty.path import AttributePath
from .cty.values import is_unknown, values_equal
from .diagnostics import Diagnostics


@dataclass
class AttributePlanRequest:
    path: AttributePath
    type: ct.CtyType
    config_value: Any
    state_value: Any
    plan_value: Any
    #: True when the resource is being created (no prior state).
    creating: bool
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass
class AttributePlanResult:
    plan_value: Any
    requires_replace: bool = False


class PlanModifier:
    description: str = ""

    def modify(self, req: AttributePlanRequest) -> AttributePlanResult:  # pragma: no cover
        raise NotImplementedError


class _UseStateForUnknown(PlanModifier):
    description = "The value is kept from the prior state unless the resource is replaced."

    def modify(self, req: AttributePlanRequest) -> AttributePlanResult:
        if req.creating or req.state_value is None or not is_unknown(req.plan_value):
            return AttributePlanResult(req.plan_value)
        if req.config_value is not None and not is_unknown(req.config_value):
            return AttributePlanResult(req.plan_value)
        return AttributePlanResult(req.state_value)


class _RequiresReplaceIf(PlanModifier):
    def __init__(
        self, predicate: Callable[[AttributePlanRequest], bool] | None, description: str
    ) -> None:
        self.predicate = predicate
        self.description = description

    def modify(self, req: AttributePlanRequest) -> AttributePlanResult:
        if req.creating:
            return AttributePlanResult(req.plan_value)
        if is_unknown(req.plan_value):
            # An unknown new value may differ; Terraform must show the replacement now.
            changed = True
        else:
            changed = not values_equal(req.plan_value, req.state_value, req.type)
        if not changed:
            return AttributePlanResult(req.plan_value)
        if self.predicate is not None and not self.predicate(req):
            return AttributePlanResult(req.plan_value)
        return AttributePlanResult(req.plan_value, requires_replace=True)


def use_state_for_unknown() -> PlanModifier:
    """Keep the prior value of a computed attribute instead of showing (known after apply)."""
    return _UseStateForUnknown()


def requires_replace() -> PlanModifier:
    """Changing this attribute destroys and re-creates the resource."""
    return _RequiresReplaceIf(None, "Changing this value forces a new resource.")


def requires_replace_if(
    predicate: Callable[[AttributePlanRequest], bool], description: str
) -> PlanModifier:
    """Replace only when `predicate(req)` says so (for example: shrinking a size)."""
    return _RequiresReplaceIf(predicate, description)
