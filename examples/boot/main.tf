# Boot N instances from one image: the image is written once to an image master,
# every instance boots from its own zero-copy clone of it, and an initiator group
# plus an access control record let exactly that instance's iSCSI initiator in.
#
# The array's address and credentials come from NIMBLE_HOST, NIMBLE_USERNAME,
# NIMBLE_PASSWORD (and NIMBLE_CA_FILE for a self-signed array certificate). The
# host running terraform writes the image over iSCSI (Debian: qemu-utils,
# qemu-block-extra, libiscsi-bin) and must reach the array's iSCSI portal.

terraform {
  required_providers {
    nimble = {
      source = "ito/nimble"
    }
  }
}

provider "nimble" {}

locals {
  instances = [for i in range(var.instance_count) : format("%s-vm-%02d", var.name_prefix, i)]
}

# The image, written once and verified; clones are made from its snapshot.
resource "nimble_image_master" "image" {
  name        = "${var.name_prefix}-master"
  source      = var.image_source
  sha256      = var.image_sha256
  description = "Boot image of the ${var.name_prefix} instances"
}

# One boot disk per instance: made in about a millisecond, using no space until
# the instance writes to it.
resource "nimble_clone_volume" "boot" {
  count       = var.instance_count
  name        = "${local.instances[count.index]}-boot"
  snapshot_id = nimble_image_master.image.snapshot_id
}

# One initiator per instance, so each instance can open its own disk only.
resource "nimble_initiator_group" "instance" {
  count      = var.instance_count
  name       = local.instances[count.index]
  initiators = ["${var.initiator_prefix}:${local.instances[count.index]}"]
}

resource "nimble_access_control_record" "boot" {
  count              = var.instance_count
  volume_id          = nimble_clone_volume.boot[count.index].id
  initiator_group_id = nimble_initiator_group.instance[count.index].id
  apply_to           = "volume"
}

# For comparison only: the image written in full into its own volume for the
# first full_copy_count instances, as a deployment without ITO does it. Written
# once the instances' own access records exist: a write is never under way while
# the group target changes for them.
resource "nimble_image_master" "copy" {
  count       = min(var.full_copy_count, var.instance_count)
  name        = "${local.instances[count.index]}-copy"
  source      = var.image_source
  sha256      = var.image_sha256
  description = "Full copy of the boot image for ${local.instances[count.index]}"

  depends_on = [nimble_access_control_record.boot]
}

resource "nimble_access_control_record" "copy" {
  count              = min(var.full_copy_count, var.instance_count)
  volume_id          = nimble_image_master.copy[count.index].id
  initiator_group_id = nimble_initiator_group.instance[count.index].id
  apply_to           = "volume"
}
