"""Choices of the iSCSI app."""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["BackingKind", "BlockSize"]


class BackingKind(models.TextChoices):
    ZVOL = "zvol", _("ZFS volume (/dev/zvol/<pool>/<name>)")
    FILE = "file", _("File in a managed filesystem dataset")


class BlockSize(models.IntegerChoices):
    B512 = 512, "512"
    B4096 = 4096, "4096"
