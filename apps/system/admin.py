from django.contrib import admin

from apps.core.admin import CalypsoModelAdmin

from .models import HostInventory


@admin.register(HostInventory)
class HostInventoryAdmin(CalypsoModelAdmin):
    list_display = ("id", "hostname", "created", "job_id")
    readonly_fields = ("hostname", "created", "job_id", "data")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
