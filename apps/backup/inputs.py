"""Inputs of the backup operations that are not resource edits (the API body and the admin form)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.core.serializers import RestrictedRelatedField
from apps.storage.models import Pool

__all__ = ["BrowseInput", "RestoreFilesInput", "RestoreInput"]


class RestoreInput(serializers.Serializer):
    pool = RestrictedRelatedField(queryset=Pool.objects.filter(gone=False), action="change",
                                  help_text=_("The pool (or Btrfs filesystem) on this host to restore into."))
    name = serializers.CharField(max_length=100, help_text=_(
        "The new dataset (ZFS) or directory (Btrfs) the chain is received into; it must not exist."))


class BrowseInput(serializers.Serializer):
    path = serializers.CharField(required=False, allow_blank=True, default="", max_length=4096,
                                 help_text=_("A directory of the snapshot, relative to its top (empty: the top)."))


class RestoreFilesInput(serializers.Serializer):
    paths = serializers.ListField(child=serializers.CharField(max_length=4096), min_length=1, max_length=1000,
                                  help_text=_("Files or directories of the snapshot, relative to its top."))
    destination = serializers.CharField(required=False, allow_blank=True, default="", max_length=100, help_text=_(
        "A new directory of the source dataset they are copied into (default: restored-<snapshot>)."))
