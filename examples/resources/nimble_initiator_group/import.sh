# Import by the array's initiator group ID or by name.
terraform import nimble_initiator_group.controller 0206fa4b0e7a5ac2d8000000000000000000000001
terraform import nimble_initiator_group.controller openstack-controller
