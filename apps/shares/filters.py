"""FilterSets shared by the shares API and admin."""

import django_filters as filters

from apps.core.filters import CalypsoFilterSet, IdFilter

from .models import NfsExport, SmbShare, SmbUser

__all__ = ["NfsExportFilterSet", "SmbShareFilterSet", "SmbUserFilterSet"]


def _name(field: str = "name"):
    return filters.CharFilter(field_name=field, lookup_expr="icontains",
                              help_text="Part of the name (plain text, any case).")


class SmbShareFilterSet(CalypsoFilterSet):
    name = _name()
    path = filters.CharFilter(lookup_expr="istartswith", help_text="The start of the path.")
    pool = IdFilter(field_name="dataset__pool_id")

    class Meta:
        model = SmbShare
        fields = ("name", "path", "dataset", "pool", "enabled", "read_only", "guest_ok")


class SmbUserFilterSet(CalypsoFilterSet):
    username = _name("username")

    class Meta:
        model = SmbUser
        fields = ("username", "enabled")


class NfsExportFilterSet(CalypsoFilterSet):
    path = filters.CharFilter(lookup_expr="istartswith", help_text="The start of the path.")
    pool = IdFilter(field_name="dataset__pool_id")

    class Meta:
        model = NfsExport
        fields = ("path", "dataset", "pool", "enabled")
