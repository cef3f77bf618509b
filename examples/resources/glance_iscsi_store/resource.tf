terraform {
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

variable "controller_initiator" {
  description = "The controller's iSCSI initiator name (/etc/iscsi/initiatorname.iscsi)."
  type        = string
}

data "nimble_discovery" "array" {}

# A volume for the image store, visible only to the controller.
resource "nimble_volume" "glance" {
  name     = "glance-store"
  size_mib = 512
}

resource "nimble_initiator_group" "controller" {
  name       = "openstack-controller"
  initiators = [var.controller_initiator]
}

resource "nimble_access_control_record" "glance" {
  volume_id          = nimble_volume.glance.id
  initiator_group_id = nimble_initiator_group.controller.id
}

# Glance keeps its images on the array from now on.
resource "glance_iscsi_store" "store" {
  portal      = data.nimble_discovery.array.discovery_ip
  target_iqn  = nimble_volume.glance.target_name
  mount_point = "/var/lib/glance/images"

  # On a group-scoped target (one target for every volume of the group) the store finds its
  # disk by the LUN of its access record, and checks it is this volume before any mkfs.
  lun           = nimble_access_control_record.glance.lun
  volume_serial = nimble_volume.glance.serial_number

  depends_on = [nimble_access_control_record.glance]
}
