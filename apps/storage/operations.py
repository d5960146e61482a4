"""Every storage operation, declared once. The API viewsets and the admin pages of each model point at
these sets; the kit (``apps.core.operations``) derives the actions, forms, permission checks and audit."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.operations import BulkResultSerializer, Operation, Operations

from . import inputs, policies, services
from .api import serializers
from .backends import supports
from .models import Dataset, Pool, Snapshot, SnapshotPolicy, StorageEvent

__all__ = ["DATASET", "EVENT", "POLICY", "POOL", "SNAPSHOT"]


def _pool_of_dataset(dataset: Dataset) -> Pool:
    return dataset.pool


def _pool_of_snapshot(snapshot: Snapshot) -> Pool:
    return snapshot.dataset.pool


def _imported(*capabilities: str):
    """Offered on a pool imported on this host (an exported pool keeps its rows, marked gone) whose backend can."""
    checks = [supports(c) for c in capabilities]
    return lambda pool: not pool.gone and all(check(pool) for check in checks)


zfs_devices = _imported("devices")
btrfs = _imported("btrfs_devices")


def _managed_name(capability: str):
    """Offered on a dataset whose name Calypso would create itself and whose backend can: one made by hand
    with another name (a space, say) can only be destroyed."""
    check = supports(capability, _pool_of_dataset)
    return lambda ds: not ds.name_unmanaged and check(ds)

POOL = Operations(
    Pool,
    Operation("create", services.create_pool, input=inputs.PoolCreateInput, detail=False, job=True,
              label=_("Create pool"), help=_("A new ZFS pool from free disks (or image files)."),
              example={"name": "tank", "layout": "mirror", "disks": ["/dev/sdb", "/dev/sdc"]}),
    Operation("register", services.register_btrfs_pool, input=inputs.RegisterInput, detail=False,
              permission="add", label=_("Register Btrfs filesystem"),
              help=_("Manage a mounted Btrfs filesystem: its subvolumes become datasets.")),
    Operation("import", services.import_pool, input=inputs.ImportInput, detail=False, job=True,
              label=_("Import pool"), help=_("Bring back an exported pool, by name or numeric id.")),
    Operation("importable", services.list_importable, input=inputs.ImportableQuery, detail=False, method="get",
              permission="import", label=_("Importable pools")),
    Operation("sync", services.start_sync, detail=False, job=True, permission="change",
              label=_("Re-read the host"), help=_("Synchronise pools, datasets and snapshots with the host now.")),
    Operation("scrub", services.start_scrub, job=True, bulk=True, when=_imported(), label=_("Scrub"),
              help=_("Read every block and repair what redundancy allows; the job follows it to the end.")),
    Operation("pause_scrub", services.pause_scrub, permission="scrub", label=_("Pause scrub"),
              when=_imported("pause_scrub")),
    Operation("stop_scrub", services.stop_scrub, permission="scrub", bulk=True, when=_imported(),
              label=_("Stop scrub")),
    Operation("offline", services.offline_member, input=inputs.OfflineInput, permission="maintain",
              when=zfs_devices, label=_("Offline a device"),
              help=_("The pool runs on its redundancy until the device is back online.")),
    Operation("online", services.online_member, input=inputs.MemberInput, permission="maintain",
              when=zfs_devices, label=_("Online a device"), help=_("ZFS resilvers what the device missed.")),
    Operation("replace", services.replace_member, input=inputs.ReplaceInput, permission="maintain",
              when=zfs_devices, label=_("Replace a device"), help=_("The resilver onto the new device starts at once.")),
    Operation("detach", services.detach_member, input=inputs.MemberInput, permission="maintain",
              when=zfs_devices, label=_("Detach a device"), help=_("Take a device out of its mirror for good.")),
    Operation("add_vdevs", services.add_vdevs, input=inputs.AddVdevsInput, permission="maintain", job=True,
              when=zfs_devices, label=_("Add devices"), help=_("Data vdevs cannot be removed again once added.")),
    Operation("export", services.export_pool, input=inputs.PoolExportInput, when=_imported("export"),
              label=_("Export"), help=_("The pool's datasets are unmounted and its shares stop working until it is "
                                        "imported again.")),
    Operation("delete", services.destroy_pool, input=inputs.PoolDeleteInput, destructive=True, job=True,
              when=supports("destroy"), confirm=lambda pool: pool.name, label=_("Destroy pool"),
              help=_("Every dataset, volume and snapshot of the pool is lost for good.")),
    Operation("device_stats", services.device_stats, method="get", label=_("Device statistics")),
    Operation("properties", services.pool_properties, method="get", output=serializers.PoolPropertiesSerializer,
              when=_imported("pool_properties"), label=_("Pool properties"),
              help=_("Every property of the pool with its value and source (default, local).")),
    Operation("update_properties", services.update_pool_properties, input=inputs.PoolPropertiesInput,
              permission="change", partial=True, initial=services.pool_properties_initial,
              output=serializers.PoolPropertiesSerializer, when=_imported("pool_properties"),
              label=_("Edit pool properties"), help=_("Only the values given are set, all or none."),
              example={"autoexpand": "on", "failmode": "continue"}),
    Operation("balance_status", services.balance_status, method="get", when=supports("balance"),
              label=_("Balance status")),
    # Btrfs
    Operation("create_btrfs", services.create_btrfs, input=inputs.BtrfsCreateInput, detail=False, job=True,
              permission="add", label=_("Create Btrfs filesystem"),
              help=_("A new Btrfs filesystem over free devices, mounted and managed as a pool."),
              example={"label": "vault", "devices": ["/dev/sdb", "/dev/sdc"], "data_profile": "raid1"}),
    Operation("unregister", services.unregister_btrfs_pool, destructive=True, permission="delete",
              when=supports("unregister"), confirm=lambda pool: pool.name, label=_("Unregister"),
              help=_("Calypso forgets this filesystem; it stays mounted and its data is not touched.")),
    Operation("mount", services.mount_btrfs_pool, permission="maintain", when=btrfs, label=_("Mount"),
              help=_("Mount the filesystem's top level again at its mountpoint, by its UUID (after a reboot; "
                     "make run does this at start).")),
    Operation("balance", services.start_balance, input=inputs.BalanceInput, job=True, permission="maintain",
              when=btrfs, label=_("Start balance"),
              help=_("Rewrites chunks across the devices: no filter balances everything (long), a usage filter "
                     "reclaims half-empty chunks, a convert changes the profile."), example={"data_usage": 50}),
    Operation("pause_balance", services.pause_balance, permission="maintain", when=btrfs, label=_("Pause balance")),
    Operation("resume_balance", services.resume_balance, job=True, permission="maintain", when=btrfs,
              label=_("Resume balance")),
    Operation("cancel_balance", services.cancel_balance, permission="maintain", when=btrfs,
              label=_("Cancel balance"), help=_("Chunks already moved stay moved.")),
    Operation("add_device", services.add_btrfs_device, input=inputs.BtrfsDeviceInput, permission="maintain",
              when=btrfs, label=_("Add a device"),
              help=_("Its space is usable at once; balance to spread existing data onto it.")),
    Operation("remove_device", services.remove_btrfs_device, input=inputs.BtrfsMemberInput, job=True,
              permission="maintain", when=btrfs, label=_("Remove a device"),
              help=_("Its data moves to the other devices first; refused when the rest cannot hold it or the "
                     "profile needs it.")),
    Operation("replace_device", services.replace_btrfs_device, input=inputs.BtrfsReplaceInput, job=True,
              permission="maintain", when=btrfs, label=_("Replace a device"),
              help=_("Copies a failing or missing device onto a new one while the filesystem stays in use.")),
    Operation("reset_device_stats", services.reset_device_stats, permission="maintain", when=btrfs,
              label=_("Reset error counters"), help=_("Zero every device's error counters, so new errors stand out.")),
    Operation("enable_quota", services.enable_quota, job=True, permission="change", when=btrfs,
              label=_("Turn quotas on"), help=_("Counts each subvolume's space (a rescan reads all metadata first); "
                                               "costs some write speed.")),
    Operation("disable_quota", services.disable_quota, permission="change", when=btrfs, label=_("Turn quotas off")),
    Operation("subvolume_sizes", services.subvolume_sizes, method="get", when=btrfs, label=_("Subvolume sizes"),
              help=_("Referenced and exclusive bytes of each subvolume and snapshot (quotas must be on).")),
)

DATASET = Operations(
    Dataset,
    Operation("create", services.create_dataset, input=inputs.DatasetCreateInput, detail=False,
              label=_("Create dataset or volume"),
              help=_("ZFS: a filesystem or a volume. Btrfs: a subvolume (kind is ignored)."),
              example={"pool": 1, "name": "tank/home", "compression": "lz4", "quota": "10G"}),
    Operation("update", services.update_dataset, input=inputs.DatasetPropertiesInput, partial=True,
              initial=inputs.dataset_initial, when=_managed_name("properties"),
              label=_("Edit properties"), help=_("Only changed values are set, all or none; an emptied value inherits "
                                                 "again, except quota, refquota, reservation and refreservation, "
                                                 "which become none."), example={"compression": "zstd"}),
    Operation("rename", services.rename_dataset, input=inputs.RenameInput, permission="change",
              initial=lambda ds: {"new_name": ds.name}, when=_managed_name("rename"),
              label=_("Rename"), help=_("Children and snapshots follow; shares on the old path must be updated.")),
    Operation("delete", services.destroy_dataset, input=inputs.DatasetDeleteInput, destructive=True,
              confirm=lambda ds: ds.name, when=lambda ds: bool(ds.relative_path),  # a top level goes with its pool
              label=_("Destroy"), help=_("Its data is gone for good, and so are its snapshots (ZFS) or those you "
                                         "choose to delete with it (Btrfs).")),
)

SNAPSHOT = Operations(
    Snapshot,
    Operation("create", services.create_snapshot, input=inputs.SnapshotCreateInput, detail=False,
              label=_("Take snapshot"), example={"dataset": 1, "name": "manual-1"}),
    Operation("bulk_delete", services.bulk_destroy_snapshots, input=inputs.SnapshotBulkDeleteInput, detail=False,
              permission="delete", label=_("Destroy snapshots"), item_action="delete",
              help=_("Each snapshot that can go goes; every one is reported (200, or 207 when some failed)."),
              output=BulkResultSerializer, example={"ids": [1, 2], "confirm": "2"}),
    Operation("rollback", services.rollback_snapshot, input=inputs.RollbackInput, destructive=True,
              confirm=lambda snap: snap.name, when=supports("rollback", _pool_of_snapshot), label=_("Roll back"),
              help=_("Every change made to the dataset since this snapshot is lost.")),
    Operation("clone", services.clone_snapshot, input=inputs.CloneInput, output=serializers.DatasetSerializer,
              initial=lambda snap: {"target": f"{snap.dataset.name}-{snap.short_name}".replace(":", "-")},
              when=supports("clone", _pool_of_snapshot), label=_("Clone"),
              help=_("A writable filesystem from this snapshot, in the same pool.")),
    Operation("hold", services.hold_snapshot, input=inputs.HoldInput, when=supports("holds", _pool_of_snapshot),
              label=_("Hold"), help=_("A held snapshot cannot be destroyed until the hold is released.")),
    Operation("release", services.release_snapshot, input=inputs.HoldInput, permission="hold",
              when=lambda snap: bool(snap.holds or snap.userrefs), label=_("Release hold")),
    Operation("delete", services.destroy_snapshot, destructive=True, bulk=True, confirm=lambda snap: snap.name,
              label=_("Destroy"), help=_("Its data is gone for good.")),
)

POLICY = Operations(
    SnapshotPolicy,
    Operation("create", policies.POLICIES.create, input=serializers.SnapshotPolicySerializer, detail=False,
              example={"name": "home-hourly", "dataset": 1, "hourly": 24, "daily": 7}),
    Operation("update", policies.POLICIES.update, input=serializers.SnapshotPolicySerializer, partial=True,
              example={"daily": 14}),
    Operation("delete", policies.POLICIES.delete, help=_("Its snapshots stay on the host.")),
    Operation("run", policies.start_policy_run, job=True, bulk=True, label=_("Run now"),
              help=_("Take what is due and prune by retention now (one run per policy at a time).")),
    Operation("dry_run", policies.dry_run, method="get", label=_("Dry run"),
              help=_("What a run now would create and prune, per dataset, with the reason for each line.")),
)

EVENT = Operations(
    StorageEvent,
    Operation("acknowledge", services.acknowledge_event, permission="change", bulk=True, label=_("Acknowledge"),
              when=lambda event: not event.acknowledged),
)
