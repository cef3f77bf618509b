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

# The image is written once over iSCSI (qemu-img, no kernel initiator needed),
# read back and compared, and only then snapshotted.
resource "nimble_image_master" "ubuntu" {
  name        = "ubuntu-24.04-master"
  source      = "images/ubuntu-24.04.qcow2" # or an http(s):// URL
  description = "Ubuntu 24.04 cloud image"

  timeouts {
    create = "60m"
  }
}

# Every instance boot disk is a zero-copy clone of the master's snapshot.
resource "nimble_clone_volume" "vm0" {
  name        = "vm-0-boot"
  snapshot_id = nimble_image_master.ubuntu.snapshot_id
}
