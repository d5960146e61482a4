"""FilterSets shared by the tape API and admin."""

import django_filters as filters

from apps.core.filters import CalypsoFilterSet

from .models import Drive, Library, MediaPool, Medium, Slot

__all__ = ["DriveFilterSet", "LibraryFilterSet", "MediaPoolFilterSet", "MediumFilterSet", "SlotFilterSet"]


def _name(field: str = "name"):
    return filters.CharFilter(field_name=field, lookup_expr="icontains",
                              help_text="Part of the name (plain text, any case).")


class LibraryFilterSet(CalypsoFilterSet):
    name = _name()

    class Meta:
        model = Library
        fields = ("name", "kind", "present")


class DriveFilterSet(CalypsoFilterSet):
    class Meta:
        model = Drive
        fields = ("library", "needs_cleaning", "online")


class SlotFilterSet(CalypsoFilterSet):
    class Meta:
        model = Slot
        fields = ("library", "full", "import_export")


class MediumFilterSet(CalypsoFilterSet):
    barcode = _name("barcode")

    class Meta:
        model = Medium
        fields = ("barcode", "kind", "state", "pool", "library")


class MediaPoolFilterSet(CalypsoFilterSet):
    name = _name()

    class Meta:
        model = MediaPool
        fields = ("name",)
