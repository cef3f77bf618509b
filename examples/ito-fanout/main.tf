# Image Transfer Optimization fan-out: the image written once to an image master,
# and one zero-copy clone of its snapshot per instance boot disk.
#
# The array's address and credentials come from NIMBLE_HOST, NIMBLE_USERNAME,
# NIMBLE_PASSWORD (and NIMBLE_CA_FILE for a self-signed array certificate).
# The host running terraform writes the image over iSCSI: it needs qemu-img with
# iSCSI support and iscsi-ls (Debian: qemu-utils, qemu-block-extra,
# libiscsi-bin) and must reach the array's iSCSI portal.

terraform {
  required_providers {
    nimble = {
      source = "ito/nimble"
    }
  }
}

provider "nimble" {}

# The image master: the image written once, verified by reading it back, and the
# snapshot every boot volume is cloned from.
resource "nimble_image_master" "image" {
  name        = "${var.name_prefix}-master"
  source      = var.image_source
  sha256      = var.image_sha256
  description = "Image master for the ${var.name_prefix} instances"
}

# One boot disk per instance: created in seconds, using no space until written.
resource "nimble_clone_volume" "boot" {
  count       = var.clone_count
  name        = "${var.name_prefix}-vm-${count.index}-boot"
  snapshot_id = nimble_image_master.image.snapshot_id
}
