"""Storage admin: pages render (vdev tree, capacity bar), actions call services, restriction applies."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.core.runner import ReplayRunner
from apps.jobs.models import Job
from apps.storage import services, sync
from apps.storage.models import Pool, Snapshot

from .test_models_sync import fuse_sync_runner


@pytest.fixture
def tank(db):
    sync.sync_zfs(fuse_sync_runner())
    pool = Pool.objects.get(name="zrectank")
    Pool.objects.filter(pk=pool.pk).update(capacity_percent=85)
    return pool


@pytest.fixture
def admin_client_(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.mark.django_db
def test_pool_pages_render_tree_and_capacity(tank, admin_client_):
    assert admin_client_.get("/admin/storage/pool/").status_code == 200
    page = admin_client_.get(f"/admin/storage/pool/{tank.pk}/change/").content.decode()
    assert 'class="calypso-vdev-tree"' in page and "/tmp/zrec/a.img" in page and "mirror-0" in page
    assert "calypso-capacity" in page and "85 %" in page
    for url in ("/admin/storage/dataset/", "/admin/storage/snapshot/", "/admin/storage/snapshot/?age=7d",
                "/admin/storage/snapshot/?q=c2", "/admin/storage/storageevent/"):
        assert admin_client_.get(url).status_code == 200, url


@pytest.mark.django_db
def test_scrub_action_enqueues_job(tank, admin_client_):
    admin_client_.post("/admin/storage/pool/", {"action": "scrub_selected", "_selected_action": [tank.pk]})
    assert Job.objects.filter(kind="storage.scrub", lock_key="pool:zrectank").exists()


@pytest.mark.django_db
def test_bulk_destroy_asks_then_destroys(tank, admin_client_, monkeypatch, settings):
    settings.CALYPSO_ZFS_FLAVOUR = "zfs-fuse"
    snaps = list(Snapshot.objects.filter(dataset__name="zrectank/data"))
    runner = ReplayRunner()
    for s in snaps:
        runner.add(["zfs", "destroy", s.name])
    monkeypatch.setattr(services, "_runner", lambda r: runner)
    data = {"action": "destroy_selected", "_selected_action": [s.pk for s in snaps]}
    page = admin_client_.post("/admin/storage/snapshot/", data)
    assert page.status_code == 200 and b"Yes, destroy" in page.content and runner.calls == []
    admin_client_.post("/admin/storage/snapshot/", {**data, "confirmed": "yes"})
    assert len(runner.calls) == 3 and not Snapshot.objects.filter(pk__in=[s.pk for s in snaps]).exists()


@pytest.mark.django_db
def test_viewer_sees_no_actions_and_restricted_rows(tank, viewer_user, plain_user):
    client = Client()
    client.force_login(viewer_user)
    page = client.get("/admin/storage/pool/").content.decode()
    assert "zrectank" in page and "scrub_selected" not in page
