"""Terraform providers for HPE Nimble ITO and an iSCSI-backed Glance store."""

__version__ = "0.1.0"
