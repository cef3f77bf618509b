variable "instance_count" {
  description = "Number of instances, each booting from its own clone of the image."
  type        = number
  default     = 3
}

variable "name_prefix" {
  description = "Prefix of every object's name, so several fleets can share an array."
  type        = string
  default     = "boot"
}

variable "image_source" {
  description = "Path (relative to this directory) or http(s) URL of the bootable image."
  type        = string
  default     = "images/tfnimble-boot.raw"
}

variable "image_sha256" {
  description = "Expected SHA-256 of the image file, or null to skip the check."
  type        = string
  default     = null
}

variable "initiator_prefix" {
  description = "Instance initiator names are PREFIX:NAME-vm-NN (an iSCSI qualified name)."
  type        = string
  default     = "iqn.2026-12.io.ito"
}

variable "full_copy_count" {
  description = "For comparison: how many instances also get a full copy of the image."
  type        = number
  default     = 0
}
