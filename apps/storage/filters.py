"""FilterSets shared by the API and the admin. Fields with choices, booleans and foreign keys get their
filters from the model (a foreign key as a range-checked id, see ``CalypsoFilterSet``); declared here are
the ones that differ (plain-text name matches, ids through a relation, time ranges)."""

import django_filters as filters

from apps.core.filters import BooleanFilter, CalypsoFilterSet, DateTimeFilter, IdFilter

from .models import Dataset, Pool, Snapshot, SnapshotPolicy, StorageEvent

__all__ = ["DatasetFilterSet", "PoolFilterSet", "SnapshotFilterSet", "SnapshotPolicyFilterSet", "StorageEventFilterSet"]


def _name():
    return filters.CharFilter(lookup_expr="icontains", help_text="Part of the name (plain text, any case).")


class PoolFilterSet(CalypsoFilterSet):
    name = _name()

    class Meta:
        model = Pool
        fields = ("backend", "health", "gone", "name")


class DatasetFilterSet(CalypsoFilterSet):
    name = _name()

    class Meta:
        model = Dataset
        fields = ("pool", "kind", "gone", "name")


class SnapshotFilterSet(CalypsoFilterSet):
    """``name`` matches as plain text (icontains): no regex, so any operator input is safe."""

    dataset = IdFilter(field_name="dataset_id")
    dataset_name = filters.CharFilter(field_name="dataset__name")
    pool = IdFilter(field_name="dataset__pool_id")
    name = _name()
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lt")
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    held = BooleanFilter(method="filter_held")

    class Meta:
        model = Snapshot
        fields = ("dataset", "dataset_name", "pool", "name", "created_before", "created_after", "held")

    def filter_held(self, queryset, name, value):
        return queryset.filter(userrefs__gt=0) if value else queryset.filter(userrefs=0)


class StorageEventFilterSet(CalypsoFilterSet):
    pool = IdFilter(field_name="pool_id")
    since = DateTimeFilter(field_name="time", lookup_expr="gte")

    class Meta:
        model = StorageEvent
        fields = ("pool", "kind", "severity", "acknowledged", "since")


class SnapshotPolicyFilterSet(CalypsoFilterSet):
    dataset = IdFilter(field_name="dataset_id")
    pool = IdFilter(field_name="dataset__pool_id")
    name = _name()

    class Meta:
        model = SnapshotPolicy
        fields = ("dataset", "pool", "name", "enabled", "recursive")
