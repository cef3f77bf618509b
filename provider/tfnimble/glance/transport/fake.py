"""FakeTransport: an in-memory transport for unit tests (httpx ``MockTransport`` pattern).

Every call is recorded in :attr:`FakeTransport.calls`. Commands are answered by, in order:

1. scripted rules (:meth:`FakeTransport.on`, or the ``script`` mapping), the most recently
   added matching rule first. A rule's key is either an exact argv (a tuple or list) or a
   regular expression matched with ``fullmatch`` against ``shlex.join(argv)``;
2. the ``handler`` callable, which may return ``None`` to decline;
3. otherwise :class:`UnexpectedCommand` is raised, so a test never passes by accident.

Files live in :attr:`FakeTransport.files` (path → bytes) and :attr:`FakeTransport.modes`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .base import Call, CommandResult, Transport

__all__ = ["Call", "FakeTransport", "Reply", "Rule", "UnexpectedCommand"]


Reply = CommandResult | int | str | tuple[int, str, str] | tuple[int, str]
"""A scripted answer: a full result, an exit status, stdout (status 0), or a tuple."""
Handler = Callable[[Call], "Reply | None"]


class UnexpectedCommand(AssertionError):
    """The fake has no rule and no handler answer for a command."""


@dataclass
class Rule:
    key: tuple[str, ...] | re.Pattern[str]
    reply: Reply | Callable[[Call], Reply]
    times: int | None = None
    used: int = 0

    def matches(self, call: Call) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if isinstance(self.key, re.Pattern):
            return self.key.fullmatch(call.line) is not None
        return self.key == call.argv


def to_result(argv: tuple[str, ...], reply: Reply) -> CommandResult:
    if isinstance(reply, CommandResult):
        return CommandResult(argv, reply.returncode, reply.stdout, reply.stderr)
    if isinstance(reply, bool):
        raise TypeError("reply must not be a bool")
    if isinstance(reply, int):
        return CommandResult(argv, reply, "", "")
    if isinstance(reply, str):
        return CommandResult(argv, 0, reply, "")
    if len(reply) == 2:
        return CommandResult(argv, reply[0], reply[1], "")
    rc, out, err = reply
    return CommandResult(argv, rc, out, err)


@dataclass
class FakeTransport(Transport):
    """A scripted, recording transport with an in-memory file system."""

    log_name = "fake"

    handler: Handler | None = None
    script: Mapping[str | tuple[str, ...], Reply] | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    closed: bool = False
    rules: list[Rule] = field(default_factory=list)

    def __post_init__(self) -> None:
        for key, reply in (self.script or {}).items():
            self.on(key, reply)

    def on(
        self,
        key: str | Sequence[str],
        reply: Reply | Callable[[Call], Reply] = 0,
        *,
        times: int | None = None,
    ) -> FakeTransport:
        """Answer commands matching ``key`` with ``reply`` (at most ``times`` times)."""
        parsed: tuple[str, ...] | re.Pattern[str]
        parsed = re.compile(key) if isinstance(key, str) else tuple(key)
        self.rules.append(Rule(parsed, reply, times))
        return self

    # -- Transport ----------------------------------------------------------------------

    def _execute(self, call: Call) -> CommandResult:
        self.calls.append(call)
        return self._answer(call)

    def _answer(self, call: Call) -> CommandResult:
        for rule in reversed(self.rules):
            if rule.matches(call):
                rule.used += 1
                reply = rule.reply
                if callable(reply):
                    reply = reply(call)
                return to_result(call.argv, reply)
        if self.handler is not None:
            answer = self.handler(call)
            if answer is not None:
                return to_result(call.argv, answer)
        raise UnexpectedCommand(f"FakeTransport: no answer for {call.line}")

    def read_file(self, path: str) -> bytes | None:
        return self.files.get(path)

    def write_file(self, path: str, data: bytes, mode: int | None = None) -> None:
        self.files[path] = bytes(data)
        if mode is not None:
            self.modes[path] = mode
        else:
            self.modes.setdefault(path, 0o644)
        self.writes.append(path)

    def close(self) -> None:
        self.closed = True

    # -- helpers for assertions ----------------------------------------------------------

    def text(self, path: str) -> str:
        return self.files[path].decode()

    def commands(self, program: str | None = None) -> list[tuple[str, ...]]:
        """Recorded argvs, optionally only those of one program."""
        return [c.argv for c in self.calls if program is None or c.argv[0] == program]

    def ran(self, pattern: str) -> bool:
        """Whether any recorded command line matches ``pattern`` (``re.search``)."""
        return any(re.search(pattern, c.line) for c in self.calls)
