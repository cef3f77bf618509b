terraform {
  required_providers {
    glance = {
      source = "ito/glance"
    }
  }
}

# The OpenStack controller running glance-api, over SSH with host-key checking.
# Every argument falls back to an environment variable (GLANCE_SSH_HOST, GLANCE_SSH_USER,
# GLANCE_SSH_PRIVATE_KEY_FILE, GLANCE_SSH_KNOWN_HOSTS_FILE, ...); omit host to manage
# the machine Terraform runs on.
provider "glance" {}
