"""Choices of the tape app and their badge colours."""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["LIBRARY_KIND_COLORS", "MEDIUM_STATE_COLORS", "LibraryKind", "MediumKind", "MediumState"]


class LibraryKind(models.TextChoices):
    PHYSICAL = "physical", _("Physical (a changer on this host)")
    MHVTL = "mhvtl", _("mhVTL virtual library")
    TGT = "tgt", _("tgt virtual library (served over iSCSI)")


class MediumKind(models.TextChoices):
    DATA = "data", _("Data cartridge")
    CLEAN = "clean", _("Cleaning cartridge")


class MediumState(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown (found by an inventory)")
    BLANK = "blank", _("Blank")
    LABELLED = "labelled", _("Labelled")
    FULL = "full", _("Full")
    ERASED = "erased", _("Erased")


LIBRARY_KIND_COLORS = {LibraryKind.PHYSICAL: "blue", LibraryKind.MHVTL: "green", LibraryKind.TGT: "green"}
MEDIUM_STATE_COLORS = {MediumState.UNKNOWN: "grey", MediumState.BLANK: "blue", MediumState.LABELLED: "green",
                       MediumState.FULL: "orange", MediumState.ERASED: "blue"}
