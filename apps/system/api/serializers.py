from rest_framework import serializers

from apps.system.models import HostInventory

__all__ = ["HostInventorySerializer"]


class HostInventorySerializer(serializers.ModelSerializer):
    class Meta:
        model = HostInventory
        fields = ("id", "hostname", "created", "job_id", "data")
        read_only_fields = fields
