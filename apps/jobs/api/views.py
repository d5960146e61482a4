from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from apps.core.api import CalypsoReadOnlyViewSet, JobAccepted
from apps.jobs import services
from apps.jobs.filters import JobFilterSet
from apps.jobs.models import Job, JobLogEntry

from . import serializers

__all__ = ["JobViewSet"]


class LogPagination(CursorPagination):
    ordering = "id"
    page_size = 200
    page_size_query_param = "limit"
    max_page_size = 2000


class JobViewSet(CalypsoReadOnlyViewSet):
    queryset = Job.objects.select_related("user", "target_type")
    serializer_class = serializers.JobSerializer
    filterset_class = JobFilterSet
    search_fields = ("kind", "target_label", "step")
    ordering_fields = ("id", "created")

    def get_serializer_class(self):
        return serializers.JobDetailSerializer if self.action == "retrieve" else super().get_serializer_class()

    @extend_schema(request=None, responses=serializers.JobDetailSerializer)
    @action(detail=True, methods=["post"], required_action="cancel")
    def cancel(self, request, pk=None):
        job = services.cancel_job(self.get_object(), user=request.user)
        return Response(serializers.JobDetailSerializer(job).data)

    @extend_schema(request=None, responses={202: serializers.JobSerializer})
    @action(detail=True, methods=["post"], required_action="retry")
    def retry(self, request, pk=None):
        return JobAccepted(services.retry_job(self.get_object(), user=request.user), request)

    @extend_schema(responses=serializers.JobLogEntrySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=LogPagination, filterset_class=None)
    def log(self, request, pk=None):
        """The job's log lines, oldest first; ``?level=command`` lists the host commands run."""
        job = self.get_object()
        qs = JobLogEntry.objects.filter(job=job)
        if level := request.query_params.get("level"):
            qs = qs.filter(Q(level__in=level.split(",")))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(serializers.JobLogEntrySerializer(page, many=True).data)
