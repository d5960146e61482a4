"""Inputs and outputs of the Bacula operations that are not resource edits (the API body and the admin form)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.core.serializers import RestrictedRelatedField

from .choices import JobLevel, WritableVolumeStatus
from .models import Client, Pool

__all__ = ["BaculaBrowseInput", "BaculaBrowseOutput", "BaculaConfigOutput", "BaculaJobLogOutput", "BaculaLabelInput", "BaculaMarkInput", "BaculaMoveInput",
           "BaculaRestoreInput", "BaculaRunInput", "BaculaUpdateSlotsInput"]

MAX_ID = 2**63 - 1


class BaculaRunInput(serializers.Serializer):
    level = serializers.ChoiceField(choices=JobLevel.choices, required=False, allow_blank=True, default="",
                                    help_text=_("Empty: the job's own level."))


class BaculaLabelInput(serializers.Serializer):
    pool = RestrictedRelatedField(queryset=Pool.objects.all(), action="change", help_text=_(
        "The pool the new volumes join."))
    slots = serializers.CharField(max_length=64, help_text=_("Slots to label, e.g. 1-4 or 1,3,5-8."))
    drive = serializers.IntegerField(min_value=0, max_value=63, default=0, help_text=_("The drive to read labels with."))


class BaculaUpdateSlotsInput(serializers.Serializer):
    drive = serializers.IntegerField(min_value=0, max_value=63, default=0)


class BaculaMoveInput(serializers.Serializer):
    pool = RestrictedRelatedField(queryset=Pool.objects.all(), action="change")


class BaculaMarkInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=WritableVolumeStatus.choices)


class BaculaBrowseInput(serializers.Serializer):
    path = serializers.CharField(max_length=4096, default="/", help_text=_("The directory to list, e.g. /tank/."))
    offset = serializers.IntegerField(min_value=0, max_value=100_000, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)


class BaculaBrowseEntry(serializers.Serializer):
    type = serializers.ChoiceField(choices=(("dir", "dir"), ("file", "file")))
    name = serializers.CharField()
    pathid = serializers.IntegerField(allow_null=True, help_text=_("Restore a directory by this id."))
    fileid = serializers.IntegerField(allow_null=True, help_text=_("Restore a file by this id."))
    size = serializers.IntegerField(allow_null=True)
    mtime = serializers.IntegerField(allow_null=True, help_text=_("Modification time, seconds since 1970."))


class BaculaBrowseOutput(serializers.Serializer):
    jobid = serializers.IntegerField()
    path = serializers.CharField()
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    entries = BaculaBrowseEntry(many=True)
    more = serializers.BooleanField(help_text=_("Whether a next page exists."))


class BaculaRestoreInput(serializers.Serializer):
    client = RestrictedRelatedField(queryset=Client.objects.all(), action="change", help_text=_(
        "The client the files are restored to."))
    where = serializers.CharField(max_length=4096, help_text=_(
        "The directory they are restored under (on this appliance: inside a managed dataset)."))
    fileids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False,
                                    max_length=100_000, default=list, help_text=_("Files, by their browse fileid."))
    dirids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False,
                                   max_length=10_000, default=list, help_text=_(
                                       "Whole directories, by their browse pathid."))


class BaculaJobLogOutput(serializers.Serializer):
    jobid = serializers.IntegerField()
    lines = serializers.ListField(child=serializers.CharField(allow_blank=True))


class _BaculaFile(serializers.Serializer):
    path = serializers.CharField()
    text = serializers.CharField(allow_blank=True)


class BaculaConfigOutput(serializers.Serializer):
    director = _BaculaFile(help_text=_("Calypso's director include file (passwords shown as ********)."))
    storage = _BaculaFile(help_text=_("Calypso's storage daemon include file."))
