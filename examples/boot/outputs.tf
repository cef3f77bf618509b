output "snapshot_id" {
  description = "ID of the snapshot every boot disk is cloned from."
  value       = nimble_image_master.image.snapshot_id
}

output "instances" {
  description = "Per instance, in order: its initiator name and where its boot disk (and its full copy, if any) is."
  value = [for i, name in local.instances : {
    name           = name
    initiator      = "${var.initiator_prefix}:${name}"
    boot_volume_id = nimble_clone_volume.boot[i].id
    boot_target    = nimble_clone_volume.boot[i].target_name
    boot_lun       = nimble_access_control_record.boot[i].lun
    copy_volume_id = i < length(nimble_image_master.copy) ? nimble_image_master.copy[i].id : null
    copy_target    = i < length(nimble_image_master.copy) ? nimble_image_master.copy[i].target_name : null
    copy_lun       = i < length(nimble_access_control_record.copy) ? nimble_access_control_record.copy[i].lun : null
  }]
}
