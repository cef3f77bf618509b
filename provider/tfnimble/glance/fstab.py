"""Pure text transforms on ``/etc/fstab``: one ``UUID=`` line per store, idempotent.

Rules:

1. Only lines whose first field is ``UUID=<uuid>`` (optionally quoted) are ever changed or
   removed: these are the lines this module considers its own. Comments, blank lines and
   every other entry are kept byte for byte, in their order.
2. ``add_line`` is idempotent: with the same arguments a second call returns the text
   unchanged. It updates the line of the same UUID in place, or replaces a ``UUID=`` line
   that mounts on the same mount point (the volume was replaced); any other entry for that
   mount point is a conflict, reported and never touched.
3. Mount points are compared after decoding fstab's octal escapes (``\\040`` is a space), and
   written with those escapes.
4. The text keeps its line endings and whether or not it ended with a newline; a line added
   at the end always ends with one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._lines import line_ending

__all__ = [
    "FstabConflict",
    "FstabEntry",
    "add_line",
    "decode_field",
    "encode_field",
    "find_line",
    "format_line",
    "norm_mount_point",
    "parse",
    "remove_line",
]

_OCTAL = re.compile(r"\\([0-7]{3})")


class FstabConflict(ValueError):
    """Another fstab entry, not one of ours, already uses the mount point."""

    def __init__(self, mount_point: str, line: str, line_no: int) -> None:
        self.mount_point = mount_point
        self.line = line
        self.line_no = line_no
        super().__init__(
            f"/etc/fstab line {line_no} already mounts something on {mount_point}: "
            f"{line.strip()!r}. Remove or change that line, or choose another mount_point"
        )


def decode_field(value: str) -> str:
    """Decode fstab's octal escapes (``\\040`` → space, ``\\011`` → tab, ``\\134`` → ``\\``)."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), value)


def encode_field(value: str) -> str:
    """Escape the characters fstab cannot hold literally in a field."""
    out = []
    for ch in value:
        if ch in " \t\n\\#" or ord(ch) < 32:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class FstabEntry:
    """One active (non-comment) fstab line, fields decoded."""

    spec: str
    mount_point: str
    fs_type: str
    options: str
    dump: str
    passno: str
    line_no: int
    """1-based line number in the text."""
    raw: str
    """The line as written, without its line ending."""

    @property
    def uuid(self) -> str | None:
        """The UUID of a ``UUID=`` line (lower-cased, quotes removed), else None."""
        return _spec_uuid(self.spec)


def _spec_uuid(spec: str) -> str | None:
    if not spec.upper().startswith("UUID="):
        return None
    value = spec[5:]
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return value.lower()


def _split_keepends(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _strip_eol(line: str) -> tuple[str, str]:
    body = line.rstrip("\r\n")
    return body, line[len(body) :]


def _parse_line(body: str, line_no: int) -> FstabEntry | None:
    stripped = body.strip()
    if not stripped or stripped.startswith("#"):
        return None
    fields = stripped.split()
    if len(fields) < 2:
        return None
    fields += ["", "", "0", "0"][: max(0, 6 - len(fields))]
    return FstabEntry(
        spec=decode_field(fields[0]),
        mount_point=decode_field(fields[1]),
        fs_type=fields[2],
        options=fields[3],
        dump=fields[4],
        passno=fields[5],
        line_no=line_no,
        raw=body,
    )


def parse(text: str) -> list[FstabEntry]:
    """All active entries of the text, in order."""
    entries = []
    for i, line in enumerate(_split_keepends(text), start=1):
        entry = _parse_line(_strip_eol(line)[0], i)
        if entry is not None:
            entries.append(entry)
    return entries


def norm_mount_point(path: str) -> str:
    """A mount point without trailing slashes (``/`` stays ``/``)."""
    return path.rstrip("/") or "/"


def format_line(
    uuid: str, mount_point: str, fs_type: str, options: str, dump: int = 0, passno: int = 0
) -> str:
    """Our canonical line, without a line ending."""
    for name, value in (("fs_type", fs_type), ("options", options)):
        if not value or any(c.isspace() for c in value):
            raise ValueError(f"fstab {name} must be non-empty and contain no whitespace")
    if not uuid or any(c.isspace() or c in "\"'" for c in uuid):
        raise ValueError(f"invalid filesystem UUID {uuid!r}")
    return f"UUID={uuid} {encode_field(mount_point)} {fs_type} {options} {int(dump)} {int(passno)}"


def find_line(
    text: str, uuid: str | None = None, mount_point: str | None = None
) -> FstabEntry | None:
    """The first entry matching every criterion given (UUID and/or mount point)."""
    if uuid is None and mount_point is None:
        raise ValueError("give uuid, mount_point or both")
    for entry in parse(text):
        if uuid is not None and entry.uuid != uuid.lower():
            continue
        if mount_point is not None and norm_mount_point(entry.mount_point) != norm_mount_point(
            mount_point
        ):
            continue
        return entry
    return None


def add_line(
    text: str,
    uuid: str,
    mount_point: str,
    fs_type: str,
    options: str,
    dump: int = 0,
    passno: int = 0,
) -> str:
    """Return the text with exactly one line for ``UUID=uuid`` mounting ``mount_point``.

    Raises :class:`FstabConflict` if a line that is not ours mounts on ``mount_point``.
    """
    new_body = format_line(uuid, mount_point, fs_type, options, dump, passno)
    lines = _split_keepends(text)
    wanted_uuid = uuid.lower()
    wanted_mp = norm_mount_point(mount_point)

    same_uuid: list[int] = []
    same_mp_ours: list[int] = []
    for idx, line in enumerate(lines):
        body, _ = _strip_eol(line)
        entry = _parse_line(body, idx + 1)
        if entry is None:
            continue
        if entry.uuid == wanted_uuid:
            same_uuid.append(idx)
        elif norm_mount_point(entry.mount_point) == wanted_mp:
            if entry.uuid is None:
                raise FstabConflict(mount_point, body, idx + 1)
            same_mp_ours.append(idx)

    targets = same_uuid or same_mp_ours
    if not targets:
        eol = line_ending(lines)
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += eol
        lines.append(new_body + eol)
        return "".join(lines)

    keep = targets[0]
    body, eol = _strip_eol(lines[keep])
    if body != new_body:
        lines[keep] = new_body + eol
    drop = set(targets[1:]) | (set(same_mp_ours) if same_uuid else set())
    drop.discard(keep)
    return "".join(line for idx, line in enumerate(lines) if idx not in drop)


def remove_line(text: str, uuid: str) -> str:
    """Return the text without any ``UUID=uuid`` line; everything else unchanged."""
    wanted = uuid.lower()
    out = []
    for idx, line in enumerate(_split_keepends(text)):
        entry = _parse_line(_strip_eol(line)[0], idx + 1)
        if entry is not None and entry.uuid == wanted:
            continue
        out.append(line)
    return "".join(out)
