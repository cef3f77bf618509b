data "nimble_discovery" "array" {}

# The Glance store's volume, visible only to the controller, and only when it logs in as the
# CHAP user.
resource "nimble_volume" "glance" {
  name     = "glance-store-chap"
  size_mib = 512
}

resource "nimble_chap_user" "controller" {
  name              = "glance-controller"
  description       = "CHAP account of the Glance store's iSCSI login"
  secret_wo         = var.chap_secret
  secret_wo_version = var.chap_secret_version
}

resource "nimble_initiator_group" "controller" {
  name       = "openstack-controller-chap"
  initiators = [var.controller_initiator]
}

resource "nimble_access_control_record" "glance" {
  volume_id          = nimble_volume.glance.id
  initiator_group_id = nimble_initiator_group.controller.id
  chap_user_id       = nimble_chap_user.controller.id
  apply_to           = "volume"
}

# Glance keeps its images on the array; the controller logs in with CHAP.
resource "glance_iscsi_store" "store" {
  portal      = data.nimble_discovery.array.discovery_ip
  target_iqn  = nimble_volume.glance.target_name
  mount_point = "/var/lib/glance/images"

  # A volume-scoped target carries this volume alone: the store finds its LUN, and checks
  # that the disk is this volume before any mkfs.
  volume_serial = nimble_volume.glance.serial_number

  # The secret goes into the controller's iSCSI node record (mode 0600) through SSH's
  # standard input: never a command argument, never the state.
  chap_username          = nimble_chap_user.controller.name
  chap_secret_wo         = var.chap_secret
  chap_secret_wo_version = var.chap_secret_version

  depends_on = [nimble_access_control_record.glance]
}

output "store_device" {
  description = "The controller's block device of the store."
  value       = glance_iscsi_store.store.device
}
