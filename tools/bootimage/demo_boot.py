"""`make demo-boot`: boot 20 instances from 20 zero-copy clones of one image, and compare.

    python tools/bootimage/demo_boot.py up [--instances 20]   # after `make demo`, or alone
    python tools/bootimage/demo_boot.py down                  # `make demo-destroy` runs this

`up` uses the demo's nimble-sim (.demo/, see tools/demo.py) or starts one with its real iSCSI
data plane, builds the boot image (tools/bootimage/bootimage.py), applies examples/boot in
.demo/boot with N instances and N full copies, then boots the N instances twice under qemu:
from their clones, then from the full copies (each instance always as its own initiator). It
prints a report: how many booted ("20/20 booted"), the boot-storm time of each fleet, the
physical bytes of each (the array's REST space figures), each instance's console line, and the
path of a PNG screenshot of instance 0's screen. The report is kept in .demo/boot/report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tools"))

import bootimage  # noqa: E402
import bootvm as vm  # noqa: E402

DEMO = ROOT / ".demo"
WORK = DEMO / "boot"
EXAMPLE = ROOT / "examples" / "boot"
IMAGE = Path("images/tfnimble-boot.raw")
PREFIX = "demo-boot"
STORM_TIMEOUT = 1800  # 20 instances under software emulation on 2 busy cores: generous
MiB = 1 << 20


def say(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def tf_vars(n: int, copies: int, image: bootimage.BootImage) -> list[str]:
    return [
        "-var",
        f"instance_count={n}",
        "-var",
        f"full_copy_count={copies}",
        "-var",
        f"name_prefix={PREFIX}",
        "-var",
        f"image_sha256={image.sha256}",
    ]


def terraform(argv: list[str], work: Path, env: dict[str, str], log: Path) -> float:
    """Run terraform with its output appended to `log`; return its wall seconds."""
    started = time.monotonic()
    with open(log, "a") as out:
        out.write(f"\n$ terraform {' '.join(argv)}\n")
        out.flush()
        rc = subprocess.run(
            ["terraform", *argv], cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT
        ).returncode
    if rc != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        raise RuntimeError(f"terraform {argv[0]} failed (exit {rc}); the end of {log}:\n{tail}")
    return time.monotonic() - started


def client_from(env: dict[str, str]) -> Any:
    from tfnimble.nimble.client import NimbleClient

    return NimbleClient(
        env["NIMBLE_HOST"],
        port=int(env["NIMBLE_PORT"]),
        username=env["NIMBLE_USERNAME"],
        password=env["NIMBLE_PASSWORD"],
        ca_file=env.get("NIMBLE_CA_FILE"),
    )


def portal_of(client: Any) -> str:
    """The array's iSCSI discovery portal (IP[:PORT]) as the array reports it."""
    from tfnimble.nimble.client import network

    ip = str(network.get_discovery(client).discovery_ip)
    return ip if ":" in ip else f"{ip}:3260"


def used_bytes(client: Any, vol_ids: list[str]) -> int:
    from tfnimble.nimble.client import volumes

    return sum(volumes.get_volume(client, v).vol_usage_compressed_bytes for v in vol_ids)


def lun_on_target(acr_lun: int | None) -> int:
    """The LUN to open: the access record's, except that the simulator's tgtd shows a volume
    target's only disk (the array's LUN 0) as LUN 1, keeping LUN 0 for its controller."""
    return acr_lun if acr_lun else 1


def storm(disks: list[vm.Disk], work: Path, how: str, screen: Path | None = None) -> dict[str, Any]:
    """Boot one instance per disk at once; wait until every one has powered off."""
    shutil.rmtree(work, ignore_errors=True)
    started = time.monotonic()
    fleet = [
        vm.start(n, d, work, how, screen=(n == 0 and screen is not None))
        for n, d in enumerate(disks)
    ]
    try:
        vm.wait(fleet, STORM_TIMEOUT)
        if screen is not None and fleet[0].proc.poll() is None:
            vm.screendump(fleet[0], screen)
    finally:
        vm.stop(fleet)
    seconds = max((i.finished or time.monotonic()) for i in fleet) - started
    booted = [i.number for i in fleet if i.booted_as() == i.number]
    return {
        "seconds": seconds,
        "booted": len(booted),
        "instances": len(fleet),
        "per_instance_s": [i.seconds for i in fleet],
        "lines": [i.boot_line() or _last_words(i) for i in fleet],
    }


def _last_words(inst: vm.Instance) -> str:
    text = (inst.console_text.strip() or inst.error_text.strip()).splitlines()
    return f"(no boot line) {text[-1] if text else 'no output'}"


def markers(disks: list[vm.Disk]) -> list[str | None]:
    """The marker each disk holds, read over iSCSI as its instance's initiator."""
    return [
        bootimage.parse_marker(
            vm.read_block(d, bootimage.MARKER_OFFSET, bootimage.MARKER_BYTES_WRITTEN)
        )
        for d in disks
    ]


def run(work: Path, env: dict[str, str], n: int, log: Path) -> dict[str, Any]:
    """Apply examples/boot in `work` with n instances and n full copies, boot both fleets and
    return the figures. The configuration stays applied (destroy with `destroy`)."""
    how, why = vm.accel()
    say(f"qemu acceleration: {how} ({why})")
    say("building the boot image (cached after the first time)")
    image = bootimage.ensure()
    say(f"image: {image.path} ({image.size // MiB} MiB, kernel {image.kernel})")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(EXAMPLE, work)
    (work / IMAGE).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(image.path, work / IMAGE)
    terraform(["init", "-input=false", "-no-color"], work, env, log)
    # Two applies: the ITO fleet (master, clones, initiator groups, access records), then the
    # full copies one at a time, each written and verified like the master. One at a time also
    # keeps the copies' image writes apart from the access records being made for the others
    # (see the guide: nimble-sim's group target and concurrent image writes).
    apply = ["apply", "-auto-approve", "-input=false", "-no-color"]
    say(f"terraform apply: image master, {n} clones, {n} initiator groups and access records")
    (work / "vars.json").write_text(json.dumps(tf_vars(n, 0, image)))
    apply_s = terraform([*apply, *tf_vars(n, 0, image)], work, env, log)
    say(f"terraform apply: {n} full copies of the image, for comparison")
    (work / "vars.json").write_text(json.dumps(tf_vars(n, n, image)))
    copies_s = terraform([*apply, "-parallelism=1", *tf_vars(n, n, image)], work, env, log)
    out = json.loads(
        subprocess.run(
            ["terraform", "output", "-json", "instances"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    with client_from(env) as client:
        portal = portal_of(client)
        clone_ids = [i["boot_volume_id"] for i in out]
        copy_ids = [i["copy_volume_id"] for i in out]

        def disks(kind: str) -> list[vm.Disk]:
            return [
                vm.Disk(
                    portal, i[f"{kind}_target"], lun_on_target(i[f"{kind}_lun"]), i["initiator"]
                )
                for i in out
            ]

        before = {"clones": used_bytes(client, clone_ids), "copies": used_bytes(client, copy_ids)}
        say(f"boot storm: {n} instances from their clones")
        clones = storm(disks("boot"), work / "run-clones", how, work / "console-inst-00.png")
        say(f"boot storm: {n} instances from full copies")
        copies = storm(disks("copy"), work / "run-copies", how)
        after = {"clones": used_bytes(client, clone_ids), "copies": used_bytes(client, copy_ids)}
        clone_markers = markers(disks("boot"))
    expected = [f"TFNIMBLE-MARKER instance={k} serial={vm.serial_for(k)}" for k in range(n)]
    return {
        "instances": n,
        "accel": how,
        "accel_why": why,
        "image": {"bytes": image.size, "sha256": image.sha256, "kernel": image.kernel},
        "apply_seconds": apply_s,
        "copies_apply_seconds": copies_s,
        "clones": {**clones, "bytes_before": before["clones"], "bytes_after": after["clones"]},
        "copies": {**copies, "bytes_before": before["copies"], "bytes_after": after["copies"]},
        "markers_ok": sum(
            1 for got, want in zip(clone_markers, expected, strict=True) if got == want
        ),
        "screenshot": str(work / "console-inst-00.png"),
    }


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def report_text(r: dict[str, Any]) -> str:
    n = r["instances"]
    c, f = r["clones"], r["copies"]
    lines = [
        "",
        "Boot demo report",
        "----------------",
        f"image                  {human(r['image']['bytes'])} raw disk, Debian kernel "
        f"{r['image']['kernel']}, busybox, SYSLINUX",
        f"qemu                   {r['accel']} ({r['accel_why']})",
        f"terraform apply        {r['apply_seconds']:.1f} s for the master and {n} clones; "
        f"{r['copies_apply_seconds']:.1f} s for {n} full copies",
        f"from clones            {c['booted']}/{n} booted in {c['seconds']:.1f} s; "
        f"markers on their own clones: {r['markers_ok']}/{n}",
        f"from full copies       {f['booted']}/{n} booted in {f['seconds']:.1f} s",
        f"physical, clones       {human(c['bytes_before'])} before booting, "
        f"{human(c['bytes_after'])} after (all {n} together)",
        f"physical, full copies  {human(f['bytes_before'])} before booting, "
        f"{human(f['bytes_after'])} after (all {n} together)",
        f"screenshot             {r['screenshot']}",
        "",
        "console (from clones), one line per instance:",
        *(f"  {line}" for line in c["lines"]),
        "",
    ]
    return "\n".join(lines)


def sim_env() -> dict[str, str]:
    """The demo's running simulator, or a new one with the data plane (as `make demo` does)."""
    import demo

    if (DEMO / "sim.pid").exists() and (DEMO / "sim.json").exists():
        info = json.loads((DEMO / "sim.json").read_text().splitlines()[0])
        say(f"using the demo's nimble-sim at {info['url']}")
    else:
        if os.geteuid() != 0 or shutil.which("tgtd") is None:
            sys.exit("demo-boot needs root and tgtd (the simulator's iSCSI data plane)")
        DEMO.mkdir(exist_ok=True)
        say("starting nimble-sim with its iSCSI data plane")
        info = demo.start_sim(True)
    return demo.tf_env(info)


#: What demo-boot runs: the data plane, the image writer, qemu and the image builder's tools.
PACKAGES = [
    "tgt",
    "xfsprogs",
    "qemu-utils",
    "qemu-block-extra",
    "libiscsi-bin",
    "qemu-system-x86",
    *bootimage.HOST_TOOLS,
]


def up(n: int) -> None:
    import demo

    demo.apt_install(PACKAGES)
    env = sim_env()
    WORK.parent.mkdir(exist_ok=True)
    log = DEMO / "boot-terraform.log"
    r = run(WORK, env, n, log)
    (WORK / "report.json").write_text(json.dumps(r, indent=1) + "\n")
    print(report_text(r))
    print("Tear it down with: make demo-destroy")
    if r["clones"]["booted"] != n or r["copies"]["booted"] != n or r["markers_ok"] != n:
        sys.exit(1)


def destroy(work: Path, env: dict[str, str], log: Path) -> None:
    state = work / "terraform.tfstate"
    if not state.exists() or not json.loads(state.read_text()).get("resources"):
        return
    variables = json.loads((work / "vars.json").read_text())
    terraform(["destroy", "-auto-approve", "-input=false", "-no-color", *variables], work, env, log)


def down() -> None:
    import demo

    if not (WORK / "terraform.tfstate").exists() or not (DEMO / "sim.json").exists():
        return
    info = json.loads((DEMO / "sim.json").read_text().splitlines()[0])
    say("terraform destroy (boot demo)")
    destroy(WORK, demo.tf_env(info), DEMO / "boot-terraform.log")
    shutil.rmtree(WORK, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("action", choices=["up", "down"])
    ap.add_argument("--instances", type=int, default=20)
    args = ap.parse_args()
    if args.action == "up":
        up(args.instances)
    else:
        down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
