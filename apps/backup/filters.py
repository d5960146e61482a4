"""FilterSets shared by the backup API and admin."""

import django_filters as filters

from apps.core.filters import CalypsoFilterSet, IdFilter

from .models import BackupTask, SentSnapshot, Target

__all__ = ["BackupTaskFilterSet", "SentSnapshotFilterSet", "TargetFilterSet"]


def _name():
    return filters.CharFilter(lookup_expr="icontains", help_text="Part of the name (plain text, any case).")


class TargetFilterSet(CalypsoFilterSet):
    name = _name()

    class Meta:
        model = Target
        fields = ("kind", "pool", "name")


class BackupTaskFilterSet(CalypsoFilterSet):
    name = _name()
    pool = IdFilter(field_name="source__pool_id")

    class Meta:
        model = BackupTask
        fields = ("source", "target", "pool", "enabled", "name")


class SentSnapshotFilterSet(CalypsoFilterSet):
    class Meta:
        model = SentSnapshot
        fields = ("task", "kind", "verified", "on_source", "on_target")
