"""Inputs of the tape operations that are not resource edits (the API body and the admin form), and the outputs
of the queries."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.core.serializers import RestrictedRelatedField

from .backends.base import MAX_DRIVES, MAX_IE, MAX_SLOTS
from .models import Library, MediaPool

__all__ = ["TapeDiscoverOutput", "TapeDriveCleanInput", "TapeExportInput", "TapeImportInput", "TapeLoadInput",
           "TapeMediumEraseInput", "TapeMediumLabelInput", "TapePreviewInput", "TapePreviewOutput", "TapeServiceInput",
           "TapeServiceOutput", "TapeTransferInput", "TapeUnloadInput"]

MAX_SLOT = MAX_SLOTS + MAX_IE


def _slot(help_text, required: bool = True):
    return serializers.IntegerField(min_value=1, max_value=MAX_SLOT, required=required,
                                    allow_null=not required, default=None if not required else serializers.empty,
                                    help_text=help_text)


DRIVE_HELP = _("Drive number, from 0 (as mtx counts).")


def _drive(help_text=DRIVE_HELP, required: bool = True):
    kwargs = {} if required else {"required": False, "allow_null": True, "default": None}
    return serializers.IntegerField(min_value=0, max_value=MAX_DRIVES - 1, help_text=help_text, **kwargs)


def _barcode(help_text):
    return serializers.CharField(max_length=16, required=False, allow_blank=True, default="", help_text=help_text)


class TapeLoadInput(serializers.Serializer):
    slot = _slot(_("The slot of the medium to load (1-based; or give its barcode)."), required=False)
    barcode = _barcode(_("The barcode of the medium to load, wherever it is."))
    drive = _drive()


class TapeUnloadInput(serializers.Serializer):
    drive = _drive()
    slot = _slot(_("Where to put it; empty: the slot it came from, else the first free storage slot."),
                 required=False)


class TapeTransferInput(serializers.Serializer):
    source = _slot(_("The slot of the medium."))
    destination = _slot(_("An empty slot."))


class TapeImportInput(serializers.Serializer):
    slot = _slot(_("The import/export slot the medium was put in."))
    destination = _slot(_("A free storage slot; empty: the first one."), required=False)


class TapeExportInput(serializers.Serializer):
    barcode = _barcode(_("The barcode of the medium (or give its slot)."))
    slot = _slot(_("The storage slot of the medium."), required=False)
    destination = _slot(_("A free import/export slot; empty: the first one."), required=False)


class TapeMediumLabelInput(serializers.Serializer):
    pool = RestrictedRelatedField(queryset=MediaPool.objects.all(), action="view", required=False, allow_null=True,
                                  default=None, help_text=_("The media pool the labelled medium joins."))
    drive = _drive(_("The drive to write in (empty: the one it is in, else the first free one)."), required=False)


class TapeMediumEraseInput(serializers.Serializer):
    quick = serializers.BooleanField(default=False, help_text=_(
        "Only write an end-of-data mark at the start (seconds) instead of erasing the whole tape (hours)."))
    drive = _drive(_("The drive to erase in (empty: the one it is in, else the first free one)."), required=False)


class TapeDriveCleanInput(serializers.Serializer):
    barcode = _barcode(_("The cleaning cartridge to use; empty: the first with uses left."))


class TapeServiceInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=(("start", _("Start")), ("stop", _("Stop")), ("restart", _("Restart"))),
                                     help_text=_("Stop takes every mhVTL library offline, not only this one."))


class TapeServiceOutput(serializers.Serializer):
    action = serializers.CharField()
    command = serializers.CharField(help_text=_("What ran."))


class TapePreviewInput(serializers.Serializer):
    library = RestrictedRelatedField(queryset=Library.objects.all(), action="view", required=False, allow_null=True,
                                     default=None, help_text=_("One library; empty: every virtual library."))


class TapePreviewFileOutput(serializers.Serializer):
    path = serializers.CharField()
    text = serializers.CharField(allow_blank=True)


class TapePreviewLibraryOutput(serializers.Serializer):
    library = serializers.CharField()
    kind = serializers.CharField()
    files = TapePreviewFileOutput(many=True, help_text=_("mhVTL: device.conf and library_contents.<id>."))
    commands = serializers.ListField(child=serializers.ListField(child=serializers.CharField()), help_text=_(
        "What runs, in order: mktape and the restart (mhVTL), the tgtadm commands (tgt)."))


class TapePreviewOutput(serializers.Serializer):
    libraries = TapePreviewLibraryOutput(many=True)


class TapeDiscoverOutput(serializers.Serializer):
    libraries = serializers.ListField(child=serializers.CharField(), help_text=_("The libraries of the changers."))
    changers = serializers.ListField(child=serializers.CharField())
    drives = serializers.ListField(child=serializers.CharField())
