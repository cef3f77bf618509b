output "snapshot_id" {
  description = "ID of the snapshot every boot volume is cloned from."
  value       = nimble_image_master.image.snapshot_id
}

output "image_sha256" {
  description = "SHA-256 of the image file that was written."
  value       = nimble_image_master.image.image_sha256
}

output "boot_volume_ids" {
  description = "Array IDs of the boot volumes, in instance order."
  value       = nimble_clone_volume.boot[*].id
}

output "boot_target_names" {
  description = "iSCSI target names (IQNs) of the boot volumes, in instance order."
  value       = nimble_clone_volume.boot[*].target_name
}
