from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject

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


def attach_related_ids(targets) -> None:
    """``target.related_ids``: the ids of each target's portals, initiator groups and LUNs, three queries for
    all ``targets``."""
    ids = {t.pk: {"portals": [], "initiator_groups": [], "luns": []} for t in targets}
    for target_id, portal_id in Target.portals.through.objects.filter(target_id__in=ids).order_by(
            "portal_id").values_list("target_id", "portal_id"):
        ids[target_id]["portals"].append(portal_id)
    for target_id, group_id in Target.initiator_groups.through.objects.filter(target_id__in=ids).order_by(
            "initiatorgroup_id").values_list("target_id", "initiatorgroup_id"):
        ids[target_id]["initiator_groups"].append(group_id)
    for target_id, lun_id in Lun.objects.filter(target_id__in=ids).order_by("pk").values_list("target_id", "pk"):
        ids[target_id]["luns"].append(lun_id)
    for target in targets:
        target.related_ids = ids[target.pk]


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

    def to_representation(self, instance):
        ids = getattr(instance, "related_ids", None)
        if ids is None:
            return super().to_representation(instance)
        data = {}
        for field in self._readable_fields:  # as DRF does, with the related ids from the page's queries
            if field.field_name in ids:
                data[field.field_name] = ids[field.field_name]
                continue
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            value = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            data[field.field_name] = None if value is None else field.to_representation(attribute)
        return data

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
