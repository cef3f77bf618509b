"""The image write's CHAP login: how the secret reaches the userspace iSCSI tools without
ever being a process argument. Knows nothing of Terraform (``image_master_chap`` holds the
attributes).

How the secret travels (see docs/nimble-array-facts.md, "CHAP"):
1. qemu-img: ``--object secret,id=SECRET_ID,file=PATH`` with PATH a file of mode 0600 in the
   write's private temporary directory (created with O_EXCL, removed right after the tool
   ends), and ``file.user=USER,file.password-secret=SECRET_ID`` in the iscsi driver's options.
   Only the path is in argv.
2. libiscsi's tools (iscsi-ls, iscsi-inq): ``LIBISCSI_CHAP_USERNAME`` and
   ``LIBISCSI_CHAP_PASSWORD`` in the child's environment (readable only by its own user,
   unlike argv); never the ``user%password@`` URL form.
The resource registers the secret with the log redactor before anything runs, and no message
built here or in ``imagewrite`` holds it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .client import NimbleClient

SECRET_ID = "tfnimble-chap"
USER_ENV = "LIBISCSI_CHAP_USERNAME"
SECRET_ENV = "LIBISCSI_CHAP_PASSWORD"


@dataclass(frozen=True)
class Chap:
    """A CHAP login: the array's user name and its secret (never in repr)."""

    username: str
    secret: str = field(repr=False)


def env(chap: Chap | None) -> dict[str, str]:
    """What libiscsi's tools need in their environment for `chap` (nothing without it)."""
    if chap is None:
        return {}
    return {USER_ENV: chap.username, SECRET_ENV: chap.secret}


def image_opts(chap: Chap | None) -> list[str]:
    """qemu's iscsi driver options for `chap` (the secret by reference only)."""
    if chap is None:
        return []
    return [f"file.user={chap.username.replace(',', ',,')}", f"file.password-secret={SECRET_ID}"]


@contextmanager
def qemu_secret(chap: Chap | None) -> Iterator[list[str]]:
    """The qemu-img arguments that define the secret object: the secret is written to a new
    0600 file in a new 0700 directory, both removed when the block ends, whatever happened."""
    if chap is None:
        yield []
        return
    directory = tempfile.mkdtemp(prefix="tfnimble-chap-")
    try:
        path = os.path.join(directory, "secret")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(chap.secret)
        yield ["--object", f"secret,id={SECRET_ID},file={path.replace(',', ',,')}"]
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def user_id(client: NimbleClient, username: str) -> str | None:
    """The array's ID of the CHAP user called `username`, or None when there is none."""
    from .client import chap_users

    found = chap_users.find_chap_user_by_name(client, username)
    return found.id if found is not None else None
