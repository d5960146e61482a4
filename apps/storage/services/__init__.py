"""Storage operations: plan -> lock -> act -> record.

Every name is validated before any command runs; every mutation writes an audit event; long
operations (pool create/destroy/import, add vdevs, scrub) run as jobs with the lock key
``pool:<name>``; short ones run inline and refresh the inventory rows they touched.
"""

from __future__ import annotations

from ._common import EDITABLE_PROPERTIES
from .btrfs import balance_status, create_subvolume, delete_subvolume, device_stats, register_btrfs_pool
from .datasets import create_dataset, destroy_dataset, rename_dataset, update_dataset
from .pools import (
    add_vdevs,
    create_pool,
    destroy_pool,
    detach_member,
    export_pool,
    import_pool,
    list_importable,
    offline_member,
    online_member,
    pause_scrub,
    plan_layout,
    replace_member,
    run_scrub,
    start_scrub,
    stop_scrub,
    sync_inventory,
)
from .snapshots import (
    clone_snapshot,
    create_snapshot,
    destroy_snapshots,
    hold_snapshot,
    release_snapshot,
    rollback_snapshot,
)

__all__ = [
    "EDITABLE_PROPERTIES",
    "add_vdevs",
    "balance_status",
    "clone_snapshot",
    "create_dataset",
    "create_pool",
    "create_snapshot",
    "create_subvolume",
    "delete_subvolume",
    "destroy_dataset",
    "destroy_pool",
    "destroy_snapshots",
    "detach_member",
    "device_stats",
    "export_pool",
    "hold_snapshot",
    "import_pool",
    "list_importable",
    "offline_member",
    "online_member",
    "pause_scrub",
    "plan_layout",
    "register_btrfs_pool",
    "release_snapshot",
    "rename_dataset",
    "replace_member",
    "rollback_snapshot",
    "run_scrub",
    "start_scrub",
    "stop_scrub",
    "sync_inventory",
    "update_dataset",
]
