"""Reusable test bed: a real data plane (tgtd + reflink pool) and a controller host in a network
namespace (sshd, iscsiadm and systemctl look-alikes). See fixtures.py.

Use from any test directory's conftest.py::

    import sys, pathlib
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    from testbed.fixtures import *  # noqa: F401,F403  (dataplane, controller, ...)
"""
