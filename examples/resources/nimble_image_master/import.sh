# Import by the volume's ID or name; the base snapshot is the one named ito-base.
terraform import nimble_image_master.ubuntu 0606fa4b0e7a5ac2d8000000000000000000000001
terraform import nimble_image_master.ubuntu ubuntu-24.04-master
# A master whose base snapshot has another name: VOLUME/SNAPSHOT.
terraform import nimble_image_master.ubuntu ubuntu-24.04-master/golden
