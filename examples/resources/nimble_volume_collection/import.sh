# Import by the array's volume collection ID or by name. The members the collection has
# are imported into volume_ids.
terraform import nimble_volume_collection.images 0706fa4b0e7a5ac2d8000000000000000000000001
terraform import nimble_volume_collection.images images
