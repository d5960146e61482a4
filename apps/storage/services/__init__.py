"""Storage operations: plan -> lock -> act -> refresh the inventory. The services of every module below,
re-exported here (``services.create_pool``); each module lists its own names in ``__all__``.

Every name is validated before any command runs. Long operations (pool create/destroy/import, add vdevs,
scrub, sync) run as jobs locked on ``pool:<name>``; short ones run inline and refresh the inventory rows
they touched. The operation that calls a service writes its audit event (``apps.storage.operations``).
"""

from __future__ import annotations

from .common import (
    EDITABLE_PROPERTIES as EDITABLE_PROPERTIES,
)
from .datasets import (
    create_dataset as create_dataset,
)
from .datasets import (
    destroy_dataset as destroy_dataset,
)
from .datasets import (
    rename_dataset as rename_dataset,
)
from .datasets import (
    update_dataset as update_dataset,
)
from .pools import (
    acknowledge_event as acknowledge_event,
)
from .pools import (
    add_vdevs as add_vdevs,
)
from .pools import (
    balance_status as balance_status,
)
from .pools import (
    create_pool as create_pool,
)
from .pools import (
    destroy_pool as destroy_pool,
)
from .pools import (
    detach_member as detach_member,
)
from .pools import (
    device_stats as device_stats,
)
from .pools import (
    export_pool as export_pool,
)
from .pools import (
    import_pool as import_pool,
)
from .pools import (
    list_importable as list_importable,
)
from .pools import (
    offline_member as offline_member,
)
from .pools import (
    online_member as online_member,
)
from .pools import (
    pause_scrub as pause_scrub,
)
from .pools import (
    plan_layout as plan_layout,
)
from .pools import (
    register_btrfs_pool as register_btrfs_pool,
)
from .pools import (
    replace_member as replace_member,
)
from .pools import (
    start_scrub as start_scrub,
)
from .pools import (
    start_sync as start_sync,
)
from .pools import (
    stop_scrub as stop_scrub,
)
from .pools import (
    sync_inventory as sync_inventory,
)
from .snapshots import (
    bulk_destroy_snapshots as bulk_destroy_snapshots,
)
from .snapshots import (
    clone_snapshot as clone_snapshot,
)
from .snapshots import (
    create_snapshot as create_snapshot,
)
from .snapshots import (
    destroy_snapshot as destroy_snapshot,
)
from .snapshots import (
    destroy_snapshots as destroy_snapshots,
)
from .snapshots import (
    hold_snapshot as hold_snapshot,
)
from .snapshots import (
    release_snapshot as release_snapshot,
)
from .snapshots import (
    rollback_snapshot as rollback_snapshot,
)
