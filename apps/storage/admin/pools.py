"""Pools: the vdev tree with per-member actions, scrub controls, create/import/register, add devices,
export and destroy; recent jobs (live) and events on the pool page."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from apps.core.admin import badge
from apps.core.errors import ServiceError
from apps.core.permissions import restrict
from apps.jobs.admin import progress_bar
from apps.jobs.models import Job

from .. import forms, services
from ..choices import EVENT_SEVERITY_COLORS, POOL_HEALTH_COLORS, SCAN_STATE_COLORS, VDEV_STATE_COLORS, Backend
from ..models import Pool, StorageEvent, Vdev
from .common import ADMIN, OperationsAdmin, capacity_bar, posted, run_each, size

__all__ = ["PoolAdmin", "StorageEventAdmin", "vdev_tree"]

MEMBER_VERBS = ("offline", "online", "replace", "detach")


def _member_buttons(vdev: Vdev, urls: dict[str, str]) -> str:
    form_id = f"calypso-member-{vdev.pk}"
    buttons = format_html_join(" ", '<button type="submit" class="button calypso-mini" form="{}" formaction="{}" '
                                    'name="op" value="{}">{}</button>',
                               ((form_id, urls[verb], verb, _t(verb.capitalize())) for verb in
                                ("offline", "online", "detach")))
    return format_html(' <span class="calypso-member-actions">{} <input form="{}" name="new_device" size="16" '
                       'placeholder="{}"> <button type="submit" class="button calypso-mini" form="{}" '
                       'formaction="{}" name="op" value="replace">{}</button></span>', buttons, form_id,
                       _t("new device"), form_id, urls["replace"], _t("Replace"))


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
                         badge(v.state, VDEV_STATE_COLORS.get(v.state, "grey")), v.kind, v.role, v.read_errors,
                         v.write_errors, v.checksum_errors, v.note,
                         _member_buttons(v, member_urls) if member_urls and v.pk not in children else "",
                         mark_safe(render(v.pk))),)  # noqa: S308 - built with format_html above
            for v in items)))

    return render(None) or "-"


@admin.register(Pool)
class PoolAdmin(OperationsAdmin):
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
    actions = ("scrub_selected", "stop_scrub_selected", "export_selected")
    change_form_template = "admin/storage/pool/change_form.html"
    change_list_template = "admin/storage/pool/change_list.html"
    model_operations = ("create", "import", "register_btrfs")
    object_operations = ("scrub", "pause_scrub", "stop_scrub", "export", "add_devices", "destroy", "member")

    def has_add_permission(self, request):
        return False  # the bare row form makes no sense: "Create pool" runs the create-pool job

    @admin.display(description=_("health"), ordering="health")
    def health_badge(self, obj):
        return badge(obj.health, POOL_HEALTH_COLORS.get(obj.health, "grey"))

    @admin.display(description=_("scan"), ordering="scan_state")
    def scan_badge(self, obj):
        label = f"{obj.get_scan_state_display()} {obj.scan_percent:.0f} %" if obj.scan_state == "scanning" else \
            obj.get_scan_state_display()
        return badge(label, SCAN_STATE_COLORS.get(obj.scan_state, "grey"))

    @admin.display(description=_("capacity"), ordering="capacity_percent")
    def capacity(self, obj):
        return capacity_bar(obj.capacity_percent)

    @admin.display(description=_("size"), ordering="size_bytes")
    def size(self, obj):
        return size(obj.size_bytes)

    @admin.display(description=_("allocated"), ordering="allocated_bytes")
    def allocated(self, obj):
        return size(obj.allocated_bytes)

    @admin.display(description=_("free"))
    def free(self, obj):
        return size(obj.free_bytes)

    # ------------------------------------------------------------ list actions
    @admin.action(description=_("Scrub selected pools"), permissions=("scrub",))
    def scrub_selected(self, request, queryset):
        run_each(self, request, lambda p: services.start_scrub(p, actor=request.user, source=ADMIN), queryset,
                 "{count} scrubs queued.")

    @admin.action(description=_("Stop the scrub of selected pools"), permissions=("scrub",))
    def stop_scrub_selected(self, request, queryset):
        run_each(self, request, lambda p: services.stop_scrub(p, actor=request.user, source=ADMIN), queryset,
                 "{count} scrubs stopped.")

    @admin.action(description=_("Export selected pools"), permissions=("export",))
    def export_selected(self, request, queryset):
        run_each(self, request, lambda p: services.export_pool(p, actor=request.user, source=ADMIN), queryset,
                 "{count} pools exported.")

    # ------------------------------------------------------------ pages
    def changelist_view(self, request, extra_context=None):
        extra = {"can_create": self.can(request, "add"), "can_import": self.can(request, "import")}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        pool = self.get_object(request, object_id)
        extra = self._pool_context(request, pool) if pool is not None else {}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def _pool_context(self, request, pool: Pool) -> dict:
        zfs, present = pool.backend == Backend.ZFS, not pool.gone
        can = {verb: self.can(request, verb, pool) for verb in ("scrub", "export", "maintain", "delete")}
        urls = {verb: self.op_url("member", pool.pk) + f"?op={verb}" for verb in MEMBER_VERBS}
        leaves = list(Vdev.objects.filter(pool=pool, children__isnull=True)) if zfs and present and \
            can["maintain"] else []
        pool_type = ContentType.objects.get_for_model(Pool)
        jobs = restrict(Job.objects.filter(Q(target_type=pool_type, target_id=str(pool.pk)) |
                                           Q(lock_key=pool.lock_key)), request.user, "view").order_by("-id")[:10]
        context = {
            "pool": pool, "can": can, "is_zfs": zfs, "present": present, "member_forms": leaves,
            "vdev_tree_html": vdev_tree(pool, urls if leaves else None),
            "recent_jobs": [(job, progress_bar(job)) for job in jobs],
            "recent_events": StorageEvent.objects.filter(pool=pool).order_by("-time")[:10],
            "scrub_running": pool.scan_state == "scanning",
        }
        if pool.backend == Backend.BTRFS and present:
            context.update(self._btrfs_context(pool))
        return context

    def _btrfs_context(self, pool: Pool) -> dict:
        out = {}
        for key, call in (("balance", services.balance_status), ("device_stats", services.device_stats)):
            try:
                out[key] = call(pool)
            except ServiceError as exc:
                out[f"{key}_error"] = exc.message
        return out

    def create_view(self, request):
        if not self.can(request, "add"):
            raise PermissionDenied
        form = forms.PoolCreateForm(posted(request))
        return self.operation(
            request, form=form, title=_t("Create pool"),
            call=lambda d: services.create_pool(d["name"], layout=d["layout"], disks=d["all_disks"],
                                                mountpoint=d["mountpoint"] or None, force=d["force"],
                                                actor=request.user, source=ADMIN),
            done=lambda job: (_t("Creating pool %(n)s.") % {"n": form.cleaned_data["name"]}, ""))

    def import_view(self, request):
        if not self.can(request, "import"):
            raise PermissionDenied
        if request.method == "POST":
            form = forms.ImportForm(request.POST)
            search = forms.ImportSearchForm({"search_dirs": request.POST.get("search_dirs", "")})
        else:
            form, search = None, forms.ImportSearchForm(request.GET or None)
        if form is not None and form.is_valid():
            result = self.attempt(form, lambda d: services.import_pool(
                d["name"], search_dirs=forms.lines(d["search_dirs"]), new_name=d["new_name"] or None,
                force=d["force"], actor=request.user, source=ADMIN))
            if isinstance(result, Job):
                return self.finish(request, result, _t("Importing %(n)s.") % {"n": form.cleaned_data["name"]}, "")
        pools = []
        if search.is_valid():
            try:
                pools = services.list_importable(forms.lines(search.cleaned_data["search_dirs"]))
            except ServiceError as exc:
                search.add_service_error(exc)
        return self.render_operation(request, form=search, title=_t("Import pool"), submit=_t("Search"),
                                     template="admin/storage/pool/import.html",
                                     extra={"pools": pools, "import_form": form, "form_method": "get",
                                            "search_dirs": search.data.get("search_dirs", "")})

    def register_btrfs_view(self, request):
        if not self.can(request, "add"):
            raise PermissionDenied
        return self.operation(
            request, form=forms.BtrfsRegisterForm(posted(request)), title=_t("Register Btrfs filesystem"),
            call=lambda d: services.register_btrfs_pool(d["mountpoint"], actor=request.user, source=ADMIN),
            done=lambda pool: (_t("Btrfs filesystem %(n)s registered.") % {"n": pool}, self.change_url(pool)))

    def _pool_post(self, request, object_id, verb, call, message):
        """A one-button pool operation (scrub, pause, stop): POST only; refusals become an error message."""
        pool = self.op_object(request, object_id, verb)
        if (refused := self.post_only(request)) is not None:
            return refused
        try:
            result = call(pool)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(self.change_url(pool))
        return self.finish(request, result, message % {"n": pool.name}, self.change_url(pool))

    def scrub_view(self, request, object_id):
        return self._pool_post(request, object_id, "scrub", lambda p: services.start_scrub(
            p, actor=request.user, source=ADMIN), _t("Scrub of %(n)s queued."))

    def pause_scrub_view(self, request, object_id):
        return self._pool_post(request, object_id, "scrub", lambda p: services.pause_scrub(
            p, actor=request.user, source=ADMIN), _t("Scrub of %(n)s paused."))

    def stop_scrub_view(self, request, object_id):
        return self._pool_post(request, object_id, "scrub", lambda p: services.stop_scrub(
            p, actor=request.user, source=ADMIN), _t("Scrub of %(n)s stopped."))

    def export_view(self, request, object_id):
        pool = self.op_object(request, object_id, "export")
        return self.operation(
            request, form=forms.PoolExportForm(posted(request)), obj=pool, danger=True,
            title=_t("Export pool %(n)s") % {"n": pool.name}, submit=_t("Export"),
            intro=_t("The pool's datasets are unmounted and its shares stop working until it is imported again."),
            call=lambda d: services.export_pool(pool, force=d["force"], actor=request.user, source=ADMIN),
            done=lambda p: (_t("Pool %(n)s exported.") % {"n": pool.name}, self.change_url(pool)))

    def add_devices_view(self, request, object_id):
        pool = self.op_object(request, object_id, "maintain")
        form = forms.AddDevicesForm(posted(request))

        def call(d):
            vdevs = services.plan_layout(d["layout"], d["devices"]) if d["devices"] else []
            return services.add_vdevs(pool, vdevs=vdevs, spares=d["spares"], log=form.log_spec(), cache=d["cache"],
                                      force=d["force"], actor=request.user, source=ADMIN)

        return self.operation(request, form=form, obj=pool, call=call,
                              title=_t("Add devices to %(n)s") % {"n": pool.name}, submit=_t("Add devices"),
                              intro=_t("Data vdevs cannot be removed again once added."),
                              done=lambda job: (_t("Adding devices to %(n)s.") % {"n": pool.name}, ""))

    def destroy_view(self, request, object_id):
        pool = self.op_object(request, object_id, "delete")
        return self.operation(
            request, form=forms.PoolDestroyForm(posted(request)), obj=pool, danger=True,
            title=_t("Destroy pool %(n)s") % {"n": pool.name}, submit=_t("Destroy the pool and all its data"),
            intro=_t("Every dataset, volume and snapshot of %(n)s is lost for good. Type its name to confirm.") % {
                "n": pool.name},
            call=lambda d: services.destroy_pool(pool, confirm=d["confirm"], force=d["force"], actor=request.user,
                                                 source=ADMIN),
            done=lambda job: (_t("Destroying pool %(n)s.") % {"n": pool.name}, ""))

    def member_view(self, request, object_id):
        """Offline/online/replace/detach one leaf device; GET or a refusal shows the form with the error."""
        pool = self.op_object(request, object_id, "maintain")
        verb = request.POST.get("op") or request.GET.get("op", "")
        if verb not in MEMBER_VERBS:
            verb = "offline"
        form = forms.MemberForm(posted(request), initial={"device": request.GET.get("device", "")})
        funcs = {"offline": lambda d: services.offline_member(pool, d["device"], temporary=d["temporary"],
                                                              actor=request.user, source=ADMIN),
                 "online": lambda d: services.online_member(pool, d["device"], actor=request.user, source=ADMIN),
                 "replace": lambda d: services.replace_member(pool, d["device"], d["new_device"] or None,
                                                              actor=request.user, source=ADMIN),
                 "detach": lambda d: services.detach_member(pool, d["device"], actor=request.user, source=ADMIN)}
        return self.operation(
            request, form=form, obj=pool, call=funcs[verb], danger=verb in ("offline", "detach"),
            title=_t("%(v)s a device of %(n)s") % {"v": verb.capitalize(), "n": pool.name}, submit=verb.capitalize(),
            extra={"hidden": {"op": verb}},
            done=lambda p: (_t("%(v)s %(d)s: done.") % {"v": verb.capitalize(), "d": form.cleaned_data["device"]},
                            self.change_url(pool)))


@admin.register(StorageEvent)
class StorageEventAdmin(OperationsAdmin):
    list_display = ("time", "pool", "kind", "severity_badge", "message", "acknowledged")
    list_filter = ("kind", "severity", "acknowledged")
    list_select_related = ("pool",)
    readonly_fields = ("pool", "kind", "severity", "message", "details", "time")

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("severity"), ordering="severity")
    def severity_badge(self, obj):
        return badge(obj.get_severity_display(), EVENT_SEVERITY_COLORS.get(obj.severity, "grey"))
