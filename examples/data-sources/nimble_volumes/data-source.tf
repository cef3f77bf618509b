terraform {
  required_providers {
    nimble = {
      source = "ito/nimble"
    }
  }
}

# host, username and password come from NIMBLE_HOST, NIMBLE_USERNAME and
# NIMBLE_PASSWORD (NIMBLE_CA_FILE for the array's self-signed certificate).
provider "nimble" {}

resource "nimble_volume" "master" {
  name     = "rocky-9-master"
  size_mib = 2048
}

resource "nimble_snapshot" "base" {
  name      = "base"
  volume_id = nimble_volume.master.id
}

resource "nimble_clone_volume" "vm" {
  count       = 3
  name        = "rocky-vm-${count.index}-boot"
  snapshot_id = nimble_snapshot.base.id
}

# Every clone of the snapshot whose name matches: the pool and snapshot filters
# run on the array, the regular expression in the provider.
data "nimble_volumes" "boot_clones" {
  base_snapshot_id = nimble_snapshot.base.id
  pool             = "default"
  name_regex       = "^rocky-vm-[0-9]+-boot$"

  depends_on = [nimble_clone_volume.vm]
}

output "boot_clone_names" {
  value = data.nimble_volumes.boot_clones.names
}

# Keyed by name, ready for for_each (see the guide "Adopting existing clones").
output "boot_clones_by_name" {
  value = { for v in data.nimble_volumes.boot_clones.volumes : v.name => v.id }
}
