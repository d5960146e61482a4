import pytest
from django.core.management import call_command
from django.test import Client

from apps.accounts.models import User
from apps.audit import services as audit
from apps.audit.models import AuditEvent, ImmutableAuditEvent
from apps.jobs.models import Job


@pytest.mark.django_db
def test_api_mutation_is_audited_with_request_details(admin_user, client_for):
    client = client_for(admin_user)
    response = client.post("/api/v1/auth/users/", {"username": "newop", "password": "a-Long-pass-phrase-9",
                                                  "roles": ["Operator"]}, format="json",
                           HTTP_USER_AGENT="pytest-agent", HTTP_X_REQUEST_ID="req-123", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 201, response.json()
    event = AuditEvent.objects.get(action="accounts.user.create")
    assert event.actor == admin_user and event.actor_name == "admin1"
    assert event.object_label == "newop" and event.object_type == "accounts.user"
    # The address is the TCP peer's; a client's own X-Request-ID is not believed (no trusted proxy).
    assert (event.source, event.address, event.user_agent) == ("api", "10.1.2.3", "pytest-agent")
    assert event.request_id != "req-123" and event.request_id == response["X-Request-ID"]
    assert event.changes["username"] == [None, "newop"]
    assert event.changes["password"] == [None, "(new value, not recorded)"]  # secrets never recorded
    assert "a-Long-pass-phrase-9" not in str(event.changes) and event.message == "password set"
    assert event.duration_ms is not None and event.outcome == "ok"


@pytest.mark.django_db
def test_api_update_and_delete_record_field_changes(admin_user, client_for, make_user):
    victim = make_user("victim", None)
    client = client_for(admin_user)
    assert client.patch(f"/api/v1/auth/users/{victim.pk}/", {"email": "v@example.com"}, format="json").status_code == 200
    change = AuditEvent.objects.get(action="accounts.user.update")
    assert change.changes == {"email": ["", "v@example.com"]}
    assert client.delete(f"/api/v1/auth/users/{victim.pk}/").status_code == 400  # typed confirmation missing
    assert client.delete(f"/api/v1/auth/users/{victim.pk}/?confirm=victim").status_code == 204
    assert AuditEvent.objects.filter(action="accounts.user.delete", object_label="victim").exists()


@pytest.mark.django_db
def test_admin_mutation_is_audited(admin_user, make_user):
    victim = make_user("victim2", None)
    client = Client()
    client.force_login(admin_user)
    response = client.post(f"/admin/accounts/user/{victim.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="accounts.user.delete")
    assert event.source == "admin" and event.actor == admin_user and event.object_label == "victim2"


@pytest.mark.django_db
def test_job_and_command_mutations_are_audited(admin_user, client_for, monkeypatch):
    job = client_for(admin_user).post("/api/v1/system/inventory/collect/").json()
    event = AuditEvent.objects.get(action="system.hostinventory.collect", job_id=job["id"], actor=admin_user)
    assert event.message == f"queued as job #{job['id']}"
    User.objects.all().delete()
    monkeypatch.setenv("CALYPSO_ADMIN_PASSWORD", "a-Long-pass-phrase-9")
    call_command("ensure_admin")
    event = AuditEvent.objects.get(action="accounts.user.create")
    assert event.source == "cli" and event.object_label == "admin"


@pytest.mark.django_db
def test_events_cannot_be_changed_or_deleted(admin_user, client_for):
    event = audit.record(admin_user, "test.thing.poke", ("test.thing", "1", "thing"))
    event.action = "tampered"
    with pytest.raises(ImmutableAuditEvent):
        event.save()
    with pytest.raises(ImmutableAuditEvent):
        event.delete()
    with pytest.raises(ImmutableAuditEvent):
        AuditEvent.objects.all().delete()
    with pytest.raises(ImmutableAuditEvent):
        AuditEvent.objects.update(action="x")
    client = client_for(admin_user)
    assert client.delete(f"/api/v1/audit/events/{event.pk}/").status_code == 405
    assert client.patch(f"/api/v1/audit/events/{event.pk}/", {"action": "x"}).status_code == 405
    web = Client()
    web.force_login(admin_user)
    assert web.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == "test.thing.poke"


@pytest.mark.django_db
def test_auditor_lists_and_filters_events(auditor_user, client_for, admin_user):
    audit.record(admin_user, "storage.pool.scrub", ("storage.pool", "1", "tank"))
    audit.record(admin_user, "jobs.job.cancel", ("jobs.job", "2", "#2"), outcome="failed")
    client = client_for(auditor_user)
    rows = client.get("/api/v1/audit/events/", {"outcome": "failed"}).json()["results"]
    assert [r["action"] for r in rows] == ["jobs.job.cancel"]
    rows = client.get("/api/v1/audit/events/", {"action__startswith": "storage."}).json()["results"]
    assert [r["object_label"] for r in rows] == ["tank"]
    before = AuditEvent.objects.count()
    assert client.post("/api/v1/audit/events/", {}).status_code in (403, 405)
    # Nothing is written but the record of the denied request itself.
    assert AuditEvent.objects.exclude(action="http.request.denied").count() == before


@pytest.mark.django_db
def test_job_cancel_through_api_is_audited(operator_user, client_for):
    job = Job.objects.create(kind="system.inventory")
    response = client_for(operator_user).post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    assert AuditEvent.objects.filter(action="jobs.job.cancel", actor=operator_user, job_id=job.pk).exists()


@pytest.mark.django_db
def test_admin_sign_ins_are_audited_like_the_apis_and_api_ones_once(admin_user):
    from rest_framework.test import APIClient

    browser = Client()
    refused = browser.post("/admin/login/", {"username": "admin1", "password": "wrong"}, REMOTE_ADDR="10.9.8.7")
    assert refused.status_code == 200  # the form again
    response = browser.post("/admin/login/", {"username": "admin1", "password": "correct horse battery",
                                              "next": "/admin/"})
    assert response.status_code == 302
    events = list(AuditEvent.objects.filter(action="accounts.user.login").order_by("id"))
    assert [(e.outcome, e.source, e.actor) for e in events] == [("denied", "admin", None),
                                                                ("ok", "admin", admin_user)]
    assert events[0].object_label == "admin1" and events[0].address == "10.9.8.7"
    assert events[1].object_id == str(admin_user.pk)
    api = APIClient()
    api.post("/api/v1/auth/login/", {"username": "admin1", "password": "wrong"}, format="json")
    api.post("/api/v1/auth/login/", {"username": "admin1", "password": "correct horse battery"}, format="json")
    api_events = AuditEvent.objects.filter(action="accounts.user.login", source="api")
    assert sorted(api_events.values_list("outcome", flat=True)) == ["denied", "ok"]  # once each


@pytest.mark.django_db
def test_a_queued_job_and_its_end_are_two_events_shown_together(admin_user, client_for, browser_for):
    from apps.jobs.runtime import run_job

    job = client_for(admin_user).post("/api/v1/system/inventory/collect/").json()
    queued = AuditEvent.objects.get(job_id=job["id"])
    assert (queued.outcome, queued.get_outcome_display()) == ("queued", "Queued")  # not "Succeeded"
    run_job(job["id"], runner=_failing_runner())
    ended = AuditEvent.objects.filter(job_id=job["id"]).exclude(pk=queued.pk).get()
    assert ended.outcome == "failed" and ended.source == "job"
    rows = client_for(admin_user).get("/api/v1/audit/events/", {"job_id": job["id"]}).json()["results"]
    assert sorted(r["outcome"] for r in rows) == ["failed", "queued"]
    page = browser_for(admin_user).get("/admin/audit/auditevent/", {"job_id": job["id"]}).content.decode()
    assert page.count(f'href="?job_id={job["id"]}">#{job["id"]}</a>') == 2 and f"queued as job #{job['id']}" in page


def _failing_runner():
    from apps.core.runner import ReplayRunner

    class Failing(ReplayRunner):
        def run(self, argv, **kwargs):
            raise OSError("the host cannot be read")

    return Failing()
