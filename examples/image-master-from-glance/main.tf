# An image already in Glance (openstack image create ... --file disk.qcow2) is
# written once to the array and cloned for every instance. The download is
# checked against Glance's own checksums (os_hash_value, checksum) before
# anything is created on the array.
resource "nimble_image_master" "image" {
  name            = "${var.name_prefix}-master"
  glance_image_id = var.image_id
  glance_endpoint = var.glance_endpoint
  # The Keystone token (openstack token issue -f value -c id): write-only, so it is
  # never kept in plan or state; left null, OS_AUTH_TOKEN is used.
  glance_token_wo = var.glance_token
  # glance_ca_file = "/etc/ssl/certs/openstack-ca.pem" # or OS_CACERT
}

resource "nimble_clone_volume" "boot" {
  count       = var.clone_count
  name        = "${var.name_prefix}-vm-${count.index}-boot"
  snapshot_id = nimble_image_master.image.snapshot_id
}
