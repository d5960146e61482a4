"""Storage services against replayed host output: validation first, jobs, locks, audit, rows updated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import ServiceError
from apps.core.runner import ReplayRunner
from apps.jobs.models import Job, JobLocked
from apps.jobs.runtime import run_job
from apps.storage import services, sync
from apps.storage.models import Dataset, Pool, Snapshot, StorageEvent

from .test_models_sync import fuse_sync_runner, recorded


@pytest.fixture(autouse=True)
def _fuse(settings, monkeypatch):
    settings.CALYPSO_ZFS_FLAVOUR = "zfs-fuse"
    monkeypatch.setattr(services.pools, "SCRUB_POLL_S", 0)


@pytest.fixture
def tank(db):
    sync.sync_zfs(fuse_sync_runner())
    return Pool.objects.get(name="zrectank")


@pytest.mark.parametrize("name", ["bad;name", "two words", "-x", "mirror", "1pool", "a$(reboot)"])
@pytest.mark.django_db
def test_bad_pool_names_refused_before_any_command(name, operator_user):
    runner = ReplayRunner()
    with pytest.raises(ServiceError) as err:
        services.create_pool(name, layout="mirror", disks=["/srv/a.img", "/srv/b.img"], actor=operator_user,
                             runner=runner)
    assert err.value.field == "name" and err.value.status_code == 400
    assert runner.calls == [] and not Job.objects.exists()


@pytest.mark.django_db
def test_bad_dataset_snapshot_and_property_values_name_their_field(tank, operator_user):
    runner = ReplayRunner()
    cases = [
        (lambda: services.create_dataset(tank, "zrectank/a b", actor=operator_user, runner=runner), "name"),
        (lambda: services.create_dataset(tank, "other/x", actor=operator_user, runner=runner), "name"),
        (lambda: services.create_dataset(tank, "zrectank/x", properties={"quota": "lots"}, runner=runner), "quota"),
        (lambda: services.create_dataset(tank, "zrectank/x", properties={"compression": "best"}, runner=runner),
         "compression"),
        (lambda: services.create_dataset(tank, "zrectank/v", kind="volume", runner=runner), "volsize"),
        (lambda: services.create_snapshot(tank.datasets.get(name="zrectank/data"), "x;y", runner=runner), "name"),
        (lambda: services.offline_member(tank, "/tmp/zrec/nope.img", runner=runner), "device"),
    ]
    for call, field in cases:
        with pytest.raises(ServiceError) as err:
            call()
        assert err.value.field == field, err.value.message
    assert runner.calls == []


@pytest.mark.django_db
def test_layout_from_disks():
    assert services.plan_layout("mirror", ["/d/a", "/d/b", "/d/c", "/d/d"]) == [
        {"type": "mirror", "devices": ["/d/a", "/d/b"]}, {"type": "mirror", "devices": ["/d/c", "/d/d"]}]
    with pytest.raises(ServiceError) as err:
        services.plan_layout("raidz1", ["/d/a", "/d/b"])
    assert err.value.field == "disks"


@pytest.mark.django_db
def test_create_pool_refuses_member_of_another_pool(tank, operator_user):
    runner = ReplayRunner().add(["zpool", "list", "-H", "-o", "name,size,allocated,free,capacity,dedupratio,health,guid"],
                                stdout=recorded("zpool_list.txt"))
    runner.add(["zpool", "status"], stdout=recorded("zpool_status_all.txt"))
    runner.add(["zfs", "get", "-H", "-o", "name,value", "mountpoint", "zrecbig", "zrectank"], stdout="")
    with pytest.raises(ServiceError) as err:
        services.create_pool("newpool", layout="mirror", disks=["/tmp/zrec/a.img", "/srv/x.img"],
                             actor=operator_user, runner=runner)
    assert err.value.code == "disk_in_use" and "zrectank" in err.value.message


def _scrub_runner(*statuses: str) -> ReplayRunner:
    runner = ReplayRunner().add(["zpool", "scrub", "zrecscrub"])
    for text in statuses:
        runner.add(["zpool", "status", "zrecscrub"], stdout=text)
    return runner


@pytest.mark.django_db
def test_scrub_job_follows_progress_to_100_and_holds_the_pool_lock(operator_user):
    pool = Pool.objects.create(name="zrecscrub", health="ONLINE")
    job = services.start_scrub(pool, actor=operator_user)
    assert job.lock_key == "pool:zrecscrub" and job.kind == "storage.scrub"
    with pytest.raises(JobLocked):
        services.start_scrub(pool, actor=operator_user)
    running = recorded("zpool_status_scrub_in_progress.txt")
    finished = recorded("zpool_status_scrub_finished.txt").replace("zrectank", "zrecscrub")
    seen = []
    from apps.jobs.progress import ProgressReporter

    original = ProgressReporter.__call__

    def spy(self, percent, step=""):
        seen.append(int(percent))
        return original(self, percent, step)

    ProgressReporter.__call__ = spy
    try:
        job = run_job(job.pk, runner=_scrub_runner(running, running.replace("46.70%", "80.10%"), finished))
    finally:
        ProgressReporter.__call__ = original
    assert job.state == "succeeded", job.error
    assert job.progress == 100 and job.result["errors"] == 0
    assert seen == sorted(seen) and 46 in seen and 80 in seen and seen[-1] == 100
    pool.refresh_from_db()
    assert pool.scan_state == "finished" and pool.scan_percent == 100
    assert AuditEvent.objects.filter(action="storage.scrub", job_id=job.pk, outcome="ok").exists()


@pytest.mark.django_db
def test_offline_member_records_degraded_event(tank, operator_user):
    runner = ReplayRunner().add(["zpool", "offline", "zrectank", "/tmp/zrec/b.img"])
    runner.add(["zpool", "status", "zrectank"], stdout=recorded("zpool_status_mirror_degraded.txt"))
    services.offline_member(tank, "/tmp/zrec/b.img", actor=operator_user, runner=runner)
    tank.refresh_from_db()
    assert tank.health == "DEGRADED"
    assert StorageEvent.objects.filter(pool=tank, kind="health_changed").exists()
    assert AuditEvent.objects.filter(action="storage.pool.offline", outcome="ok").exists()


@pytest.mark.django_db
def test_host_refusal_is_audited_as_failed(tank, operator_user):
    runner = ReplayRunner().add(["zpool", "offline", "zrectank", "/tmp/zrec/b.img"],
                                stderr="cannot offline /tmp/zrec/b.img: no valid replicas", returncode=1)
    with pytest.raises(ServiceError) as err:
        services.offline_member(tank, "/tmp/zrec/b.img", actor=operator_user, runner=runner)
    assert "no valid replicas" in err.value.message and err.value.status_code == 409
    assert AuditEvent.objects.get(action="storage.pool.offline").outcome == "failed"


@pytest.mark.django_db
def test_create_dataset_with_human_sizes(tank, operator_user):
    name = "zrectank/new"
    runner = ReplayRunner()
    runner.add(["zfs", "create", "-o", "quota=10737418240", "-o", "compression=lz4", name])
    runner.add(["zfs", "list", "-H", "-o", "name", "-t", "filesystem", "-r", name], stdout=f"{name}\n")
    runner.add(["zfs", "get", "-H", "-p", "-o", "name,property,value,source", "all", name],
               stdout=f"{name}\ttype\tfilesystem\t-\n{name}\tused\t19456\t-\n{name}\tquota\t10737418240\tlocal\n")
    runner.add(["zfs", "get", "-H", "-p", "-r", "-o", "name,property,value", "creation,used,referenced,userrefs,guid",
                name], stdout="")
    ds = services.create_dataset(tank, name, properties={"quota": "10G", "compression": "LZ4"}, actor=operator_user,
                                 runner=runner)
    assert ds.prop("quota") == "10737418240" and ds.used_bytes == 19456
    assert AuditEvent.objects.filter(action="storage.dataset.create", object_label=name).exists()


@pytest.mark.django_db
def test_rollback_refuses_when_newer_snapshots_exist(tank, operator_user):
    data = Dataset.objects.get(name="zrectank/data")
    old = Snapshot.objects.create(dataset=data, name="zrectank/data@old", short_name="old",
                                  created_at=datetime(2026, 1, 1, tzinfo=UTC))
    Snapshot.objects.filter(dataset=data).exclude(pk=old.pk).update(created_at=old.created_at + timedelta(days=1))
    runner = ReplayRunner()
    with pytest.raises(ServiceError) as err:
        services.rollback_snapshot(old, confirm="wrong", actor=operator_user, runner=runner)
    assert err.value.field == "confirm"
    with pytest.raises(ServiceError) as err:
        services.rollback_snapshot(old, confirm=old.name, actor=operator_user, runner=runner)
    assert err.value.code == "newer_snapshots" and err.value.field == "destroy_newer"
    assert runner.calls == []


@pytest.mark.django_db
def test_destroy_pool_requires_its_name(tank, operator_user):
    with pytest.raises(ServiceError) as err:
        services.destroy_pool(tank, confirm="zrec", actor=operator_user)
    assert err.value.field == "confirm"
    job = services.destroy_pool(tank, confirm="zrectank", actor=operator_user)
    job = run_job(job.pk, runner=ReplayRunner().add(["zpool", "destroy", "zrectank"]))
    assert job.state == "succeeded" and not Pool.objects.filter(name="zrectank").exists()


@pytest.mark.django_db
def test_create_pool_job_rolls_back_when_reading_it_fails(operator_user):
    job = services.create_pool("zfresh", layout="mirror", disks=["/srv/a.img", "/srv/b.img"], actor=operator_user,
                               runner=ReplayRunner().add(
                                   ["zpool", "list", "-H", "-o",
                                    "name,size,allocated,free,capacity,dedupratio,health,guid"], stdout=""))
    runner = ReplayRunner().add(["zpool", "create", "zfresh", "mirror", "/srv/a.img", "/srv/b.img"])
    runner.add(["zpool", "list", "-H", "-o", "name,size,allocated,free,capacity,dedupratio,health,guid"],
               stderr="internal error", returncode=1)
    runner.add(["zpool", "destroy", "-f", "zfresh"])
    job = run_job(job.pk, runner=runner)
    assert job.state == "rolled_back"
    assert runner.calls[-1] == ("zpool", "destroy", "-f", "zfresh")


@pytest.mark.django_db
def test_hold_and_bulk_destroy(tank, operator_user):
    snaps = list(Snapshot.objects.filter(dataset__name="zrectank/data").order_by("short_name"))
    runner = ReplayRunner().add(["zfs", "hold", "keep", snaps[0].name])
    services.hold_snapshot(snaps[0], "keep", actor=operator_user, runner=runner)
    assert Snapshot.objects.get(pk=snaps[0].pk).holds == ["keep"]
    runner = ReplayRunner()
    for s in snaps:
        runner.add(["zfs", "destroy", s.name])
    assert services.destroy_snapshots(snaps, actor=operator_user, runner=runner) == 3
    assert not Snapshot.objects.filter(dataset__name="zrectank/data").exists()
