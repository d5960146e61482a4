from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.core.admin import CalypsoModelAdmin, badge
from apps.core.errors import BackendError, ServiceError
from apps.core.forms import KeyValueField, LinesField

from . import services
from .models import NfsExport, SmbShare, SmbUser
from .operations import NFS_EXPORT, SMB_SHARE, SMB_USER
from .services.nfs import export_dataset

LIST_FIELDS = ("valid_users", "admin_users", "hosts_allow", "hosts_deny")


def _live(fetch) -> dict:
    """The live view beside a generated file: ``status``, or ``status_error`` when the service cannot say."""
    try:
        return {"status": fetch()}
    except (BackendError, ServiceError) as exc:
        return {"status": None, "status_error": exc.message}


@admin.register(SmbShare)
class SmbShareAdmin(CalypsoModelAdmin):
    list_display = ("name", "path", "dataset", "access", "enabled", "options", "comment")
    list_filter = ("enabled", "read_only", "guest_ok", "previous_versions")
    search_fields = ("name", "path", "comment")
    list_select_related = ("dataset",)
    readonly_fields = ("dataset",)
    fieldsets = (
        (None, {"fields": ("name", "path", "dataset", "comment", "enabled")}),
        (_("Access"), {"fields": ("read_only", "browseable", "guest_ok", "valid_users", "admin_users",
                                  "hosts_allow", "hosts_deny")}),
        (_("Features"), {"fields": ("case_sensitive", "previous_versions", "recycle_bin", "audit_log")}),
        (_("Advanced"), {"fields": ("extra_options",), "classes": ("collapse",),
                         "description": _("Further smb.conf parameters, one name = value per line; testparm "
                                          "checks them before anything is replaced.")}),
    )
    operations = SMB_SHARE
    model_forms = True
    query_pages = {"generated": "admin/shares/generated.html"}
    delete_confirmation_template = "admin/shares/smbshare/delete_confirmation.html"

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in LIST_FIELDS:
            return LinesField(required=False, label=db_field.verbose_name.capitalize(), help_text=db_field.help_text)
        if db_field.name == "extra_options":
            return KeyValueField(required=False, label=_("Extra options"), help_text=db_field.help_text)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def query_context(self, request, op) -> dict:
        return _live(services.smb_status)

    def change_context(self, request, obj) -> dict:
        try:
            live = services.share_sessions(obj)
        except (BackendError, ServiceError):
            live = None
        return {"live": live}

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        try:
            connections = services.sessions_on(obj) if obj is not None else []
        except BackendError as exc:
            connections = [{"machine": _("unknown (smbstatus: %(e)s)") % {"e": exc.message}, "connected_at": ""}]
        return super().delete_view(request, object_id, {**(extra_context or {}), "connections": connections})

    @admin.display(description=_("access"))
    def access(self, obj):
        return badge(_("read-only") if obj.read_only else _("read-write"), "grey" if obj.read_only else "blue")

    @admin.display(description=_("options"))
    def options(self, obj):
        on = [label for label, flag in ((_("guest"), obj.guest_ok), (_("previous versions"), obj.previous_versions),
                                        (_("recycle bin"), obj.recycle_bin), (_("audit"), obj.audit_log)) if flag]
        return ", ".join(str(x) for x in on) or "-"


@admin.register(SmbUser)
class SmbUserAdmin(CalypsoModelAdmin):
    list_display = ("username", "user", "enabled", "unix_account_created", "password_changed_at")
    list_filter = ("enabled",)
    search_fields = ("username",)
    list_select_related = ("user",)
    readonly_fields = ("user", "username", "enabled", "unix_account_created", "password_changed_at")
    operations = SMB_USER
    row_operations = True


# ---------------------------------------------------------------------------------------------- NFS
class NfsClientsField(forms.CharField):
    """The clients of an export, one per line as in exports(5): ``host options`` or ``host(options)``, the
    options comma-separated: rw|ro, sync|async, root_squash|no_root_squash|all_squash, anonuid=N,
    anongid=N, sec=sys:krb5:krb5i:krb5p. Unwritten options take their defaults (ro, sync, root_squash,
    sec=sys)."""

    widget = forms.Textarea(attrs={"rows": 5, "cols": 80, "style": "font-family: monospace"})

    @staticmethod
    def line(client: dict) -> str:
        options = [client.get("access", "ro"), "sync" if client.get("sync", True) else "async",
                   client.get("squash", "root_squash")]
        options += [f"{key}={client[key]}" for key in ("anonuid", "anongid") if client.get(key) is not None]
        options.append("sec=" + ":".join(client.get("sec", ["sys"])))
        return f"{client.get('host', '')} {','.join(options)}"

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(self.line(c) if isinstance(c, dict) else str(c) for c in value)
        return value

    def to_python(self, value):
        if isinstance(value, list):
            return value
        clients = []
        for number, raw in enumerate((value or "").splitlines(), start=1):
            text = raw.strip()
            if not text:
                continue
            if text.endswith(")") and "(" in text:
                host, _paren, options = text[:-1].partition("(")
            else:
                host, _space, options = text.partition(" ")
            client: dict = {"host": host.strip()}
            for option in filter(None, (o.strip() for o in options.replace(" ", ",").split(","))):
                name, eq, setting = option.partition("=")
                if option in ("rw", "ro"):
                    client["access"] = option
                elif option in ("sync", "async"):
                    client["sync"] = option == "sync"
                elif option in ("root_squash", "no_root_squash", "all_squash"):
                    client["squash"] = option
                elif eq and name in ("anonuid", "anongid") and setting.isdigit():
                    client[name] = int(setting)
                elif eq and name == "sec":
                    client["sec"] = setting.split(":")
                else:
                    raise ValidationError(_("Line %(n)d: unknown option %(o)r.") % {"n": number, "o": option})
            clients.append(client)
        return clients


class NfsExportForm(forms.ModelForm):
    """The path is checked as the service checks it, so a refusal is a field error on the form."""

    def clean_path(self):
        path = self.cleaned_data["path"]
        try:
            export_dataset(path)
        except ServiceError as exc:
            raise ValidationError(exc.message) from exc
        return path


@admin.register(NfsExport)
class NfsExportAdmin(CalypsoModelAdmin):
    form = NfsExportForm
    list_display = ("path", "dataset", "enabled", "client_list", "description")
    list_filter = ("enabled",)
    search_fields = ("path", "description")
    list_select_related = ("dataset",)
    readonly_fields = ("dataset",)
    fieldsets = (
        (None, {"fields": ("path", "dataset", "description", "enabled")}),
        (_("Clients"), {"fields": ("clients",), "description": _(
            "One client per line: a host (10.0.0.5, 10.0.0.0/24, host.example.com, *.example.com, @netgroup) and "
            "its options, e.g. 10.0.0.0/24 rw,sync,root_squash,sec=sys or *.example.com ro,all_squash,anonuid=1000,"
            "anongid=1000,sec=krb5p.")}),
    )
    operations = NFS_EXPORT
    model_forms = True
    query_pages = {"generated": "admin/shares/nfsexport/generated.html"}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "clients":
            return NfsClientsField(label=_("Clients"), help_text=db_field.help_text)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def query_context(self, request, op) -> dict:
        return _live(services.nfs_status)

    @admin.display(description=_("clients"))
    def client_list(self, obj):
        return ", ".join(f"{c.get('host')} ({c.get('access', 'ro')})" for c in obj.clients if isinstance(c, dict))
