"""Tape libraries, drives, slots, media and media pools. A library's page shows its slots and drives; the
generated mhVTL and tgt configuration has a page of its own."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.core.admin import CalypsoModelAdmin, badge

from .choices import LIBRARY_KIND_COLORS, MEDIUM_STATE_COLORS
from .models import Drive, Library, MediaPool, Medium, Slot
from .operations import DRIVE, LIBRARY, MEDIUM, POOL, SLOT

__all__ = ["DriveAdmin", "LibraryAdmin", "MediaPoolAdmin", "MediumAdmin", "SlotAdmin"]


class LibraryForm(forms.ModelForm):
    media = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text=_(
        "Virtual libraries, on creation: one barcode per line, put in storage slots 1, 2... (CLN...: a cleaning "
        "cartridge)."))

    class Meta:
        model = Library
        fields = ("name", "kind", "description", "vendor", "product", "serial", "slots", "ie_slots", "drive_count",
                  "density", "media_size_mb", "changer", "mhvtl_id", "tid", "iqn", "media_home")

    def clean_media(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data.get("media", "").splitlines() if line.strip()]


@admin.register(Library)
class LibraryAdmin(CalypsoModelAdmin):
    form = LibraryForm
    list_display = ("name", "kind_badge", "vendor", "product", "changer", "slots", "ie_slots", "drive_count",
                    "present", "last_inventory_at")
    list_filter = ("kind", "present")
    search_fields = ("name",)
    readonly_fields = ("present", "last_inventory_at", "last_error")
    fieldsets = (
        (None, {"fields": ("name", "kind", "description", "vendor", "product", "serial")}),
        (_("Geometry"), {"fields": ("slots", "ie_slots", "drive_count", "density", "media_size_mb", "media")}),
        (_("Host"), {"fields": ("changer", "mhvtl_id", "tid", "iqn", "media_home")}),
        (_("Now"), {"fields": ("present", "last_inventory_at", "last_error")}),
    )
    change_form_template = "admin/tape/library/change_form.html"
    operations = LIBRARY
    model_forms = True
    row_operations = True
    query_pages = {"preview": "admin/tape/preview.html"}

    @admin.display(description=_("kind"), ordering="kind")
    def kind_badge(self, obj):
        return badge(obj.get_kind_display(), LIBRARY_KIND_COLORS.get(obj.kind, "grey"))

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.fieldsets
        return [(name, {"fields": [f for f in opts["fields"] if f != "media"]}) for name, opts in self.fieldsets]

    def save_model(self, request, obj, form, change):
        """A new virtual library takes its media with it (the create operation makes them)."""
        if change:
            return super().save_model(request, obj, form, change)
        names = {f.name for f in obj._meta.fields} | {"media"}
        saved = self.operations["create"].run(actor=request.user, data={
            k: v for k, v in form.cleaned_data.items() if k in names and (k != "media" or v)})
        obj.pk, obj._state.adding = saved.pk, False
        return None

    def change_context(self, request, obj) -> dict:
        return {"library": obj,
                "tape_slots": obj.slot_rows.select_related("medium").order_by("number")[:2000],
                "tape_drives": obj.drives.select_related("medium").order_by("number")}


@admin.register(Drive)
class DriveAdmin(CalypsoModelAdmin):
    list_display = ("__str__", "library", "number", "device", "medium", "online", "needs_cleaning", "checked_at")
    list_filter = ("needs_cleaning", "online", ("library", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("library", "medium")
    readonly_fields = ("library", "number", "vendor", "product", "serial", "device", "sg_device", "medium",
                       "source_slot", "online", "write_protected", "at_bot", "density", "needs_cleaning",
                       "tapealerts", "checked_at", "last_error")
    operations = DRIVE
    row_operations = True


@admin.register(Slot)
class SlotAdmin(CalypsoModelAdmin):
    list_display = ("__str__", "library", "number", "import_export", "full", "barcode")
    list_filter = ("full", "import_export", ("library", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("library",)
    readonly_fields = ("library", "number", "import_export", "full", "barcode", "medium")
    operations = SLOT


@admin.register(Medium)
class MediumAdmin(CalypsoModelAdmin):
    list_display = ("barcode", "kind", "state_badge", "pool", "library", "location", "cleaning_uses_left",
                    "labelled_at")
    list_filter = ("kind", "state", ("pool", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("pool", "library")
    search_fields = ("barcode",)
    fields = ("barcode", "kind", "pool", "cleaning_uses_left", "description")
    operations = MEDIUM
    model_forms = True
    row_operations = True

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, obj):
        return badge(obj.get_state_display(), MEDIUM_STATE_COLORS.get(obj.state, "grey"))


@admin.register(MediaPool)
class MediaPoolAdmin(CalypsoModelAdmin):
    list_display = ("name", "retention_days", "description")
    search_fields = ("name",)
    operations = POOL
    model_forms = True
