variable "controller_initiator" {
  description = "The controller's iSCSI initiator name (/etc/iscsi/initiatorname.iscsi)."
  type        = string
}

# Ephemeral: Terraform keeps the value out of plan files and state. Give it with
# TF_VAR_chap_secret (12-16 printable ASCII characters, no spaces).
variable "chap_secret" {
  description = "The CHAP secret the controller logs in with."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "chap_secret_version" {
  description = "Bump it together with a new chap_secret to rotate the secret."
  type        = number
  default     = 1
}
