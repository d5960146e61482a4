"""``GET /metrics``: the Prometheus exposition of the inventory, behind the portal's API tokens."""

from __future__ import annotations

import platform
from datetime import timedelta

import django
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken
from apps.jobs.choices import JobState
from apps.jobs.models import Job
from apps.storage import sync
from apps.storage.choices import EventKind, PoolHealth
from apps.storage.models import Dataset, Pool, StorageEvent
from tests.storage.recordings import fuse_sync_runner

URL = "/metrics"


def _scrape(client: APIClient, **headers):
    return client.get(URL, **headers)


def _bearer(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user, 'prometheus')[1]}"}


def _samples(response) -> dict[tuple[str, frozenset], float]:
    """{(sample name, labels): value} of an exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.content.decode()) for s in family.samples}


def _value(samples, name: str, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]


def _names(samples) -> set[str]:
    return {name for name, _ in samples}


@pytest.fixture
def seeded(db):
    sync.sync_zfs(fuse_sync_runner())
    tank = Pool.objects.get(name="zrectank")
    StorageEvent.objects.create(pool=tank, kind=EventKind.CAPACITY_80, message="Capacity above 80 %")
    StorageEvent.objects.create(pool=tank, kind=EventKind.CAPACITY_80, message="Capacity above 80 % again")
    StorageEvent.objects.create(pool=tank, kind=EventKind.SCRUB_ERRORS, message="Scrub found errors",
                                acknowledged=True)
    now = timezone.now()
    for state, seconds in ((JobState.SUCCEEDED, 30), (JobState.SUCCEEDED, 90), (JobState.FAILED, 5)):
        Job.objects.create(kind="storage.pool.scrub", state=state, started=now - timedelta(seconds=seconds),
                           finished=now)
    Job.objects.create(kind="storage.dataset.create", state=JobState.RUNNING, started=now)
    Job.objects.create(kind="storage.dataset.create", state=JobState.QUEUED)
    return tank


def test_the_exposition_reports_pools_datasets_jobs_and_events_exactly(seeded, viewer_user):
    response = _scrape(APIClient(), **_bearer(viewer_user))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = _samples(response)
    assert _value(samples, "calypso_up") == 1
    assert _value(samples, "calypso_build_info", version=settings.VERSION, django=django.get_version(),
                  python=platform.python_version()) == 1

    for pool in Pool.objects.all():
        labels = {"pool": pool.name, "backend": "zfs"}
        assert _value(samples, "calypso_pool_size_bytes", **labels) == pool.size_bytes
        assert _value(samples, "calypso_pool_allocated_bytes", **labels) == pool.allocated_bytes
        assert _value(samples, "calypso_pool_free_bytes", **labels) == pool.free_bytes
        assert _value(samples, "calypso_pool_capacity_ratio", **labels) == pytest.approx(
            pool.allocated_bytes / pool.size_bytes)
        assert _value(samples, "calypso_pool_imported", **labels) == 1
        assert _value(samples, "calypso_pool_checksum_errors", **labels) == 0
        health = {state: _value(samples, "calypso_pool_health", **labels, state=state) for state in PoolHealth.values}
        assert health == {state: 1.0 if state == "ONLINE" else 0.0 for state in PoolHealth.values}
    # zpool list: zrecbig 492M, zrectank 123M (zfs-fuse prints rounded binary units)
    assert _value(samples, "calypso_pool_size_bytes", pool="zrecbig", backend="zfs") == 492 << 20
    assert _value(samples, "calypso_pool_size_bytes", pool="zrectank", backend="zfs") == 123 << 20

    # zfs get all: used / available / referenced of each filesystem, exactly
    recorded = {"zrectank": (65462272, 29958144, 63119360), "zrectank/data": (237568, 29958144, 122880),
                "zrectank/data/sub": (114688, 29958144, 114688), "zrectank/home": (114688, 29958144, 114688)}
    for name, (used, available, referenced) in recorded.items():
        labels = {"pool": "zrectank", "dataset": name, "kind": "filesystem"}
        assert _value(samples, "calypso_dataset_used_bytes", **labels) == used
        assert _value(samples, "calypso_dataset_available_bytes", **labels) == available
        assert _value(samples, "calypso_dataset_referenced_bytes", **labels) == referenced
    datasets = {dict(labels)["dataset"] for name, labels in samples if name == "calypso_dataset_used_bytes"}
    assert datasets == set(Dataset.objects.values_list("name", flat=True))

    assert _value(samples, "calypso_jobs", kind="storage.pool.scrub", state="succeeded") == 2
    assert _value(samples, "calypso_jobs", kind="storage.pool.scrub", state="failed") == 1
    assert _value(samples, "calypso_jobs", kind="storage.dataset.create", state="running") == 1
    assert _value(samples, "calypso_jobs", kind="storage.dataset.create", state="queued") == 1
    assert _value(samples, "calypso_jobs_running") == 1
    assert _value(samples, "calypso_job_duration_seconds_count", kind="storage.pool.scrub") == 3
    assert _value(samples, "calypso_job_duration_seconds_sum", kind="storage.pool.scrub") == pytest.approx(125)
    assert ("calypso_job_duration_seconds_count", frozenset({("kind", "storage.dataset.create")})) not in samples

    events = {dict(labels)["kind"]: value for name, labels in samples
              if name == "calypso_storage_events_unacknowledged" for value in [samples[(name, labels)]]}
    assert events == {kind: (2.0 if kind == EventKind.CAPACITY_80 else 0.0) for kind in EventKind.values}


def test_metric_names_follow_the_conventions(seeded, viewer_user):
    families = list(text_string_to_metric_families(_scrape(APIClient(), **_bearer(viewer_user)).content.decode()))

    for family in families:
        assert family.name.startswith("calypso_"), family.name
        if family.type == "gauge":
            assert not family.name.endswith("_total"), f"{family.name}: _total is for counters"
        if "bytes" in family.name:
            assert family.name.endswith("_bytes")
    assert {f.name: f.type for f in families}.items() >= {
        "calypso_up": "gauge", "calypso_build_info": "gauge", "calypso_pool_size_bytes": "gauge",
        "calypso_pool_capacity_ratio": "gauge", "calypso_job_duration_seconds": "summary"}.items()


def test_a_gone_pool_is_reported_not_imported_without_sizes_or_datasets(seeded, viewer_user):
    Pool.objects.filter(name="zrectank").update(gone=True, health=PoolHealth.UNKNOWN)

    samples = _samples(_scrape(APIClient(), **_bearer(viewer_user)))

    labels = {"pool": "zrectank", "backend": "zfs"}
    assert _value(samples, "calypso_pool_imported", **labels) == 0
    assert _value(samples, "calypso_pool_health", **labels, state=PoolHealth.UNKNOWN) == 1
    assert _value(samples, "calypso_pool_health", **labels, state="ONLINE") == 0
    assert ("calypso_pool_size_bytes", frozenset(labels.items())) not in samples
    assert not any(name.startswith("calypso_dataset_") for name, _ in samples)
    assert _value(samples, "calypso_pool_imported", pool="zrecbig", backend="zfs") == 1


@pytest.mark.django_db
@pytest.mark.parametrize("header", [None, "Bearer cal_0123456789abcdef.wrong", "Bearer not-a-token", "Bearer",
                                    "Basic dXNlcjpwYXNz"], ids=["none", "wrong", "malformed", "empty", "basic"])
def test_without_a_valid_token_the_answer_is_401_asking_for_a_bearer_token(header, viewer_user):
    ApiToken.issue(viewer_user, "prometheus")  # a real token exists; the request does not carry it
    headers = {"HTTP_AUTHORIZATION": header} if header else {}

    response = _scrape(APIClient(), **headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="calypso"'
    assert b"calypso_" not in response.content


@pytest.mark.django_db
def test_a_revoked_or_expired_token_is_401(viewer_user):
    revoked, revoked_key = ApiToken.issue(viewer_user, "revoked")
    ApiToken.objects.filter(pk=revoked.pk).update(revoked=True)
    _, expired_key = ApiToken.issue(viewer_user, "expired", expires=timezone.now() - timedelta(seconds=1))

    for key in (revoked_key, expired_key):
        assert _scrape(APIClient(), HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401


@pytest.mark.django_db
def test_a_signed_in_session_is_not_a_scrape_token(viewer_user):
    client = APIClient()
    client.force_login(viewer_user)

    assert _scrape(client).status_code == 401


@pytest.mark.django_db
def test_a_token_of_a_user_who_may_not_view_pools_is_403(plain_user):
    response = _scrape(APIClient(), **_bearer(plain_user))

    assert response.status_code == 403
    assert "storage.view_pool" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_the_token_keyword_works_too(viewer_user):
    _, key = ApiToken.issue(viewer_user, "prometheus")

    assert _scrape(APIClient(), HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


@pytest.mark.django_db
def test_prometheus_accept_header_gets_the_text_format(viewer_user):
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

    response = _scrape(APIClient(), HTTP_ACCEPT=accept, **_bearer(viewer_user))
    refused = _scrape(APIClient(), HTTP_ACCEPT="text/plain;version=0.0.4")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert refused.status_code == 401


def test_disks_report_their_smart_readings_in_base_units_and_their_health(db, viewer_user):
    from apps.monitoring.models import Disk

    Disk.objects.create(name="sda", path="/dev/sda", model="WDC WD40EFRX", serial="WD-1", health="passed",
                        temperature_c=34, power_on_hours=1000, reallocated_sectors=8, capacity_bytes=4 * 10**12)
    Disk.objects.create(name="nvme0n1", path="/dev/nvme0n1", model="Samsung 980", serial="S6", health="failed",
                        percentage_used=7, available_spare=100, media_errors=2)
    Disk.objects.create(name="sdz", path="/dev/sdz", serial="GONE", gone=True, temperature_c=50)

    samples = _samples(_scrape(APIClient(), **_bearer(viewer_user)))

    sda = {"disk": "sda", "model": "WDC WD40EFRX", "serial": "WD-1"}
    nvme = {"disk": "nvme0n1", "model": "Samsung 980", "serial": "S6"}
    assert _value(samples, "calypso_disks") == 2
    assert _value(samples, "calypso_disk_temperature_celsius", **sda) == 34
    assert _value(samples, "calypso_disk_power_on_seconds", **sda) == 3_600_000
    assert _value(samples, "calypso_disk_reallocated_sectors", **sda) == 8
    assert _value(samples, "calypso_disk_capacity_bytes", **sda) == 4 * 10**12
    assert _value(samples, "calypso_disk_endurance_used_ratio", **nvme) == 0.07
    assert _value(samples, "calypso_disk_available_spare_ratio", **nvme) == 1
    assert _value(samples, "calypso_disk_media_errors", **nvme) == 2
    assert ("calypso_disk_temperature_celsius", frozenset(nvme.items())) not in samples  # not reported: no sample
    assert _value(samples, "calypso_disk_health", **sda, state="passed") == 1
    assert _value(samples, "calypso_disk_health", **sda, state="failed") == 0
    assert _value(samples, "calypso_disk_health", **nvme, state="failed") == 1
    assert not any(dict(labels).get("disk") == "sdz" for _, labels in samples)


def test_open_alerts_are_counted_and_listed(db, viewer_user):
    from apps.monitoring.models import Alert, AlertRule

    rule = AlertRule.objects.get(name="Pool capacity above 80 %")
    Alert.objects.create(rule=rule, subject="tank", state="firing", severity="warning", message="85 %")
    Alert.objects.create(rule=rule, subject="old", state="resolved", severity="warning", message="81 %")
    Alert.objects.create(rule=AlertRule.objects.get(name="Job failed"), subject="x", state="pending",
                         severity="warning", message="")

    samples = _samples(_scrape(APIClient(), **_bearer(viewer_user)))

    assert _value(samples, "calypso_alerts", state="firing", severity="warning") == 1
    assert _value(samples, "calypso_alerts", state="pending", severity="warning") == 1
    assert _value(samples, "calypso_alerts", state="acknowledged", severity="critical") == 0
    assert _value(samples, "calypso_alert", rule="Pool capacity above 80 %", subject="tank", severity="warning",
                  state="firing") == 1
    assert not any(dict(labels).get("subject") in ("old", "x") for _, labels in samples)


def _grow(n: int) -> None:
    """``n`` more pools with three datasets each, jobs of ``n`` kinds and events of every kind."""
    pools = Pool.objects.bulk_create(
        Pool(name=f"scale{i}", size_bytes=1 << 30, allocated_bytes=1 << 20, free_bytes=(1 << 30) - (1 << 20),
             health=PoolHealth.DEGRADED if i % 2 else PoolHealth.ONLINE) for i in range(n))
    Dataset.objects.bulk_create(Dataset(pool=pool, name=f"{pool.name}/d{j}", used_bytes=j, available_bytes=1,
                                        referenced_bytes=j) for pool in pools for j in range(3))
    now = timezone.now()
    Job.objects.bulk_create(Job(kind=f"tests.kind{i}", state=JobState.SUCCEEDED, started=now, finished=now)
                            for i in range(n))
    StorageEvent.objects.bulk_create(StorageEvent(pool=pools[i % n], kind=kind, message="m")
                                     for i, kind in enumerate(EventKind.values))
    from apps.monitoring.models import Disk

    Disk.objects.bulk_create(Disk(name=f"sd{i}", path=f"/dev/sd{i}", serial=f"S{i}", temperature_c=30 + i % 10)
                             for i in range(n))


def test_the_number_of_queries_does_not_grow_with_the_inventory(seeded, viewer_user,
                                                                django_assert_max_num_queries):
    client = APIClient()
    headers = _bearer(viewer_user)
    _scrape(client, **headers)  # the token's first use is recorded once; later scrapes only read
    with CaptureQueriesContext(connection) as small:
        assert _scrape(client, **headers).status_code == 200

    _grow(40)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = _scrape(client, **headers)

    samples = _samples(response)
    assert _value(samples, "calypso_pool_health", pool="scale39", backend="zfs", state="DEGRADED") == 1
    assert _value(samples, "calypso_dataset_used_bytes", pool="scale39", dataset="scale39/d2", kind="filesystem") == 2
    assert sum(1 for name, _ in samples if name == "calypso_pool_imported") == 42
    assert _value(samples, "calypso_disks") == 40
