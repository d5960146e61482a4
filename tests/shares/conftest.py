"""Shares test fixtures: a managed dataset whose mountpoint is a real directory, and a replay runner that
answers Samba's checks the way a healthy host does."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings

from apps.core.runner import ReplayRunner
from apps.shares.services import include_path
from apps.storage.choices import Backend, DatasetKind
from apps.storage.models import Dataset, Pool

from .recordings import add_recording

__all__ = ["projects", "samba_ok"]


@pytest.fixture
def projects(db, tmp_path) -> Dataset:
    """Dataset tank/projects, mounted at a directory of the test's."""
    mount = tmp_path / "tank" / "projects"
    (mount / "docs").mkdir(parents=True)
    pool = Pool.objects.create(name="tank", backend=Backend.ZFS, mountpoint=str(tmp_path / "tank"))
    Dataset.objects.create(pool=pool, name="tank", kind=DatasetKind.FILESYSTEM, mountpoint=str(tmp_path / "tank"))
    return Dataset.objects.create(pool=pool, name="tank/projects", kind=DatasetKind.FILESYSTEM, mountpoint=str(mount))


def candidate() -> str:
    return str(include_path().with_name(".shares.conf.candidate"))


@pytest.fixture
def samba_ok(replay: ReplayRunner) -> ReplayRunner:
    """testparm accepts every candidate; smbd is running and reloads."""
    replay.add(["testparm", "-s", "--suppress-prompt", candidate()], stdout="", stderr="Loaded services file OK.\n")
    replay.add(["smbcontrol", "-s", django_settings.CALYPSO_SAMBA_CONF, "smbd", "reload-config"])
    add_recording(replay, "smbstatus_json_idle.txt", conf=django_settings.CALYPSO_SAMBA_CONF)
    return replay


def include_text() -> str:
    path = include_path()
    return path.read_text() if path.exists() else ""


def mkdir(path: str | Path) -> str:
    Path(path).mkdir(parents=True, exist_ok=True)
    return str(path)
