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

# A volume for the Glance image store.
resource "nimble_volume" "glance" {
  name               = "glance-store"
  size_mib           = 512000
  description        = "Glance filesystem store"
  performance_policy = "default"
}
