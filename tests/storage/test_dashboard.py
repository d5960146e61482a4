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
