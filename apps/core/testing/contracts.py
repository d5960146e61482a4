"""What every API route, operation and admin page must do, found by walking the URL conf, the operation
declarations and the admin site: nothing to write per resource. ``tests/test_contracts.py`` parametrizes
over these; a new viewset, ``Operations`` set or ModelAdmin is covered the moment it is declared.

- every API route answers 401 to an anonymous client (the few sign-in routes are listed explicitly);
- every operation answers 404 on an object the user cannot see, 403 when the user may see it but not act,
  and, for an administrator, succeeds with exactly one audit event (its service stubbed: the contract is the
  kit's wiring; each app tests its services against recorded or real host output);
- every object an operation's input names by id is a ``RestrictedRelatedField``: one the user may not use
  (only seen, or not even that) is refused exactly like a missing one, a 400 on that field;
- every admin changelist, change page and operation page renders for an administrator, and operation
  pages refuse a viewer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.apps import apps
from django.contrib import admin
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework import relations, serializers
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from apps.core.operations import Operation, result_types
from apps.core.permissions import perm_name
from apps.core.runner import CommandNotFound, CommandResult, runner_override
from apps.core.serializers import RestrictedRelatedField

__all__ = [
    "FailingRunner",
    "OperationRoute",
    "Route",
    "admin_operation_urls",
    "admin_pages",
    "api_routes",
    "check_admin_pages_render",
    "check_admin_refuses_viewer",
    "check_anonymous_refused",
    "check_confirmation_required",
    "check_forbidden",
    "check_hidden",
    "check_related_input_refused_like_a_missing_one",
    "check_succeeds_with_one_audit_event",
    "expected_status",
    "operation_routes",
    "related_inputs",
    "sample",
    "stubbed",
    "valid_input",
]


@dataclass(frozen=True)
class Route:
    """One API URL pattern: its reversible name, view class, methods and whether it takes a pk."""

    name: str
    view: type
    methods: tuple[str, ...]
    actions: tuple[tuple[str, str], ...]  # (method, viewset action)
    detail: bool

    @property
    def anonymous(self) -> bool:
        """Declared open to anonymous clients (sign-in endpoints)."""
        return any(issubclass(p, AllowAny) for p in getattr(self.view, "permission_classes", ()))

    def url(self, pk: Any = None) -> str:
        return reverse(self.name, kwargs={"pk": pk} if self.detail else None)

    def __str__(self) -> str:
        return f"{self.name} {'/'.join(self.methods)}"


@dataclass(frozen=True)
class OperationRoute:
    operation: Operation
    route: Route
    method: str

    def __str__(self) -> str:
        return f"{self.operation.audit_action} {self.method.upper()}"


def _walk(resolver: URLResolver, namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = ":".join(filter(None, [namespace, entry.namespace]))
            yield from _walk(entry, ns)
        elif entry.name:
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), entry


def api_routes() -> list[Route]:
    """Every DRF route of the URL conf (viewsets and API views)."""
    routes = []
    for name, pattern in _walk(get_resolver()):
        view = getattr(pattern.callback, "cls", None)
        if not (isinstance(view, type) and issubclass(view, APIView)):
            continue
        actions = getattr(pattern.callback, "actions", None) or {}
        methods = tuple(m for m in (actions or {m: m for m in view.http_method_names})
                        if m not in ("options", "head", "trace") and (actions or hasattr(view, m)))
        detail = "pk" in pattern.pattern.regex.groupindex
        routes.append(Route(name, view, methods, tuple(sorted(actions.items())), detail))
    return sorted(routes, key=lambda r: r.name)


def operation_routes() -> list[OperationRoute]:
    """Every declared operation with the route and method the API serves it on."""
    found = []
    for route in api_routes():
        ops = {op.api_action: op for op in getattr(route.view, "operations", ())}
        found += [OperationRoute(ops[action], route, method) for method, action in route.actions if action in ops]
    return sorted(found, key=str)


def sample(model: type[models.Model], **fields: Any) -> models.Model:
    """A saved instance of ``model`` with valid values in every required field (model_bakery)."""
    from model_bakery import baker, generators

    from apps.core.crypto import EncryptedTextField

    generators.add(EncryptedTextField, lambda: "sample secret")  # a text field to baker, ciphertext in the row
    return baker.make(model, **fields)


def _related(field: relations.RelatedField) -> Any:
    obj = sample(field.queryset.model)
    return getattr(obj, field.slug_field) if isinstance(field, relations.SlugRelatedField) else obj.pk


def _value(field: serializers.Field, name: str) -> Any:
    if isinstance(field, relations.ManyRelatedField):
        return [_related(field.child_relation)]
    if isinstance(field, relations.RelatedField):
        return _related(field)
    if isinstance(field, serializers.BooleanField):
        return False
    if isinstance(field, serializers.ChoiceField):
        return next(iter(field.choices))
    if isinstance(field, serializers.IntegerField):
        return max(1, field.min_value or 1)
    if isinstance(field, serializers.ListField):
        return [_value(field.child, name)]
    if isinstance(field, serializers.DictField):
        return {}
    return f"contract{name[:8]}"


def _example_value(field: serializers.Field, name: str, example: Any) -> Any:
    if isinstance(field, relations.ManyRelatedField):
        return [_related(field.child_relation) for _ in example]
    if isinstance(field, relations.RelatedField):
        return _related(field)
    return example


def valid_input(op: Operation, obj: Any = None) -> dict:
    """A body the operation's input serializer accepts: its ``example`` (related ids swapped for real
    objects), every other required field filled, and the typed confirmation of a destructive one."""
    data: dict = {}
    fields = op.input_class().fields if op.input_class else {}
    for name, field in fields.items():
        if field.read_only or (name == "confirm" and op.destructive):
            continue
        if op.example and name in op.example:
            data[name] = _example_value(field, name, op.example[name])
        elif field.required:
            data[name] = _value(field, name)
    if op.destructive:
        data["confirm"] = op.confirm(obj) if obj is not None else ""
    return data


def expected_status(op: Operation) -> int:
    if op.job:
        return 202
    return {"create": 201, "delete": 204}.get(op.name, 200)


def _stub_result(op: Operation, obj: Any) -> Any:
    if op.job:
        return sample(next(r.model for r in result_types()))
    if not op.mutates:
        return {}
    if op.name == "delete":
        return None
    model = getattr(getattr(op.output, "Meta", None), "model", None) if op.output else op.model
    if model is None:  # a plain dict, described by a plain serializer
        return {}
    return obj if isinstance(obj, model) else sample(model)


@contextlib.contextmanager
def stubbed(op: Operation) -> Iterator[list[tuple[tuple, dict]]]:
    """Replace the operation's service for the block with one that records its calls and returns a result
    of the kind the real one would (a job, the object, a new object, nothing)."""
    calls: list[tuple[tuple, dict]] = []
    original = op.service

    def stub(*args, **kwargs):
        calls.append((args, kwargs))
        return _stub_result(op, args[0] if args else None)

    object.__setattr__(op, "service", stub)
    try:
        yield calls
    finally:
        object.__setattr__(op, "service", original)


class FailingRunner:
    """A host without any tool: every command is "not found", so pages that read the host show its
    refusal instead of reaching a real one."""

    def _fail(self, argv) -> None:
        argv = tuple(argv)
        raise CommandNotFound(CommandResult(argv, 127, "", "not installed", 0.0), f"{argv[0]}: not found")

    def run(self, argv, **kwargs):
        self._fail(argv)

    def stream(self, argv, **kwargs):
        self._fail(argv)

    def start(self, argv, **kwargs):
        self._fail(argv)


def admin_pages(site: admin.AdminSite | None = None) -> list[admin.ModelAdmin]:
    """Every ModelAdmin of the site."""
    site = site or admin.site
    return sorted(site._registry.values(), key=lambda a: a.opts.label)


def admin_operation_urls(model_admin, obj) -> list[tuple[Operation, str]]:
    """The page URL of every operation the admin offers (detail ones on ``obj``)."""
    pages: Callable = getattr(model_admin, "operation_pages", lambda: [])
    return [(op, model_admin.op_url(op, obj if op.detail else None)) for op in pages()]


# ---------------------------------------------------------------- the checks
def _events_since(last: int) -> list[tuple[str, str, str]]:
    # The audit trail sits above core: found through the app registry, not imported.
    events = apps.get_model("audit", "AuditEvent").objects.filter(pk__gt=last).order_by("id")
    return list(events.values_list("action", "outcome", "actor_name"))


def _last_event() -> int:
    last = apps.get_model("audit", "AuditEvent").objects.order_by("-id").first()
    return last.pk if last else 0


def _object(entry: OperationRoute, user=None):
    """An object for a detail operation; a self-service one acts on ``user``'s own (None: someone else's)."""
    owner = getattr(entry.route.view, "owner_field", None)
    return sample(entry.operation.model, **({owner: user} if owner and user else {}))


def _call(client, entry: OperationRoute, obj, data: dict):
    url = entry.route.url(obj.pk) if entry.route.detail else entry.route.url()
    if entry.method in ("get", "delete"):
        return getattr(client, entry.method)(f"{url}?{urlencode(data, doseq=True)}")
    return getattr(client, entry.method)(url, data, format="json")


def check_anonymous_refused(route: Route, client) -> None:
    """Every method of a route answers 401 to a client that did not sign in."""
    for method in route.methods:
        url = route.url(1) if route.detail else route.url()
        status = getattr(client, method)(url).status_code
        assert status == 401, f"{method.upper()} {url} answered {status} to an anonymous client"


def check_hidden(entry: OperationRoute, client) -> None:
    """An object the client cannot see answers 404, the same as a missing one, and nothing runs."""
    op = entry.operation
    obj = _object(entry)
    with stubbed(op) as calls:
        response = _call(client, entry, obj, valid_input(op, obj))
    assert response.status_code == 404, f"{op} on a hidden object answered {response.status_code}"
    assert response.json()["error"]["code"] == "not_found" and calls == [], f"{op} ran on a hidden object"


def check_forbidden(entry: OperationRoute, client, user) -> None:
    """A user who may see the object (a view grant on it) but lacks the operation's permission gets 403,
    nothing runs, and nothing is recorded as done."""
    op = entry.operation
    obj = _object(entry) if op.detail else None
    if obj is not None:
        from guardian.shortcuts import assign_perm

        assign_perm(perm_name(op.model, "view"), user, obj)
    last = _last_event()
    with stubbed(op) as calls:
        response = _call(client, entry, obj, valid_input(op, obj))
    assert response.status_code == 403, f"{op} without its permission answered {response.status_code}"
    assert calls == [], f"{op} ran without its permission"
    assert all(outcome != "ok" for _a, outcome, _u in _events_since(last)), f"{op} was audited as done"


def check_succeeds_with_one_audit_event(entry: OperationRoute, client, user) -> None:
    """An administrator's call reaches the service with the validated input and answers the operation's
    status (202 job, 201 created, 204 deleted, 200); a mutation writes exactly one audit event (a job's:
    queued)."""
    op = entry.operation
    obj = _object(entry, user) if op.detail else None
    last = _last_event()
    with stubbed(op) as calls:
        response = _call(client, entry, obj, valid_input(op, obj))
    assert response.status_code == expected_status(op), f"{op}: {response.status_code} {response.content[:300]!r}"
    assert len(calls) == 1 and calls[0][0] == ((obj,) if op.detail else ()), f"{op} called its service {calls}"
    assert calls[0][1]["actor"] == user and "confirm" not in calls[0][1], f"{op} passed {calls[0][1]}"
    expected = [(op.audit_action, "queued" if op.job else "ok", user.username)] if op.mutates else []
    assert _events_since(last) == expected, f"{op} audit events: {_events_since(last)}, expected {expected}"


def check_confirmation_required(entry: OperationRoute, client, user) -> None:
    """A destructive operation refuses a wrong typed confirmation with a 400 on ``confirm``."""
    op = entry.operation
    obj = _object(entry, user) if op.detail else None
    with stubbed(op) as calls:
        response = _call(client, entry, obj, {**valid_input(op, obj), "confirm": "not the name"})
    assert response.status_code == 400 and "confirm" in response.json()["error"]["fields"], f"{op} took it"
    assert calls == [], f"{op} ran without its confirmation"


def related_inputs(op: Operation) -> dict[str, relations.RelatedField]:
    """The input fields of ``op`` that name another object by id (a list of them: its child field)."""
    fields = op.input_class().fields if op.input_class else {}
    found = {name: getattr(field, "child_relation", field) for name, field in fields.items() if not field.read_only}
    return {name: field for name, field in found.items() if isinstance(field, relations.PrimaryKeyRelatedField)}


def _refusal(response, name: str, pk: Any) -> str:
    assert response.status_code == 400, f"{name}={pk} answered {response.status_code} {response.content[:300]!r}"
    messages = response.json()["error"].get("fields", {})
    found = [m for key, ms in messages.items() if key == name or key.startswith(f"{name}.") for m in ms]
    assert found, f"{name}={pk} was refused, but not on {name}: {messages}"
    return " ".join(found).replace(str(pk), "<id>")


def check_related_input_refused_like_a_missing_one(entry: OperationRoute, client, user, name: str) -> None:
    """The object named by input ``name`` is one the user may see but not use (a view grant only), or, where
    seeing it would be enough (the field needs only view, or the operation's own permission is the field's),
    one the user cannot see: the answer is the missing id's answer, a 400 on that field with the same words,
    and nothing runs. The user holds the operation's permission and sees the object it acts on, so nothing
    else stands in the way."""
    from guardian.shortcuts import assign_perm

    op = entry.operation
    field = related_inputs(op)[name]
    assert isinstance(field, RestrictedRelatedField), f"{op} input {name} is not a RestrictedRelatedField"
    obj = _object(entry, user) if op.detail else None
    if op.perm is not None:
        assign_perm(op.perm, user)
    if obj is not None:
        assign_perm(perm_name(op.model, "view"), user, obj)
    related = sample(field.queryset.model)
    if field.action != "view" and perm_name(related._meta.model, field.action) != op.perm:
        assign_perm(perm_name(related._meta.model, "view"), user, related)
    missing = related.pk + 10**6
    many = isinstance(op.input_class().fields[name], relations.ManyRelatedField)
    with stubbed(op) as calls:
        answers = [_refusal(_call(client, entry, obj, {**valid_input(op, obj), name: [pk] if many else pk}), name, pk)
                   for pk in (related.pk, missing)]
    assert answers[0] == answers[1], f"{op}: an object the user may not use answers {answers[0]!r}, a missing " \
                                     f"one {answers[1]!r}"
    assert calls == [], f"{op} ran with an object the user may not use"


def _admin_url(model_admin, page: str = "", obj=None) -> str:
    meta = model_admin.opts
    return f"/admin/{meta.app_label}/{meta.model_name}/" + (f"{obj.pk}/change/" if obj is not None else page)


def check_admin_pages_render(model_admin, browser) -> None:
    """The changelist, a change page and every operation page render for an administrator (a host
    without tools: pages that read it show its refusal)."""
    obj = sample(model_admin.model)
    with runner_override(FailingRunner()):
        for url in (_admin_url(model_admin), _admin_url(model_admin, obj=obj),
                    *(url for _op, url in admin_operation_urls(model_admin, obj))):
            status = browser.get(url).status_code
            assert status == 200, f"{url} answered {status} to an administrator"


def check_admin_refuses_viewer(model_admin, browser, viewer) -> None:
    """Operation pages refuse a viewer (403; 404 for an object they may not see), both to look and to
    post, offer no link to them on the list, and nothing is recorded as done."""
    obj = sample(model_admin.model)
    sees = viewer.has_perm(perm_name(model_admin.model, "view"))
    last = _last_event()
    with runner_override(FailingRunner()):
        listing = browser.get(_admin_url(model_admin)).content.decode()
        for op, url in admin_operation_urls(model_admin, obj):
            for response in (browser.get(url), browser.post(url, valid_input(op, obj))):
                expected = 403 if sees or not op.detail else 404
                assert response.status_code == expected, f"{op} page {url}: {response.status_code} for a viewer"
            assert f'href="{url}"' not in listing, f"the list offers {url} to a viewer"
    assert all(outcome != "ok" for _a, outcome, _u in _events_since(last)), "a viewer's post was audited as done"
