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
    queryset = Target.objects.all()
    serializer_class = serializers.IscsiTargetSerializer
    filterset_class = filters.TargetFilterSet
    search_fields = ("name", "iqn")
    ordering_fields = ("name", "iqn")
    operations = operations.TARGET

    def paginate_queryset(self, queryset):
        """The answer names portals, groups and LUNs by id only: three flat id queries for the page, not a
        model instance per related row."""
        page = super().paginate_queryset(queryset)
        if page:
            serializers.attach_related_ids(page)
        return page


class LunViewSet(CalypsoViewSet):
    queryset = Lun.objects.select_related("target", "dataset")
    serializer_class = serializers.IscsiLunSerializer
    filterset_class = filters.LunFilterSet
    ordering_fields = ("lun",)
    operations = operations.LUN
