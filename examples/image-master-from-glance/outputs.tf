output "snapshot_id" {
  description = "The snapshot every boot volume is cloned from."
  value       = nimble_image_master.image.snapshot_id
}

output "image_sha256" {
  description = "SHA-256 of the image as downloaded from Glance and verified."
  value       = nimble_image_master.image.image_sha256
}

output "boot_volume_targets" {
  description = "iSCSI target of each boot volume."
  value       = nimble_clone_volume.boot[*].target_name
}
