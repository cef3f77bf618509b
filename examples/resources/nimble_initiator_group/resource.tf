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

# The OpenStack controller, allowed to log in to the Glance store volume.
resource "nimble_initiator_group" "controller" {
  name        = "openstack-controller"
  description = "Glance store hosts"
  initiators = [
    "iqn.1993-08.org.debian:01:controller-1",
    "iqn.1993-08.org.debian:01:controller-2",
  ]
}
