"""Storage API: permissions (403 for actions, 404 for hidden objects), validation naming fields, jobs."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from apps.jobs.models import Job
from apps.storage import sync
from apps.storage.models import Dataset, Pool, Snapshot

from .test_models_sync import fuse_sync_runner

BASE = "/api/v1/storage"


@pytest.fixture
def tank(db):
    sync.sync_zfs(fuse_sync_runner())
    return Pool.objects.get(name="zrectank")


@pytest.mark.django_db
def test_viewer_reads_but_cannot_scrub(tank, viewer_user, client_for):
    client = client_for(viewer_user)
    listing = client.get(f"{BASE}/pools/")
    assert listing.status_code == 200 and {p["name"] for p in listing.json()["results"]} == {"zrecbig", "zrectank"}
    detail = client.get(f"{BASE}/pools/{tank.pk}/").json()
    assert detail["health"] == "ONLINE" and detail["vdevs"][0]["kind"] == "mirror"
    assert client.post(f"{BASE}/pools/{tank.pk}/scrub/").status_code == 403
    assert client.post(f"{BASE}/pools/{tank.pk}/export/").status_code == 403
    assert client.post(f"{BASE}/pools/", {"name": "x", "layout": "mirror", "disks": ["/a", "/b"]}).status_code == 403
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_operator_scrub_returns_202_job(tank, operator_user, client_for):
    response = client_for(operator_user).post(f"{BASE}/pools/{tank.pk}/scrub/")
    assert response.status_code == 202, response.json()
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == "storage.scrub" and job.lock_key == "pool:zrectank"
    assert response["Location"] == f"/api/v1/jobs/{job.pk}/"
    again = client_for(operator_user).post(f"{BASE}/pools/{tank.pk}/scrub/")
    assert again.status_code == 409 and again.json()["error"]["job_id"] == job.pk


@pytest.mark.django_db
def test_object_permissions_hide_other_pools(tank, plain_user, client_for):
    big = Pool.objects.get(name="zrecbig")
    assign_perm("storage.view_pool", plain_user, tank)
    client = client_for(plain_user)
    assert [p["name"] for p in client.get(f"{BASE}/pools/").json()["results"]] == ["zrectank"]
    assert client.get(f"{BASE}/pools/{big.pk}/").status_code == 404
    assert client.post(f"{BASE}/pools/{big.pk}/scrub/").status_code == 404
    assert client.post(f"{BASE}/pools/{tank.pk}/scrub/").status_code == 403
    assign_perm("storage.scrub_pool", plain_user, tank)
    assert client.post(f"{BASE}/pools/{tank.pk}/scrub/").status_code == 202


@pytest.mark.parametrize("name", ["bad;name", "two words"])
@pytest.mark.django_db
def test_bad_pool_name_is_400_naming_the_field(name, operator_user, client_for):
    response = client_for(operator_user).post(f"{BASE}/pools/", {"name": name, "layout": "mirror",
                                                                 "disks": ["/srv/a.img", "/srv/b.img"]})
    assert response.status_code == 400
    assert "name" in response.json()["error"]["fields"]
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_destroy_pool_needs_confirm(tank, operator_user, client_for):
    client = client_for(operator_user)
    response = client.delete(f"{BASE}/pools/{tank.pk}/", {"confirm": "nope"})
    assert response.status_code == 400 and "confirm" in response.json()["error"]["fields"]
    assert client.delete(f"{BASE}/pools/{tank.pk}/", {"confirm": "zrectank"}).status_code == 202


@pytest.mark.django_db
def test_dataset_create_validates_before_running(tank, operator_user, client_for):
    client = client_for(operator_user)
    response = client.post(f"{BASE}/datasets/", {"pool": tank.pk, "name": "zrectank/x", "quota": "many"})
    assert response.status_code == 400 and "quota" in response.json()["error"]["fields"]
    listed = client.get(f"{BASE}/datasets/", {"pool": tank.pk}).json()["results"]
    assert {d["name"] for d in listed} == set(Dataset.objects.filter(pool=tank).values_list("name", flat=True))


@pytest.mark.django_db
def test_snapshot_list_filters_and_constant_queries(tank, viewer_user, client_for, django_assert_num_queries,
                                                   django_assert_max_num_queries):
    client = client_for(viewer_user)
    data = Dataset.objects.get(name="zrectank/data")
    names = {s["name"] for s in client.get(f"{BASE}/snapshots/", {"dataset": data.pk}).json()["results"]}
    assert names == {"zrectank/data@c2", "zrectank/data@c3", "zrectank/data@s1"}
    assert [s["name"] for s in client.get(f"{BASE}/snapshots/", {"name": "a@c"}).json()["results"]] != []
    assert client.get(f"{BASE}/snapshots/", {"name": ".*(["}).status_code == 200  # plain text, never a regex
    with django_assert_max_num_queries(6) as small:
        client.get(f"{BASE}/snapshots/")
    Snapshot.objects.bulk_create([Snapshot(dataset=data, name=f"zrectank/data@x{i}", short_name=f"x{i}")
                                  for i in range(40)])
    with django_assert_num_queries(len(small.captured_queries)):
        page = client.get(f"{BASE}/snapshots/").json()
    assert len(page["results"]) == 44 and "next" in page


@pytest.mark.django_db
def test_rollback_permission_and_refusal(tank, viewer_user, operator_user, client_for):
    snap = Snapshot.objects.filter(dataset__name="zrectank/data").order_by("created_at").first()
    assert client_for(viewer_user).post(f"{BASE}/snapshots/{snap.pk}/rollback/",
                                        {"confirm": snap.name}).status_code == 403
    response = client_for(operator_user).post(f"{BASE}/snapshots/{snap.pk}/rollback/", {"confirm": snap.name})
    assert response.status_code == 409 and response.json()["error"]["code"] == "newer_snapshots"
