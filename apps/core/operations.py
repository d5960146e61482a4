"""Operations, declared once: the API base and the admin base turn each one into an action and a page.

An operation names what the operator gives (one DRF serializer, which also builds the admin form), the
service it calls, the permission it needs, whether it is destructive (the operator types the object's
name back) and whether it runs as a job::

    POOL = Operations(Pool,
        Operation("scrub", services.start_scrub, job=True, bulk=True, label=_("Scrub")),
        Operation("export", services.export_pool, input=ExportInput, destructive=True),
    )

Services take the object first (for detail operations), then ``actor`` and the validated input as
keyword arguments. ``Operation.run()`` is the one way both front ends call them: it checks the typed
confirmation, calls the service and sends ``operation_performed`` with the outcome, which the audit
trail turns into exactly one event per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from django.core.exceptions import ValidationError
from django.dispatch import Signal
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .changes import snapshot
from .errors import errors_text, field_errors
from .permissions import AUTHENTICATED, allowed, perm_name

__all__ = [
    "AUTHENTICATED",
    "BulkResult",
    "BulkResultSerializer",
    "Operation",
    "Operations",
    "ResultType",
    "all_operations",
    "operation_performed",
    "register_result_type",
    "result_type",
    "result_types",
]

# Sent after every mutating operation: sender=Operation; actor, obj, data, result, error, before (the
# object's fields before the call), duration_ms.
operation_performed = Signal()

DEFAULT_PERMISSIONS = {"create": "add", "update": "change", "delete": "delete"}

CRUD_ACTIONS = {"create": "create", "update": "partial_update", "delete": "destroy"}


@dataclass(frozen=True)
class ResultType:
    """How the front ends show a service result of one type (a Job: 202 + its URL, the job page)."""

    model: type
    api: Callable[[Any, Any], Any]  # (result, request) -> Response
    admin_url: Callable[[Any], str]  # result -> URL to redirect to
    serializer: type[serializers.Serializer]  # for the OpenAPI schema


_RESULT_TYPES: dict[type, ResultType] = {}


def register_result_type(result: ResultType) -> None:
    """Called by an app above core (jobs) so core can render that app's results without importing it."""
    _RESULT_TYPES[result.model] = result


def result_type(value: Any) -> ResultType | None:
    return next((r for cls, r in _RESULT_TYPES.items() if isinstance(value, cls)), None)


def result_types() -> list[ResultType]:
    return list(_RESULT_TYPES.values())


class BulkResult:
    """What an operation over many objects did to each: it does all it can and reports every object (id,
    ok or not, message). The API answers 200 when every object went, 207 (Multi-Status) when some failed,
    with the same body; the audit trail records one event per object besides the call's own."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, bool, str]] = []

    def add(self, obj: Any, error: BaseException | str | None = None) -> None:
        message = error if isinstance(error, str) else getattr(error, "message", None) or str(error or "")
        self.items.append((obj, error is None, str(message)))

    @property
    def done(self) -> int:
        return sum(ok for _obj, ok, _msg in self.items)

    @property
    def failed(self) -> int:
        return len(self.items) - self.done

    def summary(self) -> str:
        return _("%(done)s done, %(failed)s failed") % {"done": self.done, "failed": self.failed}

    def data(self) -> dict:
        return {"done": self.done, "failed": self.failed,
                "results": [{"id": getattr(obj, "pk", None), "object": str(obj), "ok": ok, "message": message}
                            for obj, ok, message in self.items]}


class BulkItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    object = serializers.CharField(help_text=_("The object's name."))
    ok = serializers.BooleanField()
    message = serializers.CharField(allow_blank=True, help_text=_("Why it failed (the tool's words), or empty."))


class BulkResultSerializer(serializers.Serializer):
    """The answer of an operation over many objects: 200 when all went, 207 when ``failed`` is above zero."""

    done = serializers.IntegerField()
    failed = serializers.IntegerField(help_text=_("How many objects failed; above zero the status is 207."))
    results = BulkItemSerializer(many=True, help_text=_("One entry per object, in the order given."))


@dataclass(frozen=True, eq=False)
class Operation:
    name: str  # verb: "scrub", "create", "update", "delete", "offline"...; the URL is its kebab form
    service: Callable[..., Any]
    input: type[serializers.Serializer] | None = None
    label: str = ""
    permission: str = ""  # a verb ("scrub" -> storage.scrub_pool) or a full "app.codename"; default from name
    detail: bool = True  # on one object (True) or on the collection (False)
    destructive: bool = False  # typed confirmation: the operator types ``confirm(obj)`` back
    confirm: Callable[[Any], str] = str
    # Only where this is true may the confirmation be left out (e.g. a share with clients connected); a wrong
    # one is refused either way. None: always required.
    confirm_when: Callable[[Any], bool] | None = None
    job: bool = False  # the service queues a Job: 202 in the API, the job page in the admin
    method: str = "post"  # "get": a read-only query whose input comes from the query string
    output: type[serializers.Serializer] | None = None  # for a returned object (default: the viewset's)
    bulk: bool = False  # also an admin list action over the selected objects
    when: Callable[[Any], bool] | None = None  # offered (link, list action) only where true; the service decides
    partial: bool = False  # an edit: the admin sends only the fields changed from ``initial(obj)``
    initial: Callable[[Any], dict] | None = None  # admin form values for this object
    help: str = ""  # one line under the title of the admin page, the description in the schema
    example: dict | None = None  # a valid body, for the schema and for the contract tests
    item_action: str = ""  # over many objects (returns a BulkResult): the operation each object is audited as
    model: type | None = None  # set by Operations

    def __str__(self) -> str:
        return self.audit_action

    @property
    def url(self) -> str:
        return self.name.replace("_", "-")

    @property
    def title(self) -> str:
        return str(self.label or self.name.replace("_", " ").capitalize())

    @property
    def mutates(self) -> bool:
        return self.method != "get"

    @property
    def perm(self) -> str | None:
        """The permission codename (None for a self-service operation)."""
        if self.permission == AUTHENTICATED:
            return None
        verb = self.permission or DEFAULT_PERMISSIONS.get(self.name) or ("view" if not self.mutates else self.name)
        return verb if "." in verb else perm_name(self.model, verb)

    @property
    def audit_action(self) -> str:
        meta = self.model._meta
        return f"{meta.app_label}.{meta.model_name}.{self.name}"

    @property
    def api_action(self) -> str:
        """The viewset method: DRF's own names for create/update/delete, ``op_<name>`` for the rest."""
        return CRUD_ACTIONS.get(self.name, f"op_{self.name}")

    @cached_property
    def input_class(self) -> type[serializers.Serializer] | None:
        """The input serializer, with the ``confirm`` field a destructive operation adds."""
        if not self.destructive:
            return self.input
        base = self.input or serializers.Serializer
        name = f"{self.model.__name__}{self.name.title().replace('_', '')}Confirmed"
        return type(name, (base,), {
            "confirm": serializers.CharField(allow_blank=True, required=False, default="",
                                             label=_("Type the name to confirm"),
                                             help_text=_("The object's name, typed again.")),
            "validate_confirm": _validate_confirm,
        })

    def confirm_required(self, obj: Any) -> bool:
        """Whether the operator must type the confirmation for ``obj`` now."""
        return self.destructive and (self.confirm_when is None or obj is None or bool(self.confirm_when(obj)))

    def available(self, obj: Any) -> bool:
        return self.when is None or obj is None or bool(self.when(obj))

    def allowed(self, user, obj: Any = None) -> bool:
        """Whether ``user`` may run this operation (on ``obj``): model permission or object grant."""
        return allowed(user, self.perm, obj)

    def serializer(self, obj: Any = None, *, data: Any = None, request: Any = None,
                   view: Any = None) -> serializers.Serializer:
        """The input serializer bound to ``data``; its context carries the object and the confirmation."""
        context = {"request": request, "view": view, "object": obj, "operation": self,
                   "confirm": self.confirm(obj) if self.destructive and obj is not None else None,
                   "confirm_required": self.confirm_required(obj)}
        kwargs = {"instance": obj, "partial": True} if self.partial and obj is not None else {}
        return (self.input_class or serializers.Serializer)(data=data, context=context, **kwargs)

    def run(self, *, actor, obj: Any = None, data: dict | None = None) -> Any:
        """Call the service with validated ``data`` and announce the outcome (audit listens)."""
        data = {k: v for k, v in (data or {}).items() if k != "confirm"}
        args = (obj,) if self.detail else ()
        before = snapshot(obj) if self.mutates and obj is not None else {}
        started = time.monotonic()
        try:
            result = self.service(*args, actor=actor, **data)
        except Exception as exc:
            self._announce(actor, obj, data, started, before, error=exc)
            raise
        self._announce(actor, obj, data, started, before, result=result)
        return result

    def refused(self, actor, obj: Any, errors: dict) -> None:
        """Announce an input refused before the service ran (the API's or the form's 400)."""
        self._announce(actor, obj, {}, time.monotonic(), {}, error=ValidationError(errors_text(field_errors(errors))))

    def _announce(self, actor, obj, data, started, before, *, result=None, error=None) -> None:
        if self.mutates:
            operation_performed.send(sender=self, actor=actor, obj=obj, data=data, result=result, error=error,
                                     before=before, duration_ms=round((time.monotonic() - started) * 1000, 3))


def _validate_confirm(self, value: str) -> str:
    expected = self.context.get("confirm")
    if value == "" and not self.context.get("confirm_required", True):
        return value
    if expected is not None and value != expected:
        raise serializers.ValidationError(_("Type %(name)s to confirm.") % {"name": expected})
    return value


_ALL: list[Operations] = []


class Operations:
    """The operations of one model, in the order they are offered. Both the viewset and the admin
    of that model point at the same set."""

    def __init__(self, model: type, *operations: Operation) -> None:
        self.model = model
        self._ops = {op.name: replace(op, model=model) for op in operations}
        _ALL.append(self)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self._ops.values())

    def __len__(self) -> int:
        return len(self._ops)

    def __contains__(self, name: str) -> bool:
        return name in self._ops

    def get(self, name: str) -> Operation | None:
        return self._ops.get(name)

    def __getitem__(self, name: str) -> Operation:
        return self._ops[name]


def all_operations() -> list[Operation]:
    """Every declared operation of every model (the contract tests walk these)."""
    return [op for ops in _ALL for op in ops]
