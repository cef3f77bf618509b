"""Adopting a fleet of clones made outside Terraform, with nimble_volumes and import blocks.

Two recipes of the guide docs/guides/adopting-clones.md, in one configuration:
- `for_each` on both the import block and the resource (Terraform 1.7+), keyed by the data
  source's names;
- one import block per clone rendered from the data source (an output), then
  `terraform plan -generate-config-out=generated.tf` (Terraform cannot generate configuration
  for a for_each import target, so generation takes one block per clone).
Then: the plan is empty, destroy deletes exactly the adopted clones, and the array is back as
the test found it. The filters are checked on the same apply.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from harness import Harness
from nimble_fixtures import Sim
from nimble_hcl import config

IMPORT_BLOCKS = """
locals {
  # resource name => ID; a name that is not a Terraform identifier is made one
  adopt = {
    for v in data.nimble_volumes.generated.volumes :
    replace(replace(v.name, "/^([0-9])/", "_$1"), "/[^A-Za-z0-9_-]/", "_") => v.id
  }
}

output "import_blocks" {
  value = join("", [for addr, id in local.adopt : <<-EOT
    import {
      to = nimble_clone_volume.${addr}
      id = "${id}"
    }
    EOT
  ])
}
"""


def _main_tf(p: str, snap_id: str, master_id: str, volcoll_id: str) -> str:
    return config(
        f'''
data "nimble_volumes" "generated" {{
  base_snapshot_id = "{snap_id}"
  name_regex       = "^(2-)?{p}-vm-[0-2]-boot$"
}}

data "nimble_volumes" "fleet" {{
  base_snapshot_id = "{snap_id}"
  name_prefix      = "{p}-vm-"
  name_regex       = "-[34]-boot$"
}}

import {{
  for_each = {{ for v in data.nimble_volumes.fleet.volumes : v.name => v.id }}
  to       = nimble_clone_volume.fleet[each.key]
  id       = each.value
}}

resource "nimble_clone_volume" "fleet" {{
  for_each    = {{ for v in data.nimble_volumes.fleet.volumes : v.name => v }}
  name        = each.value.name
  snapshot_id = each.value.base_snapshot_id
  online      = each.value.online
  description = each.value.description
}}

data "nimble_volumes" "all_clones" {{
  parent_volume_id = "{master_id}"
  pool             = "default"
  clone            = true
}}

data "nimble_volumes" "not_clones" {{
  name_prefix = "{p}-"
  clone       = false
}}

data "nimble_volumes" "in_collection" {{
  volume_collection_id = "{volcoll_id}"
}}

data "nimble_snapshots" "of_master" {{
  volume_id   = "{master_id}"
  name_prefix = "base"
}}

output "generated" {{ value = data.nimble_volumes.generated }}
output "fleet" {{ value = data.nimble_volumes.fleet.names }}
output "all_clones" {{ value = data.nimble_volumes.all_clones.names }}
output "not_clones" {{ value = data.nimble_volumes.not_clones.names }}
output "snapshots" {{ value = data.nimble_snapshots.of_master.snapshots }}
output "in_collection" {{ value = data.nimble_volumes.in_collection.volumes }}
'''
        + IMPORT_BLOCKS
    )


def test_acc_adopt_clones_for_each_and_generated_config(tf: Harness, sim: Sim) -> None:
    from tfnimble.nimble.client import snapshots, volume_collections, volumes

    before = sim.inventory()
    p = sim.unique("adopt")
    cl = sim.client
    # Out of band, through the REST API as any other tool would: a master, its snapshot,
    # five clones to adopt and one that no filter selects.
    master = volumes.create_volume(cl, f"{p}-master", 512)
    snap = snapshots.create_snapshot(cl, master.id, "base-1")
    # vm-2's name starts with a digit: not a Terraform identifier as it is
    names = [f"{'2-' if i == 2 else ''}{p}-vm-{i}-boot" for i in range(5)] + [f"{p}-other"]
    # vm-0 (generated config) and vm-3 (for_each) are offline, vm-4 has a description:
    # adopting them must change neither.
    extra: dict[str, dict[str, Any]] = {
        f"{p}-vm-0-boot": {"online": False},
        f"{p}-vm-3-boot": {"online": False},
        f"{p}-vm-4-boot": {"description": "made by hand"},
    }
    made = {
        n: cl.create_object(
            "volumes",
            {"name": n, "clone": True, "base_snap_id": snap.id, **extra.get(n, {})},
            kind="clone",
            name=n,
        )["id"]
        for n in names
    }
    # The master and the clone no filter selects are in a volume collection.
    coll = volume_collections.create_volume_collection(cl, f"{p}-coll")
    for vol_id in (master.id, made[f"{p}-other"]):
        volume_collections.set_volume_collection(cl, vol_id, coll.id)
    work = Path(tempfile.mkdtemp(prefix="tfacc-adopt-", dir=tf.root))
    tf.workdir = work
    env = sim.env()
    applied = False
    try:
        tf.write_config(_main_tf(p, snap.id, master.id, coll.id))
        tf.init(env=env)
        first = tf.terraform("apply", "-auto-approve", "-no-color", "-input=false", env=env)
        applied = True
        assert "2 imported, 0 added, 0 changed, 0 destroyed" in first.stdout, first.stdout
        state = tf.state(env=env)
        out: dict[str, Any] = state.outputs
        gen = out["generated"]
        assert gen["names"] == sorted(names[:3])
        assert gen["ids"] == [made[n] for n in gen["names"]]
        row = gen["volumes"][0]
        assert row["base_snapshot_id"] == snap.id and row["parent_volume_id"] == master.id
        assert row["clone"] is True and row["pool"] == "default" and row["size_mib"] == 512
        assert out["fleet"] == [f"{p}-vm-3-boot", f"{p}-vm-4-boot"]
        assert out["all_clones"] == sorted(names)
        assert out["not_clones"] == [f"{p}-master"]
        assert [(s["name"], s["volume_id"]) for s in out["snapshots"]] == [("base-1", master.id)]
        in_coll = out["in_collection"]
        assert [(v["name"], v["volume_collection_id"]) for v in in_coll] == [
            (f"{p}-master", coll.id),
            (f"{p}-other", coll.id),
        ]
        for n in out["fleet"]:
            assert state.attrs(f'nimble_clone_volume.fleet["{n}"]')["id"] == made[n]
        assert sim.volume(f"{p}-vm-3-boot").online is False, "adoption put a clone online"
        assert sim.volume(f"{p}-vm-4-boot").description == "made by hand"

        # The generated-configuration recipe, for the three the regex selects.
        blocks = tf.terraform("output", "-raw", "import_blocks", env=env).stdout
        (work / "imports.tf").write_text(blocks)
        assert blocks.count("import {") == 3
        tf.terraform(
            "plan", "-no-color", "-input=false", "-generate-config-out=generated.tf", env=env
        )
        generated = (work / "generated.tf").read_text()
        assert len(re.findall(r'resource "nimble_clone_volume"', generated)) == 3
        assert f'snapshot_id        = "{snap.id}"' in generated
        second = tf.terraform("apply", "-auto-approve", "-no-color", "-input=false", env=env)
        assert "3 imported, 0 added, 0 changed, 0 destroyed" in second.stdout, second.stdout
        for extra in ((), ("-refresh=false",)):
            res = tf.plan_exitcode(*extra, env=env)
            assert res.returncode == 0, f"plan {extra} after adoption is not empty:\n{res.output}"
        state = tf.state(env=env)
        adopted = {a["values"]["name"] for a in state.resources.values() if a["mode"] == "managed"}
        assert adopted == set(names[:5])
        assert sim.volume(f"{p}-vm-0-boot").online is False

        tf.terraform("destroy", "-auto-approve", "-no-color", "-input=false", env=env)
        applied = False
        left = set(sim.volumes())
        assert not left & set(names[:5]), "destroy left adopted clones"
        assert {f"{p}-master", f"{p}-other"} <= left, "destroy deleted what it did not adopt"

        # A regular expression that does not compile is refused before any read.
        (work / "imports.tf").unlink()
        (work / "generated.tf").unlink()
        tf.write_config(config('\ndata "nimble_volumes" "bad" {\n  name_regex = "vm-(["\n}\n'))
        res = tf.terraform("validate", "-no-color", env=env, check=False)
        flat = re.sub(r"\s+", " ", res.output.replace("│", " "))
        assert res.returncode == 1
        assert re.search(r"Invalid Regular Expression.*name_regex.*vm-\(\[", flat), flat
    finally:
        if applied:
            tf.terraform("destroy", "-auto-approve", "-no-color", "-input=false", env=env)
        for vol_id in (master.id, made[f"{p}-other"]):
            volume_collections.set_volume_collection(cl, vol_id, "")
        volume_collections.delete_volume_collection(cl, coll.id)
        for vol_id in made.values():
            volumes.offline_and_delete_volume(cl, vol_id)
        snapshots.delete_snapshot(cl, snap.id, missing_ok=True)
        volumes.offline_and_delete_volume(cl, master.id)
        shutil.rmtree(work, ignore_errors=True)
    assert sim.inventory() == before
