from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.core.admin import CalypsoModelAdmin, badge
from apps.core.errors import BackendError, ServiceError
from apps.core.forms import KeepSecretsForm, TextLinesField, secret_box
from apps.storage.models import Dataset

from . import services
from .models import InitiatorGroup, Lun, Portal, Target
from .operations import GROUP, LUN, PORTAL, TARGET

REFUSALS = (ServiceError, BackendError, ValidationError)


class GroupForm(forms.ModelForm):
    initiators = TextLinesField(required=False, help_text=InitiatorGroup._meta.get_field("initiators").help_text)
    networks = TextLinesField(required=False, help_text=InitiatorGroup._meta.get_field("networks").help_text)

    class Meta:
        model = InitiatorGroup
        fields = ("name", "initiators", "networks", "description")


class TargetForm(KeepSecretsForm):
    """Secrets are never shown: an empty secret box keeps the stored one (clear the user to turn CHAP off)."""

    secret_names = ("chap_secret", "mutual_chap_secret")
    chap_secret = secret_box(_("12 to 16 characters. Empty: keep the current one."))
    mutual_chap_secret = secret_box(_("12 to 16 characters, not the CHAP secret. Empty: keep the current one."))

    class Meta:
        model = Target
        fields = ("name", "iqn", "alias", "portals", "initiator_groups", "chap_user", "chap_secret",
                  "mutual_chap_user", "mutual_chap_secret", "description")
        widgets = {"portals": forms.CheckboxSelectMultiple, "initiator_groups": forms.CheckboxSelectMultiple}

    def clean(self):
        data = super().clean()
        for user, secret in (("chap_user", "chap_secret"), ("mutual_chap_user", "mutual_chap_secret")):
            if not data.get(user):
                data[secret] = ""
        return data


@admin.register(Portal)
class PortalAdmin(CalypsoModelAdmin):
    list_display = ("__str__", "address", "port", "description")
    operations = PORTAL
    model_forms = True


@admin.register(InitiatorGroup)
class InitiatorGroupAdmin(CalypsoModelAdmin):
    form = GroupForm
    list_display = ("name", "initiator_list", "network_list", "description")
    search_fields = ("name",)
    operations = GROUP
    model_forms = True

    @admin.display(description=_("initiators"))
    def initiator_list(self, obj):
        return ", ".join(obj.initiators) or _("any name")

    @admin.display(description=_("networks"))
    def network_list(self, obj):
        return ", ".join(obj.networks) or _("any address")


def _sessions_html(sessions) -> str:
    if not sessions:
        return _("No initiator is logged in.")
    rows = format_html_join("", "<tr><td>{}</td><td>{}</td></tr>",
                            ((s["initiator"], ", ".join(s["addresses"])) for s in sessions))
    return format_html("<table><tr><th>{}</th><th>{}</th></tr>{}</table>", _("initiator"), _("addresses"), rows)


class _ConfirmsSessions:
    """Delete pages list the live sessions of the target (Django's own confirmation then cuts them off)."""

    def _target_of(self, obj):
        return obj

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if obj is not None:
            try:
                extra["iscsi_sessions"] = services.live_sessions(self._target_of(obj))
            except BackendError as exc:
                extra["iscsi_sessions_error"] = exc.message
        return super().delete_view(request, object_id, extra)



@admin.register(Target)
class TargetAdmin(_ConfirmsSessions, CalypsoModelAdmin):
    form = TargetForm
    delete_confirmation_template = "admin/iscsi/delete_confirmation.html"
    list_display = ("name", "iqn", "tid", "lun_count", "groups", "chap_badge", "description")
    search_fields = ("name", "iqn")
    readonly_fields = ("tid", "live_sessions")
    fieldsets = (
        (None, {"fields": ("name", "iqn", "alias", "tid", "description")}),
        (_("Access"), {"fields": ("portals", "initiator_groups")}),
        (_("CHAP"), {"fields": ("chap_user", "chap_secret", "mutual_chap_user", "mutual_chap_secret")}),
        (_("Now"), {"fields": ("live_sessions",)}),
    )
    operations = TARGET
    model_forms = True
    query_pages = {"generated_config": "admin/iscsi/generated_config.html"}

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("initiator_groups", "luns")

    @admin.display(description=_("LUNs"))
    def lun_count(self, obj):
        return len(obj.luns.all())

    @admin.display(description=_("initiator groups"))
    def groups(self, obj):
        return ", ".join(g.name for g in obj.initiator_groups.all()) or badge(_("nobody"), "orange")

    @admin.display(description=_("CHAP"))
    def chap_badge(self, obj):
        if obj.mutual_chap_user:
            return badge(_("mutual"), "green")
        return badge(_("one-way"), "green") if obj.chap_user else badge(_("off"), "grey")

    @admin.display(description=_("live sessions"))
    def live_sessions(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        try:
            return _sessions_html(services.live_sessions(obj))
        except BackendError as exc:
            return exc.message


@admin.register(Lun)
class LunAdmin(_ConfirmsSessions, CalypsoModelAdmin):
    delete_confirmation_template = "admin/iscsi/delete_confirmation.html"
    list_display = ("__str__", "target", "lun", "kind", "dataset", "device_path", "block_size", "read_only")
    list_filter = ("kind", "read_only", ("target", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("target", "dataset")
    fields = ("target", "lun", "kind", "dataset", "path", "size_bytes", "block_size", "read_only", "serial",
              "description")
    operations = LUN
    model_forms = True

    def _target_of(self, obj):
        return obj.target

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "dataset":
            kwargs["queryset"] = Dataset.objects.restrict(request.user, "change").filter(gone=False) \
                .select_related("pool")
        elif db_field.name == "target":
            kwargs["queryset"] = Target.objects.restrict(request.user, "change")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
