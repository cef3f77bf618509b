variable "image_id" {
  description = "ID of the image in Glance (openstack image list)."
  type        = string
}

variable "glance_endpoint" {
  description = "glance-api's URL (openstack endpoint list --service image)."
  type        = string
}

variable "glance_token" {
  description = "Keystone token for glance-api (or leave null and set OS_AUTH_TOKEN)."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
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
