"""Tape test fixtures: mhVTL's and the tape app's files in the test's own directories, and ``changer``: the
mhVTL library of the recordings (changer /dev/sg6, four drives /dev/nst0-3) discovered from ``lsscsi -g`` and
inventoried from ``mtx status``, both replayed."""

from __future__ import annotations

import pytest

from apps.jobs.runtime import run_job
from apps.tape import services
from apps.tape.models import Library

from .recordings import replay as recorded


@pytest.fixture(autouse=True)
def _tape_dirs(settings, tmp_path):
    settings.CALYPSO_MHVTL_CONFIG_DIR = str(tmp_path / "etc-mhvtl")
    (tmp_path / "etc-mhvtl").mkdir()  # mhVTL installed
    settings.CALYPSO_MHVTL_HOME = "/opt/mhvtl"
    settings.CALYPSO_MHVTL_RESTART = ["systemctl", "restart", "mhvtl.target"]
    settings.CALYPSO_TAPE_MEDIA_DIR = str(tmp_path / "tape")
    settings.CALYPSO_TAPE_CLEAN_WAIT_S = 0
    settings.CALYPSO_TGT_CONTROL_PORT = 0
    settings.RUN_DIR = tmp_path / "run"


@pytest.fixture
def changer(db, replay, operator_user) -> Library:
    """The recorded mhVTL library as a physical one: discovered, then inventoried by a job."""
    replay.recordings.update(recorded("lsscsi_g_mhvtl_install.txt", "mtx_status_mhvtl.txt").recordings)
    services.discover(runner=replay)
    library = Library.objects.get(changer="/dev/sg6")
    job = run_job(services.start_inventory(library, actor=operator_user).pk, runner=replay)
    assert job.state == "succeeded", job.error
    replay.calls.clear()
    library.refresh_from_db()
    return library
