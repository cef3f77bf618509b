"""A simulated controller behind FakeTransport: iscsiadm, blkid, mkfs, mount, systemctl...

Outputs, streams and exit statuses are the ones open-iscsi 2.1.x, util-linux and systemd really
produce, so the code under
test parses exactly what a controller prints. State is plain attributes that tests change to
make drift or failures.
"""

from __future__ import annotations

import itertools
import uuid as uuidlib
from dataclasses import dataclass, field

from tfnimble.glance.transport.fake import Call, FakeTransport, Reply

IQN = "iqn.2024-01.com.example.array:glance-store-01"
PORTAL = "10.200.2.2:3260"
INITIATOR = "iqn.1993-08.org.debian:01:6e5f4c3b2a19"
CONF = "/etc/glance/glance-api.conf"
MP = "/var/lib/glance/iscsi-images"

LEGACY_CONF = """[DEFAULT]
bind_host = 0.0.0.0

[glance_store]
stores = file,http
default_store = file
filesystem_store_datadir = /var/lib/glance/images/

[paste_deploy]
flavor = keystone
"""

FSTAB = """# /etc/fstab: static file system information.
UUID=0f7c3a58-2b4b-4b0e-9f33-6b1e0e0a8c11 /               ext4    errors=remount-ro 0       1
"""


@dataclass
class Disk:
    name: str
    fs: dict[str, str] | None = None  # blkid values, None = empty
    files: int = 0


NODE_DIR = "/etc/iscsi/nodes"
NODE_RECORD = """# BEGIN RECORD 2.1.8
node.name = {iqn}
node.tpgt = 1
node.startup = manual
node.session.auth.authmethod = None
node.session.auth.chap_algs = MD5
node.conn[0].address = 10.200.2.2
# END RECORD
"""


@dataclass
class FakeHost:
    targets: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: {PORTAL: [(1, IQN)]})
    reachable: bool = True
    login_error: int | None = None
    chap: tuple[str, str] | None = None  # the target admits only this CHAP (user, secret)
    lun_disks: dict[str, dict[int, str | None]] = field(default_factory=lambda: {IQN: {0: "sdc"}})
    disks: dict[str, Disk] = field(default_factory=lambda: {"/dev/sdc": Disk("sdc")})
    nodes: dict[tuple[str, str], str] = field(default_factory=dict)  # (iqn, portal) -> startup
    sessions: dict[str, tuple[int, str]] = field(default_factory=dict)  # iqn -> (sid, portal)
    link_delay: int = 0  # readlink polls before the by-path link appears
    by_id: dict[str, list[str]] = field(default_factory=dict)  # disk name -> by-id link names
    mounts: list[tuple[str, str, str, str]] = field(default_factory=list)
    owners: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # key -> owner
    users: dict[str, str] = field(
        default_factory=lambda: {"root": "root", "glance": "glance", "stack": "stack"}
    )
    units: dict[str, dict[str, str]] = field(
        default_factory=lambda: {
            "glance-api": {"LoadState": "loaded", "ActiveState": "active", "User": "glance"}
        }
    )
    restart_fails: bool = False
    root_files: dict[str, int] = field(default_factory=dict)  # dir on the root disk -> files
    # what GET /v2/info/stores/detail answers: {store id: data_dir}, or None (no answer);
    # "follow" reports the configured datadir, as a running glance-api does after a restart
    api_stores: dict[str, str] | str | None = None
    api_urls: list[str] = field(default_factory=list)
    busy: bool = False
    mkfs_calls: list[tuple[str, ...]] = field(default_factory=list)
    restarts: int = 0
    has_runuser: bool = True
    _sid: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    transport: FakeTransport = field(init=False)

    def __post_init__(self) -> None:
        self.transport = FakeTransport(
            handler=self.handle,
            files={
                "/etc/fstab": FSTAB.encode(),
                CONF: LEGACY_CONF.encode(),
                "/etc/iscsi/initiatorname.iscsi": (
                    f"## DO NOT EDIT OR REMOVE THIS FILE!\nInitiatorName={INITIATOR}\n"
                ).encode(),
            },
        )

    # -- helpers --------------------------------------------------------------------------

    def text(self, path: str) -> str:
        return self.transport.text(path)

    def set_unit_serial(self, disk: str, serial: str) -> None:
        """What sysfs shows of VPD page 0x80 for ``disk`` (4 header bytes, then ASCII)."""
        data = serial.encode()
        page = bytes([0, 0x80]) + len(data).to_bytes(2, "big") + data
        self.transport.files[f"/sys/class/block/{disk}/device/vpd_pg80"] = page

    def make_fs(self, dev: str, fs_type: str = "ext4", uuid: str | None = None) -> str:
        uuid = uuid or str(uuidlib.uuid4())
        self.disks[dev].fs = {
            "DEVNAME": dev,
            "UUID": uuid,
            "VERSION": "1.0",
            "BLOCK_SIZE": "4096",
            "TYPE": fs_type,
            "USAGE": "filesystem",
        }
        return uuid

    def mount_at(self, target: str) -> tuple[str, str, str, str] | None:
        found = [m for m in self.mounts if m[1] == target]
        return found[-1] if found else None

    def _key(self, path: str) -> str:
        m = self.mount_at(path)
        return f"{path}@{m[0]}" if m else path

    def _link(self, iqn: str, lun: int) -> str:
        ip, port = self.sessions[iqn][1].split(":")
        return f"/dev/disk/by-path/ip-{ip}:{port}-iscsi-{iqn}-lun-{lun}"

    # -- dispatcher -----------------------------------------------------------------------

    def handle(self, call: Call) -> Reply | None:
        argv = list(call.argv)
        name = argv[0]
        method = getattr(self, "cmd_" + name.replace(".", "_").replace("-", "_"), None)
        if method is None:
            return (127, "", f"sh: 1: {name}: not found\n")
        result: Reply = method(argv[1:])
        return result

    # -- iscsiadm -------------------------------------------------------------------------

    def cmd_iscsiadm(self, a: list[str]) -> Reply:
        if a[:2] == ["-m", "discovery"]:
            portal = a[a.index("-p") + 1]
            if not self.reachable:
                return (
                    4,
                    "",
                    f"iscsiadm: cannot make connection to {portal.split(':')[0]}: "
                    "No route to host\n"
                    "iscsiadm: connection login retries (reopen_max) 5 exceeded\n"
                    "iscsiadm: Could not perform SendTargets discovery: "
                    "encountered connection failure\n",
                )
            found = self.targets.get(portal, [])
            if not found:
                return (21, "", "iscsiadm: No portals found\n")
            for _, iqn in found:
                self.nodes.setdefault((iqn, portal), "manual")
            return (0, "".join(f"{portal},{tpgt} {iqn}\n" for tpgt, iqn in found), "")
        if a[:2] == ["-m", "session"]:
            if "--rescan" in a:
                sid = int(a[a.index("-r") + 1])
                return (0, f"Rescanning session [sid: {sid}, target: x, portal: y]\n", "")
            if not self.sessions:
                return (21, "", "iscsiadm: No active sessions.\n")
            if "-P" in a:
                return (0, self._p3(), "")
            lines = [
                f"tcp: [{sid}] {portal},1 {iqn} (non-flash)\n"
                for iqn, (sid, portal) in self.sessions.items()
            ]
            return (0, "".join(lines), "")
        assert a[:2] == ["-m", "node"]
        iqn = a[a.index("-T") + 1]
        portal = a[a.index("-p") + 1] if "-p" in a else None
        records = [k for k in self.nodes if k[0] == iqn and (portal is None or k[1] == portal)]
        if "--login" in a:
            assert portal is not None
            if not records:
                return (21, "", "iscsiadm: No records found\n")
            ip, port = portal.split(":")
            tag = f"[iface: default, target: {iqn}, portal: {ip},{port}]"
            if iqn in self.sessions:
                return (
                    15,
                    "",
                    "iscsiadm: default: 1 session requested, but 1 already present.\n"
                    "iscsiadm: Could not log into all portals\n",
                )
            if self.chap is not None and self._record_chap(iqn, portal) != self.chap:
                self.login_error = 24
            if self.login_error is not None:
                texts = {
                    19: "target not found",
                    24: "authorization failure",
                    8: "connection timed out",
                    20: "could not connect to iscsid",
                }
                return (
                    self.login_error,
                    f"Logging in to {tag}\n",
                    f"iscsiadm: Could not login to {tag}.\n"
                    f"iscsiadm: initiator reported error ({self.login_error} - "
                    f"{texts.get(self.login_error, 'error')})\n"
                    "iscsiadm: Could not log into all portals\n",
                )
            self.sessions[iqn] = (next(self._sid), portal)
            return (0, f"Logging in to {tag}\nLogin to {tag} successful.\n", "")
        if "--logout" in a:
            if iqn not in self.sessions:
                return (21, "", "iscsiadm: No matching sessions found\n")
            sid, p = self.sessions.pop(iqn)
            ip, port = p.split(":")
            tag = f"[sid: {sid}, target: {iqn}, portal: {ip},{port}]"
            return (0, f"Logging out of session {tag}\nLogout of {tag} successful.\n", "")
        if "-o" in a:
            op = a[a.index("-o") + 1]
            if not records:
                return (21, "", "iscsiadm: No records found\n")
            if op == "update":
                for k in records:
                    self.nodes[k] = a[a.index("-v") + 1]
                return 0
            if op == "delete":
                for k in records:
                    del self.nodes[k]
                return 0
        raise AssertionError(f"unexpected iscsiadm {a}")

    def _p3(self) -> str:
        out = ["iSCSI Transport Class version 2.0-870\nversion 2.1.8\n"]
        for iqn, (sid, portal) in self.sessions.items():
            out.append(
                f"Target: {iqn} (non-flash)\n"
                f"\tCurrent Portal: {portal},1\n\tPersistent Portal: {portal},1\n"
                "\t\t**********\n\t\tInterface:\n\t\t**********\n"
                f"\t\tIface Name: default\n\t\tIface Transport: tcp\n"
                f"\t\tIface Initiatorname: {INITIATOR}\n"
                f"\t\tSID: {sid}\n"
                "\t\tiSCSI Connection State: LOGGED IN\n"
                "\t\tiSCSI Session State: LOGGED_IN\n"
                "\t\tInternal iscsid Session State: NO CHANGE\n"
                "\t\t************************\n\t\tAttached SCSI devices:\n"
                "\t\t************************\n\t\tHost Number: 2\tState: running\n"
            )
            for lun, disk in sorted(self.lun_disks.get(iqn, {}).items()):
                out.append(f"\t\tscsi2 Channel 00 Id 0 Lun: {lun}\n")
                if disk:
                    out.append(f"\t\t\tAttached scsi disk {disk}\t\tState: running\n")
        return "".join(out)

    # -- devices --------------------------------------------------------------------------

    def cmd_readlink(self, a: list[str]) -> Reply:
        path = a[-1]
        if path in self.disks:
            return path
        for iqn in self.sessions:
            for lun, disk in self.lun_disks.get(iqn, {}).items():
                if disk and path == self._link(iqn, lun):
                    if self.link_delay > 0:
                        self.link_delay -= 1
                        return 1
                    return f"/dev/{disk}"
        return 1

    def cmd_python3(self, a: list[str]) -> Reply:
        import json

        from tfnimble.glance import glance_conf

        self.api_urls.append(a[-1])
        if self.api_stores is None:
            return (3, "", "<urlopen error [Errno 111] Connection refused>")
        stores = self.api_stores
        if stores == "follow":
            loc = glance_conf.get_datadir(self.text(CONF))
            stores = {loc.section if loc.layout == "multi-store" else "file": loc.value or ""}
        assert isinstance(stores, dict)
        body = {
            "stores": [
                {"id": k, "type": "file", "properties": {"data_dir": v}} for k, v in stores.items()
            ]
        }
        return (0, json.dumps(body))

    def _record_chap(self, iqn: str, portal: str) -> tuple[str, str] | None:
        """The CHAP login the node record asks for (what iscsid would send), if any."""
        prefix = f"{NODE_DIR}/{iqn}/{portal.replace(':', ',')},"
        for path, data in self.transport.files.items():
            if path.startswith(prefix):
                auth = dict(
                    (k.strip(), v.strip())
                    for k, _, v in (ln.partition("=") for ln in data.decode().splitlines())
                    if k.strip().startswith("node.session.auth.")
                )
                if auth.get("node.session.auth.authmethod") == "CHAP":
                    user = auth.get("node.session.auth.username", "")
                    return user, auth.get("node.session.auth.password", "")
        return None

    def cmd_find(self, a: list[str]) -> Reply:
        if a[0].startswith("/etc/iscsi/nodes/"):
            # The node records discovery made, as files (made on first look, so that tests
            # which never look see the file system they expect).
            for (iqn, portal), _ in self.nodes.items():
                tpgt = next((t for t, i in self.targets.get(portal, []) if i == iqn), 1)
                record = f"{NODE_DIR}/{iqn}/{portal.replace(':', ',')},{tpgt}/default"
                self.transport.files.setdefault(record, NODE_RECORD.format(iqn=iqn).encode())
            dirs = a[: a.index("-type")]
            found = sorted(
                p for p in self.transport.files if any(p.startswith(d + "/") for d in dirs)
            )
            missing = [d for d in dirs if not any(p.startswith(d + "/") for p in found)]
            errors = "".join(f"find: '{d}': No such file or directory\n" for d in missing)
            return (1 if missing else 0, "".join(p + "\n" for p in found), errors)
        if a[0] == "/dev/disk/by-path":
            return 0
        if a[0] == "/dev/disk/by-id":
            disk = a[a.index("-lname") + 1].rsplit("/", 1)[-1]
            return (0, "".join(f"/dev/disk/by-id/{n}\n" for n in self.by_id.get(disk, [])))
        directory = a[0]
        m = self.mount_at(directory)
        if m is None:
            if self.root_files.get(directory):
                n = self.root_files[directory]
                return (0, "".join(f"{directory}/old-{i}\0" for i in range(n)))
            return (
                (0, "")
                if directory in self.owners
                else (1, "", f"find: '{directory}': No such file or directory\n")
            )
        disk = self.disks[m[0]]
        return (0, "".join(f"{directory}/img-{i}\0" for i in range(disk.files)))

    def cmd_blkid(self, a: list[str]) -> Reply:
        dev = a[-1]
        disk = self.disks.get(dev)
        if disk is None:
            return (2, "", "")
        if disk.fs is None:
            return 2
        return (0, "".join(f"{k}={v}\n" for k, v in disk.fs.items()))

    def _mkfs(self, fs_type: str, a: list[str]) -> Reply:
        self.mkfs_calls.append(tuple(a))
        dev = a[-1]
        if dev not in self.disks:
            return (
                1,
                "",
                f"mke2fs: No such file or directory while trying to determine size of {dev}\n",
            )
        self.make_fs(dev, fs_type)
        self.disks[dev].files = 0
        return 0

    def cmd_mkfs_ext4(self, a: list[str]) -> Reply:
        return self._mkfs("ext4", a)

    def cmd_mkfs_xfs(self, a: list[str]) -> Reply:
        return self._mkfs("xfs", a)

    # -- mounts ---------------------------------------------------------------------------

    def cmd_findmnt(self, a: list[str]) -> Reply:
        found = self.mounts
        if "--mountpoint" in a:
            target = a[a.index("--mountpoint") + 1]
            found = [m for m in found if m[1] == target]
        if "--source" in a:
            source = a[a.index("--source") + 1]
            found = [m for m in found if m[0] == source]
        if not found:
            return 1
        return (0, "".join(" ".join(f.replace(" ", "\\x20") for f in m) + "\n" for m in found))

    def cmd_mount(self, a: list[str]) -> Reply:
        target = a[-1]
        from tfnimble.glance import fstab

        entry = fstab.find_line(self.text("/etc/fstab"), mount_point=target)
        if entry is None:
            return (1, "", f"mount: {target}: can't find in /etc/fstab.\n")
        if "remount" in a:
            return 0
        dev = next(
            (d for d, disk in self.disks.items() if disk.fs and disk.fs["UUID"] == entry.uuid),
            None,
        )
        if dev is None:
            return (32, "", f"mount: {target}: can't find {entry.spec}.\n")
        self.mounts.append((dev, target, entry.fs_type, "rw,noatime"))
        return 0

    def cmd_umount(self, a: list[str]) -> Reply:
        target = a[-1]
        m = self.mount_at(target)
        if m is None:
            return (32, "", f"umount: {target}: not mounted.\n")
        if self.busy:
            return (32, "", f"umount: {target}: target is busy.\n")
        self.mounts.remove(m)
        return 0

    # -- files, users ---------------------------------------------------------------------

    def cmd_mkdir(self, a: list[str]) -> Reply:
        self.owners.setdefault(self._key(a[-1]), ("root", "root", 0o755))
        return 0

    def cmd_chown(self, a: list[str]) -> Reply:
        user, _, group = a[-2].partition(":")
        key = self._key(a[-1])
        _, _, mode = self.owners.get(key, ("root", "root", 0o755))
        self.owners[key] = (user, group or user, mode)
        return 0

    def cmd_chmod(self, a: list[str]) -> Reply:
        key = self._key(a[-1])
        user, group, _ = self.owners.get(key, ("root", "root", 0o755))
        self.owners[key] = (user, group, int(a[-2], 8))
        return 0

    def cmd_stat(self, a: list[str]) -> Reply:
        path = a[-1]
        m = self.mount_at(path)
        key = self._key(path)
        if key not in self.owners:
            if m is not None:  # a fresh filesystem's root
                return "root root 755\n"
            return (1, "", f"stat: cannot statx '{path}': No such file or directory\n")
        user, group, mode = self.owners[key]
        return f"{user} {group} {mode:o}\n"

    def cmd_id(self, a: list[str]) -> Reply:
        user = a[-1]
        if user not in self.users:
            return (1, "", f"id: '{user}': no such user\n")
        return f"{self.users[user]}\n" if "-gn" in a else "1000\n"

    def cmd_runuser(self, a: list[str]) -> Reply:
        if not self.has_runuser:
            return (127, "", "sh: 1: runuser: not found\n")
        user, directory = a[1], a[-1]
        return 0 if self._writable(user, directory) else 1

    def cmd_su(self, a: list[str]) -> Reply:
        user = a[-1]
        directory = a[a.index("-c") + 1].removeprefix("test -w ").strip("'")
        return 0 if self._writable(user, directory) else 1

    def _writable(self, user: str, directory: str) -> bool:
        owner = self.owners.get(self._key(directory))
        if user == "root":
            return True
        return owner is not None and owner[0] == user and bool(owner[2] & 0o200)

    # -- systemd --------------------------------------------------------------------------

    def cmd_systemctl(self, a: list[str]) -> Reply:
        verb, unit = a[0], a[-1]
        props = self.units.get(unit)
        if verb == "show":
            if "--value" in a:
                return f"{props.get('User', '') if props else ''}\n"
            if props is None:
                return "LoadState=not-found\nActiveState=inactive\n"
            return f"LoadState={props['LoadState']}\nActiveState={props['ActiveState']}\n"
        if verb == "is-active":
            state = props["ActiveState"] if props else "inactive"
            return (0 if state == "active" else 3, f"{state}\n", "")
        if verb == "restart":
            if props is None:
                return (
                    5,
                    "",
                    f"Failed to restart {unit}.service: Unit {unit}.service not found.\n",
                )
            self.restarts += 1
            if self.restart_fails:
                props["ActiveState"] = "failed"
                return (
                    1,
                    "",
                    f"Job for {unit}.service failed because the control process exited with "
                    "error code.\n",
                )
            props["ActiveState"] = "active"
            return 0
        raise AssertionError(f"unexpected systemctl {a}")

    def cmd_journalctl(self, a: list[str]) -> Reply:
        return "glance-api: ERROR: BadStoreConfiguration\n"
