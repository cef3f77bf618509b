"""The array's fixed facts and behaviour switches, in one place.

Each "open question" names a point no public source settles; the constant is our answer, so
changing the sim's behaviour on that point is a one-line change here.
"""

from __future__ import annotations

MIB = 1 << 20
GIB = 1 << 30
TIB = 1 << 40

# Type prefixes. 00/03/06/09/0a/0d are seen on real arrays or HPE examples;
# the others are open question 7: our choices, one constant each, unless evidence is noted.
PREFIX = {
    "group": "00",
    "initiator_group": "02",  # open question: chosen
    "perfpolicy": "03",
    # Seen: the NimbleOS 5.2 group captured in the example output of HPE's nimble-ansible-modules
    # (hpe_nimble_info) lists a snapshot whose id begins 04 and network configs beginning 17.
    "snapshot": "04",
    "volume": "06",
    "array": "09",
    "pool": "0a",
    "acr": "0d",  # seen only in HPE's mock
    "initiator": "0e",  # open question: chosen
    "netconfig": "17",  # seen in the same capture (see "snapshot")
    "token": "19",  # open question: the Proxmox plugin reports token ids beginning 19
    "subnet": "1a",  # open question: chosen
    "job": "1c",  # open question: chosen
    "volcoll": "07",  # open question: chosen
    "prot_sched": "0c",  # open question: chosen
    "chap_user": "1b",  # open question: chosen
    # The inventory sets (sets/catalog.py): open question, chosen.
    "disk": "2c",
    "folder": "2f",
    "prottmpl": "12",
    "snapcoll": "05",
    "softver": "2e",
    "user": "1e",
    "protoep": "2d",
}
TYPE_OF_PREFIX = {p: t for t, p in PREFIX.items()}

SOFTWARE_VERSION = "6.1.2.300-1059937-opt"  # a plausible NimbleOS 6.1 string (Cinder splits on ".")
IQN_PREFIX = "iqn.2007-11.com.nimblestorage"
# Volume-scoped target IQN, as on real arrays (published captures):
# <name>-v<group uid>.<last 8 hex of the volume id>.<last 4 serial bytes, reversed>.
VOLUME_TARGET_FORMAT = "{prefix}:{name}-v{guid}.{seq}.{serial_tail}"
# Open question: online snapshots get their own target; ours adds the snapshot name.
SNAPSHOT_TARGET_FORMAT = "{prefix}:{vol}-{name}-v{guid}.{seq}.{serial_tail}"
GROUP_TARGET_FORMAT = "{prefix}:{group}-g{guid}"
NIMBLE_OUI = "6c9ce900"  # IEEE OUI 6C:9C:E9 plus 00, in every Nimble serial number
DEFAULT_POOL_CAPACITY = 10 * TIB
DEFAULT_GROUP_NAME = "group-sim"
ARRAY_NAME_SUFFIX = "-a1"  # the array is named after the group: "<group>-a1"
ARRAY_MODEL = "AF40"
MAX_VOLUME_SIZE_MIB = 128 * 1024 * 1024  # 128 TiB, NimbleOS's largest volume
NO_SNAP_LIMIT = 9223372036854775807  # what the array reports for "no limit" (2**63 - 1)
# The iSCSI target scopes (HPE's REST reference; docs/nimble-array-facts.md). Under "group" every
# volume is a LUN of the one group-scoped target (GST), whose IQN it and its snapshots report as
# target_name; under "volume" each volume has its own target and LUN 0.
TARGET_SCOPES = ("group", "volume")
# The scope new volumes get: "group", with group-scoped targets on. The NimbleOS 5.2 group in
# HPE's nimble-ansible-modules example output reports default_iscsi_target_scope "group", and its
# snapshot reports the group's IQN (<group>-g<group uid>) as target_name. `--target-scope
# volume` gives the other pairing real groups can have (GST on, new volumes volume-scoped).
DEFAULT_ISCSI_TARGET_SCOPE = "group"
# LUNs on the group target (API-access_control_records: "0-2047, auto-assigned" under GST): the
# lowest free number, one per volume for all its access records.
MAX_GROUP_LUN = 2047
# Deviation from the array: the simulator's target keeps LUN 0 for its controller (tgtd cannot
# give it up), so on the group target the lowest LUN the sim assigns is 1 and an explicit lun 0
# under GST is refused with LUN_IN_USE_CODE. The array's LUN n is then the target's LUN n, so
# what a host sees agrees with the access record. A volume-scoped target keeps lun 0 (the
# target exports it as its LUN 1; each such target has one disk, so nothing is ambiguous).
GROUP_LUN_RESERVED = 0
MIN_GROUP_LUN = GROUP_LUN_RESERVED + 1
# The codes for LUN conflicts on the group target are names from HPE's Go SDK error enum
# (nimbleos NsError); no public source gives their texts or HTTP status, so those are ours.
LUN_IN_USE_CODE = "SM_in_use_lun"  # an explicit lun another volume (or the controller) holds
LUN_MISMATCH_CODE = "SM_lun_mismatch"  # an explicit lun other than the one the volume holds
NO_LUN_CODE = "SM_no_available_lun"  # all 2048 LUNs of the group target are taken
# Open question 9: a rename keeps the target IQN (renaming must not break iSCSI sessions). The
# sim applies the same rule to the group target when the group is renamed.
TARGET_NAME_FOLLOWS_RENAME = False
# Open question 4, settled: snapshot "size" is bytes. HPE's generated spec says so, and the 5.2
# capture in nimble-ansible-modules shows a snapshot of a 1 GiB volume with size 1073741824.
SNAPSHOT_SIZE_IN_BYTES = True
# Open question 11: onlining an online volume (or offlining an offline one) is a no-op; for
# snapshots it is SM_ealready, which Cinder tolerates explicitly.
VOLUME_STATE_NOOP_IS_ERROR = False
SNAPSHOT_STATE_NOOP_IS_ERROR = True
# Open question 3: an online volume delete answers SM_eperm; an online snapshot delete likewise.
ONLINE_DELETE_CODE = "SM_eperm"
# Open question 12: an initiator group referenced by access control records cannot be deleted.
IG_IN_USE_CODE = "SM_ebusy"
# Open question: deleting a CHAP user an access control record names; chosen like an initiator
# group in use (docs/nimble-array-facts.md, "CHAP users").
CHAP_USER_IN_USE_CODE = "SM_ebusy"
# Open question 10: apply_to defaults to "both"; lun 0 for volume-scoped iSCSI targets (any other
# value is refused), MIN_GROUP_LUN..MAX_GROUP_LUN under the group target.
DEFAULT_APPLY_TO = "both"
# Field reports (Proxmox's Nimble plugin): some firmware refuses an unfiltered snapshot list.
SNAPSHOT_LIST_NEEDS_FILTER = True
SNAPSHOT_LIST_FILTERS = ("vol_id", "vol_name", "serial_number", "app_uuid", "id")
# A clone inherits its parent's ACLs when both have agent_type "none" (HPE create description).
CLONE_INHERITS_ACL = True

PREDEFINED_POLICIES: list[tuple[str, int, str, str]] = [
    # name, block size, app_category, description
    ("default", 4096, "Unassigned", "Default performance policy"),
    ("Windows File Server", 4096, "File Server", "Windows File Server"),
    ("SQL Server", 8192, "DB", "SQL Server data files"),
    ("SQL Server Logs", 4096, "DB", "SQL Server log files"),
    ("Oracle OLTP", 8192, "DB", "Oracle OLTP data"),
    ("VMware ESX", 4096, "Virtual Server", "VMware ESX datastores"),
    ("Exchange 2010 data store", 32768, "Exchange", "Exchange 2010 data store"),
    ("Other Workloads", 4096, "Other", "Other workloads"),
]
