terraform {
  required_providers {
    nimble = {
      source = "ito/nimble"
    }
  }
}

# Every argument falls back to an environment variable: with NIMBLE_HOST,
# NIMBLE_USERNAME, NIMBLE_PASSWORD (and NIMBLE_CA_FILE) set, `provider "nimble" {}`
# is enough. Written out, with the password kept in a variable:
#
# provider "nimble" {
#   host     = "array.example"        # NIMBLE_HOST
#   port     = 5392                   # NIMBLE_PORT
#   username = "admin"                # NIMBLE_USERNAME
#   password = var.array_password     # NIMBLE_PASSWORD
#   ca_file  = "/etc/nimble/ca.pem"   # NIMBLE_CA_FILE
# }
provider "nimble" {
  max_concurrency = 8
}

data "nimble_pool" "default" {
  name = "default"
}

output "free_space_gib" {
  value = floor(data.nimble_pool.default.free_space_bytes / 1073741824)
}
