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
  name     = "ubuntu-24.04-master"
  size_mib = 10240
}

resource "nimble_snapshot" "base" {
  name      = "base"
  volume_id = nimble_volume.master.id
}

# A zero-copy clone of the snapshot: created in seconds, no space used until written.
resource "nimble_clone_volume" "example" {
  name        = "vm-0-boot"
  snapshot_id = nimble_snapshot.base.id
  size_mib    = 20480 # grown in place from the snapshot's 10240 MiB
  description = "Boot disk of vm-0"

  timeouts {
    create = "5m"
  }
}
