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

resource "nimble_volume" "db" {
  name     = "pg-data"
  size_mib = 1024
}

resource "nimble_snapshot" "nightly" {
  for_each  = toset(["nightly-mon", "nightly-tue", "before-upgrade"])
  name      = each.key
  volume_id = nimble_volume.db.id
}

# The nightly snapshots of one volume (volume_name works too; without either,
# the snapshots of every volume, optionally in one pool).
data "nimble_snapshots" "nightly" {
  volume_id   = nimble_volume.db.id
  name_prefix = "nightly-"

  depends_on = [nimble_snapshot.nightly]
}

output "nightly_snapshot_ids" {
  value = data.nimble_snapshots.nightly.ids
}
