"""The object sets a management tool lists when it gathers a group's inventory, read-only:
disks, folders, protection templates, snapshot collections, software versions, users and
protocol endpoints.

What a new single-array group holds (docs/nimble-array-facts.md, "Inventory object sets"): one
shelf of SSDs in the array's slots, the three protection templates the array ships, its running
software version, the administrator, and no folders, snapshot collections or protocol endpoints
(those are VMware Virtual Volumes objects, absent on an iSCSI group). The simulator serves reads
only: a create, update or delete is answered 405 ``SM_http_method_not_allowed``, the array's
protocol code for a method the resource does not take.
"""

from __future__ import annotations

from ..constants import SOFTWARE_VERSION
from ..errors import SimError
from ..fields import each, table
from ..model import Ctx, Model, ObjectSet
from ..store import Doc, Tx
from .common import SAME_NAME

# One shelf of the array (the simulator's choice of model, see ARRAY_MODEL): 24 SSD slots in two
# banks of 12, every disk in use in the RAID set.
DISK_SLOTS = 24
DISK_BANK_SIZE = 12
DISK_MODEL, DISK_VENDOR, DISK_FIRMWARE = "SIM-SSD-1920", "NIMBLE-SIM", "S1.0"

# The protection templates the array ships. HPE's storage-plugin documentation names
# Retain-30Daily, Retain-90Daily and Retain-48Hourly-30Daily-52Weekly as the defaults, and the
# NimbleOS 5.2 group captured in HPE's Ansible info module reports 3 protection templates; their
# schedules follow their names.
_DAILY, _HOURLY, _WEEKLY = ("days", 1, "daily"), ("hours", 1, "hourly"), ("weeks", 1, "weekly")
PREDEFINED_TEMPLATES: tuple[tuple[str, tuple[tuple[tuple[str, int, str], int], ...]], ...] = (
    ("Retain-30Daily", ((_DAILY, 30),)),
    ("Retain-90Daily", ((_DAILY, 90),)),
    ("Retain-48Hourly-30Daily-52Weekly", ((_HOURLY, 48), (_DAILY, 30), (_WEEKLY, 52))),
)

# Bump when the seeded contents change: a store seeded by an older simulator is seeded again
# only for the sets it lacks (what the array has, it keeps). 2: the templates' schedules are
# protection schedules (objects of /v1/protection_schedules), not rows of the template.
CATALOG_VERSION = "2"


def seed_catalog(m: Model, tx: Tx) -> None:
    """Give a group (new, or created by a simulator without these sets) its disks, templates,
    software version and administrator; runs once per store."""
    if tx.meta("catalog") == CATALOG_VERSION:
        return
    array = tx.list("array")[0]
    if not tx.count("disk"):
        raw = m.config.pool_capacity * 4 // 3  # the group's raw_capacity (see GroupSet)
        size = raw // DISK_SLOTS
        shelf_serial = "SH-" + array["serial"].removeprefix("AF-")
        for slot in range(1, DISK_SLOTS + 1):
            m.add(
                tx,
                "disk",
                name=f"{shelf_serial}.{slot}",  # the store's key only; disks have no name
                slot=slot,
                bank=(slot - 1) // DISK_BANK_SIZE,
                serial=f"{m.guid[:8].upper()}{slot:04d}",
                path=f"/dev/sd{chr(ord('a') + slot - 1)}",
                shelf_serial=shelf_serial,
                size=size,
                array_id=array["id"],
            )
    if not tx.count("prottmpl"):
        for name, schedules in PREDEFINED_TEMPLATES:
            rows = [
                {"name": label, "period": period, "period_unit": unit, "num_retain": keep}
                for (unit, period, label), keep in schedules
            ]
            m.add(tx, "prottmpl", name=name, description=f"Provided by Nimble: {name}", rows=rows)
    _seed_template_schedules(m, tx)
    if not tx.count("softver"):
        m.add(tx, "softver", name=SOFTWARE_VERSION, version=SOFTWARE_VERSION)
    if not tx.count("user"):
        m.add(tx, "user", name=m.config.username, description="Administrator")
    tx.set_meta("catalog", CATALOG_VERSION)


def _seed_template_schedules(m: Model, tx: Tx) -> None:
    """Each predefined template's schedules as protection schedules of that template (a store
    seeded before they were objects has them only as rows of the template)."""
    from .protection_schedules import add_schedule

    ctx = m.ctx(tx)
    owners = {s["volcoll_id"] for s in tx.list("prot_sched")}
    for template in tx.list("prottmpl"):
        if template["id"] in owners:
            continue
        for row in template.get("rows", []):
            fields = {k: row[k] for k in ("period", "period_unit", "num_retain")}
            add_schedule(ctx, template, row["name"], fields)


def _stored_but(keys: str, other: str) -> str:
    """Every key of ``keys`` but those in ``other``: the sets that never gain an object in the
    simulator render whatever a stored one would hold."""
    skip = set(other.split())
    return " ".join(k for k in keys.split() if k not in skip)


# ----- disks ------------------------------------------------------------------------------

DISK_FIELDS = table(
    "array_id array_name bank block_type disk_internal_stat_1 firmware_version hba id is_dfc "
    "model path port raid_id raid_resync_average_speed raid_resync_current_speed "
    "raid_resync_percent raid_state serial shelf_id shelf_location shelf_location_id "
    "shelf_serial size slot smart_attribute_list state type vendor vshelf_id",
    "array_id bank id path serial shelf_serial size slot",
    names={"array_name": "array_id"},
    constants={
        "block_type": "block_4Kn",
        "disk_internal_stat_1": "",
        "firmware_version": DISK_FIRMWARE,
        "is_dfc": False,
        "model": DISK_MODEL,
        "vendor": DISK_VENDOR,
        **each(0, "hba port raid_id raid_resync_average_speed raid_resync_current_speed"),
        "raid_resync_percent": 100,
        "raid_state": "okay",
        "shelf_id": "0",
        "shelf_location": "A.0",
        "shelf_location_id": 0,
        "smart_attribute_list": [],
        "state": "in use",
        "type": "ssd",
        "vshelf_id": 0,
    },
)


class DiskSet(ObjectSet, name="disks", type="disk", fields=DISK_FIELDS, summary_keys=("id",)):
    pass


# ----- folders ----------------------------------------------------------------------------

_FOLDER_KEYS = (
    "access_protocol agent_type app_uuid appserver_id appserver_name capacity_bytes "
    "compressed_snap_usage_bytes compressed_vol_usage_bytes compression_ratio creation_time "
    "description folset_id folset_name fqn free_space_bytes full_name id "
    "inherited_vol_perfpol_id inherited_vol_perfpol_name last_modified limit_bytes "
    "limit_bytes_specified limit_iops limit_mbps limit_size_bytes name num_snapcolls num_snaps "
    "overdraft_limit_pct pool_id pool_name provisioned_bytes provisioned_limit_size_bytes "
    "search_name snap_compression_ratio tenant_id uncompressed_snap_usage_bytes "
    "uncompressed_vol_usage_bytes unused_reserve_bytes unused_snap_reserve_bytes usage_bytes "
    "usage_valid vol_compression_ratio volume_list volume_mapped_bytes"
)
FOLDER_FIELDS = table(
    _FOLDER_KEYS,
    _stored_but(_FOLDER_KEYS, "pool_name full_name search_name fqn"),
    names={"pool_name": "pool_id"},
    same={**SAME_NAME, "fqn": "name"},
)


class FolderSet(ObjectSet, name="folders", type="folder", fields=FOLDER_FIELDS):
    """A new group has no folder, and the simulator makes none (its object sets refuse
    writes), so the list answers an empty set; a stored folder would render as stored."""


# ----- protection templates ---------------------------------------------------------------

TEMPLATE_FIELDS = table(
    "agent_hostname agent_username app_cluster_name app_id app_server app_service_name app_sync "
    "creation_time description full_name id last_modified name repl_priority schedule_list "
    "search_name vcenter_hostname vcenter_username",
    "creation_time description id last_modified name",
    same=SAME_NAME,
    constants={
        **each(
            "",
            "agent_hostname agent_username app_cluster_name app_id app_server app_service_name "
            "vcenter_hostname vcenter_username",
        ),
        "app_sync": "none",
        "repl_priority": "normal",
    },
)


class ProtectionTemplateSet(
    ObjectSet, name="protection_templates", type="prottmpl", fields=TEMPLATE_FIELDS
):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        from .protection_schedules import schedules_of

        return {"schedule_list": schedules_of(ctx, d["id"]) or None}

    def prepare(self, ctx: Ctx) -> None:
        ctx.preload("prot_sched")


# ----- software versions ------------------------------------------------------------------

SOFTWARE_FIELDS = table(
    "blacklist_reason downloaded_bytes is_manually_downloaded name release_date "
    "release_status signature status total_bytes version",
    "name version",
    constants={
        "blacklist_reason": "",
        **each(0, "downloaded_bytes total_bytes"),
        "is_manually_downloaded": False,
        # an epoch time (the Go SDK types it int64); the running version's date is not public
        "release_date": 0,
        "release_status": "GA",
        "signature": "",
        "status": "installed",
    },
)


class SoftwareVersionSet(
    ObjectSet,
    name="software_versions",
    type="softver",
    fields=SOFTWARE_FIELDS,
    summary_keys=("version", "name"),
):
    """The version the group runs. The array addresses a version by its version string ("used
    as identifier in URL", Go SDK), not by an object ID: ``GET /v1/software_versions/<version>``."""

    path_key = True

    def load(self, tx: Tx, obj_id: str) -> Doc:
        doc = tx.by_name(self.type, obj_id)
        if doc is None:
            raise SimError("SM_enoent", id=obj_id)
        return doc


# ----- users ------------------------------------------------------------------------------

USER_FIELDS = table(
    "auth_lock creation_time description disabled email_addr full_name id inactivity_timeout "
    "last_login last_logout logged_in last_modified name otp_type role role_id search_name "
    "tenant_id",
    "creation_time description id last_modified name",
    same={**SAME_NAME, "last_login": "creation_time"},
    constants={
        **each(False, "auth_lock disabled"),
        "email_addr": "",
        "inactivity_timeout": 0,
        "last_logout": 0,
        "otp_type": "none",
        "role": "administrator",
        "role_id": "",
        "tenant_id": "",
    },
)


class UserSet(ObjectSet, name="users", type="user", fields=USER_FIELDS):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        tokens = ctx.preload("token")
        return {"logged_in": any(t["username"] == d["name"] for t in tokens)}


# ----- protocol endpoints -----------------------------------------------------------------

_ENDPOINT_KEYS = (
    "access_control_records access_protocol creation_time description fc_sessions "
    "group_specific_ids id iscsi_sessions last_modified name num_connections "
    "num_fc_connections num_iscsi_connections pool_id pool_name serial_number state "
    "target_name"
)
ENDPOINT_FIELDS = table(
    _ENDPOINT_KEYS, _stored_but(_ENDPOINT_KEYS, "pool_name"), names={"pool_name": "pool_id"}
)


class ProtocolEndpointSet(
    ObjectSet, name="protocol_endpoints", type="protoep", fields=ENDPOINT_FIELDS
):
    """VMware Virtual Volumes endpoints: none on an iSCSI group without VVols, and the
    simulator makes none, so the list answers an empty set."""


CATALOG_SETS: tuple[type[ObjectSet], ...] = (
    DiskSet,
    FolderSet,
    ProtectionTemplateSet,
    SoftwareVersionSet,
    UserSet,
    ProtocolEndpointSet,
)

__all__ = ["CATALOG_SETS", "seed_catalog"]
