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

# The portal an iSCSI initiator discovers the array's targets at.
data "nimble_discovery" "this" {}

output "iscsi_portal" {
  value = "${data.nimble_discovery.this.discovery_ip}:3260"
}

output "data_ips" {
  value = data.nimble_discovery.this.data_ips
}
