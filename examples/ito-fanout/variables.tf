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

variable "image_size_mib" {
  description = "Size of the image master volume in MiB (the clones start at this size)."
  type        = number
  default     = 10240
}
