"""The host's files and users: directories, owner and mode, files in the store, who can write."""

from __future__ import annotations

import shlex

from ..transport.base import Transport
from .base import ControllerError, failed, run_checked

__all__ = [
    "StoreNotEmpty",
    "chmod",
    "chown",
    "count_files",
    "is_writable_by",
    "mkdir_p",
    "primary_group",
    "stat_path",
    "user_exists",
]


class StoreNotEmpty(ControllerError, summary="Glance Store Not Empty"):
    """The store still holds image files (``count_files``) and may not be detached."""


def mkdir_p(t: Transport, path: str) -> None:
    run_checked(t, ["mkdir", "-p", "--", path], f"creating directory {path}")


def chown(t: Transport, path: str, user: str, group: str | None = None) -> None:
    owner = f"{user}:{group}" if group else user
    run_checked(t, ["chown", "--", owner, path], f"changing the owner of {path} to {owner}")


def chmod(t: Transport, path: str, mode: int) -> None:
    argv = ["chmod", "--", format(mode, "04o"), path]
    run_checked(t, argv, f"changing the mode of {path} to {mode:04o}")


def stat_path(t: Transport, path: str) -> tuple[str, str, int] | None:
    """``(user, group, mode)`` of ``path``, or None if it does not exist."""
    out = _unless_missing(
        t, ["stat", "-c", "%U %G %a", "--", path], f"reading owner and mode of {path}"
    )
    if out is None:
        return None
    user, group, mode = out.split()
    return user, group, int(mode, 8)


def count_files(t: Transport, directory: str) -> int:
    """Regular files directly in ``directory`` (Glance's image files; not lost+found)."""
    argv = ["find", directory, "-mindepth", "1", "-maxdepth", "1", "-type", "f", "-print0"]
    out = _unless_missing(t, argv, f"counting files in {directory}")
    return 0 if out is None else out.count("\0")


def _unless_missing(t: Transport, argv: list[str], what: str) -> str | None:
    """The command's stdout, or None when it failed because the path does not exist."""
    r = t.run(argv, idempotent=True)
    if r.returncode == 0:
        return r.stdout
    if "No such file" in r.stderr:
        return None
    raise failed(what, r)


def user_exists(t: Transport, user: str) -> bool:
    r = t.run(["id", "-u", "--", user], idempotent=True)
    return r.returncode == 0


def primary_group(t: Transport, user: str) -> str:
    r = t.run(["id", "-gn", "--", user], idempotent=True)
    if r.returncode != 0:
        raise ControllerError(
            f"user {user!r} does not exist on the controller; set owner to the user "
            "glance-api runs as",
            result=r,
        )
    return r.stdout.strip()


def is_writable_by(t: Transport, user: str, directory: str) -> bool:
    """Whether ``user`` can write to ``directory`` (``runuser``, falling back to ``su``)."""
    r = t.run(["runuser", "-u", user, "--", "test", "-w", directory], idempotent=True)
    if r.returncode in (0, 1):
        return r.returncode == 0
    if r.returncode == 127:  # no runuser (busybox, old distributions)
        script = "test -w " + shlex.quote(directory)
        r = t.run(["su", "-s", "/bin/sh", "-c", script, user], idempotent=True)
        if r.returncode in (0, 1):
            return r.returncode == 0
    raise failed(f"checking that {user} can write to {directory}", r)
