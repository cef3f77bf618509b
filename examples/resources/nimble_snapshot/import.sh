# Import by the array's snapshot ID, or as VOLUME_NAME/SNAPSHOT_NAME.
terraform import nimble_snapshot.base 0406fa4b0e7a5ac2d8000000000000000000000001
terraform import nimble_snapshot.base centos-9-master/base
