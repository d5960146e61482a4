from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "apps.jobs"
    label = "jobs"
    verbose_name = "Jobs"

    def ready(self):
        from django.urls import reverse
        from rest_framework import status
        from rest_framework.response import Response

        from apps.core.operations import ResultType, register_result_type

        from . import signals  # noqa: F401 - worker lifecycle hooks
        from .api.serializers import JobSerializer
        from .models import Job

        def accepted(job, request) -> Response:
            """202 with the job, and its URL in Location."""
            return Response(JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED,
                            headers={"Location": f"/api/v1/jobs/{job.pk}/"})

        register_result_type(ResultType(model=Job, api=accepted, serializer=JobSerializer,
                                        admin_url=lambda job: reverse("admin:jobs_job_change", args=[job.pk])))
