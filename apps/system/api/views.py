from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import CalypsoReadOnlyViewSet, JobAccepted
from apps.system import health, services
from apps.system.models import HostInventory

from . import serializers

__all__ = ["HealthView", "HostInventoryViewSet", "VersionView"]


class HealthView(APIView):
    """Database, Redis, Celery workers and host tools. 503 when a portal service is down."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(responses={200: dict, 503: dict})
    def get(self, request):
        data = health.health()
        return Response(data, status=200 if data["status"] == "ok" else 503)


class VersionView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(responses=dict)
    def get(self, request):
        import django

        return Response({"name": "Calypso", "version": settings.VERSION, "django": django.get_version(),
                         "api": "v1"})


class HostInventoryViewSet(CalypsoReadOnlyViewSet):
    queryset = HostInventory.objects.all()
    serializer_class = serializers.HostInventorySerializer

    @extend_schema(request=None, responses={202: dict})
    @action(detail=False, methods=["post"], required_action="collect")
    def collect(self, request):
        """Start collecting the host inventory; answers at once with the job."""
        return JobAccepted(services.start_inventory(user=request.user), request)

    @extend_schema(responses=serializers.HostInventorySerializer)
    @action(detail=False, methods=["get"])
    def latest(self, request):
        inventory = self.get_queryset().first()
        if inventory is None:
            return Response({"error": {"status": 404, "code": "not_found",
                                       "message": "No inventory yet: POST /api/v1/system/inventory/collect/."}},
                            status=404)
        return Response(self.get_serializer(inventory).data)
