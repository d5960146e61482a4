"""What each storage operation takes: one serializer per operation, the API's request body and the
admin's form alike. Field checks here answer 400 naming the field; the services validate again what
only they can judge (a disk in use, a name taken on the host)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.core.permissions import allowed, perm_name
from apps.core.serializers import RestrictedRelatedField
from apps.system.disks import free_disk_choices

from .backends.pool_properties import COMMENT_MAX, ON_OFF, SETTABLE, pool_property_problem
from .choices import DatasetKind
from .models import Dataset, Pool, Snapshot
from .services.common import ENUM_PROPERTIES, FILESYSTEM_ONLY, VOLUME_ONLY

__all__ = [
    "AddVdevsInput",
    "BalanceInput",
    "BtrfsCreateInput",
    "BtrfsDeviceInput",
    "BtrfsMemberInput",
    "BtrfsReplaceInput",
    "CloneInput",
    "DatasetCreateInput",
    "DatasetDeleteInput",
    "DatasetPropertiesInput",
    "HoldInput",
    "ImportInput",
    "ImportableQuery",
    "MemberInput",
    "OfflineInput",
    "PoolCreateInput",
    "PoolDeleteInput",
    "PoolExportInput",
    "PoolPropertiesInput",
    "RegisterInput",
    "RenameInput",
    "ReplaceInput",
    "RollbackInput",
    "SnapshotBulkDeleteInput",
    "SnapshotCreateInput",
]

LAYOUTS = [("stripe", _("Stripe (no redundancy)")), ("mirror", _("Mirror (pairs)")), ("raidz1", "RAID-Z1"),
           ("raidz2", "RAID-Z2"), ("raidz3", "RAID-Z3")]
# The properties an operator sets by name, in the order the forms show them; any other goes in ``properties``.
NAMED_PROPERTIES = ("volsize", "quota", "refquota", "reservation", "refreservation", "compression", "recordsize",
                    "atime", "readonly", "sync", "dedup", "copies", "exec", "canmount", "snapdir", "xattr",
                    "mountpoint")
GUID_DIGITS = 20  # a pool's numeric id (guid) is a 64-bit unsigned number
# Limits an emptied field sets to none (no limit) rather than inherits.
NONE_WHEN_EMPTIED = ("quota", "refquota", "reservation", "refreservation")
HINTS = {"volsize": _("Volumes: 10G, 512M..."), "quota": _("10G; empty or none: no limit."),
         "refquota": _("10G; empty or none: no limit."), "reservation": _("10G; empty or none: no reservation."),
         "refreservation": _("10G; empty or none: no reservation."),
         "recordsize": _("Power of two, 512 to 16M: 128K, 1M..."), "mountpoint": _("A path, none or legacy.")}


def _devices(help_text: str = "", **kwargs) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=4096), required=False, help_text=help_text,
                                 **kwargs)


def _property_field(name: str) -> serializers.Field:
    if name in ENUM_PROPERTIES:
        return serializers.ChoiceField(choices=sorted(ENUM_PROPERTIES[name]), required=False, allow_blank=True,
                                       help_text=HINTS.get(name, ""))
    return serializers.CharField(required=False, allow_blank=True, max_length=4096, help_text=HINTS.get(name, ""))


class _Properties(serializers.Serializer):
    """Common properties as their own fields (sizes accept 10G, 1.5T...); user properties (and any other)
    in ``properties``. ``kind`` limits the named fields to those that apply."""

    properties = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=8192),
                                       required=False, help_text=_("module:name=value, one per line."))

    def get_fields(self):
        fields = super().get_fields()
        kind = getattr(self.context.get("object"), "kind", None)
        skip = VOLUME_ONLY if kind == DatasetKind.FILESYSTEM else FILESYSTEM_ONLY if kind == DatasetKind.VOLUME \
            else set()
        named = {name: _property_field(name) for name in NAMED_PROPERTIES if name not in skip}
        return {**{k: v for k, v in fields.items() if k != "properties"}, **named, "properties": fields["properties"]}

    def split_properties(self, data: dict, *, limits_to_none: bool = False) -> tuple[dict, list]:
        """(properties to set, properties to inherit): an empty value means inherit (or, on an edit, none
        for the limits: quota, reservation...)."""
        given = {**(data.pop("properties", None) or {}),
                 **{name: data.pop(name) for name in NAMED_PROPERTIES if name in data}}
        if limits_to_none:
            given = {k: "none" if v == "" and k in NONE_WHEN_EMPTIED else v for k, v in given.items()}
        return {k: v for k, v in given.items() if v != ""}, [k for k, v in given.items() if v == ""]


class PoolCreateInput(serializers.Serializer):
    """Either ``layout`` over ``disks`` or explicit ``vdevs`` (API)."""

    name = serializers.CharField(max_length=255)
    layout = serializers.ChoiceField(choices=LAYOUTS, default="mirror")
    disks = _devices(_("Block devices (/dev/disk/by-id/...) or image files for file vdevs."),
                     style={"suggestions": free_disk_choices})
    vdevs = serializers.ListField(child=serializers.DictField(), required=False,
                                  help_text=_('Explicit layout: [{"type": "mirror", "devices": [...]}, ...].'))
    spares = _devices()
    log = _devices(_("Log devices; two or more are mirrored."))
    cache = _devices()
    mountpoint = serializers.CharField(required=False, help_text=_("Empty: /<name>. Or none, legacy."))
    properties = serializers.DictField(child=serializers.CharField(), required=False,
                                       help_text=_("Pool properties (zpool create -o)."))
    fs_properties = serializers.DictField(child=serializers.CharField(), required=False,
                                          help_text=_("Properties of the root dataset (zpool create -O)."))
    force = serializers.BooleanField(default=False, help_text=_("zpool create -f: accept mismatched replication "
                                                                "levels or devices that look used."))

    def validate(self, data):
        if not data.get("vdevs") and not data.get("disks"):
            raise serializers.ValidationError({"disks": _("Choose disks or list devices.")})
        return data


class AddVdevsInput(serializers.Serializer):
    layout = serializers.ChoiceField(choices=LAYOUTS, default="mirror", label=_("Data vdev type"))
    devices = _devices(_("New data devices, grouped into vdevs of the type's width."))
    vdevs = serializers.ListField(child=serializers.DictField(), required=False)
    spares = _devices()
    log = _devices(_("Log devices; two or more are mirrored."))
    cache = _devices()
    force = serializers.BooleanField(default=False)


class RegisterInput(serializers.Serializer):
    mountpoint = serializers.CharField(max_length=4096,
                                       help_text=_("Where the filesystem's top level (subvolid 5) is mounted."))


ZFS_COMPRESSION = sorted(ENUM_PROPERTIES["compression"])  # named in the API schema (ENUM_NAME_OVERRIDES)
PROFILES = [("single", _("single (no redundancy)")), ("dup", _("dup (two copies on one device)")),
            ("raid0", _("raid0 (striped)")), ("raid1", _("raid1 (two copies on two devices)")),
            ("raid1c3", _("raid1c3 (three copies)")), ("raid1c4", _("raid1c4 (four copies)")),
            ("raid10", "raid10"), ("raid5", _("raid5 (not for metadata: write hole)")),
            ("raid6", _("raid6 (not for metadata: write hole)"))]


class BtrfsCreateInput(serializers.Serializer):
    label = serializers.CharField(max_length=255, help_text=_("The filesystem's label: the pool's name here."))
    devices = _devices(_("Block devices to make it on (every signature on them is overwritten with force)."),
                       style={"suggestions": free_disk_choices})
    data_profile = serializers.ChoiceField(choices=PROFILES, default="single")
    metadata_profile = serializers.ChoiceField(choices=PROFILES, required=False, allow_blank=True,
                                               help_text=_("Empty: dup on one device, raid1 on more."))
    mountpoint = serializers.CharField(required=False, allow_blank=True, max_length=4096,
                                       help_text=_("Empty: a folder named after the label under the mount root."))
    force = serializers.BooleanField(default=False, help_text=_("mkfs.btrfs -f: overwrite an old signature."))

    def validate(self, data):
        if not data.get("devices"):
            raise serializers.ValidationError({"devices": _("Choose at least one device.")})
        return data


def _profile_or_blank(help_text: str) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=PROFILES, required=False, allow_blank=True, help_text=help_text)


class BalanceInput(serializers.Serializer):
    data_usage = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100,
                                          help_text=_("Rewrite data chunks at most this % full (frees their space)."))
    metadata_usage = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100)
    data_convert = _profile_or_blank(_("Convert data to this profile (after adding devices, say)."))
    metadata_convert = _profile_or_blank(_("Convert metadata to this profile."))


class BtrfsDeviceInput(serializers.Serializer):
    device = serializers.CharField(max_length=4096, help_text=_("A free block device (/dev/...)."))
    force = serializers.BooleanField(default=False, help_text=_("Overwrite an old filesystem signature on it."))


class BtrfsMemberInput(serializers.Serializer):
    device = serializers.CharField(max_length=4096, help_text=_("A member's path, or its devid (a missing one)."))


class BtrfsReplaceInput(BtrfsMemberInput):
    new_device = serializers.CharField(max_length=4096, help_text=_("The free block device taking its place."))
    force = serializers.BooleanField(default=False, help_text=_("Overwrite an old filesystem signature on it."))


class ImportableQuery(serializers.Serializer):
    search_dirs = _devices(_("Directories holding image files; empty: /dev."))


class ImportInput(ImportableQuery):
    name = serializers.CharField(max_length=255, help_text=_("Pool name or numeric id."))
    new_name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    force = serializers.BooleanField(default=False)

    def validate_name(self, value: str) -> str:
        if value.isdigit() and len(value) > GUID_DIGITS:
            raise serializers.ValidationError(_("A pool's numeric id has at most %(n)s digits.") % {"n": GUID_DIGITS})
        return value


class PoolExportInput(serializers.Serializer):
    force = serializers.BooleanField(default=False, help_text=_("Unmount busy datasets (zpool export -f)."))


class PoolDeleteInput(serializers.Serializer):
    force = serializers.BooleanField(default=False, help_text=_("Unmount busy datasets (zpool destroy -f)."))


class MemberInput(serializers.Serializer):
    device = serializers.CharField(max_length=4096)


class OfflineInput(MemberInput):
    temporary = serializers.BooleanField(default=False, help_text=_("Only until the next reboot."))


class ReplaceInput(MemberInput):
    new_device = serializers.CharField(required=False, allow_blank=True, max_length=4096,
                                       help_text=_("The device taking its place; empty: the same slot, swapped."))


class DatasetCreateInput(_Properties):
    pool = RestrictedRelatedField(queryset=Pool.objects.filter(gone=False), action="change")
    name = serializers.CharField(max_length=1024, help_text=_("ZFS: <pool>/<path>. Btrfs: the subvolume path "
                                                              "below the top level."))
    kind = serializers.ChoiceField(choices=DatasetKind.choices, default=DatasetKind.FILESYSTEM)
    sparse = serializers.BooleanField(default=False, help_text=_("Volumes: no reservation (thin)."))

    def validate(self, data):
        data["properties"], _inherit = self.split_properties(data)
        data["volsize"] = data["properties"].pop("volsize", None)
        return data


class DatasetPropertiesInput(_Properties):
    """Named properties and user properties to set; an emptied one inherits again (quota, refquota,
    reservation, refreservation: none)."""

    inherit = serializers.ListField(child=serializers.CharField(max_length=255), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        dataset = self.context.get("object")
        if isinstance(dataset, Dataset):
            for name, field in self.fields.items():
                if name in NAMED_PROPERTIES:
                    prop = dataset.properties.get(name) or {}
                    field.help_text = f"{field.help_text} {_('Now')}: {prop.get('value') or '-'} " \
                                      f"({prop.get('source') or '-'})".strip()

    def validate(self, data):
        properties, inherit = self.split_properties(data, limits_to_none=True)
        return {"properties": properties, "inherit": [*inherit, *data.get("inherit", [])]}


def dataset_initial(dataset: Dataset) -> dict:
    """The dataset's current values for its properties form (user properties set here, not inherited)."""
    users = {k: (p or {}).get("value", "") for k, p in dataset.properties.items()
             if ":" in k and (p or {}).get("source") == "local"}
    return {**{name: dataset.prop(name) for name in NAMED_PROPERTIES}, "properties": users}


class RenameInput(serializers.Serializer):
    new_name = serializers.CharField(max_length=1024)


class DatasetDeleteInput(serializers.Serializer):
    recursive = serializers.BooleanField(default=False, help_text=_(
        "Also destroy its children and snapshots (Btrfs: the subvolumes nested in it)."))
    snapshots = serializers.ChoiceField(choices=[("keep", _("Keep them")), ("delete", _("Delete them too"))],
                                        default="keep", label=_("Its snapshots (Btrfs)"), help_text=_(
        "A Btrfs snapshot is a subvolume of its own: kept, it stays readable and is listed under the top level "
        "once its source is gone; deleted, it goes first. ZFS snapshots go with their dataset (recursive)."))


class SnapshotCreateInput(serializers.Serializer):
    dataset = RestrictedRelatedField(queryset=Dataset.objects.filter(gone=False).select_related("pool"),
                                     action="change")
    name = serializers.CharField(max_length=255, help_text=_("The part after @."))
    recursive = serializers.BooleanField(default=False, help_text=_("ZFS: the whole subtree, atomically."))


class SnapshotBulkDeleteInput(serializers.Serializer):
    ids = RestrictedRelatedField(queryset=Snapshot.objects.select_related("dataset__pool"), many=True,
                                 allow_empty=False, action="delete", help_text=_("The snapshots to destroy."))
    confirm = serializers.CharField(help_text=_("The number of snapshots, typed again."))

    def validate(self, data):
        if data["confirm"] != str(len(data["ids"])):
            raise serializers.ValidationError({"confirm": _("Type %(n)s (the number of snapshots) to confirm.") % {
                "n": len(data["ids"])}})
        return {"snapshots": data["ids"]}


class RollbackInput(serializers.Serializer):
    destroy_newer = serializers.BooleanField(default=False, label=_("Destroy newer snapshots"),
                                             help_text=_("Rolling back past newer snapshots destroys them."))


class CloneInput(serializers.Serializer):
    """A clone is a new dataset in the snapshot's pool: like any dataset created under a parent, it needs the
    change permission on that pool (seeing it, or holding a clone grant on the snapshot, is not enough)."""

    target = serializers.CharField(max_length=1024, help_text=_("New filesystem: <pool>/<path>."))
    properties = serializers.DictField(child=serializers.CharField(), required=False)

    def validate_target(self, value: str) -> str:
        request, snapshot = self.context.get("request"), self.context.get("object")
        pool = snapshot.dataset.pool if isinstance(snapshot, Snapshot) else None
        if request is not None and pool is not None and not allowed(request.user, perm_name(Pool, "change"), pool):
            raise serializers.ValidationError(_("Pool %(pool)s is not yours to add datasets to.") % {"pool": pool.name})
        return value


class HoldInput(serializers.Serializer):
    tag = serializers.CharField(max_length=255)
    recursive = serializers.BooleanField(default=False, help_text=_("Also the same snapshot of descendants."))


def _on_off(help_text: str) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=list(ON_OFF), required=False, help_text=help_text)


class PoolPropertiesInput(serializers.Serializer):
    """ZFS pool properties to set (only those given; only those this pool has: zfs-fuse has no comment,
    autotrim or multihost). Any other name is refused."""

    autoexpand = _on_off(_("Grow the pool when all devices of a vdev have grown."))
    autoreplace = _on_off(_("Use a new device found where a failed one was, without a replace command."))
    autotrim = _on_off(_("Trim freed space on the devices continuously."))
    delegation = _on_off(_("Let users run the zfs commands they are allowed (zfs allow)."))
    listsnapshots = _on_off(_("zfs list shows snapshots without -t snapshot."))
    multihost = _on_off(_("Refuse an import while another host has the pool imported."))
    failmode = serializers.ChoiceField(choices=list(SETTABLE["failmode"]), required=False, help_text=_(
        "When the pool cannot write: wait for the devices, continue (return EIO) or panic."))
    comment = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=COMMENT_MAX,
                                    help_text=_("Free text kept in the pool (printable ASCII, at most %(n)s "
                                                "characters); empty: none.") % {"n": COMMENT_MAX})

    def validate(self, data):
        given = self.initial_data if isinstance(self.initial_data, dict) else {}
        unknown = sorted(str(k) for k in given if k not in self.fields)
        if unknown:
            raise serializers.ValidationError({"properties": _("Not a pool property that can be set here: "
                                                               "%(names)s.") % {"names": ", ".join(unknown)}})
        errors = {name: problem for name, value in data.items() if (problem := pool_property_problem(name, value))}
        if errors:
            raise serializers.ValidationError(errors)
        if not data:
            raise serializers.ValidationError({"properties": _("Nothing to change.")})
        return {"properties": dict(data)}
