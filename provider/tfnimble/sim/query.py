"""List queries: simple filters, advanced criteria, sorting, field selection and row windows.

Everything here works on rendered API objects (plain dicts), so it is independent of storage.
Comparison rule: a criterion value (always text on the wire) is converted to the type of the
object's field before comparing; booleans compare as ``true``/``false``, ``null`` matches None.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from .errors import SimError

# Open question (no public source states it): the server row limit is unknown. One window of 1024
# rows is the default page and the largest page a client may ask for.
SERVER_ROW_LIMIT = 1024

RESERVED_PARAMS = {"startRow", "endRow", "pageSize", "sortBy", "fields", "operationType"}
# Raw predicates in the query string, as the SDK's from_id paging sends ("id%3E<id>").
_PREDICATE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(>=|<=|!=|>|<)(.*)$")
_SIMPLE_OPS = {
    ">": "greaterThan",
    "<": "lessThan",
    ">=": "greaterOrEqual",
    "<=": "lessOrEqual",
    "!=": "notEqual",
    "=": "equals",
}


@dataclass
class ListQuery:
    filters: list[dict[str, Any]] = field(default_factory=list)
    start_row: int | None = None
    end_row: int | None = None
    page_size: int | None = None
    sort_by: list[tuple[str, bool]] = field(default_factory=list)
    fields: list[str] | None = None
    params: dict[str, str] = field(default_factory=dict)


def parse_query_string(qs: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Split a raw query string into ``key=value`` params and raw predicates like ``id>X``."""
    params: dict[str, str] = {}
    predicates: list[dict[str, Any]] = []
    for part in qs.split("&"):
        if not part:
            continue
        if "=" in part:
            key, _, value = part.partition("=")
            key, value = unquote_plus(key), unquote_plus(value)
            match = _PREDICATE.match(key)
            if match and value == "":
                predicates.append(_predicate(match))
                continue
            if key in params:
                raise SimError("SM_invalid_query_param", arg=key, value=value)
            params[key] = value
        else:
            text = unquote_plus(part)
            match = _PREDICATE.match(text)
            if not match:
                raise SimError("SM_invalid_query_param", arg=text, value="")
            predicates.append(_predicate(match))
    return params, predicates


def _predicate(match: re.Match[str]) -> dict[str, Any]:
    return {
        "fieldName": match.group(1),
        "operator": _SIMPLE_OPS[match.group(2)],
        "value": match.group(3),
    }


def _int_param(params: dict[str, str], name: str, minimum: int) -> int | None:
    if name not in params:
        return None
    raw = params[name]
    try:
        value = int(raw)
    except ValueError:
        raise SimError("SM_invalid_query_param", arg=name, value=raw) from None
    if value < minimum:
        raise SimError("SM_invalid_query_param", arg=name, value=raw)
    return value


def build_query(
    params: dict[str, str], predicates: list[dict[str, Any]], known_fields: Iterable[str]
) -> ListQuery:
    known = set(known_fields)
    q = ListQuery(params=params)
    q.start_row = _int_param(params, "startRow", 0)
    q.end_row = _int_param(params, "endRow", 0)
    q.page_size = _int_param(params, "pageSize", 1)
    if "sortBy" in params:
        for key in params["sortBy"].split(","):
            desc = key.startswith("-")
            name = key[1:] if desc else key
            if name not in known:
                raise SimError("SM_invalid_query_param", arg="sortBy", value=params["sortBy"])
            q.sort_by.append((name, desc))
    if "fields" in params:
        q.fields = [f for f in params["fields"].split(",") if f]
    for key, value in params.items():
        if key in RESERVED_PARAMS:
            continue
        if key not in known:
            raise SimError("SM_unexpected_query_param", arg=key)
        q.filters.append({"fieldName": key, "operator": "equals", "value": value})
    for pred in predicates:
        if pred["fieldName"].split(".")[0] not in known:
            raise SimError("SM_unexpected_query_param", arg=pred["fieldName"])
        q.filters.append(pred)
    return q


def validate_criteria(node: Any, known: set[str], top: bool = True) -> dict[str, Any]:
    """Check an AdvancedCriteria tree (the ``data`` of a fetch POST) and return it."""
    if not isinstance(node, dict):
        raise SimError("SM_missing_criteria")
    if top and node.get("_constructor") != "AdvancedCriteria":
        raise SimError("SM_missing_advanced_criteria_constructor")
    if "criteria" in node or (top and "fieldName" not in node):
        op = node.get("operator")
        if op is None:
            raise SimError("SM_missing_criteria_operator")
        if op not in ("and", "or", "not"):
            raise SimError("SM_unsupported_query_operator", operator=op)
        crit = node.get("criteria")
        if not isinstance(crit, list):
            raise SimError("SM_missing_criteria")
        for child in crit:
            validate_criteria(child, known, top=False)
        return node
    name = node.get("fieldName")
    if not isinstance(name, str) or not name:
        raise SimError("SM_missing_criteria_fieldName")
    if name.split(".")[0] not in known:
        raise SimError("SM_invalid_arg_value", arg="fieldName", value=name)
    op = node.get("operator")
    if op is None:
        raise SimError("SM_missing_criteria_operator")
    if op not in _OPERATORS:
        raise SimError("SM_unsupported_query_operator", operator=op)
    if op == "regexp":
        try:
            re.compile(str(node.get("value", "")))
        except re.error:
            raise SimError("SM_invalid_arg_value", arg="value", value=node.get("value")) from None
    return node


def matches(obj: dict[str, Any], node: dict[str, Any]) -> bool:
    if "criteria" in node:
        results = (matches(obj, child) for child in node["criteria"])
        op = node.get("operator", "and")
        if op == "or":
            return any(results)
        if op == "not":
            return not any(results)
        return all(results)
    name: str = node["fieldName"]
    value = _field_value(obj, name)
    return bool(_OPERATORS[node["operator"]](value, node))


def _field_value(obj: dict[str, Any], name: str) -> Any:
    if name.startswith("metadata."):
        key = name[len("metadata.") :]
        for item in obj.get("metadata") or []:
            if item.get("key") == key:
                return item.get("value")
        return None
    return obj.get(name)


def _coerce(sample: Any, raw: Any) -> Any:
    """Convert a criterion value to the type of the field value ``sample``."""
    if raw is None or raw == "null":
        return None
    if isinstance(sample, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).lower()
        if text in ("true", "false"):
            return text == "true"
        return str(raw)
    if isinstance(sample, (int, float)):
        if isinstance(raw, bool):
            return str(raw)
        try:
            return type(sample)(raw) if isinstance(raw, str) else raw
        except ValueError:
            try:
                return float(raw)
            except ValueError:
                return str(raw)
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return raw if isinstance(raw, str) else str(raw)


def _eq(value: Any, raw: Any) -> bool:
    other = _coerce(value, raw)
    if value is None or other is None:
        return value is None and other is None
    if isinstance(value, (list, dict)):
        return False
    return bool(value == other)


def _cmp(value: Any, raw: Any) -> int | None:
    other = _coerce(value, raw)
    if value is None or other is None or isinstance(value, (list, dict, bool)):
        return None
    try:
        return int((value > other) - (value < other))
    except TypeError:
        return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _between(value: Any, node: dict[str, Any], inclusive: bool) -> bool:
    lo, hi = _cmp(value, node.get("value1")), _cmp(value, node.get("value2"))
    if lo is None or hi is None:
        return False
    return (lo >= 0 and hi <= 0) if inclusive else (lo > 0 and hi < 0)


def _regexp(value: Any, node: dict[str, Any]) -> bool:
    return re.search(str(node.get("value", "")), _text(value)) is not None


_OPERATORS: dict[str, Any] = {
    "equals": lambda v, n: _eq(v, n.get("value")),
    "iEquals": lambda v, n: _text(v).lower() == _text(n.get("value")).lower(),
    "notEqual": lambda v, n: not _eq(v, n.get("value")),
    "iNotEqual": lambda v, n: _text(v).lower() != _text(n.get("value")).lower(),
    "contains": lambda v, n: _text(n.get("value")) in _text(v),
    "iContains": lambda v, n: _text(n.get("value")).lower() in _text(v).lower(),
    "inSet": lambda v, n: any(_eq(v, x) for x in n.get("values") or []),
    "notInSet": lambda v, n: not any(_eq(v, x) for x in n.get("values") or []),
    "between": lambda v, n: _between(v, n, False),
    "betweenInclusive": lambda v, n: _between(v, n, True),
    "greaterThan": lambda v, n: (_cmp(v, n.get("value")) or 0) > 0,
    "greaterOrEqual": lambda v, n: _cmp(v, n.get("value")) in (0, 1),
    "lessThan": lambda v, n: (_cmp(v, n.get("value")) or 0) < 0,
    "lessOrEqual": lambda v, n: _cmp(v, n.get("value")) in (0, -1),
    "regexp": _regexp,
}


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def _sort_on(key: str) -> Any:
    return lambda obj: _sort_key(obj.get(key))


def apply(
    objs: list[dict[str, Any]], q: ListQuery, criteria: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Filter, sort and window ``objs``; return the rows and the list envelope's counters.

    The envelope may carry ``messages`` (row-window warnings that real arrays send with 200).
    """
    rows = [o for o in objs if all(matches(o, f) for f in q.filters)]
    if criteria is not None:
        rows = [o for o in rows if matches(o, criteria)]
    for key, desc in reversed(q.sort_by):
        rows.sort(key=_sort_on(key), reverse=desc)
    total = len(rows)
    if q.page_size is not None and q.page_size > SERVER_ROW_LIMIT:
        raise SimError(
            "SM_too_large_page_size", page_size=q.page_size, server_row_limit=SERVER_ROW_LIMIT
        )
    start = q.start_row or 0
    if q.end_row is not None and q.end_row < start:
        raise SimError("SM_start_row_beyond_end_row", startRow=start, endRow=q.end_row)
    window = q.page_size if q.page_size is not None else SERVER_ROW_LIMIT
    end = min(total, start + window)
    warnings: list[SimError] = []
    if q.end_row is not None:
        if q.end_row - start > SERVER_ROW_LIMIT:
            raise SimError(
                "SM_too_large_page_size",
                page_size=q.end_row - start,
                server_row_limit=SERVER_ROW_LIMIT,
            )
        if q.end_row > total:
            warnings.append(
                SimError("SM_end_row_beyond_total_rows", endRow=q.end_row, totalRows=total)
            )
        end = min(total, q.end_row, start + window)
    if start > total:
        warnings.append(SimError("SM_start_row_beyond_total_rows", startRow=start, totalRows=total))
        start = end = total
    page = rows[start:end]
    envelope: dict[str, Any] = {"startRow": start, "endRow": end, "totalRows": total}
    if warnings:
        envelope["messages"] = warnings[0].messages()
    return page, envelope


def select_fields(obj: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    if fields is None:
        return obj
    return {f: obj[f] for f in fields if f in obj}
