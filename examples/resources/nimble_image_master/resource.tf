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

# An image on a mirror that wants a login: keep the credentials out of the URL
# (Terraform shows source in every plan; a URL with user:password@ is refused)
# and pass the password as a sensitive value, e.g. a variable with
# sensitive = true. It is sent as HTTP Basic authentication, never logged.
#
# resource "nimble_image_master" "rhel" {
#   name            = "rhel-9-master"
#   source          = "https://mirror.example/images/rhel-9.qcow2"
#   source_username = "mirror"
#   source_password = var.mirror_password
# }

# An image in Glance (see examples/image-master-from-glance): streamed from
# glance-api and checked against Glance's own checksums before anything is
# created on the array. The Keystone token comes from OS_AUTH_TOKEN.
#
# resource "nimble_image_master" "cirros" {
#   name            = "cirros-master"
#   glance_image_id = "3c1b6e4f-8a0e-4d8c-9f6a-2b7e5d1c0a93"
#   glance_endpoint = "https://controller:9292"
# }

# Written over a CHAP login: the temporary access record of the write names
# the CHAP user, and the secret is write-only (Terraform 1.11 or later: never
# in plan or state), e.g. from an ephemeral variable. It is needed only when
# the master is created.
#
# resource "nimble_image_master" "debian" {
#   name                   = "debian-12-master"
#   source                 = "images/debian-12.qcow2"
#   chap_username          = nimble_chap_user.imagewriter.name
#   chap_secret_wo         = var.chap_secret
#   chap_secret_wo_version = 1
# }

# Every instance boot disk is a zero-copy clone of the master's snapshot.
resource "nimble_clone_volume" "vm0" {
  name        = "vm-0-boot"
  snapshot_id = nimble_image_master.ubuntu.snapshot_id
}
