"""FilterSets shared by the monitoring API and admin."""

import django_filters as filters

from apps.core.filters import CalypsoFilterSet

from .models import Disk

__all__ = ["DiskFilterSet"]


class DiskFilterSet(CalypsoFilterSet):
    pool = filters.CharFilter(help_text="The storage pool's name (exact).")
    name = filters.CharFilter(lookup_expr="icontains", help_text="Part of the name (plain text, any case).")

    class Meta:
        model = Disk
        fields = ("health", "pool", "smart_supported", "protocol", "gone", "name")
