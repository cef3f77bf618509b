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

resource "nimble_volume" "glance" {
  name     = "glance-images"
  size_mib = 102400
}

resource "nimble_initiator_group" "controller" {
  name       = "glance-controllers"
  initiators = ["iqn.1993-08.org.debian:01:controller-1"]
}

# Lets the controller see the Glance store volume.
resource "nimble_access_control_record" "glance" {
  volume_id          = nimble_volume.glance.id
  initiator_group_id = nimble_initiator_group.controller.id
  apply_to           = "volume"
}
