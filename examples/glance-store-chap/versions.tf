terraform {
  required_version = ">= 1.11" # write-only attributes
  required_providers {
    nimble = {
      source = "ito/nimble"
    }
    glance = {
      source = "ito/glance"
    }
  }
}

# NIMBLE_* and GLANCE_SSH_* environment variables configure both providers.
provider "nimble" {}
provider "glance" {}
