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
  name     = "ubuntu-24.04-master"
  size_mib = 10240
}

resource "nimble_volume_collection" "masters" {
  name       = "image-masters"
  volume_ids = [nimble_volume.master.id]
}

# Every 2 hours from 08:00 to 18:00 on weekdays; the newest 12 are kept.
resource "nimble_protection_schedule" "business_hours" {
  volume_collection_id = nimble_volume_collection.masters.id
  name                 = "business-hours"
  period               = 2
  period_unit          = "hours"
  at_time              = 8 * 3600
  until_time           = 18 * 3600
  days                 = "monday,tuesday,wednesday,thursday,friday"
  num_retain           = 12
}

# Once a day at 01:00, a week's worth kept.
resource "nimble_protection_schedule" "nightly" {
  volume_collection_id = nimble_volume_collection.masters.id
  name                 = "nightly"
  at_time              = 3600
  num_retain           = 7
}
