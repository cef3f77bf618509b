"""tgtadm's target listing as the data plane reads it: the CHAP accounts bound to a target."""

from __future__ import annotations

from tfnimble.sim.tgt import parse_tgtadm_targets

# `tgtadm --lld iscsi --op show --mode target` (tgt 1.0.85), LUN details left out
SHOWN = """\
Target 1: iqn.2007-11.com.nimblestorage:v-1
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            Backing store path: None
    Account information:
        writer
        mutual (outgoing)
    ACL information:
        iqn.2026-11.io.ito:exp
Target 2: iqn.2007-11.com.nimblestorage:v-2
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    Account information:
    ACL information:
        ALL
"""


def test_incoming_accounts_are_read_per_target() -> None:
    targets = parse_tgtadm_targets(SHOWN)
    one, two = (
        targets["iqn.2007-11.com.nimblestorage:v-1"],
        targets["iqn.2007-11.com.nimblestorage:v-2"],
    )
    assert one.accounts == ["writer"]  # the outgoing (mutual CHAP) user is not an incoming one
    assert one.acl == ["iqn.2026-11.io.ito:exp"]
    assert two.accounts == [] and two.acl == ["ALL"]
