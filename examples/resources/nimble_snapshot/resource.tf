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
  name     = "centos-9-master"
  size_mib = 10240
}

# The snapshot clones are made from. The array refuses to delete it while
# clones of it exist.
resource "nimble_snapshot" "base" {
  name        = "base"
  volume_id   = nimble_volume.master.id
  description = "Golden image"
}
