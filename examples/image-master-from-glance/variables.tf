variable "image_id" {
  description = "ID of the image in Glance (openstack image list)."
  type        = string
}

variable "glance_endpoint" {
  description = "glance-api's URL (openstack endpoint list --service image)."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the volume names on the array."
  type        = string
  default     = "glance"
}

variable "clone_count" {
  description = "How many instance boot volumes to clone from the image."
  type        = number
  default     = 3
}
