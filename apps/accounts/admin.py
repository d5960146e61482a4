from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from apps.core.admin import CalypsoModelAdmin

from .models import ApiToken, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin, CalypsoModelAdmin):
    list_display = ("username", "email", "is_active", "is_superuser", "role_list", "last_login")
    list_filter = ("is_active", "is_superuser", "groups")

    @admin.display(description="Roles")
    def role_list(self, obj):
        return ", ".join(g.name for g in obj.groups.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")


@admin.register(ApiToken)
class ApiTokenAdmin(CalypsoModelAdmin):
    list_display = ("name", "user", "key_id", "created", "expires", "last_used", "revoked")
    list_filter = ("revoked",)
    search_fields = ("name", "user__username", "key_id")
    readonly_fields = ("user", "key_id", "created", "last_used")
    fields = ("name", "user", "key_id", "created", "expires", "last_used", "revoked")

    def has_add_permission(self, request):
        return False  # tokens are issued through the API, where the key is shown once
