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
  name     = "golden-image"
  size_mib = 10240
}

resource "nimble_snapshot" "base" {
  name      = "base"
  volume_id = nimble_volume.master.id
}

resource "nimble_clone_volume" "vm" {
  count       = 3
  name        = "vm-${count.index}-boot"
  snapshot_id = nimble_snapshot.base.id
}

# The master and every clone, snapshotted together by the collection's schedules.
# The collection owns membership: scale `count` and the clones join or leave here.
resource "nimble_volume_collection" "images" {
  name        = "images"
  description = "golden image and its clones"
  volume_ids  = concat([nimble_volume.master.id], nimble_clone_volume.vm[*].id)
}
