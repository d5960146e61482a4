"""Admin base: querysets follow the same ``restrict()`` as the API, and every operation the model declares
gets a page (``<pk>/<verb>/`` or ``<verb>/``) built from its input serializer, a link on the change page or
the list, and, when ``bulk``, a list action. A destructive operation asks for its typed confirmation; a
job goes to the job page. With ``model_forms`` Django's own add/change/delete forms edit the object and
save it through the model's create/update/delete operations (desired-state resources); without it the
object is read-only here and only its operations change it (host objects: pools, datasets)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from guardian.admin import GuardedModelAdmin
from rest_framework.exceptions import ValidationError as DRFValidationError

from .errors import BackendError, ServiceError
from .forms import OperationForm
from .operations import BulkResult, Operation, Operations, result_type
from .permissions import perm_name, restrict

__all__ = ["COLORS", "CalypsoModelAdmin", "badge"]

COLORS = {"green": "#1e7e34", "orange": "#c56a00", "red": "#b02a37", "blue": "#1f5fa8", "grey": "#6c757d"}
REFUSALS = (ServiceError, BackendError, ValidationError)


def _refusal_errors(exc: Exception) -> dict[str | None, list[str]]:
    """A service's, host's or model's refusal as form errors: ``{field or None: [messages]}``."""
    if isinstance(exc, ServiceError):
        return {exc.field: [exc.message]}
    if isinstance(exc, BackendError):
        return {None: [exc.message]}
    if hasattr(exc, "error_dict"):
        return {(None if name == "__all__" else name): list(msgs) for name, msgs in exc.message_dict.items()}
    return {None: list(exc.messages)}


def badge(text: str, color: str) -> str:
    return format_html('<span class="calypso-badge" style="background:{}">{}</span>', COLORS.get(color, color), text)


class CalypsoModelAdmin(GuardedModelAdmin):
    list_per_page = 50
    show_full_result_count = False  # no COUNT(*) over big tables on every page
    change_form_template = "admin/calypso/change_form.html"
    change_list_template = "admin/calypso/change_list.html"
    operations: Operations | tuple = ()
    model_forms = False  # True: Django's forms edit the object, saved through the create/update/delete operations
    row_operations = False  # a list column linking each row's operations (those this user may run)
    # Read-only pages of collection queries (method="get", detail=False): {operation name: template}. The
    # template gets ``result`` (or ``error``, the refusal's words) and whatever ``query_context`` adds; the list
    # links to each page its user may see.
    query_pages: dict[str, str] = {}

    # ------------------------------------------------------------ who may
    def get_queryset(self, request):
        return restrict(super().get_queryset(request), request.user, "view")

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or (
            obj is not None and request.user.has_perm(perm_name(self.model, "view"), obj))

    def _crud(self, request, name: str, obj=None) -> bool:
        op = self.operations.get(name) if self.operations else None
        return self.model_forms and op is not None and op.allowed(request.user, obj)

    def has_add_permission(self, request):
        return self._crud(request, "create")

    def has_change_permission(self, request, obj=None):
        return self._crud(request, "update", obj)

    def has_delete_permission(self, request, obj=None):
        return self._crud(request, "delete", obj)

    # ------------------------------------------------------------ pages
    def operation_pages(self) -> list[Operation]:
        """The operations that get a page here (Django's own forms cover create/update/delete with
        ``model_forms``)."""
        skip = ("create", "update", "delete") if self.model_forms else ()
        return [op for op in self.operations if op.name not in skip and op.mutates]

    def get_urls(self):
        def view(op):
            return self.admin_site.admin_view(lambda request, object_id=None: self.operation_view(request, op,
                                                                                                  object_id))
        prefix = f"{self.opts.app_label}_{self.opts.model_name}_"
        pages = [path(f"<path:object_id>/{op.url}/" if op.detail else f"{op.url}/", view(op), name=prefix + op.name)
                 for op in self.operation_pages()]
        pages += [path(f"{self.operations[name].url}/", self.admin_site.admin_view(
            lambda request, name=name: self.query_view(request, self.operations[name])), name=prefix + name)
            for name in self.query_pages]
        return sorted(pages, key=lambda p: "object_id" in str(p.pattern)) + super().get_urls()

    def op_url(self, op: Operation, obj=None) -> str:
        args = [obj.pk] if op.detail else []
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{op.name}", args=args,
                       current_app=self.admin_site.name)

    def offered(self, request, obj=None) -> list[dict]:
        """The operations this user may run here (on ``obj``, or on the list), as links for the page."""
        links = [{"url": self.op_url(op, obj), "label": op.title, "danger": op.destructive, "name": op.name,
                  "create": op.name == "create"}
                 for op in self.operation_pages() if op.detail == (obj is not None) and op.available(obj)
                 and op.allowed(request.user, obj)]
        if obj is None:
            links += [{"url": self.op_url(self.operations[name]), "label": self.operations[name].title,
                       "danger": False, "name": name, "create": False}
                      for name in self.query_pages if self.operations[name].allowed(request.user)]
        return links

    def query_view(self, request, op: Operation):
        """A read-only page with what a collection query answers now (a generated file, who is connected)."""
        if not op.allowed(request.user):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "title": op.title, "opts": self.opts, "operation": op,
                   "result": None, "error": ""}
        try:
            context["result"] = op.run(actor=request.user)
        except REFUSALS as exc:
            context["error"] = " ".join(m for msgs in _refusal_errors(exc).values() for m in msgs)
        context.update(self.query_context(request, op))
        return TemplateResponse(request, self.query_pages[op.name], context)

    def query_context(self, request, op: Operation) -> dict:
        """Extra context for a query page (e.g. the live view beside a generated file)."""
        return {}

    def get_list_display(self, request):
        if not self.row_operations:
            return super().get_list_display(request)

        @admin.display(description=_("actions"))
        def operations(obj):  # bound to this request: only the links this user may follow
            links = [(op["url"], op["label"]) for op in self.offered(request, obj) if op["name"] != "update"]
            return format_html_join(" · ", '<a href="{}">{}</a>', links) or "-"

        return (*super().get_list_display(request), operations)

    def changelist_view(self, request, extra_context=None):
        extra = {"calypso_operations": self.offered(request)}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        extra = self.change_context(request, obj) if obj is not None else {}
        if "calypso_operations" not in extra:
            extra["calypso_operations"] = self.offered(request, obj) if obj is not None else []
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def change_context(self, request, obj) -> dict:
        """Extra context for the change page of ``obj`` (a pool's device tree, a job's log); it may set
        ``calypso_operations`` itself when it already worked out what the user is offered."""
        return {}

    def add_view(self, request, form_url="", extra_context=None):
        if not self.model_forms and "create" in (self.operations or ()):
            return HttpResponseRedirect(self.op_url(self.operations["create"]))
        return super().add_view(request, form_url, extra_context)

    # ------------------------------------------------------------ one operation
    def operation_object(self, request, op: Operation, object_id):
        """The object through the restricted queryset (404), then the operation's permission (403)."""
        obj = self.get_object(request, unquote(object_id)) if op.detail else None
        if op.detail and obj is None:
            raise Http404(f"{self.opts.verbose_name} {object_id} not found.")
        if not op.allowed(request.user, obj):
            raise PermissionDenied
        return obj

    def operation_view(self, request, op: Operation, object_id=None):
        """GET: the form. POST: validate with the input serializer, run, then the job page or the object;
        a refusal is shown on the field it names."""
        obj = self.operation_object(request, op, object_id)
        posted = request.POST if request.method == "POST" else None
        form = OperationForm(op, obj, request=request, data=posted, initial=request.GET.dict())
        if posted is not None and form.is_valid():
            try:
                result = op.run(actor=request.user, obj=obj, data=form.validated_data)
            except REFUSALS as exc:
                form.add_service_error(exc)
            else:
                return self.operation_done(request, op, obj, result)
        title = f"{op.title}: {obj}" if obj is not None else op.title
        context = {**self.admin_site.each_context(request), "title": title, "opts": self.opts, "object": obj,
                   "original": obj, "form": form, "operation": op, "has_view_permission": True,
                   **self.operation_context(request, op, obj)}
        return TemplateResponse(request, [f"admin/{self.opts.app_label}/{self.opts.model_name}/{op.name}.html",
                                          "admin/calypso/operation.html"], context)

    def operation_context(self, request, op: Operation, obj) -> dict:
        """Extra context for an operation's page (e.g. the snapshots a rollback destroys)."""
        return {}

    def operation_done(self, request, op: Operation, obj, result):
        """The success message, then the job page for a job, else the object (or the list after a delete)."""
        renderer = result_type(result)
        if isinstance(result, BulkResult):  # every object reported, the failures with their reasons
            for item, ok, reason in result.items:
                if not ok:
                    self.message_user(request, f"{item}: {reason}", messages.ERROR)
            self.message_user(request, f"{op.title}: {result.summary()}",
                              messages.WARNING if result.failed else messages.SUCCESS)
            return HttpResponseRedirect(self.url_of(None))
        label = str(obj if obj is not None else result if isinstance(result, models.Model) and not renderer else "")
        message = f"{op.title}: {label}".rstrip(": ")
        if renderer is not None:
            url = renderer.admin_url(result)
            self.message_user(request, format_html('{} — <a href="{}">{}</a>', message, url, result),
                              messages.SUCCESS)
            return HttpResponseRedirect(url)
        self.message_user(request, message, messages.SUCCESS)
        target = result if isinstance(result, models.Model) else obj if op.name != "delete" else None
        return HttpResponseRedirect(self.url_of(target))

    def url_of(self, obj) -> str:
        """The admin page of ``obj`` (any registered model), else this model's list."""
        if obj is not None and obj.pk is not None:
            try:
                return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk],
                               current_app=self.admin_site.name)
            except NoReverseMatch:
                pass
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
                       current_app=self.admin_site.name)

    # ------------------------------------------------------------ many objects
    def get_actions(self, request):
        actions = super().get_actions(request)
        for op in self.operations:
            if op.bulk and op.allowed(request.user):
                name = f"{op.name}_selected"
                description = _("%(op)s selected %(items)s") % {"op": op.title, "items": self.opts.verbose_name_plural}
                actions[name] = (self._bulk(op), name, description)
        return actions

    def _bulk(self, op: Operation):
        def act(modeladmin, request, queryset):
            return modeladmin.run_bulk(request, op, queryset)

        return act

    def run_bulk(self, request, op: Operation, queryset):
        """Run ``op`` on each selected object the user may; a destructive one first shows what goes and asks
        for the count typed back. Each refusal is reported and the others still run."""
        objects, skipped = [], []
        for obj in queryset:
            (objects if op.available(obj) else skipped).append(obj)
        if skipped:
            self.message_user(request, _("%(op)s does not apply to: %(names)s.") % {
                "op": op.title, "names": ", ".join(map(str, skipped))}, messages.WARNING)
        if op.destructive and request.POST.get("confirm") != str(len(objects)):
            return TemplateResponse(request, "admin/calypso/bulk_confirm.html", {
                **self.admin_site.each_context(request), "title": _("%(op)s %(n)s %(items)s?") % {
                    "op": op.title, "n": len(objects), "items": self.opts.verbose_name_plural},
                "objects": objects, "operation": op, "opts": self.opts, "count": len(objects),
                "wrong": "confirm" in request.POST, "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME})
        done = failed = 0
        for obj in objects:
            if not op.allowed(request.user, obj):
                self.message_user(request, f"{obj}: {_('permission denied')}", messages.ERROR)
                failed += 1
                continue
            serializer = op.serializer(obj, data={} if not op.destructive else {"confirm": op.confirm(obj)},
                                       request=request)
            try:
                serializer.is_valid(raise_exception=True)
                result = op.run(actor=request.user, obj=obj, data=serializer.validated_data)
            except (*REFUSALS, DRFValidationError) as exc:
                self.message_user(request, f"{obj}: {getattr(exc, 'message', None) or exc}", messages.ERROR)
                failed += 1
                continue
            done += 1
            renderer = result_type(result)
            if renderer is not None:
                self.message_user(request, format_html('{}: <a href="{}">{}</a>', obj, renderer.admin_url(result),
                                                       result), messages.INFO)
        if done:
            self.message_user(request, _("%(op)s: %(n)s done.") % {"op": op.title, "n": done}, messages.SUCCESS)
        if failed:
            self.message_user(request, _("%(op)s: %(n)s failed (each one above).") % {"op": op.title, "n": failed},
                              messages.ERROR)
        return None

    # ------------------------------------------------------------ Django's forms, through the operations
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A refusal of the create/update operation (a field the service judged, the host's own words) comes back
        on the form, with what was typed, instead of an error page. The operation holds its own transaction, so
        the audit event of a refusal stays."""
        if not self.model_forms or request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        try:
            return self._changeform_view(request, object_id, form_url, extra_context)
        except REFUSALS as exc:
            request._calypso_refused = exc
            return self._changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        refused = getattr(request, "_calypso_refused", None)
        if refused is None:
            return form
        errors = _refusal_errors(refused)

        class Refused(form):
            def clean(self):
                data = super().clean()
                for field, messages_ in errors.items():
                    self.add_error(field if field in self.fields else None, messages_)
                return data

        return Refused

    def delete_view(self, request, object_id, extra_context=None):
        """A refused delete (the object is in use, the host refused) is a message on the object's page."""
        try:  # the delete operation holds its own transaction (and its lock until it commits)
            return self._delete_view(request, object_id, extra_context)
        except REFUSALS as exc:
            self.message_user(request, " ".join(_refusal_errors(exc).get(None, [])) or str(exc), messages.ERROR)
            obj = self.get_object(request, unquote(object_id))
            return HttpResponseRedirect(self.url_of(obj))

    def save_model(self, request, obj, form, change):
        op = self.operations["update" if change else "create"]
        if change:
            fields = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
            saved = op.run(actor=request.user, obj=type(obj).objects.get(pk=obj.pk), data=fields)
        else:
            names = {f.name for f in (*obj._meta.fields, *obj._meta.many_to_many)}
            saved = op.run(actor=request.user, data={k: v for k, v in form.cleaned_data.items() if k in names})
        obj.pk, obj._state.adding = saved.pk, False

    def delete_model(self, request, obj):
        self.operations["delete"].run(actor=request.user, obj=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            if self.operations["delete"].allowed(request.user, obj):
                self.delete_model(request, obj)
