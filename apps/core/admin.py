"""CalypsoModelAdmin: the admin's querysets follow the same ``restrict()`` as the API, object
permissions come from django-guardian, and every add/change/delete is an audit event."""

from __future__ import annotations

from django.utils.html import format_html
from guardian.admin import GuardedModelAdmin

from apps.audit import services as audit
from apps.audit.changes import diff, snapshot

from .permissions import perm_name, restrict

__all__ = ["CalypsoModelAdmin", "badge"]

COLORS = {"green": "#1e7e34", "orange": "#c56a00", "red": "#b02a37", "blue": "#1f5fa8", "grey": "#6c757d"}


def badge(text: str, color: str) -> str:
    return format_html('<span class="calypso-badge" style="background:{}">{}</span>', COLORS.get(color, color), text)


class CalypsoModelAdmin(GuardedModelAdmin):
    list_per_page = 50
    show_full_result_count = False  # no COUNT(*) over big tables on every page

    def get_queryset(self, request):
        return restrict(super().get_queryset(request), request.user, "view")

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or (
            obj is not None and request.user.has_perm(perm_name(self.model, "view"), obj))

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) or (
            obj is not None and request.user.has_perm(perm_name(self.model, "change"), obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) or (
            obj is not None and request.user.has_perm(perm_name(self.model, "delete"), obj))

    def has_action_permission(self, request, action: str) -> bool:
        return request.user.has_perm(perm_name(self.model, action))

    def __getattr__(self, name):
        # has_<verb>_permission hooks for admin actions declared with permissions=("<verb>",)
        if name.startswith("has_") and name.endswith("_permission"):
            verb = name[4:-len("_permission")]
            return lambda request, obj=None: self.has_action_permission(request, verb)
        raise AttributeError(name)

    def _audit_name(self, verb: str) -> str:
        return f"{self.model._meta.app_label}.{self.model._meta.model_name}.{verb}"

    def save_model(self, request, obj, form, change):
        before = snapshot(type(obj).objects.filter(pk=obj.pk).first()) if change and obj.pk else {}
        super().save_model(request, obj, form, change)
        audit.record(request.user, self._audit_name("update" if change else "create"), obj,
                     changes=diff(before, snapshot(obj)))

    def delete_model(self, request, obj):
        audit.record(request.user, self._audit_name("delete"), obj, changes=diff(snapshot(obj), {}))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit.record(request.user, self._audit_name("delete"), obj, changes=diff(snapshot(obj), {}))
        super().delete_queryset(request, queryset)
