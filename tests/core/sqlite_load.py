"""One portal process's share of concurrent writes on a SQLite file, for tests/core/test_sqlite_concurrency.py.

    python -m tests.core.sqlite_load ROLE SECONDS

Roles, run at once against one ``DATABASE_URL``:
- ``setup``: one pool, datasets and two snapshot policies (the database must be migrated);
- ``sync``: the inventory sync's reconcile (``sync.reconcile``) over and over, with snapshots coming and going;
- ``tick``: the policy beat tick (``policies.run_due_policies``) five times a second, finishing each queued run;
- ``web``: API-like edits, each a transaction that reads a policy and saves it changed.

Each prints one JSON line: how many units it did, and the database errors it met (none expected).
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta

DATASETS = 40


def _infos(round_: int):
    from apps.storage.backends.base import DatasetInfo, PoolInfo, SnapshotInfo

    pool = PoolInfo(name="load", backend="zfs", health="ONLINE", size_bytes=1 << 30, allocated_bytes=round_,
                    free_bytes=(1 << 30) - round_)
    datasets = [DatasetInfo(name="load" if i == 0 else f"load/d{i}", pool="load", kind="filesystem",
                            used_bytes=round_ + i) for i in range(DATASETS)]
    base = datetime(2026, 1, 1, tzinfo=UTC)
    snapshots = [SnapshotInfo(name=f"{d.name}@s{n}", dataset=d.name, short_name=f"s{n}",
                              created_at=base + timedelta(minutes=n), used_bytes=n)
                 for d in datasets for n in range(round_ % 7, round_ % 7 + 5)]
    return pool, datasets, snapshots


def setup() -> dict:
    from apps.storage import sync
    from apps.storage.models import Dataset, SnapshotPolicy

    pool, datasets, snapshots = _infos(0)
    sync.reconcile("zfs", [pool], datasets, snapshots)
    root = Dataset.objects.get(name="load")
    SnapshotPolicy.objects.create(name="ticked", dataset=root)
    SnapshotPolicy.objects.create(name="edited", dataset=root, enabled=False, hourly=0)
    return {"done": 1}


def sync_role(until: float) -> dict:
    from apps.storage import sync

    done = 0
    while time.monotonic() < until:
        pool, datasets, snapshots = _infos(done + 1)
        sync.reconcile("zfs", [pool], datasets, snapshots)
        done += 1
        time.sleep(0.02)  # a real sync asks the host between listings
    return {"done": done}


def tick_role(until: float) -> dict:
    from apps.jobs import tasks as job_tasks
    from apps.jobs.choices import JobState
    from apps.jobs.models import Job
    from apps.storage import policies

    job_tasks.run_job_task.apply_async = lambda *args, **kwargs: None  # no broker: the row is what counts
    done = 0
    while time.monotonic() < until:
        started = time.monotonic()
        for job in policies.run_due_policies():
            Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED, lock_key=None)
        done += 1
        time.sleep(max(0.0, 0.2 - (time.monotonic() - started)))
    return {"done": done}


def web_role(until: float) -> dict:
    from django.db import transaction

    from apps.storage.models import SnapshotPolicy

    done = 0
    while time.monotonic() < until:
        with transaction.atomic():
            policy = SnapshotPolicy.objects.get(name="edited")
            policy.hourly += 1
            policy.save(update_fields=["hourly"])
        done += 1
        time.sleep(0.01)
    return {"done": done}


def main(role: str, seconds: float) -> int:
    import django
    from django.db import DatabaseError

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "calypso.settings")
    django.setup()
    until = time.monotonic() + seconds
    errors: list[str] = []
    result: dict = {"done": 0}
    try:
        result = setup() if role == "setup" else {"sync": sync_role, "tick": tick_role, "web": web_role}[role](until)
    except DatabaseError as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    sys.stdout.write(json.dumps({"role": role, **result, "errors": errors}) + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
