"""The credentials nimble_image_master's creation uses: the download's HTTP Basic credentials
(`source_username`, `source_password`) and the image write's own CHAP login (`chap_*`).

The CHAP attributes mirror ``glance_iscsi_store``'s (``chap_username``, write-only
``chap_secret_wo``, ``chap_secret_wo_version``): the CHAP user is the array's
(``nimble_chap_user``), named by the temporary access control record the image write makes.
They sit on the resource, not on the provider configuration, because an access record names one
CHAP user and masters may be written under different ones, and because the secret is needed
only while one master is created (a provider-level secret would be handed to every resource of
the provider).
"""

from __future__ import annotations

import base64
from typing import Any

from tfnimble.plugin import (
    AttributePath,
    Context,
    Value,
    is_known,
    known_or_none,
    types,
)
from tfnimble.plugin.logging import redact
from tfnimble.plugin.validators import matches

from . import _fields as f
from .chap_login import Chap

ROOT = AttributePath.root()
PRINTABLE = matches(r"[!-~]{1,256}", "must be printable ASCII, no spaces")

USERNAME_FIELD = f.argument(
    types.String,
    "CHAP user the image is written as: the temporary access control record of the write "
    "names it, so the array asks the writing initiator for its secret. Must exist on the "
    "array (`nimble_chap_user.NAME.name`): checked before anything is created, at apply (a "
    "user created in the same apply has a name known at plan but no record yet). With "
    "`chap_secret_wo` (needed only when the master is created: later plans and destroy need "
    "no secret). Used at creation only.",
    validators=(PRINTABLE,),
)
SECRET_FIELD = f.write_only_secret(
    "The CHAP secret of `chap_username`. Write-only (Terraform 1.11 or later): never kept in "
    "plan or state. `qemu-img` reads it from a mode-0600 temporary file removed after the write "
    "(`--object secret,file=...`), `iscsi-ls`/`iscsi-inq` from their environment; never a "
    "process argument, a log line or an error message. Used at creation only.",
    (PRINTABLE,),
)
VERSION_FIELD = f.argument(
    types.Number,
    "Any number, for symmetry with other write-only secrets: the secret is used only while "
    "the image is written, so changing it changes nothing on the array.",
)


def validate(ctx: Context, username: Value[str], secret: Value[str]) -> None:
    """A CHAP secret needs the user it belongs to (any plan)."""
    if is_known(username) and username is None and secret is not None:
        _incomplete(ctx, "chap_username")


def plan_check(ctx: Context, username: Value[str], secret: Value[str]) -> None:
    """A CHAP user needs its secret, when the master is created (the only time the login is
    made: later plans, and destroy, are given no secret and need none)."""
    if is_known(secret) and secret is None and username is not None:
        _incomplete(ctx, "chap_secret_wo")


def _incomplete(ctx: Context, missing: str) -> None:
    ctx.diagnostics.add_error(
        "Incomplete CHAP Login",
        "chap_username and chap_secret_wo go together when the master is created: set both "
        f"for a CHAP login of the image write, or neither. Set {missing}.",
        ROOT.attr(missing),
    )


def resolve(username: Any, secret: Any) -> Chap | None:
    """The login of a plan (both known and set), else None. The secret is registered with the
    log redactor first."""
    if is_known(username) and is_known(secret) and username is not None and secret is not None:
        redact(str(secret))
        return Chap(str(username), str(secret))
    return None


def download_credentials(plan: Any) -> tuple[str, str] | None:
    """The download's Basic credentials, registered with the log redactor (also as the
    header value they become) before anything can log them."""
    user = known_or_none(plan.source_username)
    if user is None:
        return None
    password = known_or_none(plan.source_password) or ""
    redact(password)
    redact(base64.b64encode(f"{user}:{password}".encode()).decode())
    return user, password
