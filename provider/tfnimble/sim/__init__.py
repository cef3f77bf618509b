"""nimble-sim: a NimbleOS REST API v1 simulator (see README.md in this directory)."""
