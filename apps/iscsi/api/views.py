from apps.core.api import CalypsoViewSet
from apps.iscsi import filters, operations
from apps.iscsi.models import InitiatorGroup, Lun, Portal, Target

from . import serializers

__all__ = ["GroupViewSet", "LunViewSet", "PortalViewSet", "TargetViewSet"]


class PortalViewSet(CalypsoViewSet):
    queryset = Portal.objects.all()
    serializer_class = serializers.IscsiPortalSerializer
    filterset_class = filters.PortalFilterSet
    ordering_fields = ("address", "port")
    operations = operations.PORTAL


class GroupViewSet(CalypsoViewSet):
    queryset = InitiatorGroup.objects.all()
    serializer_class = serializers.IscsiInitiatorGroupSerializer
    filterset_class = filters.GroupFilterSet
    search_fields = ("name",)
    ordering_fields = ("name",)
    operations = operations.GROUP


class TargetViewSet(CalypsoViewSet):
    queryset = Target.objects.prefetch_related("portals", "initiator_groups", "luns")
    serializer_class = serializers.IscsiTargetSerializer
    filterset_class = filters.TargetFilterSet
    search_fields = ("name", "iqn")
    ordering_fields = ("name", "iqn")
    operations = operations.TARGET


class LunViewSet(CalypsoViewSet):
    queryset = Lun.objects.select_related("target", "dataset")
    serializer_class = serializers.IscsiLunSerializer
    filterset_class = filters.LunFilterSet
    ordering_fields = ("lun",)
    operations = operations.LUN
