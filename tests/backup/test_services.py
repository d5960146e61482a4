"""Backup targets and tasks through the API (validation naming the field, refusals), the schedule, the
replica naming, the protection of each task's incremental base, and the command lines of both backends."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from apps.backup import services
from apps.backup.backends.base import Replica, SideSnapshot
from apps.backup.backends.btrfs import BtrfsStream
from apps.backup.backends.zfs import ZfsStream
from apps.backup.models import BackupTask, SentSnapshot, Target
from apps.core.runner import ReplayRunner
from apps.jobs.models import Job
from apps.storage.models import Dataset, Pool, SnapshotPolicy
from apps.storage.policies import protections

pytestmark = pytest.mark.django_db

TASKS, TARGETS = "/api/v1/backup/tasks/", "/api/v1/backup/targets/"


@pytest.fixture
def pools():
    tank = Pool.objects.create(name="tank", backend="zfs", free_bytes=10 << 30)
    backup = Pool.objects.create(name="backup", backend="zfs", free_bytes=10 << 30)
    usb = Pool.objects.create(name="usb", backend="btrfs", mountpoint="/mnt/usb")
    data = Dataset.objects.create(pool=tank, name="tank/data", referenced_bytes=1 << 20)
    return tank, backup, usb, data


def test_a_task_is_created_and_named_fields_are_refused(pools, admin_user, client_for):
    tank, backup, usb, data = pools
    api = client_for(admin_user)
    target = api.post(TARGETS, {"name": "second", "pool": backup.pk, "path": "replicas"}, format="json")
    assert target.status_code == 201, target.content
    bad_path = api.post(TARGETS, {"name": "x", "pool": backup.pk, "path": "../etc"}, format="json")
    assert bad_path.status_code == 400 and "path" in bad_path.json()["error"]["fields"], bad_path.content
    created = api.post(TASKS, {"name": "data", "source": data.pk, "target": target.json()["id"]}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["keep_source"] == 7 and created.json()["next_due_at"] is None

    usb_target = Target.objects.create(name="usb", pool=usb)
    cases = [({"target": usb_target.pk}, "target"), ({"keep_target": 0}, "keep_target"),
             ({"window_start": "01:00:00"}, "window_end")]
    for change, field in cases:
        answer = api.post(TASKS, {"name": f"t-{field}", "source": data.pk, "target": target.json()["id"], **change},
                          format="json")
        assert answer.status_code == 400 and field in answer.json()["error"]["fields"], (change, answer.content)
    assert BackupTask.objects.count() == 1


def test_a_replica_inside_its_source_is_refused(pools, admin_user, client_for):
    tank, _backup, _usb, data = pools
    inside = Target.objects.create(name="inside", pool=tank, path="data/replicas")
    answer = client_for(admin_user).post(TASKS, {"name": "loop", "source": data.pk, "target": inside.pk},
                                         format="json")
    assert answer.status_code == 400 and "inside" in answer.json()["error"]["fields"]["target"][0]


def test_a_target_in_use_is_not_deleted(pools, admin_user, client_for):
    _tank, backup, _usb, data = pools
    target = Target.objects.create(name="second", pool=backup)
    BackupTask.objects.create(name="data", source=data, target=target)
    answer = client_for(admin_user).delete(f"{TARGETS}{target.pk}/")
    assert answer.status_code == 409 and "data" in answer.json()["error"]["message"], answer.content
    assert Target.objects.filter(pk=target.pk).exists()


def test_replicas_are_named_after_their_source(pools):
    tank, backup, usb, data = pools
    zfs = BackupTask(source=data, target=Target(name="a", pool=backup, path="replicas/site1"))
    assert services.replica_of(zfs) == Replica("backup/replicas/site1/tank_data")
    btrfs_pool = Pool.objects.create(name="home-fs", backend="btrfs", mountpoint="/mnt/home-fs")
    sub = Dataset.objects.create(pool=btrfs_pool, name="home-fs/users/ann", kind="subvolume")
    task = BackupTask(source=sub, target=Target(name="b", pool=usb))
    assert services.replica_of(task) == Replica("users_ann", mountpoint="/mnt/usb")


def test_due_tasks_run_inside_their_window_only_and_once(pools, monkeypatch):
    _tank, backup, _usb, data = pools
    target = Target.objects.create(name="second", pool=backup)
    night = BackupTask.objects.create(name="night", source=data, target=target, window_start=time(22),
                                      window_end=time(4))
    BackupTask.objects.create(name="off", source=data, target=target, enabled=False)
    sent = []
    monkeypatch.setattr("apps.jobs.tasks.run_job_task.apply_async", lambda *a, **k: sent.append(a))
    assert services.run_due_tasks(datetime(2026, 12, 1, 12, tzinfo=UTC)) == []  # noon: outside 22:00-04:00
    queued = services.run_due_tasks(datetime(2026, 12, 1, 23, 30, tzinfo=UTC))
    assert [job.target_label for job in queued] == ["night"]
    assert services.run_due_tasks(datetime(2026, 12, 1, 23, 31, tzinfo=UTC)) == []  # still queued: its lock
    assert Job.objects.filter(kind="backup.run").count() == 1
    assert services.in_window(night, datetime(2026, 12, 2, 3, 59, tzinfo=UTC))
    assert not services.in_window(night, datetime(2026, 12, 2, 4, 0, tzinfo=UTC))


def test_an_overdue_task_is_said_once_until_it_succeeds_again(pools):
    _tank, backup, _usb, data = pools
    target = Target.objects.create(name="second", pool=backup)
    task = BackupTask.objects.create(name="hourly", source=data, target=target, interval_minutes=60,
                                     last_success_at=datetime(2026, 12, 1, 10, tzinfo=UTC), last_error="pool busy")
    assert services.flag_overdue(datetime(2026, 12, 1, 12, 59, tzinfo=UTC)) == []  # 2 intervals + grace
    [event] = services.flag_overdue(datetime(2026, 12, 1, 13, 1, tzinfo=UTC))
    assert (event.kind, event.severity, event.details["subject"]) == ("backup_failed", "critical", "hourly")
    assert "overdue" in event.message and "pool busy" in event.message
    assert services.flag_overdue(datetime(2026, 12, 1, 14, tzinfo=UTC)) == []  # said once
    BackupTask.objects.filter(pk=task.pk).update(last_success_at=datetime(2026, 12, 1, 15, tzinfo=UTC))
    assert len(services.flag_overdue(datetime(2026, 12, 1, 18, 5, tzinfo=UTC))) == 1  # overdue again later


def test_a_snapshot_policy_never_prunes_a_tasks_incremental_base(pools):
    _tank, backup, _usb, data = pools
    task = BackupTask.objects.create(name="data", source=data, target=Target.objects.create(name="t", pool=backup))
    for i, on_target in ((1, True), (2, True), (3, False)):
        SentSnapshot.objects.create(task=task, snapshot=f"{task.snapshot_prefix}{i}", kind="full", source_name="s",
                                    target_name="t", source_guid=str(i), verified=True, on_target=on_target)
    policy = SnapshotPolicy.objects.create(name="p", dataset=data)
    assert protections(policy, data) == {f"{task.snapshot_prefix}2": "incremental base of backup task data"}


def test_zfs_commands_receive_unmounted_and_send_from_the_base():
    from apps.storage.backends.zfs import ZFS_FUSE, ZfsBackend

    stream = ZfsStream(ZfsBackend(ReplayRunner(), flavour=ZFS_FUSE), ReplayRunner())
    new, base = SideSnapshot("calypso-1-b", "tank/data@calypso-1-b", "2"), SideSnapshot("calypso-1-a",
                                                                                         "tank/data@calypso-1-a", "1")
    assert stream.send_argv(new, None) == ["zfs", "send", "tank/data@calypso-1-b"]
    assert stream.send_argv(new, base) == ["zfs", "send", "-i", "tank/data@calypso-1-a", "tank/data@calypso-1-b"]
    assert stream.receive_argv(Replica("backup/tank_data")) == ["zfs", "receive", "-u", "backup/tank_data"]


def test_btrfs_commands_use_absolute_paths_and_refuse_escapes():
    from apps.core.errors import BackendError

    stream = BtrfsStream(None, ReplayRunner(), "/mnt/home")
    new = SideSnapshot("calypso-1-b", "/mnt/home/users@calypso-1-b", "u2")
    base = SideSnapshot("calypso-1-a", "/mnt/home/users@calypso-1-a", "u1")
    assert stream.send_argv(new, base) == ["btrfs", "send", "-p", "/mnt/home/users@calypso-1-a",
                                           "/mnt/home/users@calypso-1-b"]
    assert stream.receive_argv(Replica("replicas/users", "/mnt/usb")) == ["btrfs", "receive", "/mnt/usb/replicas/users"]
    with pytest.raises(BackendError):
        stream.receive_argv(Replica("../etc", "/mnt/usb"))


def test_compare_trees_names_the_first_difference(tmp_path):
    from apps.backup.services.drills import compare_trees
    from apps.core.errors import ServiceError

    left, right = tmp_path / "l", tmp_path / "r"
    for root in (left, right):
        (root / "d").mkdir(parents=True)
        (root / "d" / "a.txt").write_bytes(b"same")
        (root / "b.bin").write_bytes(b"x" * 100)
    assert compare_trees(left, right) == (3, 2)
    (right / "b.bin").write_bytes(b"y" * 100)  # same size, other bytes
    with pytest.raises(ServiceError, match="b.bin differs"):
        compare_trees(left, right)
    (right / "extra").write_text("more")
    with pytest.raises(ServiceError, match="differs from the source snapshot at extra"):
        compare_trees(left, right)


def test_drills_are_due_by_their_interval_and_only_with_a_verified_copy(pools):
    from datetime import timedelta

    from apps.backup.services.drills import drills_due

    _tank, backup, _usb, data = pools
    task = BackupTask.objects.create(name="data", source=data, target=Target.objects.create(name="t", pool=backup),
                                     drill_interval_days=7)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert drills_due(now) == []  # nothing sent yet
    SentSnapshot.objects.create(task=task, snapshot="calypso-1-a", kind="full", source_name="s", target_name="t",
                                source_guid="1", verified=True)
    assert drills_due(now) == [task]
    BackupTask.objects.filter(pk=task.pk).update(last_drill_at=now - timedelta(days=3))
    assert drills_due(now) == []
    assert drills_due(now + timedelta(days=4)) == [task]
    BackupTask.objects.filter(pk=task.pk).update(drill_interval_days=0)
    assert drills_due(now + timedelta(days=30)) == []


def test_the_task_page_shows_its_chain_and_the_dashboard_its_backups(pools, admin_user):
    from django.test import Client

    _tank, backup, _usb, data = pools
    task = BackupTask.objects.create(name="data", source=data, target=Target.objects.create(name="t", pool=backup))
    SentSnapshot.objects.create(task=task, snapshot="calypso-1-20261201T000000000000Z", kind="full",
                                source_name="tank/data@x", target_name="backup/tank_data@x", source_guid="7",
                                bytes=2048, verified=True, on_source=False)
    browser = Client()
    browser.force_login(admin_user)
    page = browser.get(f"/admin/backup/backuptask/{task.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "calypso-1-20261201T000000000000Z" in text and "2.0\xa0KB" in text and "<td>target</td>" in text
    dashboard = browser.get("/admin/").content.decode()
    assert "Backups" in dashboard and "no drill yet" in dashboard


def test_two_targets_cannot_share_one_place(pools, admin_user, client_for):
    _tank, backup, _usb, _data = pools
    api = client_for(admin_user)
    assert api.post(TARGETS, {"name": "a", "pool": backup.pk, "path": "r"}, format="json").status_code == 201
    again = api.post(TARGETS, {"name": "b", "pool": backup.pk, "path": "r"}, format="json")
    assert again.status_code == 400 and "already uses" in again.json()["error"]["fields"]["path"][0]


def test_a_file_restore_refuses_nested_choices_and_existing_destinations(pools, tmp_path):
    from apps.core.errors import ServiceError

    _tank, backup, _usb, data = pools
    Dataset.objects.filter(pk=data.pk).update(mountpoint=str(tmp_path))
    data.refresh_from_db()
    task = BackupTask.objects.create(name="data", source=data, target=Target.objects.create(name="t", pool=backup))
    sent = SentSnapshot.objects.create(task=task, snapshot="calypso-1-x", kind="full", source_name="s",
                                       target_name="t", source_guid="1", verified=True)
    with pytest.raises(ServiceError, match="inside another chosen path"):
        services.start_restore_files(sent, paths=["a", "a/l/f"])
    with pytest.raises(ServiceError, match="without"):
        services.start_restore_files(sent, paths=["../etc/passwd"])
    (tmp_path / "restored-calypso-1-x").mkdir()
    with pytest.raises(ServiceError, match="never write over"):
        services.start_restore_files(sent, paths=["a"])
