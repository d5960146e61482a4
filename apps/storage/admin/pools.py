"""Pools: the vdev tree with per-device actions, scrub controls, recent jobs (live) and events on the pool
page; every operation (create, import, register, add devices, export, destroy...) is a kit page."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from apps.core.admin import CalypsoModelAdmin, badge
from apps.core.errors import BackendError, ServiceError
from apps.core.forms import lines
from apps.jobs.admin import progress_bar
from apps.jobs.models import Job

from .. import services
from ..backends import capabilities
from ..choices import EVENT_SEVERITY_COLORS, SCAN_STATE_COLORS, STATE_COLORS
from ..models import Pool, StorageEvent, Vdev
from ..operations import EVENT, POOL
from .common import capacity_bar, size_column

__all__ = ["PoolAdmin", "StorageEventAdmin", "vdev_tree"]

MEMBER_OPERATIONS = ("offline", "online", "detach", "replace")
BALANCE_BUTTONS = ("pause_balance", "resume_balance", "cancel_balance")  # buttons in the Balance box
BUTTONS = (*MEMBER_OPERATIONS, *BALANCE_BUTTONS)


def _member_buttons(vdev: Vdev, urls: dict[str, str]) -> str:
    form_id = f"calypso-member-{vdev.pk}"
    buttons = format_html_join(" ", '<button type="submit" class="button calypso-mini" form="{}" formaction="{}">'
                                    '{}</button>', ((form_id, urls[op], _t(op.capitalize())) for op in
                                                    ("offline", "online", "detach") if op in urls))
    replace = format_html(' <input form="{}" name="new_device" size="16" placeholder="{}"> <button type="submit" '
                          'class="button calypso-mini" form="{}" formaction="{}">{}</button>', form_id,
                          _t("new device"), form_id, urls["replace"], _t("Replace")) if "replace" in urls else ""
    return format_html(' <span class="calypso-member-actions">{}{}</span>', buttons, replace)


def vdev_tree(pool: Pool, member_urls: dict[str, str] | None = None) -> str:
    """The vdev tree as nested lists, each device with its state badge and error counts; with
    ``member_urls`` each leaf gets Offline/Online/Detach/Replace buttons (forms outside the main form)."""
    vdevs = list(Vdev.objects.filter(pool=pool).order_by("position"))
    children: dict = {}
    for vdev in vdevs:
        children.setdefault(vdev.parent_id, []).append(vdev)

    def render(parent_id) -> str:
        items = children.get(parent_id, [])
        if not items:
            return ""
        return format_html('<ul class="calypso-vdev-tree">{}</ul>', format_html_join("", "<li>{}</li>", (
            (format_html("<code>{}</code> {} <small>{} · {} · R{} W{} C{}</small> {}{}{}", v.name,
                         badge(v.state, STATE_COLORS.get(v.state, "grey")), v.kind, v.role, v.read_errors,
                         v.write_errors, v.checksum_errors, v.note,
                         _member_buttons(v, member_urls) if member_urls and v.pk not in children else "",
                         mark_safe(render(v.pk))),)  # noqa: S308 - built with format_html above
            for v in items)))

    return render(None) or "-"


@admin.register(Pool)
class PoolAdmin(CalypsoModelAdmin):
    list_display = ("name", "backend", "health_badge", "size", "allocated", "capacity", "scan_badge", "gone")
    list_filter = ("backend", "health", "gone")
    search_fields = ("name",)
    readonly_fields = ("backend", "name", "mountpoint", "health_badge", "capacity", "size", "allocated", "free",
                       *Pool.observed_fields)
    fieldsets = (
        (None, {"fields": ("name", "backend", "health_badge", "capacity")}),
        (_("Space"), {"fields": ("size", "allocated", "free", "fragmentation_percent", "dedup_ratio")}),
        (_("Scan"), {"fields": ("scan_function", "scan_state", "scan_percent", "scan_errors", "scan_finished_at",
                                "scan_text")}),
        (_("Status"), {"fields": ("status_text", "errors_text", "checksum_errors", "mountpoint", "guid", "gone",
                                  "last_seen", "extra")}),
    )
    change_form_template = "admin/storage/pool/change_form.html"
    operations = POOL

    @admin.display(description=_("health"), ordering="health")
    def health_badge(self, obj):
        return badge(obj.health, STATE_COLORS.get(obj.health, "grey"))

    @admin.display(description=_("scan"), ordering="scan_state")
    def scan_badge(self, obj):
        label = f"{obj.get_scan_state_display()} {obj.scan_percent:.0f} %" if obj.scan_state == "scanning" else \
            obj.get_scan_state_display()
        return badge(label, SCAN_STATE_COLORS.get(obj.scan_state, "grey"))

    @admin.display(description=_("capacity"), ordering="capacity_percent")
    def capacity(self, obj):
        return capacity_bar(obj.capacity_percent)

    size = size_column("size_bytes", _("size"))
    allocated = size_column("allocated_bytes", _("allocated"))
    free = size_column("free_bytes", _("free"))

    def offered(self, request, obj=None) -> list[dict]:
        # Device operations are buttons on each device of the tree, not page links.
        return [op for op in super().offered(request, obj) if op["name"] not in BUTTONS]

    def change_context(self, request, pool: Pool) -> dict:
        offers = super().offered(request, pool)  # each operation's checks once, for the links and the buttons
        members = {op["name"]: op["url"] for op in offers if op["name"] in MEMBER_OPERATIONS}
        pool_type = ContentType.objects.get_for_model(Pool)
        jobs = Job.objects.restrict(request.user, "view").filter(
            Q(target_type=pool_type, target_id=str(pool.pk)) | Q(lock_key=pool.lock_key)).order_by("-id")[:10]
        context = {
            "pool": pool, "calypso_operations": [op for op in offers if op["name"] not in BUTTONS],
            "balance_ops": {op["name"]: op["url"] for op in offers if op["name"] in ("balance", *BALANCE_BUTTONS)},
            "member_forms": Vdev.objects.filter(pool=pool, children__isnull=True) if members else [],
            "scrub": {name: any(op["name"] == name for op in offers) for name in ("scrub", "pause_scrub", "stop_scrub")},
            "vdev_tree_html": vdev_tree(pool, members or None),
            "recent_jobs": [(job, progress_bar(job)) for job in jobs],
            "recent_events": StorageEvent.objects.filter(pool=pool).order_by("-time")[:10],
            "scrub_running": pool.scan_state == "scanning",
        }
        if pool.gone:  # nothing to ask the host
            return context
        can_do = capabilities(pool.backend)
        queries = {"balance": services.balance_status} if "balance" in can_do else {}
        if "quota" in can_do:
            queries["subvolume_sizes"] = services.subvolume_sizes
        if "devices" not in can_do:  # a vdev tree shows its own error counters
            queries["device_stats"] = services.device_stats
        if "pool_properties" in can_do:
            queries["pool_properties"] = services.pool_properties
        for key, query in queries.items():
            try:
                context[key] = query(pool)
            except (ServiceError, BackendError) as exc:
                context[f"{key}_error"] = exc.message
        return context

    def operation_context(self, request, op, obj) -> dict:
        if op.name != "import":
            return {}
        search_dirs = lines(request.GET.get("search_dirs", "") or request.POST.get("search_dirs", ""))
        try:
            return {"importable": services.list_importable(search_dirs=search_dirs), "searched": True}
        except (ServiceError, BackendError) as exc:
            return {"importable_error": exc.message, "searched": True}


@admin.register(StorageEvent)
class StorageEventAdmin(CalypsoModelAdmin):
    list_display = ("time", "pool", "kind", "severity_badge", "message", "acknowledged")
    list_filter = ("kind", "severity", "acknowledged")
    list_select_related = ("pool",)
    readonly_fields = ("pool", "kind", "severity", "message", "details", "time")
    operations = EVENT

    @admin.display(description=_("severity"), ordering="severity")
    def severity_badge(self, obj):
        return badge(obj.get_severity_display(), EVENT_SEVERITY_COLORS.get(obj.severity, "grey"))
