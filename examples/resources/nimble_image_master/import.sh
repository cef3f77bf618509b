# Import by the volume's ID or name; the base snapshot is the one named ito-base.
# source, sha256 and the image_* attributes come back from the provenance recorded
# in the snapshot's description; initiator_name and portal are used at creation only
# and are not recorded on the array, so an import leaves them unset.
terraform import nimble_image_master.ubuntu 0606fa4b0e7a5ac2d8000000000000000000000001
terraform import nimble_image_master.ubuntu ubuntu-24.04-master
# A master whose base snapshot has another name: VOLUME/SNAPSHOT.
terraform import nimble_image_master.ubuntu ubuntu-24.04-master/golden
