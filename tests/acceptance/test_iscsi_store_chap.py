"""glance_iscsi_store logging in with CHAP, end to end: real terraform, the controller test bed
(sshd, real glance-api, the iscsiadm look-alike logging in through libiscsi with the node
record's CHAP settings) and nimble-sim with volume-scoped targets, whose tgtd asks for the CHAP
user the volume's access control record names. examples/glance-store-chap is the
configuration.

One scenario: a store without CHAP is refused with the authorization failure (the simulator
enforces CHAP), a wrong secret is refused on chap_secret_wo, and neither leaves a session, a
node record, an fstab line, a mount or a Glance change behind; the right secret logs in, the
store is mounted and glance-api stores an uploaded image on the volume; the secret is in no
state, plan, terraform or provider log, process argument or world-readable file on the
controller; a new secret (chap_secret_wo_version) reaches the node record in place, and the
controller logs in again with it.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Case, Harness, State, Step
from test_resource_iscsi_store import upload_image

pytestmark = [pytest.mark.dataplane, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples/glance-store-chap"
STORE = "glance_iscsi_store.store"
SECRET, WRONG, ROTATED = "Glance-chap-001", "Glance-wrong-02", "Glance-rotate-3"
MNT = "/var/lib/glance/images"
CONF = "/etc/glance/glance-api.conf"
MiB = 1 << 20
#: The store's CHAP settings in the example, each on one line of its own.
CHAP_LINES = (
    "chap_username          = nimble_chap_user.controller.name",
    "chap_secret_wo         = var.chap_secret",
    "chap_secret_wo_version = var.chap_secret_version",
)
LOGIN_SECRET_VARIABLE = """
variable "login_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}
"""


@pytest.fixture
def controller_and_chap_array(controller_real_glance, tmp_path_factory) -> Iterator:
    """The controller and a data-plane nimble-sim that gives each volume its own target
    (``--target-scope volume``): the targets on which the simulator enforces CHAP."""
    from nimble_fixtures import array_for_controller

    c = controller_real_glance
    with array_for_controller(c, tmp_path_factory, ("--target-scope", "volume")) as s:
        yield c, s


def example() -> str:
    return "\n".join(p.read_text() for p in sorted(EXAMPLE.glob("*.tf")))


def variant(hcl: str, *, chap: bool = True, login_secret: bool = False) -> str:
    """The example with the store's CHAP lines removed, or its secret taken from another
    variable than the CHAP user's."""
    for line in CHAP_LINES:
        assert hcl.count(line) == 1, line
    if not chap:
        for line in CHAP_LINES:
            hcl = hcl.replace(line, "")
    if login_secret:
        hcl = hcl.replace(CHAP_LINES[1], CHAP_LINES[1].replace("var.chap_", "var.login_"))
        hcl += LOGIN_SECRET_VARIABLE
    return hcl


class ArgvWatch:
    """Every process's argv (what `ps` shows every local user), sampled while terraform runs.
    The controller shares the host's PID namespace, so its processes are in this /proc too, and
    so are the simulator's (its tgtd accounts are made over tgtd's socket, not tgtadm's argv)."""

    def __init__(self, *secrets: str) -> None:
        self.secrets = [s.encode() for s in secrets]
        self.seen: set[str] = set()
        self.leaks: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.02):  # a sweep takes ~2 ms; iscsiadm lives > 0.1 s
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    data = Path(entry.path, "cmdline").read_bytes()
                except OSError:
                    continue
                argv = data.split(b"\0")
                tool = os.path.basename(argv[0].decode(errors="replace"))
                if tool.startswith("python") and len(argv) > 1:
                    tool = os.path.basename(argv[1].decode(errors="replace"))
                self.seen.add(tool)
                if any(s in data for s in self.secrets):
                    self.leaks.append(data.replace(b"\0", b" ").decode(errors="replace"))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)


def test_acc_iscsi_store_chap_login(tf: Harness, controller_and_chap_array) -> None:
    c, s = controller_and_chap_array
    before = s.inventory()
    # the example mounts the store at the datadir itself: it must start empty
    assert c.run(["find", MNT, "-type", "f"]).stdout == ""
    c.run(["/usr/bin/systemctl", "start", "glance-api"], timeout=90, check=True)
    conf_before, fstab_before = c.read_file(CONF), c.fstab_text()
    watch = ArgvWatch(SECRET, WRONG, ROTATED)
    image: dict[str, str] = {}
    session: dict[str, int] = {}
    env = {
        **s.env(),
        **c.provider_env(),
        "TF_VAR_chap_secret": SECRET,
        "TF_VAR_login_secret": WRONG,  # the wrong-secret variant's (set for its destroy too)
        "TF_LOG": "TRACE",  # terraform's and the providers' logs, searched for the secrets
        "TF_LOG_PATH": "terraform.log",  # in the working directory
    }

    def files_with_a_secret() -> dict[str, str]:
        """Files on the controller holding any of the secrets -> `mode owner`, where the
        provider and the iSCSI tools write (/var/cache, gigabytes of packages, is left out).
        The patterns go through stdin, not grep's argv."""
        r = c.run(
            [
                "sh",
                "-c",
                "grep -rlsF -f /dev/stdin /etc /run /dev/shm /var/lib /var/log /var/tmp /var/spool"
                " | xargs -r stat -c '%a %U %n'",
            ],
            input=f"{SECRET}\n{WRONG}\n{ROTATED}\n",
            timeout=60,
        )
        return {line.split(" ", 2)[2]: line.rsplit(" ", 1)[0] for line in r.stdout.splitlines()}

    def refused_and_left_nothing() -> None:
        """After a refused login: no session, node record, fstab line, mount or Glance
        change; the CHAP user, the volume and its access record are on the array."""
        assert c.iscsiadm("-m", "session").returncode == 21
        state = tf.state(env=env)
        assert STORE not in state and "nimble_access_control_record.glance" in state
        iqn = state.attrs("nimble_volume.glance")["target_name"]
        assert c.run(["find", "/etc/iscsi/nodes", "-path", f"*{iqn}*"]).stdout == ""
        assert c.fstab_text() == fstab_before
        assert c.run(["findmnt", "-n", MNT]).returncode != 0
        assert c.read_file(CONF) == conf_before
        assert files_with_a_secret() == {}

    def store_in_place(state: State) -> None:
        attrs, vol = state.attrs(STORE), state.attrs("nimble_volume.glance")
        assert attrs["drift"] == [] and attrs["chap_secret_wo"] is None
        assert attrs["chap_username"] == state.attrs("nimble_chap_user.controller")["name"]
        assert attrs["target_iqn"] == vol["target_name"]
        # a volume-scoped target: the access record says LUN 0, tgtd serves the disk at 1;
        # the store found it, and it is this volume (by serial) before any mkfs
        assert state.attrs("nimble_access_control_record.glance")["lun"] == 0
        assert attrs["lun"] == 1 and attrs["volume_serial"] == vol["serial_number"]
        by_id = c.run(["readlink", "-e", f"/dev/disk/by-id/scsi-2{vol['serial_number']}"])
        assert by_id.stdout.strip() == attrs["device"]
        assert c.run(["findmnt", "-n", "-o", "TARGET", MNT]).stdout.strip() == MNT
        assert f"UUID={attrs['fs_uuid']}" in c.fstab_text()
        conf = c.read_file(CONF)
        assert re.search(rf"^filesystem_store_datadir\s*=\s*{MNT}/?$", conf, re.M), conf
        image["id"] = upload_image(c, b"chap" * (MiB // 4))
        assert c.run(["test", "-f", f"{MNT}/{image['id']}"]).returncode == 0
        # the bytes are in the array's volume file, once the controller flushed them
        c.run(["sync"], check=True, timeout=120)
        assert _holds_block(s.volume_file(vol["id"]), b"chap" * 1024)

    def logged_in_with_chap(state: State) -> None:
        attrs = state.attrs(STORE)
        iqn, user = attrs["target_iqn"], attrs["chap_username"]
        [record] = c.run(
            ["find", "/etc/iscsi/nodes", "-path", f"*{iqn}*", "-type", "f"]
        ).stdout.split()
        assert c.run(["stat", "-c", "%a %U", record]).stdout.strip() == "600 root"
        shown = c.iscsiadm("-m", "node", "-T", iqn).stdout
        assert "node.session.auth.authmethod = CHAP\n" in shown
        assert f"node.session.auth.username = {user}\n" in shown
        assert "node.session.auth.password = ********\n" in shown and SECRET not in shown
        assert (
            f"node.session.auth.password = {SECRET}\n"
            in c.iscsiadm("-m", "node", "-T", iqn, "-S").stdout
        )
        assert f"\t\tusername: {user}\n" in c.iscsiadm("-m", "session", "-P", "3").stdout
        # the only files holding the secret on the controller: the node record, root's only
        assert files_with_a_secret() == {record: "600 root"}
        # the session's qemu-nbd (it lives as long as the session): the secret by a file
        # that is gone once it logged in
        qemu = [
            argv
            for pid in os.listdir("/proc")
            if pid.isdigit() and (argv := _cmdline(pid)).startswith("qemu-nbd ") and iqn in argv
        ]
        assert len(qemu) == 1 and "file.password-secret=chap0" in qemu[0], qemu
        secret_file = re.search(r"secret,id=chap0,file=(\S+)", qemu[0])
        assert secret_file and c.run(["test", "-e", secret_file.group(1)]).returncode == 1

    def secret_in_no_argv(state: State) -> None:
        watch.stop()  # it watched the apply and both plans after it
        assert watch.leaks == [], watch.leaks
        assert {"iscsiadm", "qemu-nbd"} <= watch.seen, sorted(watch.seen)
        session["sid"] = state.attrs(STORE)["session_id"]
        secret_in_no_file()

    def secret_in_no_file() -> None:
        """Not in state, plans, terraform's and the providers' log (TF_LOG=trace), nor in
        the output of any terraform command so far."""
        assert tf.workdir is not None
        log = tf.workdir / "terraform.log"
        # the provider's own log lines are in it, among them the step that wrote the secret
        assert "setting CHAP user glance-controller in the node record" in log.read_text()
        for path in tf.workdir.rglob("*"):
            if path.is_file() and ".terraform" not in path.parts:
                data = path.read_bytes()
                for secret in (SECRET, WRONG, ROTATED):
                    assert secret.encode() not in data, f"{secret!r} is in {path}"
        for res in tf.log:  # every terraform command's output (plans, applies, errors)
            for secret in (SECRET, WRONG, ROTATED):
                assert secret not in res.output, f"{secret!r} in the output of {res.argv}"

    def rotated_in_place(state: State) -> None:
        """The running session stays (CHAP is checked at login); the node record holds the
        new secret, and logging in again with it (the array's account changed too) works."""
        attrs = state.attrs(STORE)
        iqn = attrs["target_iqn"]
        # updated in place: the same session (a replaced store would have logged out, and
        # could not even have been destroyed while it holds an image)
        assert attrs["chap_secret_wo_version"] == 2 and attrs["session_id"] == session["sid"]
        assert c.run(["test", "-f", f"{MNT}/{image['id']}"]).returncode == 0
        shown = c.iscsiadm("-m", "node", "-T", iqn, "-S").stdout
        assert f"node.session.auth.password = {ROTATED}\n" in shown
        c.run(["umount", MNT], check=True)
        assert c.iscsiadm("-m", "node", "-T", iqn, "--logout").returncode == 0
        login = c.iscsiadm("-m", "node", "-T", iqn, "--login")
        assert login.returncode == 0, login.stderr
        c.run(["mount", MNT], check=True)  # by the store's fstab line
        assert c.run(["test", "-f", f"{MNT}/{image['id']}"]).returncode == 0
        c.run(["rm", "-f", f"{MNT}/{image['id']}"], check=True)
        secret_in_no_file()

    def everything_back() -> None:
        s.back_to(before)()
        assert c.read_file(CONF) == conf_before and c.fstab_text() == fstab_before
        assert c.iscsiadm("-m", "session").returncode == 21
        assert c.iscsiadm("-m", "node").returncode == 21
        assert files_with_a_secret() == {}

    hcl = example()
    refused = r"iSCSI Login Refused with glance_iscsi_store\.store.*"
    nothing_left = r".*The node record made for this login was deleted"
    steps = [
        Step(
            config=variant(hcl, chap=False),
            expect_error=refused + r"status 24 \(authorization failure\)\. The target asks "
            r"for CHAP.*set chap_username" + nothing_left,
        ),
        Step(
            config=variant(hcl, login_secret=True),
            preconfig=refused_and_left_nothing,
            # on the resource, not on the line of a sensitive attribute (its value could
            # be a literal there); the detail names the attribute
            expect_error=refused + r"refused the CHAP login as glance-controller\. Set "
            r"chap_secret_wo to the secret the array holds" + nothing_left,
        ),
        Step(
            config=hcl,
            preconfig=lambda: (refused_and_left_nothing(), watch.start()),
            checks=[secret_in_no_argv, store_in_place, logged_in_with_chap],
        ),
        Step(
            config=hcl,
            env={"TF_VAR_chap_secret": ROTATED, "TF_VAR_chap_secret_version": "2"},
            checks=[rotated_in_place],
        ),
    ]
    try:
        tf.run(Case(env=env, steps=steps, check_destroy=everything_back))
    finally:
        watch.stop()


def _holds_block(path: Path, block: bytes) -> bool:
    """Whether the file has ``block`` at a multiple of its length (a filesystem block)."""
    with path.open("rb") as f:
        while chunk := f.read(1024 * len(block)):
            if block in chunk:
                return True
    return False


def _cmdline(pid: str) -> str:
    try:
        return Path("/proc", pid, "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
