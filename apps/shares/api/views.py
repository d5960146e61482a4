from apps.core.api import CalypsoViewSet
from apps.shares import filters, operations
from apps.shares.models import NfsExport, SmbShare, SmbUser

from . import serializers

__all__ = ["NfsExportViewSet", "SmbShareViewSet", "SmbUserViewSet"]


class SmbShareViewSet(CalypsoViewSet):
    queryset = SmbShare.objects.select_related("dataset")
    serializer_class = serializers.SmbShareSerializer
    filterset_class = filters.SmbShareFilterSet
    search_fields = ("name", "path", "comment")
    ordering_fields = ("name", "path", "created")
    operations = operations.SMB_SHARE


class SmbUserViewSet(CalypsoViewSet):
    queryset = SmbUser.objects.select_related("user")
    serializer_class = serializers.SmbUserSerializer
    filterset_class = filters.SmbUserFilterSet
    search_fields = ("username",)
    ordering_fields = ("username", "created")
    operations = operations.SMB_USER


class NfsExportViewSet(CalypsoViewSet):
    queryset = NfsExport.objects.select_related("dataset")
    serializer_class = serializers.NfsExportSerializer
    filterset_class = filters.NfsExportFilterSet
    search_fields = ("path", "description")
    ordering_fields = ("path", "created")
    operations = operations.NFS_EXPORT
