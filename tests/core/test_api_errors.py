"""The API answers every bad input with a 4xx in its one error format, and its own failures too: an unknown
URL, an id no database column holds, a view's unhandled exception (500, saying nothing of the exception),
an unreadable page cursor or row limit, a NUL character, a JSON value of the wrong type, a body that is
not JSON. The schema documents those answers on every operation."""

from __future__ import annotations

import base64

import pytest
from rest_framework import serializers

from apps.core.testing import contracts
from apps.jobs.api.views import JobViewSet

pytestmark = pytest.mark.django_db

JOBS = "/api/v1/jobs/"
DETAIL_ROUTES = [r for r in contracts.api_routes() if r.detail and "get" in r.methods]
# Every list or object an operation takes (the rest of its input valid), with a value of another JSON type.
SHAPED_INPUTS = [(e, name, "not a list" if isinstance(f, serializers.ListField | serializers.ManyRelatedField)
                  else ["not", "an", "object"])
                 for e in contracts.operation_routes() if e.method not in ("get", "delete")
                 for name, f in (e.operation.input_class().fields.items() if e.operation.input_class else ())
                 if not f.read_only and isinstance(f, serializers.ListField | serializers.DictField
                                                   | serializers.ManyRelatedField)]


def _error(response, status: int, *fields: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    error = response.json()["error"]
    assert error["status"] == status and error["code"] and error["message"]
    for name in fields:
        assert name in error.get("fields", {}), error
    return error


def test_an_unknown_api_url_is_a_404_in_the_error_format(admin_user, client_for):
    _error(client_for(admin_user).get("/api/v1/no-such-thing/"), 404)
    _error(client_for(None).get("/api/v2/"), 404)


def test_the_admin_keeps_djangos_own_pages(admin_user, browser_for):
    response = browser_for(admin_user).get("/admin/no-such-thing/")
    assert response.status_code == 404 and "json" not in response["Content-Type"]


def test_an_unhandled_exception_is_a_500_in_the_error_format_that_tells_nothing_of_it(admin_user, client_for,
                                                                                         monkeypatch):
    def broken(self, request, *args, **kwargs):
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr(JobViewSet, "list", broken)
    client = client_for(admin_user)
    client.raise_request_exception = False
    response = client.get(JOBS)
    error = _error(response, 500)
    assert error["code"] == "server_error"
    assert b"secret detail" not in response.content and b"Traceback" not in response.content


@pytest.mark.parametrize("route", DETAIL_ROUTES, ids=str)
def test_an_id_no_database_holds_is_a_404(route, admin_user, client_for):
    for pk in (10**20, 2**63, -1, "x"):
        _error(client_for(admin_user).get(route.url(pk)), 404)


@pytest.mark.parametrize("query", ["limit=0", "limit=-1", "limit=abc", "limit=1&limit=", "cursor=zzz",
                                   "cursor=" + base64.b64encode(b"p=not-an-id").decode(),
                                   "cursor=" + base64.b64encode(b"p=1.5e30").decode()])
def test_an_unreadable_limit_or_cursor_is_a_400_naming_it(query, admin_user, client_for):
    name = query.split("=")[0]
    _error(client_for(admin_user).get(f"{JOBS}?{query}"), 400, name)


def test_a_nul_character_in_a_query_parameter_is_a_400_naming_it(admin_user, client_for):
    client = client_for(admin_user)
    for name in ("search", "kind", "ordering", "cursor"):
        _error(client.get(JOBS, {name: "a\x00b"}), 400, name)


def test_a_filter_given_twice_or_empty_or_unreadable_is_a_400_naming_it(admin_user, client_for):
    client = client_for(admin_user)
    _error(client.get(f"{JOBS}?kind=a&kind=b"), 400, "kind")
    _error(client.get(f"{JOBS}?created_after="), 400, "created_after")
    _error(client.get("/api/v1/auth/users/?is_active=maybe"), 400, "is_active")
    assert client.get(f"{JOBS}?kind=").status_code == 200  # empty text is text
    assert client.get(f"{JOBS}?state=queued&state=running").status_code == 200  # several values, by design


@pytest.mark.parametrize(("entry", "name", "value"), SHAPED_INPUTS,
                         ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_a_list_or_object_input_refuses_another_json_type(entry, name, value, admin_user, client_for):
    obj = contracts.sample(entry.operation.model) if entry.operation.detail else None
    url = entry.route.url(obj.pk) if entry.route.detail else entry.route.url()
    body = {**contracts.valid_input(entry.operation, obj), name: value}
    with contracts.stubbed(entry.operation) as calls:
        _error(getattr(client_for(admin_user), entry.method)(url, body, format="json"), 400, name)
        _error(getattr(client_for(admin_user), entry.method)(url, {**body, name: "\x00"}, format="json"), 400, name)
    assert calls == []


def test_a_body_that_is_not_json_is_a_415(admin_user, client_for):
    response = client_for(admin_user).post("/api/v1/auth/tokens/", {"name": "form"}, format="multipart")
    _error(response, 415)


def test_the_schema_documents_the_error_answers_of_every_operation(admin_user, client_for):
    schema = client_for(admin_user).get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    error = {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            for status in ("400", "401", "403", "404"):
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == error, f"{method.upper()} {path} {status}"
    assert "429" in schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]  # the throttled sign-in


def _numbers(schema: dict, where: str):
    """(where, schema) for every number in a JSON schema, nested objects and lists included."""
    if schema.get("type") in ("integer", "number"):
        yield where, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from _numbers(sub, f"{where}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from _numbers(schema["items"], f"{where}[]")


def test_every_number_a_client_sends_is_bounded_by_the_database_range(admin_user, client_for):
    """A number the schema leaves unbounded is one a client may send at any size, up to where the database
    fails: every query parameter and body field that is a number (whole, or a float where fractions make
    sense) says its range (a path id needs none: a
    missing one is a 404 at any size; nor ``limit``, which is only capped)."""
    schema = client_for(admin_user).get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    found = [(f"{m.upper()} {p} ?{param['name']}", param["schema"]) for p, ms in schema["paths"].items()
             for m, op in ms.items() for param in op.get("parameters", ())
             if param["in"] == "query" and param["name"] != "limit"]
    found += [(where, s) for component, body in schema["components"]["schemas"].items()
              if component.endswith("Request") for where, s in _numbers(body, component)]
    numbers = [(where, s) for where, s in found if s.get("type") in ("integer", "number")]
    assert numbers, "no number found in the schema"
    for where, number in numbers:
        # A whole number fits the database's 64-bit integers; a fractional one (a threshold) states its range.
        low, high = (-(2**63), 2**63 - 1) if number["type"] == "integer" else (-1e300, 1e300)
        assert low <= number.get("minimum", -(2**64)) and number.get("maximum", 2**64) <= high, \
            f"{where} is not bounded by the database's range: {number}"


@pytest.mark.django_db
@pytest.mark.parametrize("url, name", [("/api/v1/audit/events/", "since"), ("/api/v1/jobs/", "created_after"),
                                       ("/api/v1/storage/snapshots/", "created_before")])
def test_a_time_filter_is_compared_in_utc_and_an_impossible_offset_is_a_400(url, name, admin_user, client_for):
    client = client_for(admin_user)
    # An offset beyond what the database keeps (PostgreSQL: +-15:59) is read, then compared in UTC.
    assert client.get(url, {name: "8192-08-10T01:03:33+19:03"}).status_code == 200
    assert client.get(url, {name: "2026-12-01T10:00:00+02:00"}).status_code == 200
    # A time that leaves the calendar once in UTC names the filter.
    _error(client.get(url, {name: "0001-01-01T00:30:00+01:00"}), 400, name)
