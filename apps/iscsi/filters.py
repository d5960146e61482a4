"""FilterSets shared by the iSCSI API and admin."""

import django_filters as filters

from apps.core.filters import CalypsoFilterSet

from .models import InitiatorGroup, Lun, Portal, Target

__all__ = ["GroupFilterSet", "LunFilterSet", "PortalFilterSet", "TargetFilterSet"]


def _name():
    return filters.CharFilter(lookup_expr="icontains", help_text="Part of the name (plain text, any case).")


class PortalFilterSet(CalypsoFilterSet):
    class Meta:
        model = Portal
        fields = ("port",)


class GroupFilterSet(CalypsoFilterSet):
    name = _name()

    class Meta:
        model = InitiatorGroup
        fields = ("name",)


class TargetFilterSet(CalypsoFilterSet):
    name = _name()

    class Meta:
        model = Target
        fields = ("name",)


class LunFilterSet(CalypsoFilterSet):
    class Meta:
        model = Lun
        fields = ("target", "dataset", "kind", "read_only")
