"""Every API route needs authentication; roles and object permissions decide the rest."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from apps.jobs.models import Job

# The two entry points that take credentials instead of requiring them.
CREDENTIAL_ENDPOINTS = {"/api/v1/auth/login/", "/api/v1/auth/token/"}


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def _concrete(route: str) -> str:
    route = route.replace("/?$", "").lstrip("^").rstrip("$").replace("\\.", ".")
    route = re.sub(r"\(\?P<format>[^)]*\)", "json", route)
    route = re.sub(r"\(\?P<[^>]+>[^)]*\)", "1", route)
    route = re.sub(r"<(?:\w+:)?\w+>", "1", route)
    return "/" + route.replace("^", "").replace("$", "").replace("\\", "")


def api_routes():
    return sorted({_concrete(r) for r, _ in _walk(get_resolver().url_patterns) if r.startswith("api/")})


def test_the_walk_finds_the_api():
    routes = api_routes()
    assert "/api/v1/jobs/" in routes
    assert "/api/v1/system/health" in routes
    assert len(routes) > 15


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_anonymous_gets_401_on_every_api_route(method):
    client = APIClient()
    failures = []
    for route in api_routes():
        if route in CREDENTIAL_ENDPOINTS:
            continue
        response = getattr(client, method)(route)
        if response.status_code == 405 or response.status_code == 404:
            continue  # method not offered here / no such object: nothing is disclosed either way
        if response.status_code != 401:
            failures.append((route, response.status_code))
    assert failures == []


@pytest.mark.django_db
def test_anonymous_get_on_every_route_is_401_not_404():
    client = APIClient()
    codes = {r: client.get(r).status_code for r in api_routes() if r not in CREDENTIAL_ENDPOINTS}
    assert {c for c in codes.values()} <= {401, 405}, codes
    assert sum(1 for c in codes.values() if c == 401) > 10


@pytest.mark.django_db
def test_viewer_reads_but_cannot_mutate(viewer_user, client_for, admin_user):
    job = Job.objects.create(kind="system.inventory", state="failed", user=admin_user)
    client = client_for(viewer_user)
    assert client.get("/api/v1/jobs/").status_code == 200
    assert client.get(f"/api/v1/jobs/{job.pk}/").status_code == 200
    assert client.post("/api/v1/system/inventory/collect/").status_code == 403
    assert client.post(f"/api/v1/jobs/{job.pk}/retry/").status_code == 403
    assert client.post(f"/api/v1/jobs/{job.pk}/cancel/").status_code == 403
    assert client.post("/api/v1/auth/users/", {"username": "x"}).status_code == 403
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_viewer_cannot_read_audit_or_users(viewer_user, client_for):
    client = client_for(viewer_user)
    assert client.get("/api/v1/audit/events/").json()["results"] == []
    assert client.get("/api/v1/auth/users/").json()["results"] == []


@pytest.mark.django_db
def test_object_permission_hides_other_objects(plain_user, admin_user, client_for):
    mine = Job.objects.create(kind="system.inventory", state="succeeded", user=admin_user)
    other = Job.objects.create(kind="system.inventory", state="succeeded", user=admin_user)
    assign_perm("jobs.view_job", plain_user, mine)
    client = client_for(plain_user)
    ids = [j["id"] for j in client.get("/api/v1/jobs/").json()["results"]]
    assert ids == [mine.pk]
    assert client.get(f"/api/v1/jobs/{mine.pk}/").status_code == 200
    response = client.get(f"/api/v1/jobs/{other.pk}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    # Seeing an object does not allow acting on it.
    assert client.post(f"/api/v1/jobs/{mine.pk}/retry/").status_code == 403


@pytest.mark.django_db
def test_object_permission_allows_action_on_that_object_only(plain_user, admin_user, client_for):
    mine = Job.objects.create(kind="system.inventory", state="failed", user=admin_user)
    assign_perm("jobs.view_job", plain_user, mine)
    assign_perm("jobs.cancel_job", plain_user, mine)
    response = client_for(plain_user).post(f"/api/v1/jobs/{mine.pk}/cancel/")
    assert response.status_code == 409  # allowed, but the job already ended
    assert response.json()["error"]["code"] == "job_finished"


@pytest.mark.django_db
def test_roles_have_expected_powers(operator_user, auditor_user, viewer_user):
    assert operator_user.has_perm("jobs.cancel_job")
    assert operator_user.has_perm("system.collect_hostinventory")
    assert not operator_user.has_perm("accounts.add_user")
    assert not operator_user.has_perm("audit.view_auditevent")
    assert auditor_user.has_perm("audit.view_auditevent")
    assert auditor_user.has_perm("jobs.view_job")
    assert not auditor_user.has_perm("jobs.cancel_job")
    assert viewer_user.has_perm("jobs.view_job")
    assert not viewer_user.has_perm("audit.view_auditevent")
    assert not any(p.split(".")[1].startswith(("add_", "change_", "delete_")) for p in viewer_user.get_all_permissions())
