"""Tape libraries: what the operator declared (a library, its kind and geometry, media pools) and what the host
reports (the changer's slots and drives, the media in them, each drive's status and TapeAlert flags).

Numbers are mtx's: drives from 0, slots from 1, import/export slots counted after the storage slots. A row
for a slot or drive is written by an inventory (``mtx status``) and by the moves Calypso makes; a medium row
by an inventory (a new barcode) or when a virtual library creates its media.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import CalypsoModel
from apps.core.validators import from_backend, validate_iqn

from .backends.base import IDENT, MAX_DRIVES, MAX_IE, MAX_SLOTS, validate_barcode
from .backends.physical import validate_changer, validate_tape_device
from .backends.tgt_vtl import validate_media_home
from .choices import LibraryKind, MediumKind, MediumState

__all__ = ["Drive", "Library", "MediaPool", "Medium", "Slot", "tape_barcode", "validate_barcode_field"]

validate_library_name = RegexValidator(r"^[a-z0-9][a-z0-9-]{0,31}$", _(
    "1 to 32 lower-case letters, digits and -, starting with a letter or digit."))
validate_ident = RegexValidator(rf"^(?:{IDENT.pattern})$", _(
    "Letters, digits, space . _ -, up to 32, starting with a letter or digit."))
validate_density = RegexValidator(r"^[A-Za-z0-9]{1,16}$", _("1 to 16 letters and digits (e.g. LTO6)."))


def validate_barcode_field(value: str) -> None:
    """1 to 16 upper-case letters and digits, no spaces."""
    from_backend(validate_barcode, value)


def validate_changer_field(value: str) -> None:
    """/dev/sgN or a /dev/tape/by-id/ link."""
    from_backend(validate_changer, value)


def validate_tape_device_field(value: str) -> None:
    """/dev/nstN or a /dev/tape/by-id/ link."""
    from_backend(validate_tape_device, value)


def validate_media_home_field(value: str) -> None:
    """An absolute, normalised directory path."""
    from_backend(validate_media_home, value)


def tape_barcode(value: str) -> str:
    """``value`` if it is a barcode (1-16 upper-case letters and digits), else ValidationError."""
    validate_barcode_field(value)
    return value


class MediaPool(CalypsoModel):
    """A set of media one use draws on (a backup job's weekly set); labelling a medium puts it in a pool."""

    name = models.CharField(max_length=64, unique=True, validators=[validate_library_name])
    description = models.CharField(max_length=255, blank=True)
    retention_days = models.PositiveIntegerField(default=30, validators=[MaxValueValidator(36500)], help_text=_(
        "How long what is written to a medium of this pool is kept before the medium may be reused."))

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Library(CalypsoModel):
    """A tape library: a physical changer on this host, or a virtual one Calypso builds (mhVTL, tgt)."""

    name = models.CharField(max_length=32, unique=True, validators=[validate_library_name])
    kind = models.CharField(max_length=10, choices=LibraryKind.choices, default=LibraryKind.MHVTL)
    description = models.CharField(max_length=255, blank=True)
    vendor = models.CharField(max_length=32, blank=True, default="STK", validators=[validate_ident])
    product = models.CharField(max_length=32, blank=True, default="L700", validators=[validate_ident])
    serial = models.CharField(max_length=32, blank=True, validators=[validate_ident], help_text=_(
        "Unit serial number (mhVTL: up to 10 characters, no spaces; empty: derived from the library id)."))
    changer = models.CharField(max_length=160, blank=True, validators=[validate_changer_field], help_text=_(
        "The changer's SCSI generic node (/dev/sgN or a /dev/tape/by-id/ link); physical and mhVTL libraries, "
        "found by Discover."))
    slots = models.PositiveIntegerField(default=10, validators=[MinValueValidator(1), MaxValueValidator(MAX_SLOTS)],
                                        help_text=_("Storage slots (not counting import/export slots)."))
    ie_slots = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(MAX_IE)], help_text=_(
        "Import/export (mail) slots; mtx numbers them after the storage slots."))
    drive_count = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1),
                                                                     MaxValueValidator(MAX_DRIVES)])
    density = models.CharField(max_length=16, default="LTO6", validators=[validate_density], help_text=_(
        "Media type of the virtual library's cartridges (LTO6, LTO8...)."))
    media_size_mb = models.PositiveIntegerField(default=1024, validators=[MinValueValidator(1),
                                                                          MaxValueValidator(64 * 1024 * 1024)],
                                                help_text=_("Capacity of each virtual cartridge, in MiB."))
    mhvtl_id = models.PositiveIntegerField(null=True, blank=True, unique=True, validators=[
        MinValueValidator(1), MaxValueValidator(9999)], help_text=_(
        "mhVTL: the library's id in device.conf (10, 20...); its drives take the ids after it."))
    tid = models.PositiveIntegerField(null=True, blank=True, unique=True, validators=[
        MinValueValidator(1), MaxValueValidator((1 << 20) - 1)], help_text=_("tgt: the iSCSI target id."))
    iqn = models.CharField(max_length=223, blank=True, validators=[validate_iqn], help_text=_(
        "tgt: the target's name; empty: iqn.2026-12.org.calypso:tape.<name>."))
    media_home = models.CharField(max_length=200, blank=True, validators=[validate_media_home_field], help_text=_(
        "tgt: the directory of the media files; empty: the tape directory of this appliance/<name>."))
    present = models.BooleanField(default=True, editable=False)
    last_inventory_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "libraries"
        permissions = [
            ("inventory_library", "Can take the inventory of a tape library"),
            ("load_library", "Can move media in a tape library (load, unload, transfer, import, export)"),
            ("discover_library", "Can discover the tape libraries of this host"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def lock_key(self) -> str:
        return f"tape:library:{self.pk}"

    @property
    def virtual(self) -> bool:
        return self.kind != LibraryKind.PHYSICAL

    @property
    def total_slots(self) -> int:
        return self.slots + self.ie_slots

    def clean(self) -> None:
        errors = {}
        if self.kind == LibraryKind.MHVTL and self.serial and (len(self.serial) > 10 or " " in self.serial):
            errors["serial"] = _("mhVTL serial numbers are up to 10 characters, no spaces.")
        if self.kind == LibraryKind.TGT:
            if len(self.vendor) > 8:
                errors["vendor"] = _("tgt: a SCSI vendor is at most 8 characters.")
            if len(self.product) > 16:
                errors["product"] = _("tgt: a SCSI product is at most 16 characters.")
        if self.kind == LibraryKind.PHYSICAL and self.mhvtl_id is not None:
            errors["mhvtl_id"] = _("Only an mhVTL library has an mhVTL id.")
        if errors:
            raise ValidationError(errors)


class Medium(CalypsoModel):
    """A cartridge, known by its barcode: where it is, what it holds, which pool it serves."""

    barcode = models.CharField(max_length=16, unique=True, validators=[validate_barcode_field])
    kind = models.CharField(max_length=8, choices=MediumKind.choices, default=MediumKind.DATA)
    state = models.CharField(max_length=10, choices=MediumState.choices, default=MediumState.UNKNOWN)
    pool = models.ForeignKey(MediaPool, null=True, blank=True, on_delete=models.SET_NULL, related_name="media")
    library = models.ForeignKey(Library, null=True, blank=True, on_delete=models.SET_NULL, related_name="media",
                                editable=False)
    slot_number = models.PositiveIntegerField(null=True, blank=True, editable=False)
    drive_number = models.PositiveIntegerField(null=True, blank=True, editable=False)
    cleaning_uses_left = models.PositiveIntegerField(null=True, blank=True, validators=[MaxValueValidator(1000)],
                                                     help_text=_("Cleaning cartridges: cleanings left."))
    labelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ("barcode",)
        verbose_name_plural = "media"
        permissions = [
            ("label_medium", "Can write a label on a tape medium"),
            ("erase_medium", "Can erase a tape medium"),
        ]

    def __str__(self) -> str:
        return self.barcode

    @property
    def lock_key(self) -> str:
        return f"tape:library:{self.library_id}" if self.library_id else f"tape:medium:{self.pk}"

    @property
    def location(self) -> str:
        if self.library_id is None:
            return "outside"
        if self.drive_number is not None:
            return f"drive {self.drive_number}"
        return f"slot {self.slot_number}" if self.slot_number is not None else "library"

    def clean(self) -> None:
        if self.kind == MediumKind.DATA and self.cleaning_uses_left is not None:
            raise ValidationError({"cleaning_uses_left": _("Only a cleaning cartridge has cleaning uses.")})


class Slot(CalypsoModel):
    """A storage or import/export element of a changer, as its last inventory (or Calypso's last move) left it."""

    library = models.ForeignKey(Library, on_delete=models.CASCADE, related_name="slot_rows")
    number = models.PositiveIntegerField()
    import_export = models.BooleanField(default=False)
    full = models.BooleanField(default=False)
    barcode = models.CharField(max_length=16, blank=True)
    medium = models.ForeignKey(Medium, null=True, blank=True, on_delete=models.SET_NULL, related_name="slots")

    class Meta:
        ordering = ("library", "number")
        constraints = [models.UniqueConstraint(fields=("library", "number"), name="tape_slot_unique")]

    def __str__(self) -> str:
        return f"{self.library.name if self.library_id else '?'} slot {self.number}"


class Drive(CalypsoModel):
    """A tape drive of a library: what it holds and what ``mt status`` and its TapeAlert page last said."""

    library = models.ForeignKey(Library, on_delete=models.CASCADE, related_name="drives")
    number = models.PositiveIntegerField(help_text=_("mtx's data transfer element number, from 0."))
    vendor = models.CharField(max_length=32, blank=True)
    product = models.CharField(max_length=32, blank=True)
    serial = models.CharField(max_length=32, blank=True)
    device = models.CharField(max_length=160, blank=True, validators=[validate_tape_device_field], help_text=_(
        "The drive's non-rewinding node (/dev/nstN)."))
    sg_device = models.CharField(max_length=160, blank=True, validators=[validate_changer_field], help_text=_(
        "The drive's SCSI generic node (/dev/sgN), for its TapeAlert page."))
    medium = models.ForeignKey(Medium, null=True, blank=True, on_delete=models.SET_NULL, related_name="drives")
    source_slot = models.PositiveIntegerField(null=True, blank=True, help_text=_(
        "The slot the loaded medium came from, when the changer knows it."))
    online = models.BooleanField(default=False)
    write_protected = models.BooleanField(default=False)
    at_bot = models.BooleanField(default=False)
    density = models.CharField(max_length=64, blank=True)
    needs_cleaning = models.BooleanField(default=False)
    tapealerts = models.JSONField(default=list, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ("library", "number")
        constraints = [models.UniqueConstraint(fields=("library", "number"), name="tape_drive_unique")]
        permissions = [
            ("check_drive", "Can read a tape drive's status and TapeAlert flags"),
            ("clean_drive", "Can clean a tape drive"),
        ]

    def __str__(self) -> str:
        return f"{self.library.name if self.library_id else '?'} drive {self.number}"

    @property
    def lock_key(self) -> str:
        return f"tape:library:{self.library_id}"
