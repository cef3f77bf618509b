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

resource "nimble_volume" "existing" {
  name     = "legacy-data"
  size_mib = 2048
}

# Look a volume up by name (or by id), e.g. one made outside Terraform.
data "nimble_volume" "legacy" {
  name = nimble_volume.existing.name
}

output "legacy_target" {
  value = data.nimble_volume.legacy.target_name
}
