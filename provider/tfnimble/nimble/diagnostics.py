"""The diagnostics the nimble resources share, built in one place (a diagnostic only one
resource raises is built beside it, in the same style).

Summaries are Title Case and say what failed; details name the object, explain the array's
error code in plain words, say what to do, and end with "Original error: ..." quoting the
array's own message (and so its ``SM_*`` code). Nothing here imports the REST client, so the
provider starts without loading ``requests``; errors are inspected by attribute.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from tfnimble.plugin import AttributePath, DiagnosticError

__all__ = [
    "api_error",
    "client_error",
    "has_clones",
    "invalid_env",
    "missing_config",
    "not_found",
    "reference_id_not_found",
    "reference_not_found",
    "size_below_snapshot",
    "size_shrink",
    "source_missing",
    "unknown_config",
]

#: What an array error code means, for the person reading the diagnostic.
_EXPLAIN = {
    "SM_invalid_arg_value": "the array rejected one of the values sent",
    "SM_missing_arg": "the array expected an argument that was not sent",
    "SM_enoent": "the object it refers to does not exist on the array",
    "SM_eexist": (
        "an object with that name already exists on the array; choose another name, or "
        "bring the existing one under Terraform with terraform import"
    ),
    "SM_enospc": "the pool has not enough free space",
    "SM_eperm": "the array does not permit this operation in the object's current state",
    "SM_ebusy": "the object is busy; retry in a moment",
    "SM_vol_has_connections": (
        "iSCSI initiators are still connected to it; log them out (iscsiadm --logout) first"
    ),
    "SM_vol_has_online_snap": "one of its snapshots is online; take the snapshot offline first",
    "SM_vol_size_decreased": "a volume cannot shrink without losing data",
    "SM_invalid_initiator_iqn": "an initiator IQN is not valid",
    "SM_duplicate_initiator_with_args": "an initiator is already a member of another group",
}

_ING = {
    "create": "Creating",
    "read": "Reading",
    "update": "Updating",
    "delete": "Deleting",
    "import": "Importing",
    "find": "Finding",
    "resize": "Resizing",
}


def _title(kind: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in kind.split())


def _code(err: BaseException) -> str | None:
    code = getattr(err, "code", None)
    return code if isinstance(code, str) and code.startswith("SM_") else None


_ARG = re.compile(r"argument '([A-Za-z_]+)'")


def api_error(
    action: str,
    kind: str,
    name: str,
    err: BaseException,
    path: AttributePath | None = None,
    args: Mapping[str, str] | None = None,
    missing: str | None = None,
) -> DiagnosticError:
    """An operation on one object failed (any NimbleError).

    `args` maps the array's argument names to attribute names: when the array names the
    argument it rejected, the diagnostic points at that attribute and says its name.
    `missing` is the attribute an SM_enoent (no such object) is about, when the request
    refers to one object only by ID.
    """
    code = _code(err)
    named = None  # (the array's argument, our attribute) the array rejected
    if path is None and args:
        m = _ARG.search(str(getattr(err, "text", "") or ""))
        if m and m.group(1) in args:
            named = (m.group(1), args[m.group(1)])
            path = AttributePath.root().attr(named[1])
    if path is None and missing and code == "SM_enoent":
        path = AttributePath.root().attr(missing)
    else:
        missing = None
    summary = f"Error {_ING.get(action, action.title())} {_title(kind)}"
    cls = type(err).__name__
    if cls == "InvalidObjectID":
        return DiagnosticError(
            "Invalid Nimble Object ID",
            f'Could not {action} {kind} "{name}": {getattr(err, "value", name)!r} is not a '
            f"Nimble object ID. An object ID is 42 hexadecimal digits (as the array reports "
            f"it in `id`); the provider sent nothing to the array. Use the object's ID "
            f"(or, for terraform import, its name).\n\nOriginal error: {err}",
            path,
        )
    if cls == "AuthenticationFailed":
        why = "the array refused the provider's credentials"
    elif cls in ("ConnectionFailed", "ResponseLost"):
        why = "the array could not be reached, even after retries"
    elif cls == "TLSVerificationFailed":
        why = "the array's certificate is not trusted"
    elif code:
        why = f"the array answered {code}"
        if code in _EXPLAIN:
            why += f": {_EXPLAIN[code]}"
    else:
        why = "the array refused the request"
    if named is not None:
        why += f". The value rejected is that of {named[1]} (the array calls it {named[0]})"
    if missing is not None:
        why = f"the array answered {code}: the object {missing} refers to does not exist"
    return DiagnosticError(
        summary, f'Could not {action} {kind} "{name}": {why}.\n\nOriginal error: {err}', path
    )


def has_clones(
    kind: str, name: str, clones: Sequence[str], err: BaseException | None = None
) -> DiagnosticError:
    """A snapshot (or volume) cannot be deleted while clones made from it exist."""
    n = len(clones)
    listed = ", ".join(clones[:20]) + (f" and {n - 20} more" if n > 20 else "")
    noun = "clone" if n == 1 else "clones"
    detail = (
        f'{_title(kind)} "{name}" still has {n} {noun} not managed by this configuration: '
        f"{listed}. The array keeps a {kind} while volumes are cloned from it. Delete those "
        f"clones (or import them into this configuration so that Terraform deletes them "
        f"first), then run terraform destroy again."
    )
    if err is not None:
        detail += f"\n\nOriginal error: {err}"
    return DiagnosticError(f"{_title(kind)} Still Has Clones", detail)


#: What an object name can look like on the array (letters, digits, '.', ':', '-').
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]{0,214}")
_ID = re.compile(r"[0-9a-fA-F]{42}")


def not_found(kind: str, ident: str, hint: str = "") -> DiagnosticError:
    """Import or a data source found nothing under that ID or name."""
    detail = f'The array has no {kind} with ID or name "{ident}".'
    if hint:
        detail += f" {hint}"
    parts = ident.split("/")
    if not all(_ID.fullmatch(p) or _NAME.fullmatch(p) for p in parts):
        detail += (
            f" {ident!r} is neither an object ID nor a name: an ID must be 42 hexadecimal "
            "digits, a name starts with a letter or digit and uses only letters, digits, "
            "'.', ':' and '-'."
        )
    return DiagnosticError(f"{_title(kind)} Not Found", detail)


def reference_not_found(
    kind: str, name: str, path: AttributePath, available: Sequence[str]
) -> DiagnosticError:
    """A configured name (pool, performance policy) does not exist on the array."""
    have = ", ".join(f'"{a}"' for a in available[:30]) or "none"
    return DiagnosticError(
        f"{_title(kind)} Not Found",
        f'The array has no {kind} named "{name}". Available: {have}.',
        path,
    )


def size_shrink(kind: str, name: str, current: int, planned: int) -> DiagnosticError:
    return DiagnosticError(
        "Volume Cannot Shrink",
        f'{_title(kind)} "{name}" is {current} MiB; size_mib = {planned} would shrink it and '
        f"lose data at its end. Nimble volumes only grow in place. Keep size_mib at "
        f"{current} or more, or create a new volume and copy the data.",
        AttributePath.root().attr("size_mib"),
    )


def size_below_snapshot(name: str, snapshot: str, snap_mib: int, planned: int) -> DiagnosticError:
    return DiagnosticError(
        "Clone Smaller Than Its Snapshot",
        f'Clone "{name}" would be {planned} MiB, but snapshot "{snapshot}" it is made from is '
        f"{snap_mib} MiB. A clone starts at its snapshot's size and can only grow: set "
        f"size_mib to {snap_mib} or more, or leave it unset.",
        AttributePath.root().attr("size_mib"),
    )


# --- provider configuration -------------------------------------------------------------------


def unknown_config(attr: str, env: str | None) -> DiagnosticError:
    fallback = f" or the {env} environment variable" if env else ""
    return DiagnosticError(
        "Unknown Provider Configuration",
        f"The provider cannot connect to the Nimble array because {attr} is not known until "
        f"apply (it depends on a resource that does not exist yet). Set {attr} to a value "
        f"known at plan time{fallback}, or apply the resource it depends on first "
        f"(terraform apply -target=...).",
        AttributePath.root().attr(attr),
    )


def missing_config(attr: str, env: str) -> DiagnosticError:
    return DiagnosticError(
        f"Missing Nimble {_title(attr)}",
        f'The provider needs {attr} to connect to the Nimble array. Set {attr} in the provider "'
        f'nimble" block or the {env} environment variable.',
        AttributePath.root().attr(attr),
    )


def invalid_env(env: str, value: str, expected: str) -> DiagnosticError:
    return DiagnosticError(
        "Invalid Provider Environment Variable",
        f"{env} is {value!r}; expected {expected}.",
    )


def client_error(err: BaseException, host: str, port: int, username: str) -> DiagnosticError:
    """The first contact with the array (login) failed."""
    cls = type(err).__name__
    if cls == "AuthenticationFailed":
        return DiagnosticError(
            "Nimble Array Login Failed",
            f'The array at {host}:{port} refused the login of user "{username}". Check '
            f"username and password (or NIMBLE_USERNAME and NIMBLE_PASSWORD).\n\n"
            f"Original error: {err}",
            AttributePath.root().attr("password"),
        )
    if cls == "TLSVerificationFailed":
        return DiagnosticError(
            "Untrusted Nimble Array Certificate",
            f"The certificate of the array at {host}:{port} is not trusted, so the provider "
            f"did not send the password. Set ca_file (or NIMBLE_CA_FILE) to the array's CA "
            f"certificate; only if you accept talking to an impostor, set insecure = true."
            f"\n\nOriginal error: {err}",
            AttributePath.root().attr("ca_file"),
        )
    if cls in ("ConnectionFailed", "ResponseLost"):
        return DiagnosticError(
            "Cannot Reach The Nimble Array",
            f"The provider could not connect to https://{host}:{port}. Check host and port "
            f"(the REST API listens on 5392 by default) and that no firewall blocks it."
            f"\n\nOriginal error: {err}",
            AttributePath.root().attr("host"),
        )
    return DiagnosticError(
        "Cannot Connect To The Nimble Array",
        f"Connecting to https://{host}:{port} failed.\n\nOriginal error: {err}",
    )


# --- plan-time references and sources (issue 11) ----------------------------------------------

_REFER = {
    "snapshot": "nimble_image_master.NAME.snapshot_id, nimble_snapshot.NAME.id or "
    "data.nimble_snapshot.NAME.id",
    "volume": "nimble_volume.NAME.id, nimble_image_master.NAME.volume_id or "
    "data.nimble_volume.NAME.id",
    "initiator group": "nimble_initiator_group.NAME.id",
}


def reference_id_not_found(kind: str, ident: str, attr: str) -> DiagnosticError:
    """An ID in the configuration names no object on the array (found at plan time)."""
    refer = _REFER.get(kind)
    how = f" (e.g. {attr} = {refer})" if refer else ""
    return DiagnosticError(
        f"{_title(kind)} Not Found",
        f'The array has no {kind} with ID "{ident}", which {attr} refers to. It may have been '
        f"deleted outside Terraform, or the ID belongs to another array. Refer to the "
        f"resource or data source that holds it{how} instead of a copied ID.",
        AttributePath.root().attr(attr),
    )


def source_missing(source: str) -> DiagnosticError:
    """An image master's local source is not a file at plan time."""
    return DiagnosticError(
        "Image Source Not Found",
        f"{source} is not a file (a relative path is relative to the directory Terraform "
        f"runs in: {os.getcwd()}). Check the path. If a resource of this configuration "
        "creates the file during apply, take the path from that resource (for example "
        "source = terraform_data.image.output, with input = the path) so that it is checked "
        "at apply, once the file exists.",
        AttributePath.root().attr("source"),
    )
