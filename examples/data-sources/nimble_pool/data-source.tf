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

data "nimble_pool" "default" {
  name = "default"
}

output "pool_free_bytes" {
  value = data.nimble_pool.default.free_space_bytes
}
