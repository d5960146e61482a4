from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.core.serializers import RestrictedRelatedField
from apps.tape.models import Drive, Library, MediaPool, Medium, Slot, tape_barcode

__all__ = ["TapeDriveSerializer", "TapeLibrarySerializer", "TapeMediaPoolSerializer", "TapeMediumSerializer",
           "TapeMediumUpdateSerializer", "TapeSlotSerializer"]


class TapeLibrarySerializer(serializers.ModelSerializer):
    media = serializers.ListField(child=serializers.CharField(max_length=16, validators=[tape_barcode]),
                                  required=False, write_only=True, max_length=10_000, help_text=_(
                                      "Virtual libraries, on creation: the barcodes of the media to make, put in "
                                      "storage slots 1, 2... (a barcode starting with CLN is a cleaning cartridge)."))

    class Meta:
        model = Library
        fields = ("id", "name", "kind", "description", "vendor", "product", "serial", "changer", "slots", "ie_slots",
                  "drive_count", "density", "media_size_mb", "mhvtl_id", "tid", "iqn", "media_home", "media",
                  "present", "last_inventory_at", "last_error", "created", "updated")
        read_only_fields = ("present", "last_inventory_at", "last_error", "created", "updated")

    def validate(self, attrs):
        if self.instance is not None and "media" in attrs:
            raise serializers.ValidationError({"media": _("Media are given when the library is created.")})
        return attrs


class TapeMediaPoolSerializer(serializers.ModelSerializer):
    class Meta:
        model = MediaPool
        fields = ("id", "name", "description", "retention_days", "created", "updated")
        read_only_fields = ("created", "updated")


class TapeMediumSerializer(serializers.ModelSerializer):
    pool = RestrictedRelatedField(queryset=MediaPool.objects.all(), action="view", required=False, allow_null=True)
    location = serializers.CharField(read_only=True, help_text=_("slot N, drive N, library or outside."))

    class Meta:
        model = Medium
        fields = ("id", "barcode", "kind", "state", "pool", "library", "slot_number", "drive_number", "location",
                  "cleaning_uses_left", "labelled_at", "description", "created", "updated")
        read_only_fields = ("state", "library", "slot_number", "drive_number", "labelled_at", "created", "updated")


class TapeMediumUpdateSerializer(TapeMediumSerializer):
    """A medium's barcode is printed on it: it is given once, when the medium is registered."""

    class Meta(TapeMediumSerializer.Meta):
        read_only_fields = ("barcode", *TapeMediumSerializer.Meta.read_only_fields)


class TapeSlotSerializer(serializers.ModelSerializer):
    class Meta:
        model = Slot
        fields = ("id", "library", "number", "import_export", "full", "barcode", "medium", "updated")


class TapeDriveSerializer(serializers.ModelSerializer):
    tapealerts = serializers.JSONField(read_only=True, help_text=_(
        "The TapeAlert flags set at the last status read: code, name, severity, text."))

    class Meta:
        model = Drive
        fields = ("id", "library", "number", "vendor", "product", "serial", "device", "sg_device", "medium",
                  "source_slot", "online", "write_protected", "at_bot", "density", "needs_cleaning", "tapealerts",
                  "checked_at", "last_error", "updated")
        read_only_fields = fields
