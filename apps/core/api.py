"""API base: a viewset lists and shows what the user may see, and every operation its model declares
becomes a DRF action (create, partial_update, destroy, or ``POST <pk>/<verb>/``) with its request body
and responses in the OpenAPI schema. One error format for every failure.

Error body (every 4xx/5xx under ``/api/``, Django's own 404 and 500 included)::

    {"error": {"status": 400, "code": "invalid", "message": "name: ...", "fields": {"name": ["..."]}}}
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import Http404, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import BackendError, ServiceError, errors_text, field_errors
from .filters import CalypsoFilterBackend
from .operations import BulkResult, BulkResultSerializer, Operation, Operations, result_type, result_types
from .pagination import CalypsoCursorPagination
from .permissions import AUTHENTICATED, restrict
from .serializers import json_type_errors

__all__ = [
    "API_PREFIX",
    "CalypsoCursorPagination",
    "CalypsoViewSet",
    "bad_request",
    "error_body",
    "exception_handler",
    "page_not_found",
    "permission_denied",
    "server_error",
]

API_PREFIX = "/api/"


def error_body(status_code: int, code: str, message: str, fields: dict | None = None, **extra) -> dict:
    body = {"status": status_code, "code": code, "message": message}
    if fields:
        body["fields"] = fields
    body.update(extra)
    return {"error": body}


def exception_handler(exc, context):
    """Every error in one shape: ServiceError and BackendError carry their code; Django's errors map."""
    if isinstance(exc, ServiceError):
        fields = {exc.field: [exc.message]} if exc.field else None
        return Response(error_body(exc.status_code, exc.code, exc.message, fields, **exc.extra),
                        status=exc.status_code)
    if isinstance(exc, BackendError):
        return Response(error_body(exc.status_code, exc.code, exc.message), status=exc.status_code)
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
        fields = field_errors(exc.detail)
        message = errors_text(fields)
        response.data = error_body(response.status_code, "invalid", message, fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = error_body(response.status_code, code if isinstance(code, str) else "error", str(detail))
    return response


# Django's own error pages (handler400/403/404/500 in the URL conf): the error format under /api/ (an
# unknown URL, a view's unhandled exception: no traceback, no exception text), Django's pages elsewhere.
def _api_error(request, status_code: int, code: str, message: str) -> JsonResponse | None:
    if not request.path.startswith(API_PREFIX):
        return None
    return JsonResponse(error_body(status_code, code, str(message)), status=status_code)


def bad_request(request, exception=None):
    return _api_error(request, 400, "bad_request", _("Bad request.")) or defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    return _api_error(request, 403, "permission_denied", exceptions.PermissionDenied.default_detail) or \
        defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    return _api_error(request, 404, "not_found", exceptions.NotFound.default_detail) or \
        defaults.page_not_found(request, exception)


def server_error(request):
    return _api_error(request, 500, "server_error", _("The server failed to answer; the error is logged.")) or \
        defaults.server_error(request)


class DeclaredSearchFilter(SearchFilter):
    """``?search=`` in the schema only on a list that searches (one with ``search_fields``)."""

    def get_schema_operation_parameters(self, view):
        return super().get_schema_operation_parameters(view) if self.get_search_fields(view, None) else []


class CalypsoViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List and detail restricted to what the user may see (anything else is a 404); ``operations``
    adds one action per declared operation. Three attributes and the operations make a viewset::

        class PoolViewSet(CalypsoViewSet):
            queryset = Pool.objects.all()
            serializer_class = serializers.PoolSerializer
            filterset_class = filters.PoolFilterSet
            operations = operations.POOL
    """

    operations: Operations | tuple = ()
    owner_field: str | None = None  # self-service: each user sees (and acts on) only the objects they own
    filter_backends = (CalypsoFilterBackend, DeclaredSearchFilter, OrderingFilter)
    # JSON bodies only: form encoding cannot tell an empty field from an omitted one, nor carry the lists and
    # objects the inputs take (the admin posts its own forms, not to the API).
    parser_classes = (JSONParser,)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        for op in cls.__dict__.get("operations", ()):
            setattr(cls, op.api_action, _api_action(op, cls))

    def initial(self, request, *args, **kwargs) -> None:
        """After authentication: a query parameter carrying a NUL character (no database column takes
        one) is a 400 naming it, whatever reads it later (filters, search, ordering, cursor, inputs)."""
        super().initial(request, *args, **kwargs)
        bad = {key.replace("\x00", "\\x00") for key, values in request.query_params.lists()
               if "\x00" in key or any("\x00" in value for value in values)}
        if bad:
            raise exceptions.ValidationError({key: [_("Null characters are not allowed.")] for key in sorted(bad)})

    def get_queryset(self):
        queryset = super().get_queryset()
        only = getattr(getattr(self.get_serializer_class(), "Meta", None), "only", None)
        if only and self.action == "list":  # a list reads only the columns its rows show
            queryset = queryset.only(*only)
        if not self.owner_field:
            return restrict(queryset, self.request.user, "view")
        if getattr(self, "swagger_fake_view", False):
            return queryset.none()
        return queryset.filter(**{self.owner_field: self.request.user})

    @property
    def operation(self) -> Operation | None:
        """The operation the current request runs, if any."""
        return next((op for op in self.operations if op.api_action == self.action), None)

    def required_permission(self) -> str | None:
        op = self.operation
        return (op.perm or AUTHENTICATED) if op is not None else None

    def run_operation(self, op: Operation, request) -> Response:
        """Object (404 if hidden, 403 without the permission), input (400 naming the field: a JSON value of
        the wrong type, then the input serializer's checks), service, then the result: a Job is 202 with its
        URL; an object is 200 (201 when created); nothing is 204."""
        obj = self.get_object() if op.detail else None
        data = request.query_params if op.method == "get" else request.data
        if request.method == "DELETE" and not data:
            data = request.query_params
        serializer = op.serializer(obj, data=data, request=request, view=self)
        errors = json_type_errors(serializer.fields, data) if data is request.data else {}
        if errors or not serializer.is_valid():
            errors = errors or serializer.errors
            op.refused(request.user, obj, errors)
            raise exceptions.ValidationError(errors)
        return self.operation_response(op, op.run(actor=request.user, obj=obj, data=serializer.validated_data))

    def operation_response(self, op: Operation, result) -> Response:
        renderer = result_type(result)
        if renderer is not None and op.job:
            return renderer.api(result, self.request)
        if result is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        if isinstance(result, BulkResult):  # every object reported; 207 says some failed
            code = status.HTTP_207_MULTI_STATUS if result.failed else status.HTTP_200_OK
            return Response(result.data(), status=code)
        if isinstance(result, models.Model):
            out = op.output or self.get_serializer_class()
            code = status.HTTP_201_CREATED if op.name == "create" else status.HTTP_200_OK
            return Response(out(result, context=self.get_serializer_context()).data, status=code)
        return Response(result)


def _responses(op: Operation, view_cls) -> dict:
    if op.job:
        job = next((r.serializer for r in result_types()), OpenApiTypes.OBJECT)
        return {202: job}
    if op.name == "delete":
        return {204: None}
    if op.method == "get":
        return {200: op.output or OpenApiTypes.OBJECT}
    if op.output is not None and issubclass(op.output, BulkResultSerializer):
        return {200: op.output, 207: op.output}
    return {201 if op.name == "create" else 200: op.output or view_cls.serializer_class}


def _api_action(op: Operation, view_cls):
    def handler(self, request, *args, **kwargs):
        return self.run_operation(op, request)

    handler.__name__ = op.api_action
    handler.__doc__ = str(op.help or op.title)
    examples = [OpenApiExample(op.name, value=op.example, request_only=True)] if op.example else None
    in_query = op.method == "get" or op.name == "delete"  # OpenAPI has no request body for GET and DELETE
    request = None if in_query else op.input_class
    parameters = [op.input_class] if in_query and op.input_class else None
    schema = extend_schema(request=request, responses=_responses(op, view_cls), summary=op.title,
                           examples=examples, parameters=parameters)
    if op.api_action in ("create", "partial_update", "destroy"):
        return schema(handler)
    return schema(action(detail=op.detail, methods=[op.method], url_path=op.url, url_name=op.url)(handler))
