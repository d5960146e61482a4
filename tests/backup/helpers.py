"""What the backup integration tests share (not a test module): files written and compared byte for byte,
a task run through its job, and a ZFS snapshot's files seen through a temporary clone."""

from __future__ import annotations

import contextlib
import filecmp
import subprocess
from pathlib import Path

from apps.backup import services
from apps.backup.backends.zfs import ZfsStream
from apps.core.runner import LocalRunner
from apps.jobs.models import Job
from apps.jobs.runtime import run_job
from apps.storage.backends.zfs import ZfsBackend

__all__ = ["run_task", "same_tree", "write_files", "zfs_guid", "zfs_snapshot_tree"]


def write_files(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def same_tree(a: Path, b: Path) -> bool:
    """Byte for byte: the same names and contents below both directories."""
    cmp = filecmp.dircmp(a, b, ignore=[".zfs"])
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _match, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(same_tree(a / d, b / d) for d in cmp.common_dirs)


def run_task(task, runner) -> Job:
    job = run_job(services.start_backup_run(task).pk, runner=runner)
    assert job is not None
    return job


def zfs_snapshot_tree(snapshot: str) -> contextlib.AbstractContextManager[Path]:
    """The files of ``snapshot``, through the temporary clone the product itself reads snapshots by."""
    runner = LocalRunner()
    return ZfsStream(ZfsBackend(runner), runner).files_of(snapshot)


def zfs_guid(name: str) -> str:
    return subprocess.run(["zfs", "get", "-H", "-p", "-o", "value", "guid", name], check=True, capture_output=True,
                          text=True).stdout.strip()
