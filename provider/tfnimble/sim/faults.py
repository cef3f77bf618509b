"""Fault injection for /v1 requests: latency, 500/503 errors, session expiry, lost responses.

Latency delays the reply, not the work: the request is carried out at once and its response
leaves ``latency_ms`` later (``bench/read_latency.py`` uses it as the array's round trip).

A rule matches on HTTP method and a regular expression searched in the request path. Every
matching rule contributes: latencies add up; an error, an expiry or a drop happens when that
rule's draw says so. Draws come from one ``random.Random(seed)``, so a sequential client sees
the same faults on every run with the same seed. ``times`` limits a rule to its first N
matching requests, which makes "fail the next two POSTs" exact.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_RULE_KEYS = {
    "method",
    "path",
    "latency_ms",
    "error_rate",
    "error_status",
    "drop_rate",
    "expire_sessions_rate",
    "times",
}
_CLI_ALIASES = {
    "latency": "latency_ms",
    "error": "error_rate",
    "status": "error_status",
    "drop": "drop_rate",
    "expire": "expire_sessions_rate",
    "methods": "method",
}


@dataclass
class Rule:
    methods: frozenset[str] | None = None
    path: str = ""
    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    drop_rate: float = 0.0
    expire_sessions_rate: float = 0.0
    times: int | None = None
    _regex: re.Pattern[str] = field(default=re.compile(""), repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": sorted(self.methods) if self.methods else "*",
            "path": self.path,
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "error_status": self.error_status,
            "drop_rate": self.drop_rate,
            "expire_sessions_rate": self.expire_sessions_rate,
            "times": self.times,
        }


@dataclass
class Decision:
    latency: float = 0.0
    error_status: int | None = None
    drop: bool = False
    expire_sessions: bool = False


def _rate(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{key} must be a number between 0 and 1")
    return float(value)


def parse_rule(spec: dict[str, Any]) -> Rule:
    if not isinstance(spec, dict):
        raise ValueError("a fault rule must be an object")
    unknown = set(spec) - _RULE_KEYS
    if unknown:
        raise ValueError(f"unknown fault rule keys: {', '.join(sorted(unknown))}")
    rule = Rule()
    method = spec.get("method", "*")
    if isinstance(method, str):
        method = [m for m in method.replace("|", ",").split(",") if m]
    if not isinstance(method, list) or not all(isinstance(m, str) for m in method):
        raise ValueError("method must be a string or a list of strings")
    methods = {m.upper() for m in method}
    rule.methods = None if not methods or "*" in methods else frozenset(methods)
    path = spec.get("path", "")
    if not isinstance(path, str):
        raise ValueError("path must be a regular expression")
    try:
        rule._regex = re.compile(path)
    except re.error as exc:
        raise ValueError(f"path is not a valid regular expression: {exc}") from None
    rule.path = path
    latency = spec.get("latency_ms", 0)
    if (
        isinstance(latency, bool)
        or not isinstance(latency, (int, float))
        or not 0 <= latency <= 600_000
    ):
        raise ValueError("latency_ms must be between 0 and 600000")
    rule.latency_ms = int(latency)
    rule.error_rate = _rate(spec.get("error_rate", 0), "error_rate")
    rule.drop_rate = _rate(spec.get("drop_rate", 0), "drop_rate")
    rule.expire_sessions_rate = _rate(spec.get("expire_sessions_rate", 0), "expire_sessions_rate")
    status = spec.get("error_status", 503)
    if status not in (500, 503):
        raise ValueError("error_status must be 500 or 503")
    rule.error_status = int(status)
    times = spec.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError("times must be a positive integer")
    rule.times = times
    return rule


def parse_cli_rule(text: str) -> Rule:
    """``method=POST,path=^/v1/volumes$,error=0.3,status=503,latency=50,drop=0.1,times=2``"""
    spec: dict[str, Any] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"expected key=value in fault rule, got {part!r}")
        key = _CLI_ALIASES.get(key.strip(), key.strip())
        value = value.strip()
        if key in ("method", "path"):
            spec[key] = spec[key] + "|" + value if key == "method" and key in spec else value
        elif key in ("latency_ms", "error_status", "times"):
            spec[key] = int(value)
        else:
            spec[key] = float(value)
    return parse_rule(spec)


class Faults:
    def __init__(
        self,
        rules: list[Rule] | None = None,
        seed: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # applies an injected latency (outside any lock); tests replace it to observe or hold
        # requests instead of measuring wall-clock time
        self.sleep = sleep
        self._lock = threading.Lock()
        self._rules: list[Rule] = list(rules or [])
        self._seed = seed
        self._rng = random.Random(seed)
        self.injected = {"latency": 0, "error": 0, "drop": 0, "expire_sessions": 0}

    def configure(self, spec: Any) -> None:
        """Replace the rules from ``{"seed": int|null, "rules": [...]}``; ValueError if bad."""
        if not isinstance(spec, dict) or set(spec) - {"seed", "rules"}:
            raise ValueError('expected {"seed": int, "rules": [...]}')
        rules_spec = spec.get("rules", [])
        if not isinstance(rules_spec, list):
            raise ValueError("rules must be a list")
        rules = [parse_rule(r) for r in rules_spec]
        seed = spec.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("seed must be an integer")
        with self._lock:
            self._rules = rules
            self._seed = seed
            self._rng = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "seed": self._seed,
                "rules": [r.to_json() for r in self._rules],
                "injected": dict(self.injected),
            }

    def decide(self, method: str, path: str) -> Decision:
        d = Decision()
        with self._lock:
            for rule in self._rules:
                if rule.methods is not None and method not in rule.methods:
                    continue
                if not rule._regex.search(path):
                    continue
                if rule.times is not None:
                    if rule.times <= 0:
                        continue
                    rule.times -= 1
                d.latency += rule.latency_ms / 1000.0
                if rule.error_rate and self._rng.random() < rule.error_rate:
                    d.error_status = d.error_status or rule.error_status
                if rule.drop_rate and self._rng.random() < rule.drop_rate:
                    d.drop = True
                if rule.expire_sessions_rate and self._rng.random() < rule.expire_sessions_rate:
                    d.expire_sessions = True
            if d.latency:
                self.injected["latency"] += 1
            if d.error_status:
                self.injected["error"] += 1
                d.drop = False  # an injected error is answered; nothing was performed to lose
            if d.drop:
                self.injected["drop"] += 1
            if d.expire_sessions:
                self.injected["expire_sessions"] += 1
        return d
