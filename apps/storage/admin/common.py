"""Shared pieces of the storage admin: sizes, the capacity bar, and the operation pages (a form whose
submit calls one service; its refusal shown on the field it names)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.audit.choices import AuditSource
from apps.core.admin import CalypsoModelAdmin
from apps.core.errors import ServiceError
from apps.core.permissions import perm_name
from apps.core.validators import format_size
from apps.jobs.models import Job

__all__ = ["ADMIN", "FAILED", "OperationsAdmin", "capacity_bar", "posted", "run_each", "size"]

ADMIN = AuditSource.ADMIN
FAILED = object()  # a service refused: the form carries the error
CRUD = ("view", "add", "change", "delete")


def posted(request):
    """The POST data on a POST (even an empty one: a bare confirmation), else None for an unbound form."""
    return request.POST if request.method == "POST" else None


def size(value) -> str:
    return format_size(value) if value is not None else "-"


def capacity_bar(percent) -> str:
    if percent is None:
        return "-"
    color = "#b02a37" if percent >= 90 else "#c56a00" if percent >= 80 else "#1e7e34"
    return format_html(
        '<div class="calypso-capacity" style="width:160px;background:#e9ecef;border-radius:3px">'
        '<div style="width:{}%;background:{};color:#fff;padding:0 4px;border-radius:3px;white-space:nowrap">'
        '{} %</div></div>', min(int(percent), 100), color, percent)


def run_each(modeladmin, request, func, items, done: str) -> None:
    """Call a service per selected object; each refusal is shown, the rest still run."""
    count = 0
    for item in items:
        try:
            func(item)
            count += 1
        except ServiceError as exc:
            modeladmin.message_user(request, f"{item}: {exc.message}", messages.ERROR)
    if count:
        modeladmin.message_user(request, done.format(count=count), messages.SUCCESS)


class OperationsAdmin(CalypsoModelAdmin):
    """A ModelAdmin with extra pages per object (``<pk>/<name>/``) and per model (``<name>/``)."""

    object_operations: tuple[str, ...] = ()
    model_operations: tuple[str, ...] = ()

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}_"
        extra = [path(f"{name.replace('_', '-')}/", self.admin_site.admin_view(getattr(self, f"{name}_view")),
                      name=prefix + name) for name in self.model_operations]
        extra += [path(f"<path:object_id>/{name.replace('_', '-')}/",
                       self.admin_site.admin_view(getattr(self, f"{name}_view")), name=prefix + name)
                  for name in self.object_operations]
        return extra + super().get_urls()

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "destroy" in self.object_operations:
            actions.pop("delete_selected", None)  # a row delete would leave the object on the host
        return actions

    def delete_view(self, request, object_id, extra_context=None):
        if "destroy" in self.object_operations:  # the host object goes through its service, never a bare row
            return HttpResponseRedirect(self.op_url("destroy", object_id))
        return super().delete_view(request, object_id, extra_context)

    def op_url(self, name: str, *args) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args,
                       current_app=self.admin_site.name)

    def change_url(self, obj) -> str:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk],
                       current_app=self.admin_site.name)

    def can(self, request, verb: str, obj=None) -> bool:
        """CRUD through the has_<verb>_permission hooks; other verbs (scrub, rollback...) globally or per object."""
        if verb in CRUD and verb != "add":
            return getattr(self, f"has_{verb}_permission")(request, obj)
        perm = perm_name(self.model, verb)
        return request.user.has_perm(perm) or (obj is not None and request.user.has_perm(perm, obj))

    def op_object(self, request, object_id: str, verb: str):
        """The object through get_queryset (restricted: 404), then the verb's permission (403)."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"{self.opts.verbose_name} {object_id} not found.")
        if not self.can(request, verb, obj):
            raise PermissionDenied
        return obj

    def finish(self, request, result, message: str, fallback: str):
        """Success: the message, then the job page when the service queued a Job, else ``fallback``."""
        if isinstance(result, Job):
            url = reverse("admin:jobs_job_change", args=[result.pk], current_app=self.admin_site.name)
            self.message_user(request, format_html('{} <a href="{}">{}</a>', message, url,
                                                   f"Job #{result.pk}"), messages.SUCCESS)
            return HttpResponseRedirect(url)
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(fallback)

    def attempt(self, form, call: Callable[[dict], Any]):
        """Run the service; its refusal (ServiceError, ValidationError) goes on the form, returns FAILED."""
        try:
            return call(form.cleaned_data)
        except (ServiceError, ValidationError) as exc:
            form.add_service_error(exc)
            return FAILED

    def operation(self, request, *, form, call, title: str, done: Callable[[Any], tuple[str, str]], obj=None,
                  intro: str = "", danger: bool = False, submit: str = "", extra: dict | None = None):
        """GET: the form page. POST: validate, call, then message + redirect; or the page with the errors."""
        if request.method == "POST" and form.is_valid():
            result = self.attempt(form, call)
            if result is not FAILED:
                message, fallback = done(result)
                return self.finish(request, result, message, fallback)
        return self.render_operation(request, form=form, title=title, obj=obj, intro=intro, danger=danger,
                                     submit=submit, extra=extra)

    def render_operation(self, request, *, form, title, obj=None, intro="", danger=False, submit="", extra=None,
                         template="admin/storage/operation_form.html"):
        context = {**self.admin_site.each_context(request), "title": title, "opts": self.opts, "object": obj,
                   "original": obj, "form": form, "intro": intro, "danger": danger, "submit_label": submit or title,
                   "has_view_permission": self.has_view_permission(request, obj), **(extra or {})}
        return TemplateResponse(request, template, context)

    def post_only(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return None
