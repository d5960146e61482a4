"""Choices of the backup app and their badge colours."""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["SEND_KIND_COLORS", "SendKind", "TargetKind"]


class TargetKind(models.TextChoices):
    LOCAL = "local", _("Pool on this host")


class SendKind(models.TextChoices):
    FULL = "full", _("Full")
    INCREMENTAL = "incremental", _("Incremental")


SEND_KIND_COLORS = {SendKind.FULL: "blue", SendKind.INCREMENTAL: "grey"}
