"""What every controller operation shares: its error type and how a command's status is judged."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ..transport.base import CommandResult, Transport

__all__ = [
    "CommandFailed",
    "ControllerError",
    "Sleep",
    "failed",
    "listing",
    "output_tail",
    "polls",
    "run_checked",
    "run_or_absent",
    "tail",
]

Sleep = Callable[[float], None]
T = TypeVar("T")


class ControllerError(Exception):
    """Something on the controller is not as the store needs it.

    ``summary`` is a short Title-Case headline (for a diagnostic); ``str(exc)`` says what
    was being done and names the object, and most messages add what to do about it.
    """

    summary = "Controller Error"

    def __init_subclass__(cls, *, summary: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if summary is not None:
            cls.summary = summary

    def __init__(self, message: str, *, result: CommandResult | None = None) -> None:
        super().__init__(message)
        self.result = result

    @property
    def returncode(self) -> int | None:
        return None if self.result is None else self.result.returncode


class CommandFailed(ControllerError, summary="Controller Command Failed"):
    """A command failed in a way no operation has a more specific error for."""


def tail(text: str, lines: int = 3) -> str:
    """The last ``lines`` lines of ``text`` on one line, joined by `` | ``."""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def output_tail(result: CommandResult) -> str:
    """The tail of stderr, else of stdout."""
    return tail(result.stderr) or tail(result.stdout)


def failed(what: str, result: CommandResult) -> CommandFailed:
    detail = output_tail(result) or "no output"
    return CommandFailed(
        f"{what}: {result.argv[0]} exited with status {result.returncode}: {detail}",
        result=result,
    )


def polls(attempts: int, delay: float, sleep: Sleep) -> Iterator[int]:
    """Attempt numbers for a bounded poll (at least one), sleeping ``delay`` between them."""
    for attempt in range(max(1, attempts)):
        if attempt:
            sleep(delay)
        yield attempt


def run_checked(t: Transport, argv: Sequence[str], what: str) -> None:
    """Run an idempotent command; any non-zero status is :class:`CommandFailed`."""
    r = t.run(argv, idempotent=True)
    if r.returncode != 0:
        raise failed(what, r)


def run_or_absent(r: CommandResult, what: str, absent: int = 21) -> bool:
    """True if the command did it, False if there was nothing to do it to (status ``absent``)."""
    if r.returncode == 0:
        return True
    if r.returncode == absent:
        return False
    raise failed(what, r)


def listing(
    t: Transport, argv: Sequence[str], what: str, parse: Callable[[str], list[T]]
) -> list[T]:
    """Run a listing command: status 21 means an empty list (iscsiadm's "no records")."""
    r = t.run(argv, idempotent=True)
    if r.returncode == 21:
        return []
    if r.returncode != 0:
        raise failed(what, r)
    return parse(r.stdout)
