from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.settings import api_settings

from apps.core.serializers import RestrictedRelatedField
from apps.shares.choices import NfsAccess, NfsSecurity, NfsSquash
from apps.shares.models import NFS_MAX_CLIENTS, NFS_MAX_ID, NfsExport, SmbShare, SmbUser, validate_nfs_host

__all__ = ["GeneratedConfigSerializer", "NfsClientSerializer", "NfsExportSerializer", "NfsStatusSerializer",
           "SmbShareSerializer", "SmbStatusSerializer", "SmbUserSerializer"]


class SmbShareSerializer(serializers.ModelSerializer):
    """Field checks give 400s naming the field; the service resolves the dataset from the path."""

    dataset = serializers.PrimaryKeyRelatedField(read_only=True)
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    valid_users = serializers.ListField(child=serializers.CharField(max_length=65), required=False, max_length=200)
    admin_users = serializers.ListField(child=serializers.CharField(max_length=65), required=False, max_length=200)
    hosts_allow = serializers.ListField(child=serializers.CharField(max_length=255), required=False, max_length=200)
    hosts_deny = serializers.ListField(child=serializers.CharField(max_length=255), required=False, max_length=200)
    extra_options = serializers.DictField(child=serializers.CharField(max_length=1024, allow_blank=True),
                                          required=False, help_text=_("smb.conf parameter -> value."))

    class Meta:
        model = SmbShare
        fields = ("id", "name", "path", "dataset", "dataset_name", "comment", "enabled", "read_only", "browseable",
                  "guest_ok", "valid_users", "admin_users", "hosts_allow", "hosts_deny", "case_sensitive",
                  "previous_versions", "recycle_bin", "audit_log", "extra_options", "created", "updated")
        read_only_fields = ("created", "updated")


class SmbUserSerializer(serializers.ModelSerializer):
    """An SMB account: the password is write-only and goes to Samba, never to Calypso's database."""

    user = RestrictedRelatedField(queryset=get_user_model().objects.filter(is_active=True), action="view")
    password = serializers.CharField(write_only=True, min_length=8, max_length=127, trim_whitespace=False,
                                     style={"input_type": "password"})

    class Meta:
        model = SmbUser
        fields = ("id", "user", "username", "password", "enabled", "unix_account_created", "password_changed_at",
                  "created")
        read_only_fields = ("username", "enabled", "unix_account_created", "password_changed_at", "created")


class PasswordInput(serializers.Serializer):
    password = serializers.CharField(write_only=True, min_length=8, max_length=127, trim_whitespace=False,
                                     style={"input_type": "password"})


class _SessionSerializer(serializers.Serializer):
    session_id = serializers.CharField()
    pid = serializers.IntegerField()
    username = serializers.CharField()
    group = serializers.CharField()
    machine = serializers.CharField()
    address = serializers.CharField()
    dialect = serializers.CharField()
    encryption = serializers.CharField()
    signing = serializers.CharField()


class _ConnectionSerializer(serializers.Serializer):
    share = serializers.CharField()
    session_id = serializers.CharField()
    pid = serializers.IntegerField()
    machine = serializers.CharField()
    connected_at = serializers.CharField()


class _OpenFileSerializer(serializers.Serializer):
    path = serializers.CharField()
    share_path = serializers.CharField()
    name = serializers.CharField()
    pid = serializers.IntegerField()
    uid = serializers.IntegerField(allow_null=True)
    access = serializers.CharField()
    sharemode = serializers.CharField()
    opened_at = serializers.CharField()


class SmbStatusSerializer(serializers.Serializer):
    """What ``smbstatus`` reports now: sessions, share connections and open files."""

    version = serializers.CharField()
    running = serializers.BooleanField()
    sessions = _SessionSerializer(many=True)
    connections = _ConnectionSerializer(many=True)
    open_files = _OpenFileSerializer(many=True)


class GeneratedConfigSerializer(serializers.Serializer):
    """A configuration file as Calypso renders it from its database, and where it goes."""

    path = serializers.CharField()
    text = serializers.CharField()


# ---------------------------------------------------------------------------------------------- NFS
class _NfsClientList(serializers.ListSerializer):
    """A refusal of the list itself (empty, too long) names ``clients``, not ``clients.non_field_errors``."""

    def run_validation(self, data=empty):
        try:
            return super().run_validation(data)
        except serializers.ValidationError as exc:
            if isinstance(exc.detail, dict) and list(exc.detail) == [api_settings.NON_FIELD_ERRORS_KEY]:
                raise serializers.ValidationError(exc.detail[api_settings.NON_FIELD_ERRORS_KEY]) from exc
            raise


class NfsClientSerializer(serializers.Serializer):
    """One client of an export: who, and with which options. An option not listed here is refused."""

    class Meta:
        list_serializer_class = _NfsClientList

    host = serializers.CharField(max_length=255, trim_whitespace=False, validators=[validate_nfs_host], help_text=_(
        "An address (10.0.0.5), a network (10.0.0.0/24), a host name, a wildcard (*.example.com) or @netgroup."))
    access = serializers.ChoiceField(choices=NfsAccess.choices, default=NfsAccess.READ_ONLY)
    sync = serializers.BooleanField(default=True, help_text=_(
        "false: async (faster, loses writes on a crash). The kernel server only: NFS-Ganesha commits as each client "
        "asks."))
    squash = serializers.ChoiceField(choices=NfsSquash.choices, default=NfsSquash.ROOT)
    anonuid = serializers.IntegerField(min_value=0, max_value=NFS_MAX_ID, allow_null=True, default=None,
                                       help_text=_("The user id squashed users become (default: nobody)."))
    anongid = serializers.IntegerField(min_value=0, max_value=NFS_MAX_ID, allow_null=True, default=None,
                                       help_text=_("The group id squashed users become (default: nogroup)."))
    sec = serializers.ListField(child=serializers.ChoiceField(choices=NfsSecurity.choices), min_length=1,
                                max_length=len(NfsSecurity.choices), default=lambda: [NfsSecurity.SYS],
                                help_text=_("Security flavours, in order of preference."))

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(k) for k in data if k not in self.fields)
            if unknown:
                raise serializers.ValidationError({k: [_("Unknown option.")] for k in unknown})
        return super().to_internal_value(data)

    def validate_sec(self, value: list) -> list:
        if len(set(value)) != len(value):
            raise serializers.ValidationError(_("Give each flavour once."))
        return value


class NfsExportSerializer(serializers.ModelSerializer):
    """Field checks give 400s naming the field (``clients.0.host``); the service resolves the dataset from the
    path."""

    dataset = serializers.PrimaryKeyRelatedField(read_only=True)
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    clients = NfsClientSerializer(many=True, allow_empty=False, max_length=NFS_MAX_CLIENTS)

    class Meta:
        model = NfsExport
        fields = ("id", "path", "dataset", "dataset_name", "description", "enabled", "clients", "created", "updated")
        read_only_fields = ("created", "updated")

    def validate_clients(self, value: list) -> list:
        hosts = [c["host"].lower() for c in value]
        twice = sorted({h for h in hosts if hosts.count(h) > 1})
        if twice:
            raise serializers.ValidationError(_("Each host once: %(h)s is listed twice.") % {"h": ", ".join(twice)})
        return [dict(c) for c in value]


class _ExportedClientSerializer(serializers.Serializer):
    path = serializers.CharField()
    host = serializers.CharField()
    access = serializers.CharField()
    sync = serializers.BooleanField()
    squash = serializers.CharField()
    anonuid = serializers.IntegerField(allow_null=True)
    anongid = serializers.IntegerField(allow_null=True)
    sec = serializers.ListField(child=serializers.CharField())
    options = serializers.ListField(child=serializers.CharField())


class NfsStatusSerializer(serializers.Serializer):
    """What the NFS server exports now (the kernel's ``exportfs -v``; NFS-Ganesha's installed exports)."""

    backend = serializers.CharField()
    running = serializers.BooleanField()
    source = serializers.CharField()
    exports = _ExportedClientSerializer(many=True)
