"""The subsystem kit on a resource declared here, with no test of its own: the contract checks find it and
pass; broken variants (open to anonymous clients, leaking hidden objects, unaudited, a destructive operation
without its confirmation) make them fail. This module is also the URL conf of that
resource (``ROOT_URLCONF`` is pointed at it), so the checks walk exactly what is declared here."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import override_settings
from django.urls import include, path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from apps.audit.services import record_operation
from apps.core.admin import CalypsoModelAdmin
from apps.core.api import CalypsoViewSet
from apps.core.operations import Operation, Operations, operation_performed
from apps.core.testing import contracts
from apps.system.api.serializers import HostInventorySerializer
from apps.system.models import HostInventory


class RenameInput(serializers.Serializer):
    hostname = serializers.CharField(max_length=40)


def rename(inventory: HostInventory, *, actor, hostname: str) -> HostInventory:
    HostInventory.objects.filter(pk=inventory.pk).update(hostname=hostname)
    inventory.hostname = hostname
    return inventory


def forget(inventory: HostInventory, *, actor) -> None:
    inventory.delete()


GOOD = Operations(
    HostInventory,
    Operation("rename", rename, input=RenameInput, permission="change", example={"hostname": "nas2"}),
    Operation("delete", forget, destructive=True, confirm=lambda inv: inv.hostname),
)
CARELESS = Operations(HostInventory, Operation("delete", forget, destructive=False))


class LinkInput(serializers.Serializer):
    other = serializers.PrimaryKeyRelatedField(queryset=HostInventory.objects.all())  # any, seen or not


def link(inventory: HostInventory, *, actor, other: HostInventory) -> HostInventory:
    return inventory


LOOSE = Operations(HostInventory, Operation("link", link, input=LinkInput, permission="change"))


class GadgetViewSet(CalypsoViewSet):
    queryset = HostInventory.objects.all()
    serializer_class = HostInventorySerializer
    operations = GOOD


class LeakyViewSet(GadgetViewSet):
    permission_classes = (AllowAny,)  # forgets authentication


class UnrestrictedViewSet(GadgetViewSet):
    def get_queryset(self):  # forgets restrict(): every object visible to every user
        return HostInventory.objects.all()


class CarelessViewSet(CalypsoViewSet):
    queryset = HostInventory.objects.all()
    serializer_class = HostInventorySerializer
    operations = CARELESS


def _urls(viewset: type, namespace: str):
    router = SimpleRouter()
    router.register("items", viewset, basename="item")
    return path(f"api/v1/{namespace}/", include((router.urls, namespace)))


class LooseViewSet(CalypsoViewSet):
    queryset = HostInventory.objects.all()
    serializer_class = HostInventorySerializer
    operations = LOOSE


class GadgetAdmin(CalypsoModelAdmin):
    operations = GOOD


site = admin.AdminSite(name="kit")
site.register(HostInventory, GadgetAdmin)
urlpatterns = [_urls(GadgetViewSet, "good"), _urls(LeakyViewSet, "leaky"), _urls(UnrestrictedViewSet, "open"),
               _urls(CarelessViewSet, "careless"), _urls(LooseViewSet, "loose"), path("admin/", site.urls)]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_own_urls")]


@pytest.fixture
def _own_urls():
    with override_settings(ROOT_URLCONF=__name__):
        yield


def _entries(namespace: str) -> list[contracts.OperationRoute]:
    return [e for e in contracts.operation_routes() if e.route.name.startswith(f"{namespace}:")]


def test_a_new_resource_keeps_every_contract_without_tests_of_its_own(admin_user, make_user, viewer_user,
                                                                      client_for, browser_for):
    entries = _entries("good")
    assert {str(e) for e in entries} == {"system.hostinventory.rename POST", "system.hostinventory.delete DELETE"}
    for route in {e.route for e in entries}:
        contracts.check_anonymous_refused(route, client_for(None))
    for entry in entries:
        contracts.check_hidden(entry, client_for(make_user(f"outsider-{entry.operation.name}", None)))
        user = make_user(f"looker-{entry.operation.name}", None)
        contracts.check_forbidden(entry, client_for(user), user)
        contracts.check_succeeds_with_one_audit_event(entry, client_for(admin_user), admin_user)
    contracts.check_confirmation_required(next(e for e in entries if e.operation.destructive),
                                          client_for(admin_user), admin_user)
    [gadget_admin] = contracts.admin_pages(site)
    contracts.check_admin_pages_render(gadget_admin, browser_for(admin_user))
    contracts.check_admin_refuses_viewer(gadget_admin, browser_for(viewer_user), viewer_user)


def test_a_route_open_to_anonymous_clients_fails_its_check(client_for):
    route = next(e.route for e in _entries("leaky") if e.operation.name == "rename")
    assert route.anonymous
    with pytest.raises(AssertionError, match="anonymous client"):
        contracts.check_anonymous_refused(route, client_for(None))


def test_a_viewset_that_shows_hidden_objects_fails_its_check(make_user, client_for):
    entry = next(e for e in _entries("open") if e.operation.name == "rename")
    with pytest.raises(AssertionError, match="hidden object"):
        contracts.check_hidden(entry, client_for(make_user("outsider", None)))


def test_an_operation_that_goes_unaudited_fails_its_check(admin_user, client_for):
    entry = next(e for e in _entries("good") if e.operation.name == "rename")
    operation_performed.disconnect(dispatch_uid="calypso_audit_operations")
    try:
        with pytest.raises(AssertionError, match="audit events: \\[\\]"):
            contracts.check_succeeds_with_one_audit_event(entry, client_for(admin_user), admin_user)
    finally:
        operation_performed.connect(record_operation, dispatch_uid="calypso_audit_operations")


def test_a_destructive_operation_without_confirmation_fails_its_check(admin_user, client_for):
    [entry] = _entries("careless")
    with pytest.raises(AssertionError, match="took it"):
        contracts.check_confirmation_required(entry, client_for(admin_user), admin_user)


def test_an_input_naming_any_object_by_id_fails_its_check(make_user, client_for):
    [entry] = _entries("loose")
    assert list(contracts.related_inputs(entry.operation)) == ["other"]
    user = make_user("borrower", None)
    with pytest.raises(AssertionError, match="not a RestrictedRelatedField"):
        contracts.check_related_input_refused_like_a_missing_one(entry, client_for(user), user, "other")
