terraform {
  required_providers {
    nimble = {
      source = "ito/nimble"
    }
  }
}

# The array: NIMBLE_HOST, NIMBLE_USERNAME and NIMBLE_PASSWORD.
provider "nimble" {}
