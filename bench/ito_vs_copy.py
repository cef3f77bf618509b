"""ITO (one image master + N zero-copy clones) vs N full copies: wall time and physical bytes.

    .venv/bin/python bench/ito_vs_copy.py [--instances 20] [--image-mib 256] [--mode auto]
                                          [--json]

Modes:
  dataplane   nimble-sim --data-plane (reflink pool + tgtd; needs root, tgtd, qemu-img with
              libiscsi). Image bytes really travel over iSCSI: `qemu-img convert` to each
              volume's target, with an access control record for this host's initiator.
              Physical bytes = the pool filesystem's used-bytes delta (statvfs), which counts
              shared (reflinked) extents once; the array's view (pool `usage`) is shown too.
  accounting  plain nimble-sim; data is "written" with POST /sim/volumes/<id>/write, so the
              bytes are the simulator's space accounting and the write times are not real.
  auto        dataplane when it starts, else accounting (the result says which ran).

ITO: if the provider has nimble_image_master, one `terraform apply` of it + N
nimble_clone_volume. Otherwise (said in the result) the master is a volume written the same way
as the copies (REST + qemu-img), snapshotted over REST, then `terraform apply` of N
nimble_clone_volume. Full copy: `terraform apply` of N nimble_volume, then each volume written
with the whole image, one after another.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    NIMBLE_PROVIDER,
    ROOT,
    Sim,
    Terraform,
    log,
    machine,
    plugin_env,
    sim,
    workspace,
)

MiB = 1 << 20
INITIATOR = "iqn.2024-01.io.ito:bench-host"


def has_image_master() -> bool:
    path = ROOT / "provider/tfnimble/nimble/resource_image_master.py"
    provider = (ROOT / "provider/tfnimble/nimble/provider.py").read_text()
    return path.exists() and "image_master" in provider


def dataplane_possible() -> str | None:
    """None when the real data plane can run here, else why not."""
    if os.geteuid() != 0:
        return "not root"
    for tool in ("tgtd", "tgtadm", "qemu-img"):
        if shutil.which(tool) is None:
            return f"{tool} not found"
    return None


class Array:
    """The operations both paths need, in the data-plane or the accounting mode."""

    def __init__(self, s: Sim, mode: str, image: Path, base: Path) -> None:
        self.s, self.mode, self.image, self.base = s, mode, image, base
        self.image_bytes = image.stat().st_size
        self.portal = ""
        self.group_id = ""
        if mode == "dataplane":
            self.portal = s.portal
            grp = s.call(
                "POST",
                "/v1/initiator_groups",
                {
                    "name": "bench-host",
                    "access_protocol": "iscsi",
                    "iscsi_initiators": [{"label": "bench-host", "iqn": INITIATOR}],
                },
            )
            self.group_id = grp["data"]["id"]

    def pool_dir(self) -> Path:
        return self.s.state_dir / "dataplane" / "pool"

    def physical(self) -> int:
        """Bytes used on the pool filesystem (dataplane) or the array's pool usage."""
        if self.mode == "dataplane":
            st = os.statvfs(self.pool_dir())
            return (st.f_blocks - st.f_bfree) * st.f_frsize
        return self.s.pool_usage()

    def write_image(self, vol: dict[str, Any]) -> None:
        if self.mode != "dataplane":
            self.s.admin("POST", f"volumes/{vol['id']}/write", {"bytes": self.image_bytes})
            return
        acr = self.s.call(
            "POST",
            "/v1/access_control_records",
            {"vol_id": vol["id"], "initiator_group_id": self.group_id, "apply_to": "both"},
        )
        opts = (
            f"driver=raw,file.driver=iscsi,file.transport=tcp,file.portal={self.portal},"
            f"file.target={vol['target_name']},file.lun=1,file.initiator-name={INITIATOR}"
        )
        try:
            subprocess.run(
                [
                    "qemu-img",
                    "convert",
                    "-n",
                    "-f",
                    "raw",
                    "-W",
                    "--target-image-opts",
                    str(self.image),
                    opts,
                ],
                check=True,
                capture_output=True,
                timeout=1800,
            )
        finally:
            self.s.call("DELETE", f"/v1/access_control_records/{acr['data']['id']}")

    def volume(self, name: str) -> dict[str, Any]:
        return dict(self.s.call("GET", "/v1/volumes/detail", name=name)["data"][0])


def ito(arr: Array, tf: Terraform, n: int, use_master: bool) -> dict[str, Any]:
    before = arr.physical()
    t0 = time.perf_counter()
    if use_master:
        tf.write(
            NIMBLE_PROVIDER
            + f"""
resource "nimble_image_master" "m" {{
  name   = "ito-master"
  source = "{arr.image}"
}}

resource "nimble_clone_volume" "c" {{
  count       = {n}
  name        = "ito-vm-${{count.index}}"
  snapshot_id = nimble_image_master.m.snapshot_id
}}
"""
        )
        tf.init()
        t0 = time.perf_counter()  # init is not part of the comparison
        tf.apply()
        master_s = None
    else:
        size_mib = -(-arr.image_bytes // MiB)
        vol = arr.s.call("POST", "/v1/volumes", {"name": "ito-master", "size": size_mib})["data"]
        arr.write_image(vol)
        snap = arr.s.call("POST", "/v1/snapshots", {"name": "base", "vol_id": vol["id"]})["data"]
        master_s = time.perf_counter() - t0
        tf.write(
            NIMBLE_PROVIDER
            + f"""
resource "nimble_clone_volume" "c" {{
  count       = {n}
  name        = "ito-vm-${{count.index}}"
  snapshot_id = "{snap["id"]}"
}}
"""
        )
        t_init0 = time.perf_counter()
        tf.init()
        t0 += time.perf_counter() - t_init0  # init is not part of the comparison
        tf.apply()
    total = time.perf_counter() - t0
    time.sleep(0.5)
    return {
        "seconds": total,
        "master_seconds": master_s,
        "clones_seconds": None if master_s is None else total - master_s,
        "physical_bytes": arr.physical() - before,
    }


def full_copy(arr: Array, tf: Terraform, n: int) -> dict[str, Any]:
    before = arr.physical()
    size_mib = -(-arr.image_bytes // MiB)
    tf.write(
        NIMBLE_PROVIDER
        + f"""
resource "nimble_volume" "v" {{
  count    = {n}
  name     = "copy-vm-${{count.index}}"
  size_mib = {size_mib}
}}
"""
    )
    tf.init()
    t0 = time.perf_counter()
    tf.apply()
    create_s = time.perf_counter() - t0
    for i in range(n):
        arr.write_image(arr.volume(f"copy-vm-{i}"))
    total = time.perf_counter() - t0
    time.sleep(0.5)
    return {
        "seconds": total,
        "create_seconds": create_s,
        "write_seconds": total - create_s,
        "physical_bytes": arr.physical() - before,
    }


def make_image(path: Path, mib: int) -> None:
    """Incompressible bytes, so neither path can skip any (no zero detection helps)."""
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(MiB))


def run(n: int = 20, image_mib: int = 256, mode: str = "auto") -> dict[str, Any]:
    why_not = dataplane_possible()
    if mode == "dataplane" and why_not:
        raise SystemExit(f"data-plane mode impossible: {why_not}")
    modes = ["dataplane", "accounting"] if mode == "auto" else [mode]
    if mode == "auto" and why_not:
        modes = ["accounting"]
    use_master = has_image_master()
    last_exc: Exception | None = None
    for m in modes:
        with workspace() as base:
            image = base / "image.raw"
            make_image(image, image_mib)
            env = plugin_env(base)
            try:
                with sim(base / "sim", data_plane=(m == "dataplane")) as s:
                    arr = Array(s, m, image, base)
                    nenv = {**env, **s.env()}
                    pool_before = s.pool_usage()
                    i = ito(arr, Terraform(base / "ito", nenv), n, use_master)
                    pool_mid = s.pool_usage()
                    c = full_copy(arr, Terraform(base / "copy", nenv), n)
                    pool_after = s.pool_usage()
            except Exception as exc:  # the data plane may fail to start: fall back
                if m == modes[-1]:
                    raise
                log(f"ito_vs_copy: {m} mode failed ({exc}); trying the next mode")
                last_exc = exc
                continue
        i["pool_usage_delta"] = pool_mid - pool_before
        c["pool_usage_delta"] = pool_after - pool_mid
        result = {
            "mode": m,
            "instances": n,
            "image_bytes": image_mib * MiB,
            "image_master": "nimble_image_master"
            if use_master
            else "nimble_volume + REST snapshot (nimble_image_master not in the provider yet)",
            "dataplane_unavailable": why_not or (str(last_exc) if last_exc else None),
            "ito": i,
            "full_copy": c,
            "time_ratio": c["seconds"] / i["seconds"],
            "bytes_ratio": c["physical_bytes"] / max(1, i["physical_bytes"]),
        }
        log(
            f"ito_vs_copy ({m}): ITO {i['seconds']:.1f}s {i['physical_bytes'] / MiB:.0f} MiB; "
            f"copies {c['seconds']:.1f}s {c['physical_bytes'] / MiB:.0f} MiB"
        )
        return result
    raise RuntimeError("no mode ran")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--image-mib", type=int, default=256)
    ap.add_argument("--mode", choices=["auto", "dataplane", "accounting"], default="auto")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = run(args.instances, args.image_mib, args.mode)
    if args.json:
        print(json.dumps(r))
        return 0
    m = machine()
    print(
        f"{m['cpu']}, {m['cores']} cores; mode {r['mode']}; {r['instances']} instances of a "
        f"{r['image_bytes'] // MiB} MiB image; master: {r['image_master']}"
    )
    for k in ("ito", "full_copy"):
        print(
            f"{k:10s} {r[k]['seconds']:8.1f} s  {r[k]['physical_bytes'] / MiB:10.1f} MiB physical"
            f"  (pool usage delta {r[k]['pool_usage_delta'] / MiB:.1f} MiB)"
        )
    print(f"full copy / ITO: time x{r['time_ratio']:.1f}, bytes x{r['bytes_ratio']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
