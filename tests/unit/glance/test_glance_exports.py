"""Public surfaces: every name in __all__ exists; the glance layers stay Terraform-free."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

MODULES = [
    "tfnimble.glance.transport",
    "tfnimble.glance.transport.base",
    "tfnimble.glance.transport.local",
    "tfnimble.glance.transport.ssh",
    "tfnimble.glance.transport.fake",
    "tfnimble.glance.fstab",
    "tfnimble.glance.glance_conf",
    "tfnimble.glance.controller",
    "tfnimble.glance.iscsi_store_ops",
    "tfnimble.glance.iscsi_store_run",
    "tfnimble.glance.iscsi_store_steps",
    "tfnimble.glance.iscsi_store_glance_steps",
    "tfnimble.glance.iscsi_store_spec",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    for exported in module.__all__:
        assert getattr(module, exported) is not None, exported


def test_store_ops_api() -> None:
    from tfnimble.glance import iscsi_store_ops as ops

    assert {"create", "read", "update", "repair", "delete", "StoreSpec", "StoreState"} <= set(
        ops.__all__
    )
    assert issubclass(ops.StoreNotEmpty, ops.ControllerError)
    assert not (ops.IN_PLACE_FIELDS & ops.REPLACE_FIELDS)


def test_no_terraform_and_lazy_paramiko() -> None:
    code = (
        "import sys; import tfnimble.glance.iscsi_store_ops, tfnimble.glance.transport; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('grpc', 'grpclib', 'tfplugin_proto', 'paramiko') or m.startswith('tfnimble.plugin')]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
