"""Snapshot policies end to end on a real zfs-fuse mirror and a real loop-mounted Btrfs (root only):
a day of hourly policy runs with an advancing clock, every frequency taken and every capped one pruned,
retention checked on the host, then everything destroyed. The retention engine's long runs (hundreds of
hours, years) are simulated without a host in test_retention.py."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from apps.core.runner import LocalRunner
from apps.jobs.runtime import run_job
from apps.storage import policies, services, sync
from apps.storage.backends import get_btrfs_backend, get_zfs_backend
from apps.storage.models import Dataset, Pool, Snapshot, SnapshotPolicy
from apps.storage.retention import parse_snapshot_name

pytestmark = pytest.mark.integration

T0 = datetime(2031, 1, 20, 0, 0, tzinfo=UTC)  # a Monday, midnight: 25 hourly runs from here to the next midnight
ZFS_TARGET = 55  # take 25 frequent, 25 hourly, 2 daily, a weekly, a monthly and a yearly snapshot on the ZFS dataset
BTRFS_TARGET = 53  # and the same but the monthly and yearly on the Btrfs subvolume


def _frequencies(policy: SnapshotPolicy, names) -> Counter:
    return Counter(parse_snapshot_name(policy.naming_template, n.rpartition("@")[2])[0].value for n in names)


def _drive(policy: SnapshotPolicy, runner: LocalRunner, *, until, hold_after=None) -> tuple[list[str], list[str]]:
    """Run the policy hour after hour until ``until(created)``; returns (created, destroyed) over all runs."""
    created, destroyed, moment = [], [], T0
    while not until(created):
        job = run_job(policies.start_policy_run(policy, now=moment).pk, runner=runner)
        assert job.state == "succeeded", job.error
        created += job.result["created"]
        destroyed += job.result["destroyed"]
        if hold_after is not None and moment == T0 + hold_after[0]:
            hold_after[1](created)
        moment += timedelta(hours=1)
    return created, destroyed


def _expected(policy: SnapshotPolicy, created: list[str]) -> dict[str, int]:
    made = _frequencies(policy, created)
    rule = policy.rule()
    return {f: min(n, getattr(rule, "frequent_count" if f == "frequent" else f)) for f, n in made.items()}


@pytest.mark.django_db
def test_zfs_recursive_policy_with_a_hold_pruned_by_retention(zfs_pool_factory, settings, operator_user):
    settings.CALYPSO_ZFS_FLAVOUR = "zfs-fuse"
    runner = LocalRunner()
    backend = get_zfs_backend(runner)
    name, _ = zfs_pool_factory("mirror", 2)
    sync.sync_zfs_pool(runner, name)
    pool = Pool.objects.get(name=name, backend="zfs")
    data = services.create_dataset(pool, f"{name}/data", actor=operator_user, runner=runner)
    services.create_dataset(pool, f"{name}/data/child", actor=operator_user, runner=runner)
    # frequent snapshots every 30 minutes as well: two per hourly run, and a daily at each of the two midnights
    policy = policies.create_policy(name="zfs-hourly", dataset=data, recursive=True, frequent_count=4,
                                    frequent_period_minutes=30, hourly=12, daily=1, weekly=4, monthly=3, yearly=1,
                                    actor=operator_user)
    held: list[str] = []

    def hold_first_hourly(created):
        first = Snapshot.objects.get(name=next(c for c in created if "_hourly_" in c))
        services.hold_snapshot(first, "keepme", actor=operator_user, runner=runner)
        held.append(first.name)

    created, destroyed = _drive(policy, runner, until=lambda c: len(c) >= ZFS_TARGET,
                                hold_after=(timedelta(hours=2), hold_first_hourly))
    assert len(created) == ZFS_TARGET  # T0 chosen so the last run lands exactly on it
    assert held == [f"{name}/data@calypso_hourly_{T0:%Y-%m-%d_%H:%M:%S}"]

    expected = _expected(policy, created)
    assert expected == {"frequent": 4, "hourly": 12, "daily": 1, "weekly": 1, "monthly": 1, "yearly": 1}
    for dataset in (f"{name}/data", f"{name}/data/child"):
        on_host = [s.name for s in backend.list_snapshots(dataset) if s.dataset == dataset]
        counts = _frequencies(policy, on_host)
        assert counts == {**expected, "hourly": expected["hourly"] + (dataset == f"{name}/data")}, dataset
        newest_hourlies = [c.replace(f"{name}/data@", f"{dataset}@") for c in created if "_hourly_" in c][-12:]
        assert set(newest_hourlies) <= set(on_host)
    assert held[0] in {s.name for s in backend.list_snapshots(f"{name}/data")}
    assert held[0] not in destroyed
    assert len(destroyed) == 2 * (len(created) - sum(expected.values())) - 1  # on both datasets, but the held one
    assert Snapshot.objects.filter(dataset__pool=pool).count() == 2 * sum(expected.values()) + 1

    policies.delete_policy(policy, actor=operator_user)
    snap = Snapshot.objects.get(name=held[0])
    services.release_snapshot(snap, "keepme", actor=operator_user, runner=runner)
    services.destroy_snapshots(Snapshot.objects.filter(dataset__pool=pool).select_related("dataset__pool"),
                               actor=operator_user, runner=runner)
    services.destroy_dataset(Dataset.objects.get(name=f"{name}/data"), recursive=True, actor=operator_user,
                             runner=runner)
    assert backend.list_snapshots(name) == []
    assert [d.name for d in backend.list_datasets(name)] == [name]
    job = run_job(services.destroy_pool(pool, actor=operator_user).pk, runner=runner)
    assert job.state == "succeeded", job.error
    assert name not in {p.name for p in backend.list_pools()}


@pytest.mark.django_db
def test_btrfs_policy_on_a_subvolume_pruned_by_retention(btrfs_mount, operator_user):
    runner = LocalRunner()
    backend = get_btrfs_backend(runner)
    pool = services.register_btrfs_pool(btrfs_mount, actor=operator_user, runner=runner)
    home = services.create_dataset(pool, "home", actor=operator_user, runner=runner)
    Path(btrfs_mount, "home", "file.txt").write_text("policy data\n")
    keep = f"calypso_hourly_{T0 + timedelta(hours=1):%Y-%m-%d_%H:%M:%S}"  # e.g. a replication base
    policy = policies.create_policy(name="btrfs-home", dataset=home, frequent_count=4, frequent_period_minutes=30,
                                    hourly=12, daily=1, weekly=1, monthly=0, protected_snapshots=[keep],
                                    actor=operator_user)
    created, destroyed = _drive(policy, runner, until=lambda c: len(c) >= BTRFS_TARGET)
    expected = _expected(policy, created)
    assert len(created) == BTRFS_TARGET
    assert len(destroyed) == len(created) - sum(expected.values()) - 1  # all but the kept and the protected one
    assert expected == {"frequent": 4, "hourly": 12, "daily": 1, "weekly": 1}
    on_host = [s.name for s in backend.list_snapshots(btrfs_mount) if s.dataset == home.name]
    assert _frequencies(policy, on_host) == {**expected, "hourly": 13}  # + the protected one
    assert f"{home.name}@{keep}" in on_host and f"{home.name}@{keep}" not in destroyed
    assert Path(btrfs_mount, f"home@{keep}", "file.txt").read_text() == "policy data\n"
    assert sorted(Snapshot.objects.filter(dataset=home).values_list("name", flat=True)) == sorted(on_host)

    policies.delete_policy(policy, actor=operator_user)
    services.destroy_snapshots(Snapshot.objects.filter(dataset=home).select_related("dataset__pool"),
                               actor=operator_user, runner=runner)
    services.destroy_dataset(Dataset.objects.get(pk=home.pk), actor=operator_user, runner=runner)
    assert backend.list_snapshots(btrfs_mount) == [] and backend.list_subvolumes(btrfs_mount) == []
