"""A controller host for tests: network namespace + private mount namespace + sshd.

Inside the namespace, /etc, /var and /dev are overlays (writes land in the test's tmp dir, never
on the host), /run and /dev/shm are tmpfs, /dev/pts is a fresh devpts, and these look-alikes are
bind-mounted over the real tools:

* /usr/sbin/iscsiadm  -> tests/testbed/bin/iscsiadm (userspace iSCSI, real texts and exit codes;
  a disk per LUN the target shows, with udev's by-path and by-id links: the kernel's
  /sys/class/block/<dev>/device/vpd_pg80 cannot be made for a loop device, so a volume's
  identity is its ``/dev/disk/by-id/scsi-2<serial>`` link here)
* /usr/bin/systemctl  -> tests/testbed/bin/systemctl (units in /etc/systemd/system)

A ``glance`` system user exists, /etc/glance/glance-api.conf is written (legacy single-store by
default, or the text given), a ``glance-api`` unit runs tests/testbed/bin/fake-glance-api (or the
command given) as glance on port 9292, /etc/iscsi/initiatorname.iscsi holds a generated IQN, and
``/usr/sbin/sshd -D`` listens on ``ip:22`` with a generated ed25519 host key, accepting the
generated client key for root.

Everything is torn down by the names and PIDs this object created.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

PREFIX = "tfnb"  # netns tfnb<N>, host veth tfnbh<N>, inner veth tfnbc<N>
NET = "10.231"  # 10.231.<N>.0/30: .1 host side (the "array" side), .2 the controller
OWNERS = Path("/run/tfnb-testbed")
BIN = Path(__file__).resolve().parent / "bin"

LEGACY_GLANCE_CONF = """\
[DEFAULT]
# Show debugging output in logs (sets DEBUG log level output)
debug = false
bind_host = 0.0.0.0
bind_port = 9292

[database]
connection = sqlite:////var/lib/glance/glance.sqlite
backend = sqlalchemy

[glance_store]
# List of stores enabled. Valid stores are: cinder, file, http, rbd, swift, vmware
stores = file,http
default_store = file
# Directory to which the filesystem backend store writes images.
filesystem_store_datadir = /var/lib/glance/images/

[oslo_policy]
enforce_new_defaults = false

[paste_deploy]
flavor =
"""

MULTI_GLANCE_CONF = """\
[DEFAULT]
bind_host = 0.0.0.0
bind_port = 9292
enabled_backends = fs:file

[database]
connection = sqlite:////var/lib/glance/glance.sqlite

[glance_store]
default_backend = fs

[fs]
# the image store
filesystem_store_datadir = /var/lib/glance/images/

[os_glance_staging_store]
filesystem_store_datadir = /var/lib/glance/staging/

[os_glance_tasks_store]
filesystem_store_datadir = /var/lib/glance/tasks_work_dir/

[oslo_policy]
enforce_new_defaults = false

[paste_deploy]
flavor =
"""

FSTAB = """\
# /etc/fstab: static file system information.
#
# Use 'blkid' to print the universally unique identifier for a
# device; this may be used with UUID= as a more robust way to name devices
# that works even if disks are added and removed. See fstab(5).
#
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
"""


class ControllerError(RuntimeError):
    pass


def _run(
    argv: list[str], timeout: float = 30, check: bool = True, **kw: Any
) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if check and r.returncode != 0:
        raise ControllerError(
            f"{' '.join(argv)} failed (rc {r.returncode}): {(r.stderr or r.stdout).strip()}"
        )
    return r


def _alive(pid: int) -> bool:
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return st.rsplit(")", 1)[1].split()[0] != "Z"


def _wait(pred: Any, timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def _netns_pids(name: str) -> list[int]:
    r = _run(["ip", "netns", "pids", name], check=False)
    return [int(x) for x in r.stdout.split() if x.isdigit()]


def _kill_pids(pids: list[int], timeout: float = 5) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        if _wait(lambda: not any(_alive(p) for p in pids), timeout):
            return


def _detach_loops(marker: str) -> None:
    """Detach loop devices whose backing file path contains ``marker`` (made by our chain)."""
    r = _run(["losetup", "-l", "-n", "-O", "NAME,BACK-FILE"], check=False)
    for line in r.stdout.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and marker in parts[1]:
            _run(["losetup", "-d", parts[0]], check=False)


def teardown_netns(name: str) -> None:
    """Remove a namespace of ours and everything in it (processes by PID, loops, veth)."""
    # detach first: while the namespace's FUSE mounts exist the backing path names the session
    # (a mounted loop only gets autoclear and goes away when its mount namespace does)
    _detach_loops(f"/{name}-session")
    _kill_pids(_netns_pids(name))
    _detach_loops(f"/{name}-session")
    _run(["ip", "netns", "del", name], check=False)
    idx = name.removeprefix(PREFIX)
    if idx.isdigit():
        _run(["ip", "link", "del", f"{PREFIX}h{idx}"], check=False)
    with contextlib.suppress(OSError):
        (OWNERS / name).unlink()


def sweep_leftovers() -> None:
    """Tear down namespaces of ours whose owning test process is gone (a crashed run)."""
    r = _run(["ip", "netns", "list"], check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if not (name.startswith(PREFIX) and name.removeprefix(PREFIX).isdigit()):
            continue
        try:
            owner = int((OWNERS / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            owner = 0
        if owner and _alive(owner):
            continue
        if not owner and _younger_than(Path("/run/netns") / name, 120):
            continue  # a concurrent worker made it and is about to record itself as owner
        teardown_netns(name)


def _younger_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime < seconds
    except OSError:
        return False


class Controller:
    """A controller host reachable over SSH at ``ip:port`` as ``username`` with ``key_path``."""

    def __init__(
        self,
        workdir: Path,
        *,
        glance_conf: str | None = None,
        glance_layout: str = "legacy",
        glance_command: str | None = None,
        glance_user: str = "glance",
        service_name: str = "glance-api",
        real_glance_venv: Path | None = None,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.glance_conf = (
            glance_conf
            if glance_conf is not None
            else (MULTI_GLANCE_CONF if glance_layout == "multi" else LEGACY_GLANCE_CONF)
        )
        # ``{ip}`` in the command is the controller's address
        self.glance_command = glance_command or "/usr/bin/python3 /run/testbed/bin/fake-glance-api"
        self.real_glance_venv = real_glance_venv
        self.glance_user = glance_user
        self.service_name = service_name
        self.name = ""
        self.idx = -1
        self.ip = ""  # the controller (inside the namespace)
        self.array_ip = ""  # the host side of the veth: where a data plane is reachable from
        self.port = 22
        self.username = "root"
        self.glance_port = 9292
        self.initiator_iqn = f"iqn.1993-08.org.debian:01:{secrets.token_hex(6)}"
        ssh = self.workdir / "ssh"
        self.key_path = ssh / "id_ed25519"
        self.host_key_path = ssh / "ssh_host_ed25519_key"
        self.known_hosts_path = ssh / "known_hosts"
        self.known_hosts_line = ""
        self.private_key_pem = ""
        self.public_key = ""
        self.sshd_pid = 0
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Controller:
        OWNERS.mkdir(parents=True, exist_ok=True)
        sweep_leftovers()
        self._make_keys()
        self._make_netns()
        try:
            self._start_sshd()
            if self.real_glance_venv is not None:
                from .glance import prepare_controller

                prepare_controller(self, self.real_glance_venv)
        except BaseException:
            self.stop()
            raise
        return self

    def _make_keys(self) -> None:
        ssh = self.workdir / "ssh"
        ssh.mkdir(parents=True, exist_ok=True)
        for path, comment in (
            (self.key_path, "testbed-client"),
            (self.host_key_path, "testbed-host"),
        ):
            if not path.exists():
                _run(
                    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)]
                )
        self.private_key_pem = self.key_path.read_text()
        self.public_key = self.key_path.with_suffix(".pub").read_text().strip()
        (ssh / "authorized_keys").write_text(self.public_key + "\n")

    def _make_netns(self) -> None:
        used = _run(["ip", "-o", "-4", "addr", "show"], check=False).stdout
        candidates = list(range(1, 251))
        random.shuffle(candidates)
        for idx in candidates:
            name = f"{PREFIX}{idx}"
            if f" {NET}.{idx}." in used or Path(f"/sys/class/net/{PREFIX}h{idx}").exists():
                continue
            if _run(["ip", "netns", "add", name], check=False).returncode != 0:
                continue  # taken by a concurrent worker
            self.name, self.idx = name, idx
            break
        else:
            raise ControllerError("no free test network namespace slot")
        (OWNERS / self.name).write_text(f"{os.getpid()}\n")
        self.array_ip, self.ip = f"{NET}.{self.idx}.1", f"{NET}.{self.idx}.2"
        host_if, ns_if = f"{PREFIX}h{self.idx}", f"{PREFIX}c{self.idx}"
        nse = ["ip", "netns", "exec", self.name]
        for argv in (
            ["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if],
            ["ip", "link", "set", ns_if, "netns", self.name],
            ["ip", "addr", "add", f"{self.array_ip}/30", "dev", host_if],
            ["ip", "link", "set", host_if, "up"],
            [*nse, "ip", "link", "set", "lo", "up"],
            [*nse, "ip", "addr", "add", f"{self.ip}/30", "dev", ns_if],
            [*nse, "ip", "link", "set", ns_if, "up"],
        ):
            try:
                _run(argv)
            except ControllerError:
                teardown_netns(self.name)
                raise

    def _stage(self) -> Path:
        """Files copied into the namespace's overlay /etc and /var before sshd starts."""
        st = self.workdir / "stage"
        shutil.rmtree(st, ignore_errors=True)
        files = {
            "etc/iscsi/initiatorname.iscsi": "## DO NOT EDIT OR REMOVE THIS FILE!\n"
            "## If you remove this file, the iSCSI "
            "daemon will not start.\n## If you change the InitiatorName, existing access "
            "control lists\n## may reject this initiator.  The InitiatorName must be unique\n"
            "## for each iSCSI initiator.  Do NOT duplicate iSCSI InitiatorNames.\n"
            f"InitiatorName={self.initiator_iqn}\n",
            "etc/glance/glance-api.conf": self.glance_conf,
            "etc/fstab": FSTAB,
            "etc/hostname": f"{self.name}\n",
            f"etc/systemd/system/{self.service_name}.service": textwrap.dedent(f"""\
                [Unit]
                Description=OpenStack Image Service API
                After=network-online.target remote-fs.target

                [Service]
                Type=simple
                User={self.glance_user}
                Group={self.glance_user}
                Environment=OS_GLANCE_CONFIG_DIR=/etc/glance
                ExecStart={self.glance_command.replace("{ip}", self.ip)}
                X-ReadyURL=http://{self.ip}:{self.glance_port}/healthcheck
                Restart=on-failure

                [Install]
                WantedBy=multi-user.target
                """),
        }
        for rel, text in files.items():
            p = st / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        return st

    def _start_sshd(self) -> None:
        w = self.workdir
        for d in ("etc", "var", "dev"):
            (w / f"{d}.upper").mkdir(exist_ok=True)
            (w / f"{d}.work").mkdir(exist_ok=True)
        st = self._stage()
        cfg = w / "ssh" / "sshd_config"
        cfg.write_text(
            textwrap.dedent(f"""\
            ListenAddress {self.ip}
            Port {self.port}
            HostKey {self.host_key_path}
            PidFile none
            AuthorizedKeysFile {w}/ssh/authorized_keys
            PermitRootLogin prohibit-password
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            X11Forwarding no
            PrintMotd no
            PrintLastLog no
            UseDNS no
            MaxStartups 100
            MaxSessions 100
            AcceptEnv LANG LC_*
            Subsystem sftp internal-sftp
            """)
        )
        gu = self.glance_user
        script = textwrap.dedent(f"""\
            set -e
            hostname {self.name}
            # This mount namespace is a private copy of the host's: drop the copies of other
            # tests' loop and /tmp mounts (a simulator's pool on another worker), which would
            # otherwise keep their loop devices attached for as long as this sshd lives.
            findmnt -rn -o TARGET,SOURCE \
                | awk 'index($2, "/dev/loop") == 1 || index($1, "/tmp/") == 1 {{ print $1 }}' \
                | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
            mount -t overlay overlay \
                -o lowerdir=/etc,upperdir={w}/etc.upper,workdir={w}/etc.work /etc
            mount -t overlay overlay \
                -o lowerdir=/var,upperdir={w}/var.upper,workdir={w}/var.work /var
            mount -t overlay overlay \
                -o lowerdir=/dev,upperdir={w}/dev.upper,workdir={w}/dev.work /dev
            mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
            mount --bind /dev/pts/ptmx /dev/ptmx
            mount -t tmpfs -o mode=1777 tmpfs /dev/shm
            mount -t tmpfs -o mode=0755 tmpfs /run
            mkdir -p /run/sshd /run/lock /run/testbed/bin /run/iscsi-lookalike
            echo {self.name} > /run/testbed/hostname
            cp {BIN}/iscsiadm {BIN}/systemctl {BIN}/fake-glance-api /run/testbed/bin/
            chmod 0755 /run/testbed/bin/*
            mount --bind /run/testbed/bin/iscsiadm /usr/sbin/iscsiadm
            mount --bind /run/testbed/bin/systemctl /usr/bin/systemctl
            rm -rf /etc/iscsi/nodes /etc/iscsi/send_targets /etc/systemd/system/*.service
            rm -rf /dev/disk/by-path /dev/disk/by-id
            mkdir -p /dev/disk/by-path /dev/disk/by-id
            cp -a {st}/etc/. /etc/
            sed -i 's/^root:![^:]*:/root:*:/' /etc/shadow
            getent passwd {gu} >/dev/null || useradd --system --user-group \\
                --home-dir /var/lib/{gu} --shell /usr/sbin/nologin {gu}
            mkdir -p /var/lib/glance/images /var/log/glance
            chown -R {gu}:{gu} /var/lib/glance /var/log/glance
            chmod 0644 /etc/glance/glance-api.conf
            chgrp {gu} /etc/glance/glance-api.conf
            touch {w}/ready
            exec /usr/sbin/sshd -D -e -f {cfg}
            """)
        log = open(w / "sshd.log", "ab")  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    self.name,
                    "unshare",
                    "-m",
                    "-u",
                    "--propagation",
                    "private",
                    "/bin/sh",
                    "-c",
                    script,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()
        self.sshd_pid = self._proc.pid
        ok = _wait(lambda: self._proc.poll() is not None or self._banner(), 15, 0.05)
        if not ok or self._proc.poll() is not None:
            raise ControllerError(
                "sshd did not come up in the controller namespace:\n"
                + (w / "sshd.log").read_text(errors="replace")[-2000:]
            )
        hostkey = self.host_key_path.with_suffix(".pub").read_text().split()
        self.known_hosts_line = f"{self.ip} {hostkey[0]} {hostkey[1]}"
        self.known_hosts_path.write_text(self.known_hosts_line + "\n")

    def _banner(self) -> bool:
        try:
            with socket.create_connection((self.ip, self.port), timeout=0.5) as s:
                return s.recv(64).startswith(b"SSH-2.0")
        except OSError:
            return False

    def stop(self) -> None:
        if not self.name:
            return
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(Exception):
                self._logout_all()
        teardown_netns(self.name)
        if self._proc is not None:
            with contextlib.suppress(OSError):
                os.kill(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=10)
        self._proc = None
        self.name = ""

    def _logout_all(self) -> None:
        """Unmount filesystems on our iSCSI loop devices, log out, stop services."""
        sessions = self.run(["cat", "/run/iscsi-lookalike/sessions.json"], timeout=10)
        if sessions.returncode == 0 and "loop" in sessions.stdout:
            import json

            for s in json.loads(sessions.stdout or "[]"):
                disks = s.get("luns") or {"": {"loop": s.get("loop")}}
                for loop in [d.get("loop") for d in disks.values()]:
                    if not loop:
                        continue
                    mounts = self.run(["findmnt", "-rn", "-o", "TARGET", "-S", loop], timeout=10)
                    for target in reversed(mounts.stdout.split()):
                        self.run(["umount", "-l", target], timeout=30)
            self.run(["/usr/sbin/iscsiadm", "-m", "session", "-u"], timeout=60)
        self.run(["/usr/bin/systemctl", "stop", self.service_name], timeout=30)

    def __enter__(self) -> Controller:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers for tests
    def run(
        self, argv: list[str], input: str | None = None, timeout: float = 60, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run argv inside the controller (its network, mount and UTS namespaces)."""
        r = subprocess.run(
            ["nsenter", "-t", str(self.sshd_pid), "-m", "-n", "-u", "--", *argv],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd="/",
        )
        if check and r.returncode != 0:
            raise ControllerError(
                f"{argv} failed in {self.name} (rc {r.returncode}): {r.stderr.strip()}"
            )
        return r

    def read_file(self, path: str) -> str:
        return self.run(["cat", path], check=True).stdout

    def write_file(self, path: str, text: str, mode: str | None = None) -> None:
        self.run(
            ["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", path],
            input=text,
            check=True,
        )
        if mode:
            self.run(["chmod", mode, path], check=True)

    def fstab_text(self) -> str:
        return self.read_file("/etc/fstab")

    @property
    def fstab_path_outside(self) -> Path:
        """Where /etc/fstab's copy-up lives on the host once the controller wrote it."""
        return self.workdir / "etc.upper" / "fstab"

    def provider_env(self) -> dict[str, str]:
        """The glance provider's settings for this controller (GLANCE_SSH_*, host keys
        checked), and its initiator name as the examples' ``controller_initiator``."""
        return {
            "GLANCE_SSH_HOST": self.ip,
            "GLANCE_SSH_USER": "root",
            "GLANCE_SSH_PRIVATE_KEY_FILE": str(self.key_path),
            "GLANCE_SSH_KNOWN_HOSTS_FILE": str(self.known_hosts_path),
            "TF_VAR_controller_initiator": self.initiator_iqn,
        }

    def iscsiadm(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.run(["/usr/sbin/iscsiadm", *args], timeout=timeout)

    def ssh_client(self) -> Any:
        """A connected paramiko SSHClient with host-key checking against known_hosts_path."""
        import paramiko

        c = paramiko.SSHClient()
        c.load_host_keys(str(self.known_hosts_path))
        c.set_missing_host_key_policy(paramiko.RejectPolicy())
        c.connect(
            self.ip,
            port=self.port,
            username=self.username,
            key_filename=str(self.key_path),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
            banner_timeout=10,
            auth_timeout=10,
        )
        return c

    def ssh_argv(self) -> list[str]:
        """OpenSSH client argv prefix (host keys checked) to run a command on the controller."""
        return [
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts_path}",
            "-o",
            "IdentitiesOnly=yes",
            "-i",
            str(self.key_path),
            "-p",
            str(self.port),
            f"{self.username}@{self.ip}",
        ]
