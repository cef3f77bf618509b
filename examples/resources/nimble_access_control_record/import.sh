# Import by the array's record ID, or as VOLUME_NAME/INITIATOR_GROUP_NAME.
terraform import nimble_access_control_record.glance 0d06fa4b0e7a5ac2d8000000000000000000000001
terraform import nimble_access_control_record.glance glance-images/glance-controllers
