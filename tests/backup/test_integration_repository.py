"""Stream files end to end on real tools (root only): ZFS and Btrfs snapshots sent through zstd and age into
a repository directory, chains, a restore into a new dataset byte for byte, the key file restoring without
Calypso, damaged and interrupted files, monthly chains pruned whole."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from apps.backup import keys, services
from apps.backup.models import BackupKey, SentSnapshot, Target
from apps.backup.services.repository import client_name
from apps.core.runner import LocalRunner
from apps.jobs import services as jobs
from apps.jobs.choices import JobState
from apps.jobs.runtime import run_job
from apps.jobs.services import reap_stale_jobs
from apps.storage.models import Dataset, Pool
from apps.storage.services import register_btrfs_pool

from .helpers import run_task, same_tree, write_files, zfs_guid, zfs_snapshot_tree

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def zfs_source(zfs_pair, tmp_path):
    repo = tmp_path / "repository"
    repo.mkdir()
    return (*zfs_pair, repo)


def _task(source, repo: Path, **options):
    target = services.TARGETS.create(name="nas", kind="repository", path=str(repo))
    return services.TASKS.create(name="data", source=source, target=target, **options)


def _run_at(task, runner, now: str):
    job = run_job(jobs.enqueue("backup.run", target=task, lock_key=task.lock_key, params={"now": now}).pk,
                  runner=runner)
    assert job is not None
    return job


def test_zfs_stream_files_chain_restore_and_the_key_file_alone_restores(zfs_source, admin_user, tmp_path):
    runner, source, dst, repo = zfs_source
    mount = Path(source.mountpoint)
    write_files(mount, {"a.txt": b"alpha\n" * 20_000, "bin/r.bin": os.urandom(400_000)})
    task = _task(source, repo)
    assert task.strategy == "monthly_full"  # the default for a repository

    first = run_task(task, runner)
    assert first.state == JobState.SUCCEEDED, (first.error, list(first.log_entries.values_list("message", flat=True)))
    full = repo / first.result["file"]
    assert first.result["kind"] == "full" and full.is_file()
    assert full.relative_to(repo).parts[:3] == (client_name(), first.result["file"].split("/")[1], "full")
    assert full.read_bytes().startswith(b"age-encryption.org/v1")  # a standard age file
    manifest = json.loads(full.with_name(full.name + ".json").read_text())
    assert manifest["sha256"] == first.result["sha256"] and manifest["kind"] == "full"
    assert manifest["source_identity"] == zfs_guid(f"{source.name}@{first.result['snapshot']}")
    assert first.result["bytes"] < 600_000  # "alpha" compresses

    write_files(mount, {"b.txt": os.urandom(100_000)})
    second = run_task(task, runner)
    assert second.state == JobState.SUCCEEDED, second.error
    assert second.result["kind"] == "incremental" and second.result["base"] == first.result["snapshot"]
    assert "/incremental/" in second.result["file"]

    # Restore the chain up to the second snapshot into a new dataset of the other pool.
    sent = SentSnapshot.objects.get(task=task, snapshot=second.result["snapshot"])
    restore = run_job(services.start_restore(sent, pool=dst, name="restored").pk, runner=runner)
    assert restore.state == JobState.SUCCEEDED, (restore.error,
                                                 list(restore.log_entries.values_list("message", flat=True)))
    assert restore.result["files"] == 2
    with zfs_snapshot_tree(f"{dst.name}/restored@{second.result['snapshot']}") as tree:
        assert same_tree(mount, tree)
    assert zfs_guid(f"{dst.name}/restored@{second.result['snapshot']}") == sent.source_guid
    refused = services.start_restore
    with pytest.raises(Exception, match="exists"):
        refused(sent, pool=Pool.objects.get(pk=dst.pk), name="restored")

    # Disaster recovery by hand: the exported key file, age, zstd and zfs (the README's commands).
    exported = keys.export_key(BackupKey.objects.get())
    key_file = tmp_path / "calypso-backup.key"
    key_file.write_text(exported["file"])
    key_file.chmod(0o600)
    by_hand = subprocess.run(["sh", "-c", f"age -d -i {key_file} {full} | zstd -d | zfs receive -u {dst.name}/byhand"],
                             capture_output=True, text=True)
    assert by_hand.returncode == 0, by_hand.stderr
    assert zfs_guid(f"{dst.name}/byhand@{first.result['snapshot']}") == manifest["source_identity"]


def test_a_damaged_file_is_found_by_verify_and_refused_by_restore_before_anything_is_received(zfs_source,
                                                                                               admin_user):
    runner, source, dst, repo = zfs_source
    write_files(Path(source.mountpoint), {"a.bin": os.urandom(200_000)})
    task = _task(source, repo)
    job = run_task(task, runner)
    assert job.state == JobState.SUCCEEDED, job.error
    verified = run_job(services.start_verify(task).pk, runner=runner)
    assert verified.state == JobState.SUCCEEDED and verified.result["files"] == 1

    damaged = repo / job.result["file"]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    verified = run_job(services.start_verify(task).pk, runner=runner)
    assert verified.state == JobState.FAILED and job.result["file"] in verified.error
    assert not SentSnapshot.objects.get(task=task).verified

    sent = SentSnapshot.objects.get(task=task)
    restore = run_job(services.start_restore(sent, pool=dst, name="restored").pk, runner=runner)
    assert restore.state in (JobState.FAILED, JobState.ROLLED_BACK) and "damaged" in restore.error
    assert subprocess.run(["zfs", "list", f"{dst.name}/restored"], capture_output=True).returncode != 0

    # A file and its manifest gone: verify names what the records say should be there.
    damaged.unlink()
    Path(f"{damaged}.json").unlink()
    verified = run_job(services.start_verify(task).pk, runner=runner)
    assert verified.state == JobState.FAILED and "missing" in verified.error and job.result["file"] in verified.error


def test_a_restore_never_removes_a_dataset_that_appeared_after_it_was_queued(zfs_source, admin_user):
    runner, source, dst, repo = zfs_source
    write_files(Path(source.mountpoint), {"a.bin": os.urandom(100_000)})
    task = _task(source, repo)
    assert run_task(task, runner).state == JobState.SUCCEEDED
    queued = services.start_restore(SentSnapshot.objects.get(task=task), pool=dst, name="busy")
    subprocess.run(["zfs", "create", f"{dst.name}/busy"], check=True)  # someone else's, meanwhile
    subprocess.run(["zfs", "snapshot", f"{dst.name}/busy@theirs"], check=True)
    job = run_job(queued.pk, runner=runner)
    assert job.state == JobState.FAILED and "exists" in job.error
    assert subprocess.run(["zfs", "list", f"{dst.name}/busy@theirs"], capture_output=True).returncode == 0


def test_interrupted_writes_never_count_and_monthly_chains_are_pruned_whole(zfs_source, admin_user):
    runner, source, _dst, repo = zfs_source
    write_files(Path(source.mountpoint), {"a.bin": os.urandom(100_000)})
    task = _task(source, repo, keep_target=1, keep_source=1)
    november = [_run_at(task, runner, f"2026-11-{day:02d}T01:00:00+00:00") for day in (1, 2)]
    assert [j.result["kind"] for j in november] == ["full", "incremental"]
    # What a killed run leaves: a .partial and a file whose manifest was never written.
    month_dir = repo / client_name() / "202611" / "incremental"
    stray = month_dir / f"{source.name.replace('/', '_')}@{task.snapshot_prefix}20261103T010000000000Z.zfs.zst.age"
    (month_dir / (stray.name + ".partial")).write_bytes(b"half")
    stray.write_bytes(b"no manifest")

    december = _run_at(task, runner, "2026-12-01T01:00:00+00:00")
    assert december.state == JobState.SUCCEEDED, december.error
    assert december.result["kind"] == "full"  # a new month: a new chain
    assert not stray.exists() and not (month_dir / (stray.name + ".partial")).exists()
    logged = list(december.log_entries.values_list("message", flat=True))
    assert any("an unfinished write of an earlier run" in m for m in logged)
    # keep_target 1: November's whole chain went, file and manifest; December's full stays
    assert sorted(december.result["pruned_files"]) == sorted(j.result["file"] for j in november)
    assert not any((repo / client_name() / "202611").rglob("*.age*"))
    assert [s.on_target for s in SentSnapshot.objects.filter(task=task).order_by("snapshot")] == [False, False, True]
    dry = services.retention_dry_run(task, runner=runner)
    assert dry["destroy_target"] == [] and dry["base"] == december.result["snapshot"]


@pytest.fixture
def btrfs_source(btrfs_factory, tmp_path):
    runner = LocalRunner()
    src_mnt, dst_mnt = btrfs_factory("calysrc", 512 << 20), btrfs_factory("calydst", 512 << 20)
    runner.run(["btrfs", "subvolume", "create", f"{src_mnt}/home"])
    src, dst = register_btrfs_pool(src_mnt, runner=runner), register_btrfs_pool(dst_mnt, runner=runner)
    repo = tmp_path / "repository"
    repo.mkdir()
    return runner, Dataset.objects.get(pool=src, name=f"{src.name}/home"), dst, repo


def test_btrfs_stream_files_full_incremental_and_restore(btrfs_source, admin_user):
    runner, source, dst, repo = btrfs_source
    home = Path(source.mountpoint)
    write_files(home, {"n.txt": b"note\n" * 5000, "p/1.raw": os.urandom(150_000)})
    task = _task(source, repo, compression="gzip")
    first = run_task(task, runner)
    assert first.state == JobState.SUCCEEDED, (first.error, list(first.log_entries.values_list("message", flat=True)))
    assert first.result["file"].endswith(".btrfs.gz.age")
    write_files(home, {"p/2.raw": os.urandom(80_000)})
    second = run_task(task, runner)
    assert second.state == JobState.SUCCEEDED and second.result["kind"] == "incremental", second.error

    sent = SentSnapshot.objects.get(task=task, snapshot=second.result["snapshot"])
    restore = run_job(services.start_restore(sent, pool=dst, name="restored").pk, runner=runner)
    assert restore.state == JobState.SUCCEEDED, (restore.error,
                                                 list(restore.log_entries.values_list("message", flat=True)))
    assert same_tree(home, Path(dst.mountpoint, "restored", f"home@{second.result['snapshot']}"))


def test_a_restore_drill_proves_the_newest_chain_and_a_damaged_one_raises_an_event(zfs_source, admin_user):
    from apps.storage.models import StorageEvent

    runner, source, dst, repo = zfs_source
    write_files(Path(source.mountpoint), {"a/b.txt": b"drill\n" * 10_000, "c.bin": os.urandom(150_000)})
    task = _task(source, repo, drill_pool=dst)
    for _round in range(2):
        assert run_task(task, runner).state == JobState.SUCCEEDED
    drill = run_job(services.start_drill(task).pk, runner=runner)
    assert drill.state == JobState.SUCCEEDED, (drill.error, list(drill.log_entries.values_list("message", flat=True)))
    assert drill.result["files"] == 2 and drill.result["compared_names"] >= 3 and drill.result["compared_files"] >= 2
    task.refresh_from_db()
    assert task.last_drill_ok is True and task.last_drill_at is not None
    assert subprocess.run(["zfs", "list", "-H", "-o", "name", "-r", dst.name], capture_output=True,
                          text=True).stdout.count("calypso-drill") == 0  # the scratch copy is gone

    newest = SentSnapshot.objects.filter(task=task).order_by("-snapshot").first()
    damaged = repo / newest.path
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")
    failed = run_job(services.start_drill(task).pk, runner=runner)
    assert failed.state in (JobState.FAILED, JobState.ROLLED_BACK) and "damaged" in failed.error
    task.refresh_from_db()
    assert task.last_drill_ok is False and "damaged" in task.last_drill_error
    event = StorageEvent.objects.get(kind="backup_failed")
    assert event.severity == "critical" and task.name in event.message


@pytest.mark.django_db(transaction=True)  # committed rows: the worker is another process
def test_a_worker_killed_mid_stream_leaves_nothing_complete_and_the_next_run_succeeds(zfs_source, admin_user):
    """A real kill -9 of the process running the job (as the worker's pool process would die): no undo runs,
    so its .partial stays behind, never counted; the next run removes it and writes a complete chain."""
    import signal
    import sys

    from django.conf import settings

    from apps.core.testing.live import database_url

    runner, source, _dst, repo = zfs_source
    write_files(Path(source.mountpoint), {"big.bin": os.urandom(3_000_000)})
    target = services.TARGETS.create(name="nas", kind="repository", path=str(repo), bandwidth_limit_kib=256)
    task = services.TASKS.create(name="data", source=source, target=target)
    job = services.start_backup_run(task)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "calypso.settings", "CALYPSO_DATA_DIR": str(settings.DATA_DIR),
           "DATABASE_URL": database_url(settings.DATABASES["default"]), "REDIS_URL": settings.REDIS_URL,
           "CALYPSO_LOG_LEVEL": "WARNING"}
    worker = subprocess.Popen(
        [sys.executable, "-c", "import django; django.setup(); from apps.jobs.runtime import run_job; "
                               f"run_job({job.pk})"], env=env, cwd=settings.BASE_DIR, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not list(repo.rglob("*.partial")) or not any(p.stat().st_size for p in repo.rglob("*.partial")):
            assert worker.poll() is None and time.monotonic() < deadline, "the run never started writing"
            time.sleep(0.05)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and the pipeline it started
        worker.wait(10)
    partial = list(repo.rglob("*.partial"))
    assert partial and not list(repo.rglob("*.json"))  # half a file, no manifest: nothing looks complete
    assert services.retention_dry_run(task, runner=runner)["destroy_target"] == []

    assert reap_stale_jobs(stale_after_s=0.001) == [job.pk]  # the reaper: its heartbeat stopped with it
    Target.objects.filter(pk=target.pk).update(bandwidth_limit_kib=0)
    task.refresh_from_db()
    again = run_task(task, runner)
    assert again.state == JobState.SUCCEEDED and again.result["kind"] == "full", again.error
    assert not any(p.exists() for p in partial)
    assert any("an unfinished write of an earlier run" in m for m in again.log_entries.values_list("message", flat=True))
