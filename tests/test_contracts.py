"""Contracts every API route, operation and admin page keeps, found by themselves (apps.core.testing.contracts):
a new viewset, Operations set or ModelAdmin is covered here the moment it is declared."""

from __future__ import annotations

import pytest

from apps.core.admin import CalypsoModelAdmin
from apps.core.testing import contracts

# The only routes an anonymous client may call: signing in.
SIGN_IN_ROUTES = {"accounts-api:login", "accounts-api:token-issue"}
# The only page besides the API and the admin site, and open to anonymous clients: the liveness probe for
# load balancers and uptime monitors, which answers "ok" (or 503) and nothing more.
LIVENESS_ROUTE = "healthz"
ROUTES = contracts.api_routes()
OPERATIONS = contracts.operation_routes()
ADMINS = [a for a in contracts.admin_pages() if isinstance(a, CalypsoModelAdmin)]


def _guarded(entry) -> bool:
    perm = entry.operation.perm
    return perm is not None and not perm.split(".")[1].startswith("view_")


def test_the_kit_finds_routes_operations_and_admin_pages():
    assert len(ROUTES) > 40 and len(OPERATIONS) > 40 and len(ADMINS) >= 10
    assert {str(e.operation) for e in OPERATIONS} >= {"storage.pool.scrub", "jobs.job.cancel",
                                                      "accounts.user.create", "storage.snapshotpolicy.update"}


def test_sign_in_routes_are_the_only_anonymous_ones():
    assert {r.name for r in ROUTES if r.anonymous} == SIGN_IN_ROUTES


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in ROUTES if not r.anonymous], ids=str)
def test_anonymous_is_401_everywhere(route, client_for):
    contracts.check_anonymous_refused(route, client_for(None))


def _pages_besides_the_api_and_the_admin(resolver=None, prefix: str = "") -> set[str]:
    """Every URL pattern that is neither an API view nor an admin page, nor a bare redirect."""
    from django.urls import URLResolver, get_resolver
    from django.views.generic import RedirectView
    from rest_framework.views import APIView

    found = set()
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace != "admin":
                found |= _pages_besides_the_api_and_the_admin(entry, prefix + str(entry.pattern))
            continue
        view = getattr(entry.callback, "view_class", None) or getattr(entry.callback, "cls", None)
        if not (isinstance(view, type) and issubclass(view, APIView | RedirectView)):
            found.add(entry.name or prefix + str(entry.pattern))
    return found


def test_the_liveness_probe_is_the_only_page_besides_the_api_and_the_admin():
    assert _pages_besides_the_api_and_the_admin() == {LIVENESS_ROUTE}


@pytest.mark.django_db
def test_the_liveness_probe_answers_anonymous_clients_ok_and_nothing_more(client):
    from django.urls import reverse

    response = client.get(reverse(LIVENESS_ROUTE))
    assert response.status_code == 200 and response.content == b"ok\n"


@pytest.mark.django_db
@pytest.mark.parametrize("entry", [e for e in OPERATIONS if e.operation.detail], ids=str)
def test_an_object_the_user_cannot_see_is_404(entry, make_user, client_for):
    contracts.check_hidden(entry, client_for(make_user("outsider", None)))


@pytest.mark.django_db
@pytest.mark.parametrize("entry", [e for e in OPERATIONS if _guarded(e)], ids=str)
def test_an_action_the_user_may_not_do_is_403(entry, make_user, client_for):
    user = make_user("looker", None)
    contracts.check_forbidden(entry, client_for(user), user)


RELATED_INPUTS = [(e, name) for e in OPERATIONS if e.method != "get" for name in contracts.related_inputs(e.operation)]


def test_operations_name_other_objects_in_their_inputs():
    assert {(str(e.operation), name) for e, name in RELATED_INPUTS} >= {
        ("storage.dataset.create", "pool"), ("storage.snapshot.create", "dataset"),
        ("storage.snapshot.bulk_delete", "ids"), ("storage.snapshotpolicy.create", "dataset")}


@pytest.mark.django_db
@pytest.mark.parametrize(("entry", "name"), RELATED_INPUTS, ids=lambda v: v if isinstance(v, str) else str(v))
def test_an_object_the_user_may_not_use_in_an_input_is_refused_like_a_missing_one(entry, name, make_user, client_for):
    user = make_user("borrower", None)
    contracts.check_related_input_refused_like_a_missing_one(entry, client_for(user), user, name)


@pytest.mark.django_db
@pytest.mark.parametrize("entry", OPERATIONS, ids=str)
def test_an_administrator_succeeds_with_one_audit_event(entry, admin_user, client_for):
    contracts.check_succeeds_with_one_audit_event(entry, client_for(admin_user), admin_user)


@pytest.mark.django_db
@pytest.mark.parametrize("entry", [e for e in OPERATIONS if e.operation.destructive], ids=str)
def test_a_destructive_operation_needs_its_typed_confirmation(entry, admin_user, client_for):
    contracts.check_confirmation_required(entry, client_for(admin_user), admin_user)


@pytest.mark.django_db
@pytest.mark.parametrize("model_admin", ADMINS, ids=lambda a: a.opts.label)
def test_admin_pages_render_for_an_administrator(model_admin, admin_user, browser_for):
    contracts.check_admin_pages_render(model_admin, browser_for(admin_user))


@pytest.mark.django_db
@pytest.mark.parametrize("model_admin", [a for a in ADMINS if a.operation_pages()], ids=lambda a: a.opts.label)
def test_admin_operation_pages_refuse_a_viewer(model_admin, viewer_user, browser_for):
    contracts.check_admin_refuses_viewer(model_admin, browser_for(viewer_user), viewer_user)
