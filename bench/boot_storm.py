"""Boot storm: N instances boot from N zero-copy clones of one real image, then from N full copies.

    .venv/bin/python bench/boot_storm.py [--instances 20] [--json] [--update-doc]

The scenario is `make demo-boot`'s (tools/bootimage/demo_boot.py: examples/boot applied with N
instances and N full copies, every instance booted under qemu over iSCSI as its own initiator)
against a private nimble-sim with its real data plane (reflink XFS pool, tgtd). Printed: boot
storm wall seconds of each fleet, physical bytes (the array's REST space figures) before and
after booting, terraform apply time. Nothing asserts a time. --update-doc rewrites the "Boot
storm" section of docs/benchmarks.md and docs/img/boot_storm.png, docs/img/boot_console.png
(what bench/run_all.py does in `make bench`). Needs root, tgtd, qemu-system-x86.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "bootimage"))

import demo_boot
from _common import ROOT, log, machine, plugin_env, sim, workspace

MiB = 1 << 20
TITLE = "7. Boot storm: instances from clones vs full copies"
DOC = ROOT / "docs" / "benchmarks.md"
IMG = ROOT / "docs" / "img"


def run(n: int = 20, screenshot: Path | None = None) -> dict[str, Any]:
    load1, cores = os.getloadavg()[0], os.cpu_count() or 0
    with workspace("nimble-boot-") as base:
        env = plugin_env(base)
        with sim(base / "sim", data_plane=True) as s:
            env = {**env, **s.env()}
            work = base / "work"
            try:
                r = demo_boot.run(work, env, n, base / "terraform.log")
                if screenshot is not None and Path(r["screenshot"]).exists():
                    shutil.copy(r["screenshot"], screenshot)
                    r["screenshot"] = str(screenshot.relative_to(ROOT))
            finally:
                demo_boot.destroy(work, env, base / "terraform.log")
    return {**r, "load1": load1, "cores": cores}


def plot(r: dict[str, Any], path: Path, m: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c, f = r["clones"], r["copies"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(6.4, 3.0), dpi=80)
    labels = ["clones (ITO)", "full copies"]
    secs = [c["seconds"], f["seconds"]]
    mib = [c["bytes_after"] / MiB, f["bytes_after"] / MiB]
    a1.bar(labels, secs, color=["tab:green", "tab:red"])
    a1.set_ylabel(f"boot storm, {r['instances']} instances (s)")
    a2.bar(labels, mib, color=["tab:green", "tab:red"])
    a2.set_ylabel("physical MiB after booting")
    for ax, vals, fmt in ((a1, secs, "{:.1f}"), (a2, mib, "{:.2f}")):
        for x, v in enumerate(vals):
            ax.text(x, v, fmt.format(v), ha="center", va="bottom", fontsize=8)
        ax.tick_params(labelsize=8)
    fig.suptitle(
        f"{r['instances']} instances of a {r['image']['bytes'] // MiB} MiB bootable image "
        f"(qemu {r['accel']})",
        fontsize=9,
    )
    fig.text(
        0.01,
        0.01,
        f"{m['cpu']}, {m['cores']} cores, Terraform {m['terraform']}, {m['date']}",
        fontsize=6,
        color="gray",
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def section(r: dict[str, Any]) -> list[str]:
    n, c, f = r["instances"], r["clones"], r["copies"]
    clone_growth = c["bytes_after"] - c["bytes_before"]
    out = [
        f"`bench/boot_storm.py` (the scenario of `make demo-boot`): examples/boot applied with "
        f"{n} instances and {n} full copies against nimble-sim with its real data plane, then "
        f"{n} qemu instances ({r['accel']}: {r['accel_why']}) started at once, each booting a "
        f"{r['image']['bytes'] // MiB} MiB Debian image (kernel {r['image']['kernel']}, busybox, "
        "SYSLINUX; `tools/bootimage`) over iSCSI as its own initiator; each writes a 4 KiB "
        "marker to its disk and powers off. Then the same with the full copies. Boot-storm time: "
        "from starting the first qemu until the last instance has powered off. Physical bytes: "
        "the array's REST figures (`vol_usage_compressed_bytes`, summed).",
        "",
        "| | booted | boot storm s | physical before booting | after booting |",
        "|---|---:|---:|---:|---:|",
        f"| {n} clones (ITO) | {c['booted']}/{n} | {c['seconds']:.1f} | "
        f"{c['bytes_before'] / MiB:.2f} MiB | {c['bytes_after'] / MiB:.2f} MiB |",
        f"| {n} full copies | {f['booted']}/{n} | {f['seconds']:.1f} | "
        f"{f['bytes_before'] / MiB:.2f} MiB | {f['bytes_after'] / MiB:.2f} MiB |",
        "",
        "![boot storm](img/boot_storm.png)",
        "",
        f"The {n} clones cost {clone_growth // 1024} KiB after booting: {n} markers of 4 KiB, "
        f"nothing else; the full copies hold the image {n} times. Markers found on their own "
        f"clones: {r['markers_ok']}/{n}. `terraform apply` of the master, the {n} clones, "
        f"their initiator groups and access records took {r['apply_seconds']:.1f} s; of the "
        f"{n} full copies, written and verified one at a time, "
        f"{r['copies_apply_seconds']:.1f} s.",
        "",
    ]
    ratio = f["seconds"] / c["seconds"] if c["seconds"] else 0.0
    out.append(
        f"Full copies / clones boot-storm time: {ratio:.2f}. On the simulator a clone and a "
        "copy are both files on one XFS filesystem served by one tgtd, and the instances are "
        "CPU-bound, so the two storms take about as long: what ITO saves here is space and "
        "provisioning, not boot time."
        + (
            f" Load average (1 min) when the storms began: {r['load1']:.1f} on "
            f"{r['cores']} cores; the boot-storm seconds grow with it."
            if "load1" in r
            else ""
        )
    )
    if r.get("screenshot"):
        out += ["", "Instance 0's screen after it powered off (QMP `screendump`):", ""]
        out += [f"![instance 0's console]({Path(r['screenshot']).relative_to('docs')})"]
    out += ["", "One console line per instance (from clones):", "", "```"]
    out += [*c["lines"], "```", ""]
    return out


def update_doc(r: dict[str, Any], m: dict[str, Any]) -> None:
    """Replace (or append) this section of docs/benchmarks.md, and its plot."""
    plot(r, IMG / "boot_storm.png", m)
    text = DOC.read_text()
    body = "\n".join([f"## {TITLE}", "", *section(r)]).rstrip() + "\n"
    pattern = re.compile(rf"^## {re.escape(TITLE)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: body + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + body
    DOC.write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--update-doc", action="store_true")
    ap.add_argument(
        "--from-json", type=Path, help="re-render from an earlier run's --json output (no run)"
    )
    args = ap.parse_args()
    m = machine()
    shot = IMG / "boot_console.png" if args.update_doc else None
    if args.from_json:
        r = json.loads(args.from_json.read_text().strip().splitlines()[-1])
        args.instances = r["instances"]
    else:
        r = run(args.instances, shot)
    log(demo_boot.report_text(r))
    if args.update_doc:
        update_doc(r, m)
        log(f"wrote {DOC.relative_to(ROOT)}")
    if args.json:
        print(json.dumps(r))
    return 0 if r["clones"]["booted"] == args.instances else 1


if __name__ == "__main__":
    sys.exit(main())
