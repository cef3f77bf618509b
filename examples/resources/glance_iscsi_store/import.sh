# A store is identified by portal, target and mount point.
terraform import glance_iscsi_store.store 10.200.2.2:3260,iqn.2007-11.com.nimblestorage:glance-store-v1a2b3c4d5e6f7a8b.00000042.c0ffee01,/var/lib/glance/images
