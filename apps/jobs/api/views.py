from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action

from apps.core.api import CalypsoViewSet
from apps.core.pagination import CalypsoCursorPagination
from apps.jobs.filters import JobFilterSet
from apps.jobs.models import Job, JobLogEntry
from apps.jobs.operations import JOB

from . import serializers

__all__ = ["JobViewSet"]


class LogPagination(CalypsoCursorPagination):
    ordering = "id"
    page_size = 200
    page_size_query_param = "limit"
    max_page_size = 2000


class JobViewSet(CalypsoViewSet):
    queryset = Job.objects.select_related("user", "target_type")
    serializer_class = serializers.JobSerializer
    filterset_class = JobFilterSet
    search_fields = ("kind", "target_label", "step")
    ordering_fields = ("id", "created")
    operations = JOB

    def get_serializer_class(self):
        return serializers.JobSerializer if self.action == "list" else serializers.JobDetailSerializer

    @extend_schema(responses=serializers.JobLogEntrySerializer(many=True), parameters=[
        OpenApiParameter("level", str, description="Comma-separated levels, e.g. command,error.")])
    @action(detail=True, methods=["get"], pagination_class=LogPagination, filterset_class=None)
    def log(self, request, pk=None):
        """The job's log lines, oldest first; ``?level=command`` lists the host commands run."""
        job = self.get_object()
        qs = JobLogEntry.objects.filter(job=job)
        if levels := self.request.query_params.get("level", ""):
            qs = qs.filter(Q(level__in=levels.split(",")))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(serializers.JobLogEntrySerializer(page, many=True).data)
