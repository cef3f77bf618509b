"""nimble_image_master's Glance source, on the Terraform side: the `glance_*` attributes, their
validation, and the plan-time check of the image (the download itself is ``glance_source``).

The attributes are flat, beside `source`, so that the existing replace rules hold in both
directions: a master written from `source` that now names `glance_image_id` (or the reverse)
is replaced, because the attribute it had is removed.
"""

from __future__ import annotations

from typing import Any

from tfnimble.plugin import (
    AttributePath,
    Context,
    DiagnosticError,
    Value,
    is_known,
    known_or_none,
    types,
)
from tfnimble.plugin.logging import redact
from tfnimble.plugin.validators import matches

from . import _fields as f
from . import glance_source as gs

ROOT = AttributePath.root()
IMAGE_ID_RULE = matches(
    gs.IMAGE_ID.pattern.strip("^$"),
    "must be a Glance image ID: a UUID such as 3c1b6e4f-8a0e-4d8c-9f6a-2b7e5d1c0a93 "
    "(openstack image list)",
)
SETTINGS = ("glance_endpoint", "glance_token_wo", "glance_ca_file")


def image_id_field(replaced: tuple[Any, ...]) -> f.Field:
    return f.argument(
        types.String,
        "ID of a Glance image to write, instead of `source`: it is downloaded through "
        "glance-api's image data API (`GET /v2/images/{id}/file`) into a temporary file and "
        "verified against Glance's own checksums (`os_hash_value` with `os_hash_algo`, and "
        "the md5 `checksum`) and size before anything is created on the array; the volume "
        "is then compared byte for byte with the verified file before its snapshot is "
        "taken. The image must be `active` (not still uploading) and is checked at plan "
        "time when `glance_endpoint` is known then. Its `disk_format` is the default "
        "`source_format`. The temporary file needs the image's size in free space under "
        "`TMPDIR`. Exactly one of `source` and `glance_image_id` is set. Changing it "
        "replaces the master.",
        validators=(IMAGE_ID_RULE,),
        modifiers=replaced,
    )


ENDPOINT_FIELD = f.argument(
    types.String,
    "glance-api's URL, as the catalog lists it (`openstack endpoint list --service image`), "
    "e.g. `https://controller:9292` (a trailing `/v2` is accepted). Falls back to "
    "`OS_IMAGE_URL`. Requests are never redirected (the token would follow). Used at "
    "creation only: changing it does not replace the master.",
)
TOKEN_FIELD = f.write_only_secret(
    "Keystone token sent to glance-api in `X-Auth-Token` (`openstack token issue -f value -c "
    "id`). Falls back to `OS_AUTH_TOKEN`. Write-only (Terraform 1.11 or later): read from the "
    "configuration at plan and creation, never kept in plan or state, so a new short-lived "
    "token changes nothing; never in logs, process arguments or messages. Used at creation "
    "only."
)
CA_FILE_FIELD = f.argument(
    types.String,
    "PEM file with the CA certificate that signed glance-api's TLS certificate. Falls back "
    "to `OS_CACERT`; without it the system trust store is used. The certificate is always "
    "verified. Used at creation only.",
)


def validate(ctx: Context, config: Any) -> None:
    """Validate-time: exactly one image source, and glance settings only with a Glance image."""
    source, image_id = config.source, config.glance_image_id
    if source is not None and image_id is not None and is_known(source) and is_known(image_id):
        ctx.diagnostics.add_error(
            "Two Image Sources",
            "source and glance_image_id are both set; a master holds one image. Remove one.",
            ROOT.attr("glance_image_id"),
        )
    if source is None and image_id is None:
        ctx.diagnostics.add_error(
            "Missing Image Source",
            "Set source (a local path or an http(s):// URL) or glance_image_id (an image in "
            "Glance).",
            ROOT.attr("source"),
        )
    if image_id is None:
        for attr in SETTINGS:
            if getattr(config, attr) is not None:
                ctx.diagnostics.add_error(
                    "Glance Setting Without A Glance Image",
                    f"{attr} is only used to download glance_image_id, which is not set. "
                    f"Remove {attr}, or set glance_image_id.",
                    ROOT.attr(attr),
                )
        return
    for attr in ("source_username", "source_password"):
        if getattr(config, attr) is not None:
            ctx.diagnostics.add_error(
                "Download Credentials For A Glance Image",
                f"{attr} authenticates an http(s):// source; Glance takes glance_token_wo. "
                f"Remove {attr}.",
                ROOT.attr(attr),
            )
    endpoint = config.glance_endpoint
    if is_known(endpoint) and endpoint is not None:
        problem = gs.endpoint_problem(endpoint)
        if problem is not None:
            ctx.diagnostics.add_error(
                "Invalid Glance Endpoint",
                f"glance_endpoint {problem}.",
                ROOT.attr("glance_endpoint"),
            )
        elif endpoint.lower().startswith("http://") and config.glance_token_wo is not None:
            ctx.diagnostics.add_warning(
                "Token Sent In Clear Text",
                "glance_endpoint is an http:// URL, so glance_token_wo crosses the network "
                "unencrypted. Use glance-api's https:// endpoint if it has one.",
                ROOT.attr("glance_endpoint"),
            )


def _known(values: Any) -> bool:
    return all(is_known(v) for v in values)


def resolve(model: Any) -> gs.Glance | None:
    """The Glance to download from (settings falling back to the environment), or None when
    the master's source is not in Glance or a setting is not known yet. The token is
    registered with the log redactor first."""
    image_id: Value[str] = model.glance_image_id
    if image_id is None or not _known([image_id, *(getattr(model, a) for a in SETTINGS)]):
        return None
    try:
        g = gs.resolve(
            str(image_id),
            known_or_none(model.glance_endpoint),
            known_or_none(model.glance_token_wo),
            known_or_none(model.glance_ca_file),
        )
    except gs.GlanceError as err:
        raise diagnostic(err) from err
    if g.token:
        redact(g.token)
    return g


def diagnostic(err: gs.GlanceError) -> DiagnosticError:
    path = ROOT.attr(f"glance_{err.attribute}") if err.attribute else None
    return DiagnosticError(err.summary, err.detail, path)


def plan_check(config: Any) -> None:
    """Plan-time, for a new master: the image exists in Glance and is ready to be read (see
    ``glance_source.check_ready``). Nothing is checked while a setting is unknown."""
    g = resolve(config)
    if g is None:
        return
    try:
        gs.check_ready(g, gs.image_info(g))
    except gs.GlanceError as err:
        raise diagnostic(err) from err


# --- provenance -------------------------------------------------------------------------------

#: How the base snapshot's provenance records a Glance source: ``glance:IMAGE_ID[@ENDPOINT]``.
PREFIX = "glance:"


def recorded(model: Any, g: gs.Glance) -> str:
    """The `source` the provenance records for a Glance image: its ID, and the endpoint when
    the configuration names it (one from OS_IMAGE_URL is left out, so that an import restores
    exactly what was configured and the plan after it is empty)."""
    configured = known_or_none(model.glance_endpoint)
    return f"{PREFIX}{g.image_id}" + (f"@{configured}" if configured else "")


def from_provenance(source: str | None) -> tuple[str | None, str | None, str | None]:
    """(source, glance_image_id, glance_endpoint) from a recorded source."""
    if not source or not source.startswith(PREFIX):
        return source, None, None
    image_id, _, endpoint = source.removeprefix(PREFIX).partition("@")
    return None, image_id, endpoint or None
