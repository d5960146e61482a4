from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.core.serializers import RestrictedRelatedField
from apps.iscsi import validators as v
from apps.iscsi.models import InitiatorGroup, Lun, Portal, Target
from apps.storage.models import Dataset

__all__ = ["IscsiInitiatorGroupSerializer", "IscsiLunSerializer", "IscsiPortalSerializer", "IscsiTargetSerializer"]


class IscsiPortalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Portal
        fields = ("id", "address", "port", "description", "created", "updated")
        read_only_fields = ("created", "updated")


class IscsiInitiatorGroupSerializer(serializers.ModelSerializer):
    initiators = serializers.ListField(child=serializers.CharField(max_length=223, validators=[v.validate_iqn]),
                                       required=False, max_length=1000, help_text=_("Initiator IQNs allowed."))
    networks = serializers.ListField(child=serializers.CharField(max_length=64, validators=[v.validate_network]),
                                     required=False, max_length=1000, help_text=_(
                                         "Initiator addresses or CIDR networks allowed."))

    class Meta:
        model = InitiatorGroup
        fields = ("id", "name", "initiators", "networks", "description", "created", "updated")
        read_only_fields = ("created", "updated")


class IscsiTargetSerializer(serializers.ModelSerializer):
    """CHAP secrets are write-only: no answer ever carries them (``chap`` and ``mutual_chap`` say whether
    they are set)."""

    portals = RestrictedRelatedField(many=True, queryset=Portal.objects.all(), action="view", required=False)
    initiator_groups = RestrictedRelatedField(many=True, queryset=InitiatorGroup.objects.all(), action="view",
                                              required=False)
    chap_secret = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=16,
                                        style={"input_type": "password"}, help_text=_("12 to 16 characters."))
    mutual_chap_secret = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=16,
                                               style={"input_type": "password"},
                                               help_text=_("12 to 16 characters, not the CHAP secret."))
    chap = serializers.SerializerMethodField(help_text=_("Whether initiators must log in with CHAP."))
    mutual_chap = serializers.SerializerMethodField(help_text=_("Whether the target answers with mutual CHAP."))
    luns = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Target
        fields = ("id", "name", "iqn", "alias", "portals", "initiator_groups", "chap_user", "chap_secret",
                  "mutual_chap_user", "mutual_chap_secret", "chap", "mutual_chap", "tid", "luns", "description",
                  "created", "updated")
        read_only_fields = ("tid", "created", "updated")

    def get_chap(self, obj) -> bool:
        return bool(obj.chap_user)

    def get_mutual_chap(self, obj) -> bool:
        return bool(obj.mutual_chap_user)


class IscsiLunSerializer(serializers.ModelSerializer):
    target = RestrictedRelatedField(queryset=Target.objects.all(), action="change")
    dataset = RestrictedRelatedField(queryset=Dataset.objects.filter(gone=False).select_related("pool"),
                                     action="change")
    target_iqn = serializers.CharField(source="target.iqn", read_only=True)
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    device_path = serializers.CharField(read_only=True)

    class Meta:
        model = Lun
        fields = ("id", "target", "target_iqn", "lun", "kind", "dataset", "dataset_name", "path", "device_path",
                  "size_bytes", "block_size", "read_only", "serial", "description", "created", "updated")
        read_only_fields = ("created", "updated")
