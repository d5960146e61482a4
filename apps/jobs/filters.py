import django_filters

from .choices import JobState
from .models import Job

__all__ = ["JobFilterSet"]


class JobFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=JobState.choices, distinct=False)
    kind = django_filters.CharFilter()
    kind__startswith = django_filters.CharFilter(field_name="kind", lookup_expr="startswith")
    user = django_filters.CharFilter(field_name="user__username")
    created_after = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lt")
    target_label = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Job
        fields = ("state", "kind", "user", "lock_key")
