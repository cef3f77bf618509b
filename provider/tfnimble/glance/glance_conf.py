"""Pure edits of ``filesystem_store_datadir`` in glance-api.conf, preserving everything else.

Layouts (as glance_store reads glance-api.conf):

* ``multi-store``: ``[DEFAULT] enabled_backends = id:type,...`` is non-empty. The datadir is
  ``[<id>] filesystem_store_datadir`` of a ``file`` backend: the one asked for, else
  ``[glance_store] default_backend``, else the only ``file`` backend.
* ``legacy``: otherwise, ``[glance_store] filesystem_store_datadir``.

Rules:

1. The file is read as oslo.config reads it: ``[section]`` headers, ``key = value`` or
   ``key: value`` lines starting in column 0, indented lines continuing the previous value,
   ``#`` and ``;`` comments. Section names other than ``DEFAULT`` are case-insensitive and
   ``-`` in a key equals ``_``; the last occurrence of a key wins.
2. Only the effective ``filesystem_store_datadir`` line (and its continuation lines) of the
   chosen section is changed, keeping the text before its value (``key = `` spacing). Every
   other line, comment, blank line and the order are kept byte for byte.
3. A missing key is added to its section: right after a commented-out default
   (``#filesystem_store_datadir = ...``) if the section has one, else after the section's last
   non-blank line. A missing section is appended at the end of the file.
4. Setting the value it already has returns the text unchanged (idempotent).
5. The one exception to rule 2 is the record of the previous value: ``add_marker`` puts one
   comment line of its own at the top of the file, ``remove_marker`` takes it out again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from ._lines import line_ending

__all__ = [
    "KEY",
    "LEGACY",
    "MULTI_STORE",
    "DatadirLocation",
    "GlanceConfError",
    "get_datadir",
    "restore_datadir",
    "same_path",
    "set_datadir",
]

KEY = "filesystem_store_datadir"
LEGACY = "legacy"
MULTI_STORE = "multi-store"

_SECTION = re.compile(r"^\[\s*([^\]]+?)\s*\]\s*(?:[#;].*)?$")
_KEYVAL = re.compile(
    r"^(?P<key>[^\s=:#;\[][^=:]*?)(?P<sep>\s*[=:]\s*)(?P<value>.*?)(?P<trail>\s*)$"
)
_COMMENTED_KEY = re.compile(r"^[#;]\s*filesystem[_-]store[_-]datadir\s*[=:]")


class GlanceConfError(ValueError):
    """glance-api.conf cannot be edited as asked (no file backend, unknown backend...)."""


class DatadirLocation(NamedTuple):
    """Where the datadir lives: layout, section name, and the current value (or None)."""

    layout: str
    section: str
    value: str | None


@dataclass
class _Line:
    index: int
    section: str | None
    """Normalised name of the section the line is in (None before the first header)."""
    kind: str
    """``header``, ``key``, ``cont`` (continuation), ``comment``, ``blank``."""
    key: str | None = None


def _norm_section(name: str) -> str:
    return name if name == "DEFAULT" else name.lower()


def _norm_key(name: str) -> str:
    return name.strip().replace("-", "_")


def _body(line: str) -> str:
    return line.rstrip("\r\n")


def _classify(lines: list[str]) -> list[_Line]:
    out: list[_Line] = []
    section: str | None = None
    last_key: str | None = None
    for i, line in enumerate(lines):
        body = _body(line)
        stripped = body.strip()
        if not stripped:
            out.append(_Line(i, section, "blank"))
            last_key = None
            continue
        if body[0] in " \t" and last_key is not None and stripped[0] not in "#;":
            out.append(_Line(i, section, "cont", last_key))
            continue
        if stripped[0] in "#;":
            out.append(_Line(i, section, "comment"))
            continue
        header = _SECTION.match(stripped)
        if header:
            section = _norm_section(header.group(1))
            out.append(_Line(i, section, "header"))
            last_key = None
            continue
        kv = _KEYVAL.match(body)
        if kv:
            last_key = _norm_key(kv.group("key"))
            out.append(_Line(i, section, "key", last_key))
        else:
            out.append(_Line(i, section, "comment"))  # not valid ini: leave it alone
            last_key = None
    return out


def _value_of(lines: list[str], info: list[_Line], idx: int) -> str:
    kv = _KEYVAL.match(_body(lines[idx]))
    assert kv is not None
    parts = [kv.group("value")]
    j = idx + 1
    while j < len(info) and info[j].kind == "cont":
        parts.append(_body(lines[j]).strip())
        j += 1
    value = "\n".join(p for p in parts if p) if len(parts) > 1 else parts[0]
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return value


def _find_key(info: list[_Line], section: str, key: str) -> int | None:
    found = None
    for line in info:
        if line.kind == "key" and line.section == section and line.key == key:
            found = line.index
    return found


def _get(lines: list[str], info: list[_Line], section: str, key: str) -> str | None:
    idx = _find_key(info, section, key)
    return None if idx is None else _value_of(lines, info, idx)


def _parse_backends(value: str) -> list[tuple[str, str]]:
    backends = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, kind = item.partition(":")
        backends.append((name.strip(), kind.strip()))
    return backends


def _locate(lines: list[str], info: list[_Line], backend: str | None) -> tuple[str, str]:
    enabled = _get(lines, info, "DEFAULT", "enabled_backends")
    backends = _parse_backends(enabled or "")
    if not backends:
        if backend is not None:
            raise GlanceConfError(
                f"backend {backend!r} was given, but glance-api.conf uses the single-store "
                "layout ([DEFAULT] enabled_backends is not set); leave backend unset or "
                "enable multiple stores first"
            )
        return LEGACY, "glance_store"
    kinds = dict(backends)
    listing = ", ".join(f"{n}:{k}" for n, k in backends)
    if backend is None:
        default = _get(lines, info, "glance_store", "default_backend")
        if default:
            backend = default.strip()
        else:
            files = [n for n, k in backends if k == "file"]
            if len(files) != 1:
                raise GlanceConfError(
                    "glance-api.conf enables several backends and sets no [glance_store] "
                    f"default_backend ({listing}); set backend to the file store to use"
                )
            backend = files[0]
    if backend.startswith("os_glance_"):
        raise GlanceConfError(f"backend {backend!r} is one of glance's reserved stores")
    if backend not in kinds:
        raise GlanceConfError(
            f"backend {backend!r} is not in [DEFAULT] enabled_backends ({listing}); "
            f"add it there as '{backend}:file' or choose one of the enabled backends"
        )
    if kinds[backend] != "file":
        raise GlanceConfError(
            f"backend {backend!r} is a {kinds[backend]!r} store, not a 'file' store; "
            "choose a file backend"
        )
    return MULTI_STORE, _norm_section(backend)


def _section_display(lines: list[str], info: list[_Line], section: str) -> str:
    for line in info:
        if line.kind == "header" and line.section == section:
            m = _SECTION.match(_body(lines[line.index]).strip())
            assert m is not None
            return m.group(1)
    return section


def get_datadir(text: str, backend: str | None = None) -> DatadirLocation:
    """Detect the layout and return where the datadir is set and its current value."""
    lines = text.splitlines(keepends=True)
    info = _classify(lines)
    layout, section = _locate(lines, info, backend)
    return DatadirLocation(
        layout, _section_display(lines, info, section), _get(lines, info, section, KEY)
    )


def _replace_value(lines: list[str], info: list[_Line], idx: int, value: str) -> list[str]:
    body = _body(lines[idx])
    eol = lines[idx][len(body) :]
    kv = _KEYVAL.match(body)
    assert kv is not None
    new = body[: kv.start("value")] + value + eol
    end = idx + 1
    while end < len(info) and info[end].kind == "cont":
        end += 1
    return [*lines[:idx], new, *lines[end:]]


def _insert_at(lines: list[str], info: list[_Line], section: str) -> int | None:
    """Index before which a new key line goes in ``section`` (None if no such section)."""
    members = [line for line in info if line.section == section]
    headers = [line for line in members if line.kind == "header"]
    if not headers:
        return None
    # The last block of the section: from its last header to the next header.
    start = headers[-1].index
    block = [line for line in info if line.index >= start]
    end = len(info)
    for line in block[1:]:
        if line.kind == "header":
            end = line.index
            break
    commented = [
        line.index
        for line in info[start:end]
        if line.kind == "comment" and _COMMENTED_KEY.match(_body(lines[line.index]).strip())
    ]
    if commented:
        return commented[-1] + 1
    last = start
    for line in info[start:end]:
        if line.kind != "blank":
            last = line.index
    return last + 1


def _set(text: str, section: str, value: str) -> str:
    lines = text.splitlines(keepends=True)
    info = _classify(lines)
    eol = line_ending(lines)
    idx = _find_key(info, section, KEY)
    if idx is not None:
        return "".join(_replace_value(lines, info, idx, value))
    new_line = f"{KEY} = {value}{eol}"
    at = _insert_at(lines, info, section)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += eol
    if at is None:
        block = [f"[{section}]{eol}", new_line]
        if lines and _body(lines[-1]).strip():
            block.insert(0, eol)
        return "".join([*lines, *block])
    return "".join([*lines[:at], new_line, *lines[at:]])


def same_path(a: str | None, b: str | None) -> bool:
    """Whether two datadir values name the same directory (trailing slashes ignored)."""
    if a is None or b is None:
        return a is b
    return (a.strip().rstrip("/") or "/") == (b.strip().rstrip("/") or "/")


def _check_value(path: str) -> None:
    if not path or "\n" in path or "\r" in path or path != path.strip():
        raise GlanceConfError(f"invalid filesystem_store_datadir value {path!r}")


def set_datadir(
    text: str, path: str, backend: str | None = None
) -> tuple[str, str | None, str, str]:
    """Point the datadir at ``path``.

    Returns ``(new_text, previous_value, layout, section)``; ``new_text is text`` when the value
    was already ``path`` (trailing slashes ignored).
    """
    _check_value(path)
    layout, section, previous = get_datadir(text, backend)
    if previous is not None and same_path(previous, path):
        return text, previous, layout, section
    return _set(text, _norm_section(section), path), previous, layout, section


def restore_datadir(text: str, previous: str | None, backend: str | None = None) -> str:
    """Undo :func:`set_datadir`: put ``previous`` back, or remove the key if it was None."""
    _layout, section, current = get_datadir(text, backend)
    if previous is not None:
        _check_value(previous)
        if current is not None and current == previous:
            return text
        return _set(text, _norm_section(section), previous)
    if current is None:
        return text
    lines = text.splitlines(keepends=True)
    info = _classify(lines)
    idx = _find_key(info, _norm_section(section), KEY)
    assert idx is not None
    end = idx + 1
    while end < len(info) and info[end].kind == "cont":
        end += 1
    return "".join([*lines[:idx], *lines[end:]])


# -- the previous value, remembered on the controller -----------------------------------------
#
# The value filesystem_store_datadir had before the store moved it is kept as one comment line
# at the top of the file. Terraform state also has it, but state can be lost (import, a crash
# between the config write and the state write); the file itself cannot disagree with itself.

MARKER = "# glance_iscsi_store: previous filesystem_store_datadir"
_UNSET = "<unset>"


def _marker_re(section: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(MARKER)} \[{re.escape(section)}\] = (.*?)\r?$", re.M)


def read_marker(text: str, section: str) -> tuple[bool, str | None]:
    """(found, previous value or None when it was unset) for ``section``."""
    m = _marker_re(_norm_section(section)).search(text)
    if m is None:
        return False, None
    value = m.group(1).strip()
    return True, None if value == _UNSET else value


def add_marker(text: str, section: str, previous: str | None) -> str:
    """Record ``previous`` for ``section`` unless a record is already there."""
    section = _norm_section(section)
    if read_marker(text, section)[0]:
        return text
    lines = text.splitlines(keepends=True)
    eol = line_ending(lines)
    value = _UNSET if previous is None else previous
    return f"{MARKER} [{section}] = {value}{eol}" + text


def remove_marker(text: str, section: str) -> str:
    pattern = _marker_re(_norm_section(section))
    lines = text.splitlines(keepends=True)
    return "".join(line for line in lines if not pattern.match(line))


def get_option(text: str, section: str, key: str) -> str | None:
    """The value of ``key`` in ``section`` (last occurrence wins), or None."""
    lines = text.splitlines(keepends=True)
    return _get(lines, _classify(lines), _norm_section(section), _norm_key(key))
