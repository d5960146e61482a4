"""Inputs of the backup operations that are not resource edits (the API body and the admin form)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.core.serializers import RestrictedRelatedField
from apps.storage.models import Pool

__all__ = ["RestoreInput"]


class RestoreInput(serializers.Serializer):
    pool = RestrictedRelatedField(queryset=Pool.objects.filter(gone=False), action="change",
                                  help_text=_("The pool (or Btrfs filesystem) on this host to restore into."))
    name = serializers.CharField(max_length=100, help_text=_(
        "The new dataset (ZFS) or directory (Btrfs) the chain is received into; it must not exist."))
