"""Line handling shared by the pure text transforms of ``/etc/fstab`` and glance-api.conf."""

from __future__ import annotations

__all__ = ["line_ending"]


def line_ending(lines: list[str]) -> str:
    """The ending of the first terminated line (``\\r\\n`` or ``\\n``); ``\\n`` if none is."""
    for line in lines:
        if line.endswith("\r\n"):
            return "\r\n"
        if line.endswith("\n"):
            return "\n"
    return "\n"
