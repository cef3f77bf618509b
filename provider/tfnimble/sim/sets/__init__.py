"""The object sets, one module per family; ``SET_CLASSES`` is what the model serves."""

from __future__ import annotations

from ..model import ObjectSet
from .access import AcrSet, InitiatorGroupSet, InitiatorSet
from .catalog import CATALOG_SETS
from .chap_users import ChapUserSet
from .inventory import ArraySet, GroupSet, NetworkConfigSet, PerfPolicySet, PoolSet, SubnetSet
from .protection_schedules import ProtectionScheduleSet
from .sessions import JobSet, TokenSet
from .snapshot_collections import SnapshotCollectionSet
from .snapshots import SnapshotSet
from .volume_collections import VolumeCollectionSet
from .volumes import VolumeSet

SET_CLASSES: tuple[type[ObjectSet], ...] = (
    VolumeSet,
    SnapshotSet,
    InitiatorGroupSet,
    InitiatorSet,
    AcrSet,
    ChapUserSet,
    PoolSet,
    PerfPolicySet,
    GroupSet,
    ArraySet,
    NetworkConfigSet,
    SubnetSet,
    JobSet,
    TokenSet,
    VolumeCollectionSet,
    ProtectionScheduleSet,
    SnapshotCollectionSet,
    *CATALOG_SETS,
)

__all__ = ["SET_CLASSES"]
