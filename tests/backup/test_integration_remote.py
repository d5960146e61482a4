"""Targets on another host over SSH (root only): a private sshd on a loopback port stands for that host.
Stream files to a repository there and a restore from it compared byte for byte; ZFS replication there;
the host key pinned on first contact and enforced after; a connection cut mid-stream and a full target
leave nothing that looks complete, and the next run succeeds."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from apps.backup import remote, services
from apps.backup.models import SentSnapshot, Target
from apps.core.runner import LocalRunner
from apps.jobs.choices import JobState
from apps.jobs.runtime import run_job
from apps.storage.models import Dataset

from .helpers import run_task, same_tree, write_files, zfs_guid, zfs_snapshot_tree

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def authorized(ssh_server):
    """Calypso's SSH key, made as on first use and put into the test host's authorized_keys."""
    identity = remote.ssh_identity(LocalRunner())
    ssh_server.authorize(identity.public_key)
    return ssh_server


def _remote_target(server, **fields) -> Target:
    return services.TARGETS.create(name=fields.pop("name", "offsite"), host=server.host, port=server.port, **fields)


def test_stream_files_to_a_repository_over_ssh_and_a_restore_from_it(authorized, zfs_pair, tmp_path, admin_user):
    runner, source, dst = zfs_pair
    repo = tmp_path / "offsite-repo"
    repo.mkdir()
    mount = Path(source.mountpoint)
    write_files(mount, {"docs/a.txt": b"offsite\n" * 30_000, "b.bin": os.urandom(300_000)})
    target = _remote_target(authorized, kind="repository", path=str(repo))
    assert target.host_key == ""
    task = services.TASKS.create(name="data", source=source, target=target)

    first = run_task(task, runner)
    assert first.state == JobState.SUCCEEDED, (first.error, list(first.log_entries.values_list("message", flat=True)))
    target.refresh_from_db()
    assert target.host_key == authorized.host_key  # pinned on first contact
    logged = list(first.log_entries.values_list("message", flat=True))
    assert any("Pinned the host key" in m for m in logged) and any("dd of=" in m for m in logged)
    assert (repo / first.result["file"]).is_file() and Path(f"{repo / first.result['file']}.json").is_file()
    write_files(mount, {"c.bin": os.urandom(50_000)})
    second = run_task(task, runner)
    assert second.state == JobState.SUCCEEDED and second.result["kind"] == "incremental", second.error

    sent = SentSnapshot.objects.get(task=task, snapshot=second.result["snapshot"])
    assert sent.target_name.startswith(f"{authorized.host}:")
    restore = run_job(services.start_restore(sent, pool=dst, name="from-offsite").pk, runner=runner)
    assert restore.state == JobState.SUCCEEDED, (restore.error,
                                                 list(restore.log_entries.values_list("message", flat=True)))
    with zfs_snapshot_tree(f"{dst.name}/from-offsite@{sent.snapshot}") as tree:
        assert same_tree(mount, tree)
    verify = run_job(services.start_verify(task).pk, runner=runner)
    assert verify.state == JobState.SUCCEEDED and verify.result["files"] == 2


def test_zfs_replication_to_another_host_and_a_changed_host_key_is_refused(authorized, zfs_pair, admin_user):
    runner, source, dst = zfs_pair
    write_files(Path(source.mountpoint), {"a.bin": os.urandom(200_000)})
    target = _remote_target(authorized, path=f"{dst.name}/offsite")
    task = services.TASKS.create(name="data", source=source, target=target)
    for _round in range(2):
        job = run_task(task, runner)
        assert job.state == JobState.SUCCEEDED, (job.error, list(job.log_entries.values_list("message", flat=True)))
    assert job.result["kind"] == "incremental"
    replica = f"{dst.name}/offsite/{source.name.replace('/', '_')}"
    assert zfs_guid(f"{replica}@{job.result['snapshot']}") == zfs_guid(f"{source.name}@{job.result['snapshot']}")

    other = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(authorized.home / "other")],
                           check=True)
    assert other.returncode == 0
    Target.objects.filter(pk=target.pk).update(
        host_key=" ".join(Path(authorized.home / "other.pub").read_text().split()[:2]))
    task.refresh_from_db()
    refused = run_task(task, runner)
    assert refused.state in (JobState.FAILED, JobState.ROLLED_BACK)
    assert "other than the one pinned" in refused.error and "clear the target's host key" in refused.error


def test_a_connection_cut_mid_stream_leaves_nothing_complete_and_the_next_run_succeeds(authorized, zfs_pair,
                                                                                       tmp_path, admin_user):
    runner, source, _dst = zfs_pair
    repo = tmp_path / "repo"
    repo.mkdir()
    write_files(Path(source.mountpoint), {"big.bin": os.urandom(3_000_000)})
    target = _remote_target(authorized, kind="repository", path=str(repo), bandwidth_limit_kib=512)
    task = services.TASKS.create(name="data", source=source, target=target)

    def cut() -> None:  # the remote side of the stream dies (as when the link drops)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if subprocess.run(["pkill", "-f", f"dd of={repo}"], capture_output=True).returncode == 0:
                return
            time.sleep(0.1)

    cutter = threading.Thread(target=cut)
    cutter.start()
    job = run_task(task, runner)
    cutter.join()
    assert job.state == JobState.ROLLED_BACK, (job.state, job.error)
    assert not [p for p in repo.rglob("*") if p.is_file()]  # no file at all, complete-looking or partial
    assert not SentSnapshot.objects.filter(task=task).exists()

    Target.objects.filter(pk=target.pk).update(bandwidth_limit_kib=0)
    task.refresh_from_db()
    again = run_task(task, runner)
    assert again.state == JobState.SUCCEEDED and again.result["kind"] == "full", again.error


def test_a_full_repository_fails_the_run_with_the_fix_and_keeps_nothing(zfs_pair, tmp_path, admin_user):
    runner, source, _dst = zfs_pair
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
    try:
        write_files(Path(source.mountpoint), {"big.bin": os.urandom(3_000_000)})
        target = services.TARGETS.create(name="small", kind="repository", path=str(small))
        Dataset.objects.filter(pk=source.pk).update(referenced_bytes=100)  # the estimate passes: the write fails
        source.refresh_from_db()
        task = services.TASKS.create(name="data", source=source, target=target)
        job = run_task(task, runner)
        assert job.state == JobState.ROLLED_BACK, job.error
        assert "ran out of space" in job.error and "Free space" in job.error, job.error
        assert not [p for p in small.rglob("*") if p.is_file()]
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_btrfs_replication_to_another_host_and_a_drill_from_there(authorized, btrfs_factory, admin_user):
    from apps.storage.services import register_btrfs_pool

    runner = LocalRunner()
    src_mnt, far_mnt = btrfs_factory("calysrc", 512 << 20), btrfs_factory("calyfar", 512 << 20)
    runner.run(["btrfs", "subvolume", "create", f"{src_mnt}/home"])
    pool = register_btrfs_pool(src_mnt, runner=runner)
    source = Dataset.objects.get(pool=pool, name=f"{pool.name}/home")
    write_files(Path(source.mountpoint), {"n.txt": b"far away\n" * 4000, "p.raw": os.urandom(120_000)})
    Path(far_mnt, "backup").mkdir()
    target = _remote_target(authorized, path=f"{far_mnt}/backup")
    task = services.TASKS.create(name="home", source=source, target=target, drill_pool=pool)
    for _round in range(2):
        job = run_task(task, runner)
        assert job.state == JobState.SUCCEEDED, (job.error, list(job.log_entries.values_list("message", flat=True)))
    assert job.result["kind"] == "incremental"
    assert same_tree(Path(source.mountpoint), Path(far_mnt, "backup", "home", f"home@{job.result['snapshot']}"))
    drill = run_job(services.start_drill(task).pk, runner=runner)
    assert drill.state == JobState.SUCCEEDED, (drill.error, list(drill.log_entries.values_list("message", flat=True)))
