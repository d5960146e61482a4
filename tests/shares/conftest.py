"""Shares test fixtures: a replay runner that answers Samba's checks the way a healthy host does (the managed
dataset ``projects`` comes from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings

from apps.core.runner import ReplayRunner
from apps.shares.services import include_path

from .recordings import add_recording

__all__ = ["samba_ok"]


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
