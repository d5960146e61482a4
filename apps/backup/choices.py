"""Choices of the backup app and their badge colours."""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["SEND_KIND_COLORS", "Compression", "SendKind", "Strategy", "TargetKind"]


class TargetKind(models.TextChoices):
    LOCAL = "local", _("Pool on this host (replicas)")
    REPOSITORY = "repository", _("Repository (stream files in a directory)")


class Strategy(models.TextChoices):
    INCREMENTAL_FOREVER = "incremental_forever", _("Incremental forever")
    MONTHLY_FULL = "monthly_full", _("Monthly full, incremental in between")


class Compression(models.TextChoices):
    ZSTD = "zstd", _("zstd (fast)")
    GZIP = "gzip", _("gzip (compatible)")


class SendKind(models.TextChoices):
    FULL = "full", _("Full")
    INCREMENTAL = "incremental", _("Incremental")


SEND_KIND_COLORS = {SendKind.FULL: "blue", SendKind.INCREMENTAL: "grey"}
