# Image Transfer Optimization fan-out: one image master, many zero-copy clones.
#
# The array's address and credentials come from NIMBLE_HOST, NIMBLE_USERNAME,
# NIMBLE_PASSWORD (and NIMBLE_CA_FILE for a self-signed array certificate).

terraform {
  required_providers {
    nimble = {
      source = "ito/nimble"
    }
  }
}

provider "nimble" {}

# The image master: a volume holding the image and the snapshot clones are made
# from. (nimble_image_master will replace these two and also write the image.)
resource "nimble_volume" "master" {
  name        = "${var.name_prefix}-master"
  size_mib    = var.image_size_mib
  description = "Image master for the ${var.name_prefix} instances"
}

resource "nimble_snapshot" "base" {
  name        = "base"
  volume_id   = nimble_volume.master.id
  description = "Clones of this snapshot share all its blocks"
}

# One boot disk per instance: created in seconds, using no space until written.
resource "nimble_clone_volume" "boot" {
  count       = var.clone_count
  name        = "${var.name_prefix}-vm-${count.index}-boot"
  snapshot_id = nimble_snapshot.base.id
}
