"""The transport seam: run an argument vector on the controller, read and write files.

Invariants every implementation keeps:

1. Commands are argument vectors, never shell text. Remote transports quote every argument
   (``shlex.join``) for the remote shell; nothing a user typed is interpolated into shell code.
2. ``stdin`` is the only channel for secrets. It is never logged and never appears in an error.
3. ``run`` returns a :class:`CommandResult` for any exit status. With ``check=True`` a non-zero
   status raises :class:`CommandError`. A transport that cannot reach the host raises
   :class:`TransportError` (never a ``CommandResult``).
4. ``write_file`` of the local and SSH transports is atomic: the data goes to a temporary
   file in the same directory, which takes the owner and mode of the file it replaces and is
   then renamed over it. (``FakeTransport`` keeps files in a dict.)
"""

from __future__ import annotations

import logging
import shlex
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "ATOMIC_WRITE_SCRIPT",
    "READ_FILE_SCRIPT",
    "Call",
    "CommandError",
    "CommandResult",
    "CommandTimeout",
    "Lazy",
    "Transport",
    "TransportError",
    "decode_output",
    "default_username",
    "logger",
    "raw_result",
]

logger = logging.getLogger("tfnimble.glance.transport")

T = TypeVar("T")

#: Exit status of :data:`READ_FILE_SCRIPT` when the file does not exist.
READ_FILE_MISSING_RC = 3

#: ``sh -c READ_FILE_SCRIPT sh PATH``: print the file, or exit 3 if it does not exist.
READ_FILE_SCRIPT = 'if [ -e "$1" ]; then exec cat -- "$1"; else exit 3; fi'

#: ``sh -c ATOMIC_WRITE_SCRIPT sh PATH MODE`` with the new content on stdin.
#: Writes a temporary file next to the target (following a symlink to the real file), gives it
#: the owner, mode and SELinux label of the file it replaces (or MODE, if not empty), flushes it,
#: and renames it over the target. The path arrives as a positional parameter, never as code.
ATOMIC_WRITE_SCRIPT = """set -e
target=$1
mode=$2
if [ -L "$target" ]; then target=$(readlink -f -- "$target"); fi
dir=$(dirname -- "$target")
base=$(basename -- "$target")
tmp=$(mktemp -- "$dir/.$base.tfnimble.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp"
if [ -e "$target" ]; then
  chown --reference="$target" -- "$tmp" 2>/dev/null || true
  chmod --reference="$target" -- "$tmp"
  if command -v chcon >/dev/null 2>&1; then
    chcon --reference="$target" -- "$tmp" 2>/dev/null || true
  fi
else
  chmod 0644 -- "$tmp"
fi
if [ -n "$mode" ]; then chmod -- "$mode" "$tmp"; fi
sync -- "$tmp" 2>/dev/null || true
mv -f -- "$tmp" "$target"
trap - EXIT
"""


def decode_output(data: bytes) -> str:
    """Decode command output: UTF-8, with undecodable bytes replaced, never raising."""
    return data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class CommandResult:
    """What a command did: its argument vector, exit status and decoded output."""

    argv: tuple[str, ...]
    """The argument vector as the caller passed it (without any ``sudo`` prefix)."""
    returncode: int
    """Exit status; ``-N`` when the remote side reported death by signal N."""
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def check(self) -> CommandResult:
        """Return self if the command succeeded, else raise :class:`CommandError`."""
        if self.returncode != 0:
            raise CommandError(self)
        return self


class TransportError(Exception):
    """The controller could not be reached, or the connection broke."""


class CommandTimeout(TransportError):
    """A command did not finish within its timeout."""

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        self.argv = tuple(argv)
        self.timeout = timeout
        name = argv[0] if argv else "?"
        super().__init__(f"{name} did not finish within {timeout:g} s")


def _tail(text: str, lines: int = 5, chars: int = 800) -> str:
    kept = "\n".join(text.strip().splitlines()[-lines:])
    return kept[-chars:]


class CommandError(Exception):
    """A command exited with a non-zero status.

    The message names the program, its exit status and the tail of its stderr. It never
    contains stdin, and only the program name of the argument vector (arguments may be long
    or carry paths the caller did not expect to see in an error).
    """

    def __init__(self, result: CommandResult) -> None:
        self.result = result
        name = result.argv[0] if result.argv else "?"
        tail = _tail(result.stderr) or _tail(result.stdout)
        message = f"{name} exited with status {result.returncode}"
        if tail:
            message += f": {tail}"
        super().__init__(message)

    @property
    def returncode(self) -> int:
        return self.result.returncode


@dataclass(frozen=True)
class Call:
    """One ``run`` request, as the caller made it."""

    argv: tuple[str, ...]
    stdin: bytes | None = None
    timeout: float | None = None
    env: Mapping[str, str] | None = None
    idempotent: bool = False

    @property
    def line(self) -> str:
        return shlex.join(self.argv)


class Transport(ABC):
    """Runs commands and moves files on one controller host.

    ``run`` is shared: it refuses an empty argument vector, hands a :class:`Call` to the
    implementation's ``_execute``, debug-logs the result and applies ``check``.
    """

    log_name = "transport"
    """How debug logging names this transport."""

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        check: bool = False,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        idempotent: bool = False,
    ) -> CommandResult:
        """Run ``argv`` and wait for it.

        ``stdin`` is fed to the command and then closed (an empty stdin when ``None``).
        ``env`` adds variables to the command's environment (do not put secrets there on
        remote transports: use stdin). ``idempotent`` says the command is safe to run twice,
        so a transport may re-run it after a dropped connection.
        """
        if not argv:
            raise ValueError("argv must not be empty")
        env = dict(env) if env else None
        result = self._execute(Call(tuple(argv), stdin, timeout, env, idempotent))
        log_result(result, self.log_name)
        return result.check() if check else result

    @abstractmethod
    def _execute(self, call: Call) -> CommandResult:
        """Run one call; any exit status is a result, an unreachable host raises."""

    @abstractmethod
    def read_file(self, path: str) -> bytes | None:
        """The file's bytes, or ``None`` if it does not exist."""

    @abstractmethod
    def write_file(self, path: str, data: bytes, mode: int | None = None) -> None:
        """Replace the file atomically, keeping the owner and mode of an existing file.

        ``mode`` overrides the mode; a new file without ``mode`` gets 0644.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the connection. Safe to call twice."""


class Lazy(Generic[T]):
    """One object, opened on first use and again once it is no longer alive; thread-safe."""

    def __init__(
        self,
        open_: Callable[[], T],
        close: Callable[[T], None],
        alive: Callable[[T], bool] = lambda _: True,
    ) -> None:
        self._open = open_
        self._close = close
        self._alive = alive
        self._value: T | None = None
        self._lock = threading.Lock()

    @property
    def current(self) -> T | None:
        """The object if it is open, without opening it."""
        return self._value

    def get(self) -> T:
        with self._lock:
            if self._value is not None and not self._alive(self._value):
                self._drop()
            if self._value is None:
                self._value = self._open()
            return self._value

    def close(self) -> None:
        """Close the object if it is open. Safe to call twice."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._value is not None:
            self._close(self._value)
            self._value = None


def raw_result(call: Call, raw: tuple[int, bytes, bytes]) -> CommandResult:
    """The :class:`CommandResult` of a raw ``(returncode, stdout, stderr)`` answer to ``call``."""
    rc, out, err = raw
    return CommandResult(call.argv, rc, decode_output(out), decode_output(err))


def log_result(result: CommandResult, transport: str) -> None:
    """Debug-log a finished command: program, arguments and exit status. Never stdin."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s: %s exited %d", transport, " ".join(result.argv), result.returncode)


def read_file_by_command(
    run_raw: RawRunner, path: str, *, timeout: float | None = None
) -> bytes | None:
    """``read_file`` built on a raw runner: ``sh -c READ_FILE_SCRIPT sh PATH``."""
    argv = ("sh", "-c", READ_FILE_SCRIPT, "sh", path)
    rc, out, err = run_raw(Call(argv, None, timeout))
    if rc == READ_FILE_MISSING_RC:
        return None
    if rc != 0:
        raise CommandError(CommandResult(("cat", path), rc, "", decode_output(err)))
    return out


def write_file_by_command(
    run_raw: RawRunner, path: str, data: bytes, mode: int | None, *, timeout: float | None = None
) -> None:
    """``write_file`` built on a raw runner: ``sh -c ATOMIC_WRITE_SCRIPT sh PATH MODE``."""
    mode_arg = "" if mode is None else format(mode, "04o")
    argv = ("sh", "-c", ATOMIC_WRITE_SCRIPT, "sh", path, mode_arg)
    rc, out, err = run_raw(Call(argv, data, timeout))
    if rc != 0:
        raise CommandError(
            CommandResult(("write_file", path), rc, decode_output(out), decode_output(err))
        )


RawRunner = Callable[[Call], tuple[int, bytes, bytes]]
"""Runs a call, returns ``(returncode, stdout, stderr)`` as bytes."""


def default_username() -> str:
    """The SSH user when none is configured: the local login name, as ``ssh`` uses."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "root"
