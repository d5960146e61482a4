from apps.core.api import CalypsoViewSet
from apps.tape import filters, operations
from apps.tape.models import Drive, Library, MediaPool, Medium, Slot

from . import serializers

__all__ = ["DriveViewSet", "LibraryViewSet", "MediaPoolViewSet", "MediumViewSet", "SlotViewSet"]


class LibraryViewSet(CalypsoViewSet):
    queryset = Library.objects.all()
    serializer_class = serializers.TapeLibrarySerializer
    filterset_class = filters.LibraryFilterSet
    search_fields = ("name",)
    ordering_fields = ("name",)
    operations = operations.LIBRARY


class DriveViewSet(CalypsoViewSet):
    queryset = Drive.objects.select_related("library")
    serializer_class = serializers.TapeDriveSerializer
    filterset_class = filters.DriveFilterSet
    ordering_fields = ("number",)
    operations = operations.DRIVE


class SlotViewSet(CalypsoViewSet):
    queryset = Slot.objects.all()
    serializer_class = serializers.TapeSlotSerializer
    filterset_class = filters.SlotFilterSet
    ordering_fields = ("number",)
    operations = operations.SLOT


class MediumViewSet(CalypsoViewSet):
    queryset = Medium.objects.all()
    serializer_class = serializers.TapeMediumSerializer
    filterset_class = filters.MediumFilterSet
    search_fields = ("barcode",)
    ordering_fields = ("barcode",)
    operations = operations.MEDIUM


class MediaPoolViewSet(CalypsoViewSet):
    queryset = MediaPool.objects.all()
    serializer_class = serializers.TapeMediaPoolSerializer
    filterset_class = filters.MediaPoolFilterSet
    search_fields = ("name",)
    ordering_fields = ("name",)
    operations = operations.POOL
