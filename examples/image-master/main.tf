# An image master on its own: the image written to a volume, verified, and the
# snapshot that instance boot disks are cloned from (see ../ito-fanout).
#
# The array's address and credentials come from NIMBLE_HOST, NIMBLE_USERNAME,
# NIMBLE_PASSWORD (and NIMBLE_CA_FILE for a self-signed array certificate).
# The host running terraform needs qemu-img with iSCSI support and iscsi-ls
# (Debian: qemu-utils, qemu-block-extra, libiscsi-bin) and must reach the
# array's iSCSI portal.

terraform {
  required_providers {
    nimble = {
      source = "ito/nimble"
    }
  }
}

provider "nimble" {}

variable "image_source" {
  description = "Path (relative to this directory) or http(s) URL of the image."
  type        = string
  default     = "images/ubuntu-24.04.qcow2"
}

variable "image_sha256" {
  description = "Expected SHA-256 of the image file (from SHA256SUMS), or null."
  type        = string
  default     = null
}

resource "nimble_image_master" "image" {
  name        = "image-master-example"
  source      = var.image_source
  sha256      = var.image_sha256
  description = "Image master, written by terraform"
}

output "snapshot_id" {
  description = "Clone boot volumes from this snapshot."
  value       = nimble_image_master.image.snapshot_id
}

output "image_sha256" {
  description = "SHA-256 of the image file that was written."
  value       = nimble_image_master.image.image_sha256
}
