"""Storage services and operations against replayed host output: validation first, jobs, locks, rows
updated; the audit trail is written by the operation that called the service (one event per call)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import BackendError, ServiceError
from apps.core.runner import ReplayRunner
from apps.jobs.models import Job, JobLocked
from apps.jobs.runtime import run_job
from apps.storage import services
from apps.storage.backends.zfs import ZfsBackend
from apps.storage.models import Dataset, Pool, Snapshot, StorageEvent
from apps.storage.operations import DATASET, POOL, SNAPSHOT

from .recordings import POOL_LIST, known_pools, recorded, zfs_refresh


@pytest.mark.parametrize("name", ["bad;name", "two words", "-x", "mirror", "1pool", "a$(reboot)"])
@pytest.mark.django_db
def test_bad_pool_names_refused_before_any_command(name, operator_user, replay):
    with pytest.raises(ServiceError) as err:
        services.create_pool(name, layout="mirror", disks=["/srv/a.img", "/srv/b.img"], actor=operator_user)
    assert err.value.field == "name" and err.value.status_code == 400
    assert replay.calls == [] and not Job.objects.exists()


@pytest.mark.django_db
def test_bad_dataset_snapshot_and_property_values_name_their_field(tank, operator_user, replay):
    cases = [
        (lambda: services.create_dataset(tank, "zrectank/a b", actor=operator_user), "name"),
        (lambda: services.create_dataset(tank, "other/x", actor=operator_user), "name"),
        (lambda: services.create_dataset(tank, "zrectank/x", properties={"quota": "lots"}), "quota"),
        (lambda: services.create_dataset(tank, "zrectank/x", properties={"compression": "best"}), "compression"),
        (lambda: services.create_dataset(tank, "zrectank/v", kind="volume"), "volsize"),
        (lambda: services.create_snapshot(tank.datasets.get(name="zrectank/data"), "x;y"), "name"),
        (lambda: services.offline_member(tank, "/tmp/zrec/nope.img"), "device"),
    ]
    for call, field in cases:
        with pytest.raises(ServiceError) as err:
            call()
        assert err.value.field == field and err.value.status_code == 400, err.value.message
    assert replay.calls == []


@pytest.mark.django_db
def test_layout_from_disks():
    assert services.plan_layout("mirror", ["/d/a", "/d/b", "/d/c", "/d/d"]) == [
        {"type": "mirror", "devices": ["/d/a", "/d/b"]}, {"type": "mirror", "devices": ["/d/c", "/d/d"]}]
    assert services.plan_layout("mirror", ["/d/a", "/d/b", "/d/c"], 3) == [
        {"type": "mirror", "devices": ["/d/a", "/d/b", "/d/c"]}]
    with pytest.raises(ServiceError) as err:
        services.plan_layout("raidz1", ["/d/a", "/d/b"])
    assert err.value.field == "disks"
    with pytest.raises(ServiceError) as err:
        services.plan_layout("mirror", ["/d/a"], field="devices")
    assert err.value.field == "devices"


@pytest.mark.django_db
def test_create_pool_refuses_member_of_another_pool(tank, operator_user, replay):
    known_pools(replay)
    with pytest.raises(ServiceError) as err:
        services.create_pool("newpool", layout="mirror", disks=["/tmp/zrec/a.img", "/srv/x.img"],
                             actor=operator_user)
    assert err.value.code == "disk_in_use" and err.value.field == "disks" and "zrectank" in err.value.message
    assert not Job.objects.exists()


def _scrub_runner(*statuses: str) -> ReplayRunner:
    runner = ReplayRunner().add(["zpool", "scrub", "zrecscrub"])
    for text in statuses:
        runner.add(["zpool", "status", "zrecscrub"], stdout=text)
    return runner


@pytest.mark.django_db
def test_scrub_job_follows_progress_to_100_and_holds_the_pool_lock(operator_user, fast_scrub, settings,
                                                                     monkeypatch):
    settings.CALYPSO_ZFS_FLAVOUR = "zfs-fuse"
    settings.CALYPSO_PROGRESS_PUBLISH_S = 0  # publish every distinct progress value
    pool = Pool.objects.create(name="zrecscrub", health="ONLINE")
    job = POOL["scrub"].run(actor=operator_user, obj=pool)
    assert job.lock_key == "pool:zrecscrub" and job.kind == "storage.pool.scrub"
    with pytest.raises(JobLocked):
        POOL["scrub"].run(actor=operator_user, obj=pool)
    queued, refused = AuditEvent.objects.filter(action="storage.pool.scrub").order_by("id")
    assert (queued.outcome, queued.job_id, queued.message) == ("queued", job.pk, f"queued as job #{job.pk}")
    assert refused.outcome == "failed" and refused.job_id is None
    running = recorded("zpool_status_scrub_in_progress.txt")
    finished = recorded("zpool_status_scrub_finished.txt").replace("zrectank", "zrecscrub")
    seen = []
    monkeypatch.setattr("apps.jobs.progress.publish",
                        lambda job_id, payload, **kw: seen.append(int(payload["progress"])))
    job = run_job(job.pk, runner=_scrub_runner(running, running.replace("46.70%", "80.10%"), finished))
    assert job.state == "succeeded", job.error
    assert job.progress == 100 and job.result["errors"] == 0
    assert seen == sorted(seen) and 46 in seen and 80 in seen and seen[-1] == 100
    pool.refresh_from_db()
    assert pool.scan_state == "finished" and pool.scan_percent == 100
    ended = AuditEvent.objects.filter(action="storage.pool.scrub", job_id=job.pk).order_by("id").last()
    assert ended.pk != queued.pk and ended.outcome == "ok"


@pytest.mark.django_db
def test_offline_member_records_degraded_event(tank, operator_user, replay):
    replay.add(["zpool", "offline", "zrectank", "/tmp/zrec/b.img"])
    replay.add(["zpool", "status", "zrectank"], stdout=recorded("zpool_status_mirror_degraded.txt"))
    pool = POOL["offline"].run(actor=operator_user, obj=tank, data={"device": "/tmp/zrec/b.img"})
    assert pool.health == "DEGRADED"
    tank.refresh_from_db()
    assert tank.health == "DEGRADED"
    assert StorageEvent.objects.filter(pool=tank, kind="health_changed").exists()
    event = AuditEvent.objects.get(action="storage.pool.offline")
    assert (event.outcome, event.actor, event.object_id) == ("ok", operator_user, str(tank.pk))
    assert event.changes["device"] == [None, "/tmp/zrec/b.img"]
    assert event.changes["health"] == ["ONLINE", "DEGRADED"]  # the pool's row, before and after


@pytest.mark.django_db
def test_host_refusal_is_a_backend_error_with_the_tools_words(tank, operator_user, replay):
    replay.add(["zpool", "offline", "zrectank", "/tmp/zrec/b.img"],
               stderr="cannot offline /tmp/zrec/b.img: no valid replicas", returncode=1)
    with pytest.raises(BackendError) as err:
        services.offline_member(tank, "/tmp/zrec/b.img", actor=operator_user)
    assert "no valid replicas" in err.value.message and err.value.status_code == 409
    assert err.value.code == "host_refused"
    assert not AuditEvent.objects.exists()  # a service alone writes no audit event


@pytest.mark.django_db
def test_host_refusal_is_audited_as_failed(tank, operator_user, replay):
    replay.add(["zpool", "offline", "zrectank", "/tmp/zrec/b.img"],
               stderr="cannot offline /tmp/zrec/b.img: no valid replicas", returncode=1)
    with pytest.raises(BackendError) as err:
        POOL["offline"].run(actor=operator_user, obj=tank, data={"device": "/tmp/zrec/b.img"})
    assert "no valid replicas" in err.value.message and err.value.status_code == 409
    event = AuditEvent.objects.get(action="storage.pool.offline")
    assert event.outcome == "failed" and "no valid replicas" in event.message
    tank.refresh_from_db()
    assert tank.health == "ONLINE"


@pytest.mark.django_db
def test_create_dataset_with_human_sizes(tank, operator_user, replay):
    name = "zrectank/new"
    replay.add(["zfs", "create", "-o", "quota=10737418240", "-o", "compression=lz4", name])
    replay.add(["zfs", "list", "-H", "-o", "name", "-t", "filesystem", "-r", name], stdout=f"{name}\n")
    replay.add(["zfs", "get", "-H", "-p", "-o", "name,property,value,source", "all", name],
               stdout=f"{name}\ttype\tfilesystem\t-\n{name}\tused\t19456\t-\n{name}\tquota\t10737418240\tlocal\n")
    replay.add(["zfs", "get", "-H", "-p", "-r", "-o", "name,property,value", "creation,used,referenced,userrefs,guid",
                name], stdout="")
    ds = DATASET["create"].run(actor=operator_user, data={"pool": tank, "name": name,
                                                          "properties": {"quota": "10G", "compression": "LZ4"}})
    assert ds.prop("quota") == "10737418240" and ds.used_bytes == 19456
    assert Dataset.objects.get(name=name, pool=tank) == ds
    event = AuditEvent.objects.get(action="storage.dataset.create")
    assert (event.object_label, event.object_id, event.outcome) == (name, str(ds.pk), "ok")
    assert event.changes["properties"] == [None, {"quota": "10G", "compression": "LZ4"}]


@pytest.mark.django_db
def test_rollback_refuses_when_newer_snapshots_exist(tank, operator_user, replay):
    data = Dataset.objects.get(name="zrectank/data")
    old = Snapshot.objects.create(dataset=data, name="zrectank/data@old", short_name="old",
                                  created_at=datetime(2026, 1, 1, tzinfo=UTC))
    Snapshot.objects.filter(dataset=data).exclude(pk=old.pk).update(created_at=old.created_at + timedelta(days=1))
    op = SNAPSHOT["rollback"]
    wrong = op.serializer(old, data={"confirm": "wrong"})  # the typed confirmation is the operation's
    assert not wrong.is_valid() and "old" in str(wrong.errors["confirm"])
    right = op.serializer(old, data={"confirm": old.name})
    assert right.is_valid(), right.errors
    with pytest.raises(ServiceError) as err:
        op.run(actor=operator_user, obj=old, data=right.validated_data)
    assert err.value.code == "newer_snapshots" and err.value.field == "destroy_newer"
    assert err.value.status_code == 409 and sorted(err.value.extra["newer"]) == [
        "zrectank/data@c2", "zrectank/data@c3", "zrectank/data@s1"]
    assert replay.calls == []
    assert AuditEvent.objects.get(action="storage.snapshot.rollback").outcome == "failed"


@pytest.mark.django_db
def test_destroy_pool_requires_its_name(tank, operator_user, replay):
    op = POOL["delete"]
    wrong = op.serializer(tank, data={"confirm": "zrec"})
    assert not wrong.is_valid() and "zrectank" in str(wrong.errors["confirm"])
    right = op.serializer(tank, data={"confirm": "zrectank"})
    assert right.is_valid(), right.errors
    job = op.run(actor=operator_user, obj=tank, data=right.validated_data)
    assert job.kind == "storage.pool.delete" and job.lock_key == "pool:zrectank" and replay.calls == []
    queued = AuditEvent.objects.get(action="storage.pool.delete")
    assert queued.job_id == job.pk and "confirm" not in queued.changes
    job = run_job(job.pk, runner=ReplayRunner().add(["zpool", "destroy", "zrectank"]))
    assert job.state == "succeeded" and job.result == {"destroyed": "zrectank"}
    assert not Pool.objects.filter(name="zrectank").exists()


@pytest.mark.django_db
def test_create_pool_job_rolls_back_when_reading_it_fails(operator_user, replay):
    replay.add(POOL_LIST, stdout="")
    job = services.create_pool("zfresh", layout="mirror", disks=["/srv/a.img", "/srv/b.img"], actor=operator_user)
    assert job.kind == "storage.pool.create" and job.lock_key == "pool:zfresh"
    runner = ReplayRunner().add(["zpool", "create", "zfresh", "mirror", "/srv/a.img", "/srv/b.img"])
    runner.add(POOL_LIST, stderr="internal error", returncode=1)
    runner.add(["zpool", "destroy", "-f", "zfresh"])
    job = run_job(job.pk, runner=runner)
    assert job.state == "rolled_back"
    assert runner.calls[-1] == ("zpool", "destroy", "-f", "zfresh")


@pytest.mark.django_db
def test_hold_and_destroy_many(tank, operator_user, replay):
    snaps = list(Snapshot.objects.filter(dataset__name="zrectank/data").order_by("short_name"))
    replay.add(["zfs", "hold", "keep", snaps[0].name])
    services.hold_snapshot(snaps[0], "keep", actor=operator_user)
    assert Snapshot.objects.get(pk=snaps[0].pk).holds == ["keep"]
    for s in snaps:
        replay.add(["zfs", "destroy", s.name])
    assert services.destroy_snapshots(snaps, actor=operator_user) == 3
    assert not Snapshot.objects.filter(dataset__name="zrectank/data").exists()


@pytest.mark.django_db
def test_bulk_destroy_reports_a_refused_dataset_and_destroys_the_others(tank, operator_user, replay, monkeypatch):
    monkeypatch.setattr(ZfsBackend, "busy_delay", 0)  # a held snapshot is "busy": retried, then reported
    data = list(Snapshot.objects.filter(dataset__name="zrectank/data").order_by("short_name"))
    home = Snapshot.objects.get(name="zrectank/home@s1")
    for s in data:
        replay.add(["zfs", "destroy", s.name])
    replay.add(["zfs", "destroy", home.name], stderr="cannot destroy snapshot zrectank/home@s1: dataset is busy\n",
               returncode=1)
    zfs_refresh(replay, "zrectank/home")  # after the refusal the rows are re-read from the host
    result = SNAPSHOT["bulk_delete"].run(actor=operator_user, data={"snapshots": [*data, home]}).data()
    assert result["done"] == 3 and result["failed"] == 1
    assert result["results"][-1] == {"id": home.pk, "object": home.name, "ok": False,
                                     "message": "cannot destroy snapshot zrectank/home@s1: dataset is busy"}
    assert list(Snapshot.objects.filter(dataset__pool=tank).values_list("name", flat=True)) == [home.name]
    call = AuditEvent.objects.get(action="storage.snapshot.bulk_delete")
    assert call.outcome == "failed" and call.message == "3 done, 1 failed"
    items = AuditEvent.objects.filter(action="storage.snapshot.delete")
    assert sorted((e.object_id, e.outcome) for e in items) == sorted(
        [(str(s.pk), "ok") for s in data] + [(str(home.pk), "failed")])


@pytest.mark.django_db
def test_bulk_destroy_goes_on_past_a_busy_snapshot_of_the_same_dataset(tank, operator_user, replay, monkeypatch):
    monkeypatch.setattr(ZfsBackend, "busy_delay", 0)
    busy, *others = Snapshot.objects.filter(dataset__name="zrectank/data").order_by("created_at", "name")
    busy_words = f"cannot destroy snapshot {busy.name}: dataset is busy\n"
    for _attempt in range(ZfsBackend.busy_retries + 1):
        replay.add(["zfs", "destroy", busy.name], stderr=busy_words, returncode=1)
    zfs_refresh(replay, "zrectank/data")  # all three still there
    for s in others:
        replay.add(["zfs", "destroy", s.name])
    result = services.bulk_destroy_snapshots(snapshots=[busy, *others], actor=operator_user)
    assert [(item["id"], item["ok"]) for item in result.data()["results"]] == [
        (busy.pk, False), *((s.pk, True) for s in others)]
    assert "dataset is busy" in result.data()["results"][0]["message"] and result.failed == 1
    assert list(Snapshot.objects.filter(dataset__name="zrectank/data").values_list("pk", flat=True)) == [busy.pk]


# ---------------------------------------------------------------- property edits: all or nothing
@pytest.mark.django_db
def test_a_refused_property_puts_back_what_was_already_set(tank, operator_user, replay):
    data = Dataset.objects.get(name="zrectank/data")  # compression on (local), quota 0 (default)
    replay.add(["zfs", "set", "compression=zstd", "zrectank/data"])
    replay.add(["zfs", "set", "quota=10737418240", "zrectank/data"])
    replay.add(["zfs", "inherit", "reservation", "zrectank/data"], returncode=1,
               stderr="'reservation' property cannot be inherited\n")
    replay.add(["zfs", "inherit", "quota", "zrectank/data"])  # back to its default, last change first
    replay.add(["zfs", "set", "compression=on", "zrectank/data"])  # back to its own value
    with pytest.raises(BackendError) as err:
        DATASET["update"].run(actor=operator_user, obj=data, data={
            "properties": {"compression": "zstd", "quota": "10G"}, "inherit": ["reservation"]})
    assert replay.calls[-2:] == [("zfs", "inherit", "quota", "zrectank/data"),
                                 ("zfs", "set", "compression=on", "zrectank/data")]
    message = err.value.message
    assert "cannot be inherited" in message and "quota, compression put back" in message
    event = AuditEvent.objects.get(action="storage.dataset.update")
    assert event.outcome == "failed" and "put back" in event.message


@pytest.mark.django_db
def test_emptied_limits_are_set_to_none_not_inherited(tank, operator_user):
    from apps.storage.inputs import DatasetPropertiesInput

    data = Dataset.objects.get(name="zrectank/data")
    form = DatasetPropertiesInput(data={"quota": "", "reservation": "", "compression": ""},
                                  context={"object": data})
    assert form.is_valid(), form.errors
    assert form.validated_data == {"properties": {"quota": "none", "reservation": "none"},
                                   "inherit": ["compression"]}
    for name in ("quota", "refquota", "reservation", "refreservation"):
        assert "none" in str(form.fields[name].help_text)
    assert "refreservation, which become none" in str(DATASET["update"].help)


# ---------------------------------------------------------------- scrub stopped
@pytest.mark.django_db
def test_stop_scrub_answers_the_state_after_the_stop(tank, operator_user, replay, fast_scrub):
    scanning = recorded("zpool_status_scrub_in_progress.txt").replace("zrecscrub", "zrectank")
    stopped = recorded("zpool_status_scrub_canceled.txt").replace("zrecscrub", "zrectank")
    Pool.objects.filter(pk=tank.pk).update(scan_function="scrub", scan_state="scanning", scan_percent=46.7)
    tank.refresh_from_db()
    replay.add(["zpool", "scrub", "-s", "zrectank"])
    replay.add(["zpool", "status", "zrectank"], stdout=scanning)  # the host takes a moment to stop
    replay.add(["zpool", "status", "zrectank"], stdout=stopped)
    pool = POOL["stop_scrub"].run(actor=operator_user, obj=tank)
    assert (pool.scan_state, pool.scan_percent) == ("canceled", 46.7)  # where it stopped, not 0
    assert Pool.objects.get(pk=tank.pk).scan_state == "canceled"


@pytest.fixture
def queued_scrub(operator_user, fast_scrub, settings) -> tuple[Pool, Job]:
    """Pool zrecscrub (zfs-fuse) with a scrub job queued by the operator; every progress step published."""
    settings.CALYPSO_ZFS_FLAVOUR = "zfs-fuse"
    settings.CALYPSO_PROGRESS_PUBLISH_S = 0
    pool = Pool.objects.create(name="zrecscrub", health="ONLINE")
    return pool, POOL["scrub"].run(actor=operator_user, obj=pool)


@pytest.mark.django_db
def test_a_scrub_stopped_on_the_host_ends_its_job_cancelled_where_it_was(queued_scrub, monkeypatch):
    pool, job = queued_scrub
    frames = []
    monkeypatch.setattr("apps.jobs.progress.publish", lambda job_id, payload, **kw: frames.append(payload))
    monkeypatch.setattr("apps.jobs.runtime.publish", lambda job_id, payload, **kw: frames.append(payload))
    running = recorded("zpool_status_scrub_in_progress.txt")  # 46.70 %
    runner = _scrub_runner(running, recorded("zpool_status_scrub_canceled.txt"))
    job = run_job(job.pk, runner=runner)
    assert job.state == "cancelled" and "stopped at 46 %" in job.error
    assert job.progress == 46 and frames[-1]["state"] == "cancelled" and frames[-1]["progress"] == 46
    assert ("zpool", "scrub", "-s", "zrecscrub") not in runner.calls  # nothing to undo: it was stopped
    pool.refresh_from_db()
    assert (pool.scan_state, pool.scan_percent) == ("canceled", 46.7)
    ended = AuditEvent.objects.filter(action="storage.pool.scrub", job_id=job.pk).order_by("id").last()
    assert ended.outcome == "failed" and "stopped at 46 %" in ended.message


@pytest.mark.django_db
def test_a_cancelled_scrub_job_keeps_its_last_progress(queued_scrub, monkeypatch):
    pool, job = queued_scrub
    frames = []
    monkeypatch.setattr("apps.jobs.runtime.publish", lambda job_id, payload, **kw: frames.append(payload))
    running = recorded("zpool_status_scrub_in_progress.txt")
    runner = _scrub_runner(running).add(["zpool", "scrub", "-s", "zrecscrub"])
    real_sleep = services.pools.time.sleep

    def cancel_while_polling(seconds):  # the operator cancels the job between two reads
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)
        real_sleep(0.6)  # past the reporter's cancel-check throttle

    monkeypatch.setattr(services.pools.time, "sleep", cancel_while_polling)
    job = run_job(job.pk, runner=runner)
    assert job.state == "cancelled" and job.progress == 46
    assert frames[-1]["state"] == "cancelled" and frames[-1]["progress"] == 46
    assert ("zpool", "scrub", "-s", "zrecscrub") in runner.calls  # the host's scrub is stopped too


# ---------------------------------------------------------------- rollback: newer in the same second
@pytest.mark.django_db
def test_a_snapshot_taken_in_the_same_second_counts_as_newer(tank, operator_user, replay):
    from apps.storage import sync

    zfs_refresh(replay, "zrectank/data", snapshots=["zrectank/data@x1", "zrectank/data@x2"])  # one second
    sync.refresh_pool_contents(replay, tank, root="zrectank/data")
    first, second = Snapshot.objects.get(short_name="x1"), Snapshot.objects.get(short_name="x2")
    assert first.created_at == second.created_at
    assert list(Snapshot.objects.newer_than(first).values_list("name", flat=True)) == ["zrectank/data@x2"]
    assert not Snapshot.objects.newer_than(second).exists()
    with pytest.raises(ServiceError) as err:
        services.rollback_snapshot(first, actor=operator_user)
    assert err.value.code == "newer_snapshots" and err.value.extra["newer"] == ["zrectank/data@x2"]
    assert ("zfs", "rollback", "zrectank/data@x1") not in replay.calls


@pytest.mark.django_db
def test_a_pool_created_by_a_job_is_audited_with_its_id(operator_user, replay, settings):
    from .recordings import fuse_sync_runner

    settings.CALYPSO_ZFS_FLAVOUR = "zfs-fuse"
    replay.add(POOL_LIST, stdout="")
    job = POOL["create"].run(actor=operator_user, data={"name": "zrectank", "layout": "mirror",
                                                        "disks": ["/tmp/zrec/a.img", "/tmp/zrec/b.img"]})
    queued = AuditEvent.objects.get(action="storage.pool.create")
    assert (queued.outcome, queued.message, queued.job_id) == ("queued", f"queued as job #{job.pk}", job.pk)
    runner = fuse_sync_runner().add(["zpool", "create", "zrectank", "mirror", "/tmp/zrec/a.img", "/tmp/zrec/b.img"])
    zfs_refresh(runner, "zrectank")
    job = run_job(job.pk, runner=runner)
    assert job.state == "succeeded", job.error
    pool = Pool.objects.get(name="zrectank")
    ended = AuditEvent.objects.filter(action="storage.pool.create", job_id=job.pk).exclude(pk=queued.pk).get()
    assert (ended.object_type, ended.object_id, ended.outcome) == ("storage.pool", str(pool.pk), "ok")
