from django.contrib import admin

from apps.core.admin import CalypsoModelAdmin

from .models import HostInventory
from .operations import INVENTORY


@admin.register(HostInventory)
class HostInventoryAdmin(CalypsoModelAdmin):
    list_display = ("id", "hostname", "created", "job_id")
    readonly_fields = ("hostname", "created", "job_id", "data")
    fields = readonly_fields
    operations = INVENTORY
