import django_filters

from apps.core.filters import CalypsoFilterSet, DateTimeFilter

from .choices import JobState
from .models import Job

__all__ = ["JobFilterSet"]


class JobFilterSet(CalypsoFilterSet):
    """``kind``, ``lock_key`` and ``kind__startswith`` come from Meta; ``state`` takes several values."""

    state = django_filters.MultipleChoiceFilter(choices=JobState.choices, distinct=False)
    user = django_filters.CharFilter(field_name="user__username")
    created_after = DateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created", lookup_expr="lt")
    target_label = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Job
        fields = {"kind": ["exact", "startswith"], "lock_key": ["exact"]}
