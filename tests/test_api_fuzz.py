"""The whole API against its own OpenAPI schema: schemathesis generates requests from ``/api/v1/schema/``,
valid and invalid, for every operation, sends them as an administrator with a token, and runs every
built-in check on each answer (never a 5xx; a status, content type, headers and body the schema declares;
invalid input refused with a 4xx; valid input not refused with a 400...).

Host commands go to a runner that refuses them all, so nothing touches the host; pools, datasets and
snapshots synced from recorded output, a policy and an event give the object routes something to find.
Examples are bounded and derandomized: the same requests on every run."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import override_settings
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIRequestFactory, force_authenticate
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import ignored_auth

from apps.accounts.models import ApiToken, User
from apps.backup.models import BackupTask, SentSnapshot, Target
from apps.core.runner import runner_override
from apps.core.testing.contracts import FailingRunner
from apps.iscsi.models import InitiatorGroup, Lun, Portal
from apps.iscsi.models import Target as IscsiTarget
from apps.shares.models import NfsExport, SmbShare, SmbUser
from apps.storage import sync
from apps.storage.choices import EventKind
from apps.storage.models import Dataset, Pool, SnapshotPolicy, StorageEvent
from tests.storage.recordings import fuse_sync_runner

EXAMPLES_PER_OPERATION = 6
AUTH_PROBED: set[str] = set()


class InTransactionApp:
    """Django's WSGI application on the test's database connection: as Django's test client does, the
    connection is not closed at the end of each request (it holds the test's transaction)."""

    def __init__(self) -> None:
        self.handler = WSGIHandler()

    def __call__(self, environ, start_response) -> list[bytes]:
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = self.handler(environ, start_response)
            body = b"".join(response)
            response.close()
            return [body]
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


def _seed() -> None:
    sync.sync_zfs(fuse_sync_runner())
    dataset = Dataset.objects.get(name="zrectank/data")
    SnapshotPolicy.objects.create(name="fuzz-hourly", dataset=dataset, hourly=4, daily=2)
    StorageEvent.objects.create(pool=dataset.pool, kind=EventKind.CAPACITY_80, message="Capacity above 80 %")
    target = Target.objects.create(name="fuzz-replicas", pool=Pool.objects.get(name="zrecbig"), path="replicas")
    task = BackupTask.objects.create(name="fuzz-data", source=dataset, target=target)
    SentSnapshot.objects.create(task=task, snapshot=f"{task.snapshot_prefix}20261201T000000000000Z", kind="full",
                                source_name=f"{dataset.name}@x", target_name="zrecbig/replicas/x@x", source_guid="1")
    SmbShare.objects.create(name="fuzz-share", path=dataset.mountpoint or "/zrectank/data", dataset=dataset)
    SmbUser.objects.create(user=User.objects.create_user("fuzzsmb"), username="fuzzsmb")
    NfsExport.objects.create(path=dataset.mountpoint or "/zrectank/data", dataset=dataset, clients=[
        {"host": "10.0.0.0/24", "access": "rw", "sync": True, "squash": "root_squash", "anonuid": None,
         "anongid": None, "sec": ["sys"]}])
    NfsExport.objects.create(path=f"{dataset.mountpoint or '/zrectank/data'}/fuzz", dataset=dataset, enabled=False,
                             clients=[{"host": "*.example.com", "access": "ro", "sync": False, "squash": "all_squash",
                                       "anonuid": 1000, "anongid": 1000, "sec": ["krb5p", "sys"]}])
    group = InitiatorGroup.objects.create(name="fuzz-hosts", initiators=["iqn.1993-08.org.debian:01:fuzz"])
    disk = IscsiTarget.objects.create(name="fuzz-disk", chap_user="fuzzuser", chap_secret="fuzzsecret12")
    disk.initiator_groups.add(group)
    disk.portals.add(Portal.objects.create(address="127.0.0.1", port=3260))
    Lun.objects.create(target=disk, lun=1, dataset=dataset, path=f"{dataset.mountpoint or '/zrectank/data'}/fuzz.img",
                       size_bytes=1 << 20)
    from apps.core.runner import ReplayRunner  # disks read from recorded lsblk + smartctl output
    from apps.monitoring.services import check_disks
    from tests.monitoring.recordings import host_with_five_disks
    check_disks(host_with_five_disks(ReplayRunner()))
    from apps.monitoring.models import Alert, AlertRule  # metrics, and an alert of a default rule
    from apps.monitoring.services import record
    record([("pool.capacity_pct", "zrectank", 85.0), ("host.cpu_pct", "", 12.5)])
    Alert.objects.create(rule=AlertRule.objects.get(name="Pool capacity above 80 %"), subject="zrectank",
                         state="firing", message="zrectank: 85 %")
    from apps.tape.backends.mtx_parse import parse_mtx_status  # tape: a changer's recorded inventory
    from apps.tape.models import Drive as TapeDrive
    from apps.tape.models import Library, MediaPool, Medium
    from apps.tape.services import record_inventory
    from tests.tape.recordings import body
    changer = Library.objects.create(name="fuzz-changer", kind="physical", changer="/dev/sg6", slots=33, ie_slots=4,
                                     drive_count=4)
    record_inventory(changer, parse_mtx_status(body("mtx_status_mhvtl.txt")))
    TapeDrive.objects.filter(library=changer, number=0).update(device="/dev/nst0", sg_device="/dev/sg2", tapealerts=[
        {"code": 20, "name": "Clean now", "severity": "critical", "text": "Cleaning required"}], needs_cleaning=True)
    Library.objects.create(name="fuzz-vtl", kind="mhvtl", mhvtl_id=10, drive_count=2)
    Library.objects.create(name="fuzz-tgt", kind="tgt", tid=90, iqn="iqn.2026-12.org.calypso:tape.fuzz-tgt",
                           media_home="/tmp/fuzz-tape")
    Medium.objects.filter(barcode="SDLT01S3").update(pool=MediaPool.objects.create(name="fuzz-weekly"))
    Medium.objects.create(barcode="SHELF01L6", state="labelled")
    from apps.bacula import models as bacula  # Bacula: one of each resource, a job run and a volume
    storage = bacula.Storage.objects.create(name="FuzzLib", password="sd-director-secret", changer_device="/dev/sg6",
                                            archive_devices=["/dev/nst0"])
    bpool = bacula.Pool.objects.create(name="FuzzPool", storage=storage)
    bjob = bacula.BackupJob.objects.create(
        name="FuzzJob", client=bacula.Client.objects.create(name="fuzz-fd", address="127.0.0.1",
                                                            password="fd-director-secret"),
        fileset=bacula.FileSet.objects.create(name="FuzzSet", include=[dataset.mountpoint]),
        schedule=bacula.Schedule.objects.create(name="FuzzNightly", runs=["Level=Full sun at 23:05"]),
        pool=bpool, storage=storage)
    bacula.JobRun.objects.create(jobid=1, name=bjob.name, job_type="B", level="F", status="T", backup_job=bjob)
    bacula.Volume.objects.create(name="CAL001L6", pool=bpool, pool_name=bpool.name, status="Append", slot=1)


def _aim_at_existing(case) -> None:
    """Small generated ids become ids of existing objects of the route's model, so the object routes are
    reached, not only their 404; other ids (0, negative, huge) go as generated."""
    try:
        view = getattr(resolve(re.sub(r"\{[^}]+\}", "1", case.operation.path)).func, "cls", None)
    except Resolver404:
        return
    queryset = getattr(view, "queryset", None)
    ids = list(queryset.model.objects.order_by("pk").values_list("pk", flat=True)) if queryset is not None else []
    for name, value in (case.path_parameters or {}).items():
        if ids and isinstance(value, int) and 0 < value < 1000:
            case.path_parameters[name] = ids[value % len(ids)]


def _served_schema() -> dict:
    """What ``/api/v1/schema/`` serves, asked of its view directly: the schema is loaded while tests are
    collected (one test per operation), before any database exists."""
    request = APIRequestFactory().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    force_authenticate(request, User(username="schema-reader"))
    response = resolve("/api/v1/schema/").func(request)
    response.render()
    return json.loads(response.content)


# Every built-in check runs. Two are configured, not dropped: the health route answers 503 by design while
# a component (here: the Celery worker) is down; and input that fits the schema may still be refused with a
# 400 naming the field, because the services judge what a schema cannot say (a name taken on the host, the
# object's name typed back to confirm), so valid data is checked for anything but that (no 5xx, 405, 415...).
# Phases: the schema's examples; coverage, systematic invalid values for every parameter and field (the
# valid ones it would add, every enum value of every property, cost more than they find); then a few random
# examples each, valid and invalid.
CONFIG = {
    "generation": {"max-examples": EXAMPLES_PER_OPERATION, "deterministic": True, "database": "none"},
    "phases": {"coverage": {"generation": {"mode": "negative"}}},
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]}},
    "operations": [
        {"include-path": "/api/v1/system/health/", "checks": {
            "not_a_server_error": {"expected-statuses": ["2xx", "4xx", "503"]},
            "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "503"]}}},
    ],
}
schema = schemathesis.openapi.from_dict(_served_schema(), config=SchemathesisConfig.from_dict(CONFIG))
schema.app = InTransactionApp()


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker) -> Iterator[None]:
    """The seeded objects, made once for the module in a transaction that is rolled back at its end. Each
    test's own transaction nests in it (a savepoint, rolled back after the test), so every operation still
    starts from exactly these objects, whatever the one before it created, changed or deleted."""
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(CALYPSO_ZFS_FLAVOUR="zfs-fuse"):
            _seed()
        yield
        transaction.set_rollback(True)


@pytest.fixture
def token_headers(seeded, db, settings, admin_user) -> Iterator[dict]:
    """An administrator's token, the seeded objects, a host that refuses every command, no Celery worker (the
    health check does not wait for one), and a cache of this test's own: the sign-in throttle and the
    counters of refused requests it fills up are no other test's."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "api-schema-tests"}}
    cache.clear()
    settings.CALYPSO_ZFS_FLAVOUR = "zfs-fuse"
    settings.CALYPSO_HEALTH_CELERY_TIMEOUT_S = 0
    with runner_override(FailingRunner()):
        yield {"Authorization": f"Token {ApiToken.issue(admin_user, 'schema tests')[1]}"}


@schema.parametrize()
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # examples share the fixture
def test_every_operation_answers_as_its_schema_says(case, token_headers):
    _aim_at_existing(case)
    # A generated cursor is never one the API handed out: it is refused (400) before any filter reaches the
    # database, and would hide what the filters' values do there. Cursors have tests of their own.
    if isinstance(case.query, dict):
        case.query.pop("cursor", None)
    # Whether an operation enforces authentication is a property of the operation: probed (again without
    # credentials, then with wrong ones) on its first success only, as schemathesis's own runner does.
    probed = case.operation.label in AUTH_PROBED
    response = case.call_and_validate(headers=token_headers, excluded_checks=[ignored_auth] if probed else None)
    if 200 <= response.status_code < 300:
        AUTH_PROBED.add(case.operation.label)
