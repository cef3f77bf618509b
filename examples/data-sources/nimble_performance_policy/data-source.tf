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

data "nimble_performance_policy" "sql" {
  name = "SQL Server"
}

output "sql_block_size" {
  value = data.nimble_performance_policy.sql.block_size
}
