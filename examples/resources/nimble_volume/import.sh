# Import by the array's volume ID or by name.
terraform import nimble_volume.glance 0606fa4b0e7a5ac2d8000000000000000000000001
terraform import nimble_volume.glance glance-store
