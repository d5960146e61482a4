"""Admin forms for storage operations. They collect and shape input; the services validate it and
name the field at fault (``ServiceError.field``), which ``ServiceForm.add_service_error`` shows there."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ServiceError
from apps.core.validators import format_size

from .choices import Backend, DatasetKind
from .models import Dataset, Pool

__all__ = [
    "AddDevicesForm",
    "BtrfsRegisterForm",
    "CloneForm",
    "DatasetCreateForm",
    "DatasetDestroyForm",
    "DatasetPropertiesForm",
    "HoldForm",
    "ImportForm",
    "ImportSearchForm",
    "MemberForm",
    "PoolCreateForm",
    "PoolDestroyForm",
    "PoolExportForm",
    "RenameForm",
    "RollbackForm",
    "ServiceForm",
    "SnapshotCreateForm",
    "SubvolumeCreateForm",
    "inventory_disk_choices",
    "lines",
]

LAYOUTS = [("stripe", _("Stripe (no redundancy)")), ("mirror", _("Mirror (pairs)")), ("raidz1", "RAID-Z1"),
           ("raidz2", "RAID-Z2"), ("raidz3", "RAID-Z3")]
ON_OFF = [("", _("(unchanged / inherit)")), ("on", "on"), ("off", "off")]
COMPRESSION = [("", _("(unchanged / inherit)")), *[(c, c) for c in ("off", "on", "lz4", "zstd", "gzip", "zle",
                                                                     "lzjb")]]
# The properties the operator edits on a dataset page, in the services' names.
DATASET_PROPERTIES = ("volsize", "quota", "reservation", "compression", "recordsize", "atime", "readonly",
                      "mountpoint")
VOLUME_FIELDS = {"volsize", "compression", "readonly", "reservation"}
FILESYSTEM_FIELDS = set(DATASET_PROPERTIES) - {"volsize"}


def lines(text: str) -> list[str]:
    """Textarea -> non-empty stripped lines (commas and spaces also separate)."""
    return [part for line in (text or "").splitlines() for part in line.replace(",", " ").split() if part]


def key_values(text: str, field: str) -> dict[str, str]:
    """``key=value`` lines (user properties); ``key=`` means make it inherit again."""
    out = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValidationError({field: _("Write one key=value per line: %(l)s") % {"l": line.strip()}})
        out[key.strip()] = value.strip()
    return out


def inventory_disk_choices() -> tuple[list[tuple[str, str]], list[str]]:
    """Free block devices of the last host inventory as choices, and the in-use ones with their reason."""
    from apps.system.models import HostInventory

    inventory = HostInventory.objects.order_by("-id").first()
    free, busy = [], []

    def walk(devices):
        for dev in devices or ():
            path = dev.get("path") or f"/dev/{dev.get('name', '')}"
            why = ("mounted on " + dev["mountpoint"]) if dev.get("mountpoint") else \
                (f"{dev['fstype']} filesystem" if dev.get("fstype") else ("partitioned" if dev.get("children") else ""))
            label = f"{path} — {format_size(dev.get('size_bytes'))} {dev.get('model') or ''}".strip()
            if why:
                busy.append(f"{path} ({why})")
            elif dev.get("type") in ("disk", "part", "loop") and not dev.get("read_only"):
                free.append((path, label))
            walk(dev.get("children"))

    walk((inventory.data if inventory else {}).get("block_devices"))
    return free, busy


class ServiceForm(forms.Form):
    """A form whose submit calls a service: ServiceError/ValidationError land on the named field."""

    field_aliases: dict[str, str] = {}

    def add_service_error(self, exc: ServiceError | ValidationError) -> None:
        if isinstance(exc, ValidationError):
            if hasattr(exc, "error_dict"):
                for name, errs in exc.error_dict.items():
                    self._add(name, " ".join(m for e in errs for m in e.messages))
            else:
                self.add_error(None, exc)
            return
        self._add(exc.field, exc.message)

    def _add(self, field: str | None, message: str) -> None:
        field = self.field_aliases.get(field, field)
        if field in self.fields:
            self.add_error(field, message)
        else:
            self.add_error(None, f"{field}: {message}" if field else message)


class PoolCreateForm(ServiceForm):
    name = forms.CharField(max_length=255)
    backend = forms.ChoiceField(choices=[(Backend.ZFS, "ZFS")], initial=Backend.ZFS,
                                help_text=_("Btrfs filesystems are registered from their mountpoint."))
    layout = forms.ChoiceField(choices=LAYOUTS, initial="mirror")
    disks = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                      help_text=_("Free block devices from the last host inventory."))
    extra_disks = forms.CharField(required=False, label=_("Other devices or files"),
                                  widget=forms.Textarea(attrs={"rows": 3, "cols": 50}),
                                  help_text=_("One per line: /dev/disk/by-id/..., or image files for file vdevs."))
    mountpoint = forms.CharField(required=False, help_text=_("Empty: /<name>. Or none, legacy."))
    force = forms.BooleanField(required=False, help_text=_("zpool create -f: accept mismatched replication "
                                                           "levels or devices that look used."))
    field_aliases = {"devices": "disks"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        free, busy = inventory_disk_choices()
        self.fields["disks"].choices = free
        if busy:
            self.fields["disks"].help_text += " " + str(_("In use, not offered: %(d)s.") % {"d": ", ".join(busy)})

    def clean(self):
        data = super().clean()
        data["all_disks"] = [*data.get("disks", []), *lines(data.get("extra_disks", ""))]
        if not data["all_disks"] and not self.has_error("disks"):
            self.add_error("disks", _("Choose disks or list devices."))
        return data


class AddDevicesForm(ServiceForm):
    layout = forms.ChoiceField(choices=LAYOUTS, initial="mirror", label=_("Data vdev type"))
    devices = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 50}),
                              help_text=_("New data devices, one per line; grouped into vdevs of the type's width."))
    spares = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 50}))
    log = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 50}),
                          help_text=_("Log devices; two or more are mirrored."))
    cache = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 50}))
    force = forms.BooleanField(required=False)
    field_aliases = {"vdevs": "devices", "disks": "devices"}

    def clean(self):
        data = super().clean()
        for name in ("devices", "spares", "log", "cache"):
            data[name] = lines(data.get(name, ""))
        if not any(data[n] for n in ("devices", "spares", "log", "cache")):
            raise ValidationError(_("Give at least one device to add."))
        return data

    def log_spec(self) -> list:
        log = self.cleaned_data["log"]
        return [{"type": "mirror", "devices": log}] if len(log) > 1 else log


class PoolDestroyForm(ServiceForm):
    confirm = forms.CharField(label=_("Type the pool name to confirm"), required=False)
    force = forms.BooleanField(required=False, help_text=_("Unmount busy datasets (zpool destroy -f)."))


class PoolExportForm(ServiceForm):
    force = forms.BooleanField(required=False, help_text=_("Unmount busy datasets (zpool export -f)."))


class ImportSearchForm(ServiceForm):
    search_dirs = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 50}),
                                  help_text=_("Directories holding image files, one per line; empty: /dev."))


class ImportForm(ServiceForm):
    name = forms.CharField(help_text=_("Pool name or numeric id."))
    new_name = forms.CharField(required=False)
    search_dirs = forms.CharField(required=False, widget=forms.HiddenInput)
    force = forms.BooleanField(required=False)
    field_aliases = {"name_or_guid": "name"}


class BtrfsRegisterForm(ServiceForm):
    mountpoint = forms.CharField(help_text=_("Where the filesystem's top level (subvolid 5) is mounted."))


class MemberForm(ServiceForm):
    device = forms.CharField()
    new_device = forms.CharField(required=False, help_text=_("Replace: the device taking its place."))
    temporary = forms.BooleanField(required=False, help_text=_("Offline: only until the next reboot."))


def _properties_fields(kind: str) -> dict[str, forms.Field]:
    wanted = VOLUME_FIELDS if kind == DatasetKind.VOLUME else FILESYSTEM_FIELDS
    all_fields = {
        "volsize": forms.CharField(required=False, help_text=_("Resize: 10G, 512M...")),
        "quota": forms.CharField(required=False, help_text=_("10G, or none.")),
        "reservation": forms.CharField(required=False, help_text=_("10G, or none.")),
        "compression": forms.ChoiceField(required=False, choices=COMPRESSION),
        "recordsize": forms.CharField(required=False, help_text=_("Power of two, 512 to 16M: 128K, 1M...")),
        "atime": forms.ChoiceField(required=False, choices=ON_OFF),
        "readonly": forms.ChoiceField(required=False, choices=ON_OFF),
        "mountpoint": forms.CharField(required=False, help_text=_("A path, none or legacy.")),
    }
    return {name: f for name, f in all_fields.items() if name in wanted}


class DatasetCreateForm(ServiceForm):
    pool = forms.ModelChoiceField(queryset=Pool.objects.none())
    name = forms.CharField(help_text=_("ZFS: <pool>/<path>. Btrfs: the subvolume path below the top level."))
    kind = forms.ChoiceField(choices=DatasetKind.choices, initial=DatasetKind.FILESYSTEM)
    volsize = forms.CharField(required=False, help_text=_("Volumes: the size, e.g. 10G."))
    sparse = forms.BooleanField(required=False, help_text=_("Volumes: no reservation (thin)."))
    user_properties = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 50}),
                                      help_text=_("module:name=value, one per line."))

    def __init__(self, *args, pools=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pool"].queryset = pools if pools is not None else Pool.objects.none()
        self.fields.update({n: f for n, f in _properties_fields(DatasetKind.FILESYSTEM).items() if n != "volsize"})

    def clean(self):
        data = super().clean()
        props = {n: data[n] for n in DATASET_PROPERTIES if n != "volsize" and data.get(n)}
        data["properties"] = {**props, **key_values(data.get("user_properties", ""), "user_properties")}
        return data


class DatasetPropertiesForm(ServiceForm):
    """The common properties plus user properties; only what changed is sent, an emptied value inherits."""

    user_properties = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 50}),
                                      help_text=_("module:name=value, one per line; module:name= to inherit."))

    def __init__(self, *args, dataset: Dataset, **kwargs):
        self.dataset = dataset
        initial = {n: dataset.prop(n) for n in DATASET_PROPERTIES}
        self.user_initial = {k: (p or {}).get("value", "") for k, p in dataset.properties.items()
                             if ":" in k and (p or {}).get("source") == "local"}
        initial["user_properties"] = "\n".join(f"{k}={v}" for k, v in sorted(self.user_initial.items()))
        super().__init__(*args, initial=initial, **kwargs)
        fields = _properties_fields(dataset.kind)
        for name, field in fields.items():
            if isinstance(field, forms.ChoiceField) and initial.get(name) and \
                    initial[name] not in dict(field.choices):
                field.choices = [*field.choices, (initial[name], initial[name])]
            source = (dataset.properties.get(name) or {}).get("source", "")
            field.help_text = f"{field.help_text} {_('Now')}: {initial.get(name) or '-'} ({source or '-'})".strip()
        self.fields = {**fields, "user_properties": self.fields["user_properties"]}

    def clean(self):
        data = super().clean()
        props, inherit = {}, []
        for name in self.fields:
            if name == "user_properties" or name not in self.changed_data:
                continue
            if data.get(name):
                props[name] = data[name]
            else:
                inherit.append(name)
        users = key_values(data.get("user_properties", ""), "user_properties")
        for key, value in users.items():
            if value and value != self.user_initial.get(key):
                props[key] = value
            elif not value and key in self.user_initial:
                inherit.append(key)
        inherit += [k for k in self.user_initial if k not in users]
        if not props and not inherit:
            raise ValidationError(_("Nothing changed."))
        data["properties"], data["inherit"] = props, inherit
        return data


class RenameForm(ServiceForm):
    new_name = forms.CharField(max_length=1024)


class DatasetDestroyForm(ServiceForm):
    confirm = forms.CharField(label=_("Type the dataset name to confirm"), required=False)
    recursive = forms.BooleanField(required=False, help_text=_("Also destroy its children and snapshots."))

    def __init__(self, *args, dataset: Dataset, **kwargs):
        self.dataset = dataset
        super().__init__(*args, **kwargs)

    def clean_confirm(self):
        if self.cleaned_data["confirm"] != self.dataset.name:
            raise ValidationError(_("Type %(n)s to confirm.") % {"n": self.dataset.name})
        return self.cleaned_data["confirm"]


class SnapshotCreateForm(ServiceForm):
    name = forms.CharField(max_length=255, help_text=_("The part after @."))
    recursive = forms.BooleanField(required=False, help_text=_("ZFS: the whole subtree, atomically."))


class SubvolumeCreateForm(ServiceForm):
    name = forms.CharField(help_text=_("Path below the filesystem's top level, e.g. home/alice."))


class RollbackForm(ServiceForm):
    confirm = forms.CharField(label=_("Type the snapshot name to confirm"), required=False)
    destroy_newer = forms.BooleanField(required=False, label=_("Destroy newer snapshots"),
                                       help_text=_("Rolling back past newer snapshots destroys them."))


class CloneForm(ServiceForm):
    target = forms.CharField(max_length=1024, help_text=_("New filesystem: <pool>/<path>."))


class HoldForm(ServiceForm):
    tag = forms.CharField(max_length=255)
    recursive = forms.BooleanField(required=False, help_text=_("Also the same snapshot of descendants."))
