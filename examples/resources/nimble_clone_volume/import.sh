# Import by the array's volume ID or by name.
terraform import nimble_clone_volume.example 0606fa4b0e7a5ac2d8000000000000000000000002
terraform import nimble_clone_volume.example vm-0-boot
