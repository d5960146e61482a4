from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import CalypsoViewSet
from apps.system import health
from apps.system.models import HostInventory
from apps.system.operations import INVENTORY

from . import serializers

__all__ = ["HealthView", "HostInventoryViewSet", "VersionView"]


class HealthView(APIView):
    """Database, Redis, Celery workers, the storage tools (each installed family runs a real command: zfs, btrfs)
    and the host tools. 503 when a portal service or a storage tool is down."""

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


class HostInventoryViewSet(CalypsoViewSet):
    queryset = HostInventory.objects.all()
    serializer_class = serializers.HostInventorySerializer
    operations = INVENTORY
