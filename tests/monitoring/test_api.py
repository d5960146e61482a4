"""The disks API with a real token, the admin pages and the dashboard panel."""

from __future__ import annotations

import pytest

from apps.jobs.models import Job
from apps.monitoring.models import Disk

pytestmark = pytest.mark.django_db
BASE = "/api/v1/monitoring/disks"


@pytest.fixture
def api(token_client_for, operator_user):
    return token_client_for(operator_user)


def _names(answer) -> list[str]:
    assert answer.status_code == 200, answer.json()
    return [d["name"] for d in answer.json()["results"]]


def test_list_and_filters(api, checked):
    assert _names(api.get(f"{BASE}/")) == ["nvme0n1", "sda", "sdb", "sdc", "vda"]
    assert _names(api.get(f"{BASE}/", {"health": "failed"})) == ["sdc"]
    assert _names(api.get(f"{BASE}/", {"pool": "tank"})) == ["sda"]
    assert _names(api.get(f"{BASE}/", {"smart_supported": "false"})) == ["vda"]
    assert _names(api.get(f"{BASE}/", {"protocol": "nvme"})) == ["nvme0n1"]
    assert api.get(f"{BASE}/", {"health": "bogus"}).status_code == 400
    row = api.get(f"{BASE}/", {"health": "failed"}).json()["results"][0]
    assert (row["reallocated_sectors"], row["pending_sectors"], row["temperature_c"]) == (1975, 8, 25)
    assert "attributes" not in row


def test_detail_has_attributes_samples_and_self_tests(api, checked):
    sda = Disk.objects.get(name="sda")
    body = api.get(f"{BASE}/{sda.pk}/").json()
    assert body["health"] == "passed" and body["pool"] == "tank"
    assert body["attributes"][0]["name"] == "Reallocated_Sector_Ct"
    assert [(s["temperature_c"], s["reallocated_sectors"]) for s in body["samples"]] == [(36, 0)]
    assert len(body["self_tests"]) == 19
    assert body["self_tests"][0] == {"kind": "Short offline", "status": "Completed without error", "passed": True,
                                     "lifetime_hours": 14417, "remaining_percent": None}


def test_self_test_on_a_disk_without_smart_is_a_409_and_runs_nothing(api, checked, replay):
    vda = Disk.objects.get(name="vda")
    calls = len(replay.calls)
    answer = api.post(f"{BASE}/{vda.pk}/self-test/", {"kind": "short"}, format="json")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "smart_unsupported"
    assert len(replay.calls) == calls and not Job.objects.exists()


def test_self_test_and_check_queue_jobs(api, checked):
    sda = Disk.objects.get(name="sda")
    answer = api.post(f"{BASE}/{sda.pk}/self-test/", {"kind": "long"}, format="json")
    assert answer.status_code == 202, answer.json()
    assert Job.objects.get(kind="monitoring.disk.self_test").params == {"kind": "long"}
    assert api.post(f"{BASE}/{sda.pk}/self-test/", {"kind": "forever"}, format="json").status_code == 400
    assert api.post(f"{BASE}/check/", {}, format="json").status_code == 202
    assert Job.objects.filter(kind="monitoring.disk.check").exists()


def test_a_viewer_sees_disks_but_cannot_test_them(token_client_for, viewer_user, checked):
    client = token_client_for(viewer_user)
    sda = Disk.objects.get(name="sda")
    assert client.get(f"{BASE}/{sda.pk}/").status_code == 200
    assert client.post(f"{BASE}/{sda.pk}/self-test/", {"kind": "short"}, format="json").status_code == 403


def test_admin_pages_and_panel(client, admin_user, checked):
    client.force_login(admin_user)
    page = client.get("/admin/monitoring/disk/").content.decode()
    assert "sdc" in page and "Failed" in page and "36 °C" in page
    sda = Disk.objects.get(name="sda")
    page = client.get(f"/admin/monitoring/disk/{sda.pk}/change/").content.decode()
    assert "Reallocated_Sector_Ct" in page and "Run long self-test" in page and "14417" in page
    assert 'href="/admin/monitoring/metricseries/forecast/?disk=sda#disks"' in page
    vda = Disk.objects.get(name="vda")
    page = client.get(f"/admin/monitoring/disk/{vda.pk}/change/").content.decode()
    assert "SMART unsupported" in page and "Run short self-test" not in page
    form = client.get(f"/admin/monitoring/disk/{sda.pk}/self-test/?kind=long")
    assert form.status_code == 200
    dashboard = client.get("/admin/").content.decode()
    assert 'id="calypso-disks-panel"' in dashboard and 'data-disk-count="5"' in dashboard
    assert "sdc</a>" in dashboard and "36 °C" in dashboard


def test_the_self_test_page_is_prefilled_from_the_link(client, admin_user, checked):
    client.force_login(admin_user)
    sda = Disk.objects.get(name="sda")
    page = client.get(f"/admin/monitoring/disk/{sda.pk}/self-test/?kind=long").content.decode()
    assert '<option value="long" selected>' in page


def test_the_beat_task_queues_one_check_at_a_time(db, settings):
    from apps.monitoring.tasks import check_disks_task

    assert settings.CELERY_BEAT_SCHEDULE["monitoring.disks"]["task"] == "monitoring.check_disks"
    first = check_disks_task()
    assert Job.objects.get(pk=first["job"]).kind == "monitoring.disk.check"
    assert check_disks_task() is None  # the first still holds the lock


def test_the_panel_is_left_out_for_a_user_who_may_not_see_disks(client, make_user, checked):
    client.force_login(make_user("staffonly", None, is_staff=True))
    page = client.get("/admin/")
    assert page.status_code == 200 and b"calypso-disks-panel" not in page.content
