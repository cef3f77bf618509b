terraform {
  required_version = ">= 1.11" # write-only attributes
  required_providers {
    nimble = {
      source = "ito/nimble"
    }
  }
}

# host, username and password come from NIMBLE_HOST, NIMBLE_USERNAME and
# NIMBLE_PASSWORD (NIMBLE_CA_FILE for the array's self-signed certificate).
provider "nimble" {}

# Ephemeral: Terraform keeps the value out of plan files and state.
# Give it with TF_VAR_chap_secret (12-16 printable ASCII characters, no spaces).
variable "chap_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}

locals {
  controller_iqn = "iqn.1993-08.org.debian:01:controller-1"
}

resource "nimble_chap_user" "glance" {
  name        = "glance-controllers"
  description = "CHAP account of the Glance store's iSCSI login"
  secret_wo   = var.chap_secret
  # Bump to send a new chap_secret to the array.
  secret_wo_version = 1
  # The initiators that use this account. An IQN belongs to one CHAP user at a
  # time: listing it here takes it from any other (the plan warns). The array
  # refuses to delete this user while a group has one of these IQNs; a destroy
  # waits for the group that it deletes too.
  initiator_iqns = [local.controller_iqn]
}

resource "nimble_volume" "glance" {
  name     = "glance-images-chap"
  size_mib = 10240
}

resource "nimble_initiator_group" "controller" {
  name       = "glance-controllers-chap"
  initiators = [local.controller_iqn]
}

# The controller sees the volume only when it logs in as the CHAP user.
resource "nimble_access_control_record" "glance" {
  volume_id          = nimble_volume.glance.id
  initiator_group_id = nimble_initiator_group.controller.id
  chap_user_id       = nimble_chap_user.glance.id
  apply_to           = "volume"
}
