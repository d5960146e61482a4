"""Storage operations: plan -> lock -> act -> refresh the inventory. The services of every module below,
re-exported here (``services.create_pool``); each module lists its own names in ``__all__``.

Every name is validated before any command runs. Long operations (pool create/destroy/import, add vdevs,
scrub) run as jobs locked on their pool (``pool:<name>``), a sync on ``storage:sync``; short ones run inline
and refresh the inventory rows they touched. The operation that calls a service writes its audit event
(``apps.storage.operations``).
"""

from __future__ import annotations

from .datasets import create_dataset, destroy_dataset, rename_dataset, update_dataset
from .pool_properties import pool_properties, pool_properties_initial, update_pool_properties
from .pools import (
    acknowledge_event,
    add_vdevs,
    balance_status,
    create_pool,
    destroy_pool,
    detach_member,
    device_stats,
    export_pool,
    import_pool,
    list_importable,
    offline_member,
    online_member,
    pause_scrub,
    plan_layout,
    register_btrfs_pool,
    replace_member,
    start_scrub,
    start_sync,
    stop_scrub,
    sync_inventory,
)
from .snapshots import (
    bulk_destroy_snapshots,
    clone_snapshot,
    create_snapshot,
    destroy_snapshot,
    destroy_snapshots,
    hold_snapshot,
    release_snapshot,
    rollback_snapshot,
)

__all__ = [
    "acknowledge_event", "add_vdevs", "balance_status", "bulk_destroy_snapshots", "clone_snapshot",
    "create_dataset", "create_pool", "create_snapshot", "destroy_dataset", "destroy_pool", "destroy_snapshot",
    "destroy_snapshots", "detach_member", "device_stats", "export_pool", "hold_snapshot", "import_pool",
    "list_importable", "offline_member", "online_member", "pause_scrub", "plan_layout", "pool_properties",
    "pool_properties_initial", "register_btrfs_pool", "release_snapshot", "rename_dataset", "replace_member",
    "rollback_snapshot", "start_scrub", "start_sync", "stop_scrub", "sync_inventory", "update_dataset",
    "update_pool_properties",
]
