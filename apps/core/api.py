"""API base classes: viewsets that restrict by permission and audit every mutation, cursor
pagination, and one error format for every failure.

Error body (every 4xx/5xx)::

    {"error": {"status": 400, "code": "invalid", "message": "name: ...", "fields": {"name": ["..."]}}}
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.audit import services as audit
from apps.audit.changes import diff, snapshot

from .errors import ServiceError
from .pagination import CalypsoCursorPagination
from .permissions import restrict

__all__ = [
    "CalypsoCursorPagination",
    "CalypsoModelViewSet",
    "CalypsoReadOnlyViewSet",
    "JobAccepted",
    "error_body",
    "exception_handler",
]


def error_body(status_code: int, code: str, message: str, fields: dict | None = None, **extra) -> dict:
    body = {"status": status_code, "code": code, "message": message}
    if fields:
        body["fields"] = fields
    body.update(extra)
    return {"error": body}


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {k: [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in detail.items()}
    return {"non_field_errors": [str(x) for x in (detail if isinstance(detail, list) else [detail])]}


def exception_handler(exc, context):
    """Every error in one shape; ServiceError and Django's ValidationError mapped to 4xx."""
    if isinstance(exc, ServiceError):
        fields = {exc.field: [exc.message]} if exc.field else None
        return Response(error_body(exc.status_code, exc.code, exc.message, fields, **exc.extra),
                        status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        response.data = error_body(response.status_code, "invalid", message, fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = error_body(response.status_code, code if isinstance(code, str) else "error", str(detail))
    return response


def JobAccepted(job, request=None) -> Response:  # noqa: N802 - reads as a response class at call sites
    """202 with the job, and its URL in Location."""
    from apps.jobs.api.serializers import JobSerializer

    return Response(JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED,
                    headers={"Location": f"/api/v1/jobs/{job.pk}/"})


class _Restricted:
    """Restrict the queryset to what the user may see; anything else is a 404."""

    required_action: str | None = None  # @action(required_action="scrub") -> permission storage.scrub_pool

    def get_queryset(self):
        return restrict(super().get_queryset(), self.request.user, "view")


class CalypsoReadOnlyViewSet(_Restricted, viewsets.ReadOnlyModelViewSet):
    pass


class CalypsoModelViewSet(_Restricted, viewsets.ModelViewSet):
    """CRUD with permission restriction and an audit event for every create, update and delete."""

    audit_action_prefix: str | None = None  # default "<app>.<model>"

    def _action_name(self, verb: str) -> str:
        meta = self.get_queryset().model._meta
        return f"{self.audit_action_prefix or f'{meta.app_label}.{meta.model_name}'}.{verb}"

    def perform_create(self, serializer):
        instance = serializer.save()
        audit.record(self.request.user, self._action_name("create"), instance,
                     changes=diff({}, snapshot(instance)))

    def perform_update(self, serializer):
        before = snapshot(serializer.instance)
        instance = serializer.save()
        audit.record(self.request.user, self._action_name("update"), instance,
                     changes=diff(before, snapshot(instance)))

    def perform_destroy(self, instance):
        audit.record(self.request.user, self._action_name("delete"), instance,
                     changes=diff(snapshot(instance), {}))
        instance.delete()


