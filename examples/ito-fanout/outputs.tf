output "snapshot_id" {
  description = "ID of the snapshot every boot volume is cloned from."
  value       = nimble_snapshot.base.id
}

output "boot_volume_ids" {
  description = "Array IDs of the boot volumes, in instance order."
  value       = nimble_clone_volume.boot[*].id
}

output "boot_target_names" {
  description = "iSCSI target names (IQNs) of the boot volumes, in instance order."
  value       = nimble_clone_volume.boot[*].target_name
}
