"""The storage panel of the dashboard."""

import pytest
from django.test import Client

from apps.storage.models import Pool, StorageEvent


@pytest.mark.django_db
def test_dashboard_shows_pools_and_health_events(admin_user, viewer_user):
    pool = Pool.objects.create(name="tank", health="DEGRADED", size_bytes=100, allocated_bytes=85,
                               capacity_percent=85)
    StorageEvent.objects.create(pool=pool, kind="health_changed", severity="critical",
                                message="tank went from ONLINE to DEGRADED")
    Pool.objects.create(name="oldpool", gone=True)
    for user in (admin_user, viewer_user):
        client = Client()
        client.force_login(user)
        page = client.get("/admin/").content.decode()
        assert "tank" in page and "Degraded" in page and "85%" in page and 'class="bar high"' in page
        assert "tank went from ONLINE to DEGRADED" in page
        assert "oldpool" not in page


@pytest.mark.django_db
def test_a_running_scrub_shows_as_a_live_bar_on_its_pools_row(admin_user):
    from apps.jobs.models import Job

    tank = Pool.objects.create(name="tank", health="ONLINE", scan_state="finished")
    other = Pool.objects.create(name="other", health="ONLINE")
    scrub = Job.objects.create(kind="storage.pool.scrub", target=tank, target_label="tank", state="running",
                               progress=37)
    Job.objects.create(kind="storage.pool.scrub", target=other, target_label="other", state="succeeded",
                       progress=100)
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/").content.decode()
    tank_cell = page.split(f'data-pool-scan="{tank.pk}"', 1)[1].split("</td>", 1)[0]
    assert f'data-job-id="{scrub.pk}"' in tank_cell and "37%" in tank_cell
    other_cell = page.split(f'data-pool-scan="{other.pk}"', 1)[1].split("</td>", 1)[0]
    assert "data-job-id" not in other_cell  # a finished scrub is no bar
