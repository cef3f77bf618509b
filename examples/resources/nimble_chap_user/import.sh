# Import by the array's CHAP user ID or by name. The array never returns the secret: after an
# import it stays as it is until secret_wo_version is set or changed.
terraform import nimble_chap_user.glance 1b06fa4b0e7a5ac2d8000000000000000000000001
terraform import nimble_chap_user.glance glance-controllers
