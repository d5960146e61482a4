"""Storage admin, the product's main UI: one module per object family; importing registers them."""

from .datasets import DatasetAdmin
from .pools import PoolAdmin, StorageEventAdmin, vdev_tree
from .snapshots import SnapshotAdmin, SnapshotAgeFilter, SnapshotPolicyAdmin

__all__ = ["DatasetAdmin", "PoolAdmin", "SnapshotAdmin", "SnapshotAgeFilter", "SnapshotPolicyAdmin",
           "StorageEventAdmin", "vdev_tree"]
