# Import by the array's protection schedule ID, or by the names of its volume collection
# and of the schedule (schedule names are unique per collection only).
terraform import nimble_protection_schedule.nightly 0c06fa4b0e7a5ac2d8000000000000000000000001
terraform import nimble_protection_schedule.nightly image-masters/nightly
