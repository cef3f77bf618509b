variable "clone_count" {
  description = "Number of instance boot volumes to clone from the image master."
  type        = number
  default     = 20
}

variable "name_prefix" {
  description = "Prefix of every volume name, so several fan-outs can share an array."
  type        = string
  default     = "ito"
}

variable "image_source" {
  description = "Path (relative to this directory) or http(s) URL of the image to write."
  type        = string
  default     = "images/ubuntu-24.04.qcow2"
}

variable "image_sha256" {
  description = "Expected SHA-256 of the image file (from SHA256SUMS), or null to skip the check."
  type        = string
  default     = null
}
