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
  name     = "debian-12-master"
  size_mib = 4096
}

resource "nimble_snapshot" "nightly" {
  name      = "nightly"
  volume_id = nimble_volume.master.id
}

# Look a snapshot up by volume and name (or by id), then clone it.
data "nimble_snapshot" "nightly" {
  volume_id = nimble_volume.master.id
  name      = nimble_snapshot.nightly.name
}

resource "nimble_clone_volume" "test" {
  name        = "debian-12-test"
  snapshot_id = data.nimble_snapshot.nightly.id
}
