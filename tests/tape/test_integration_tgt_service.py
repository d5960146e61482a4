"""Against a real tgtd of our own: a tgt library created through the API (its target, its two drives, its changer
and its media files), seen by libiscsi's iscsi-ls, then deleted through the API (its media files stay)."""

from __future__ import annotations

import re
import subprocess

import pytest

from apps.core.runner import LocalRunner, runner_override
from apps.core.testing import require_root, require_tools
from apps.core.testing.daemons import start_tgtd
from apps.tape.backends import get_backend
from apps.tape.models import Library, Medium

pytestmark = pytest.mark.integration

IQN = "iqn.2026-12.local.calypso:stape1"
CODES = ["STC001L6", "STC002L6", "STC003L6"]


@pytest.fixture
def tgtd(tmp_path, settings):
    require_root()
    require_tools("tgtd", "tgtadm", "tgtimg", "iscsi-ls")
    daemon = start_tgtd(tmp_path / "tgtd")
    settings.CALYPSO_TGT_CONTROL_PORT = daemon.extra["control"]
    try:
        with runner_override(LocalRunner()):
            yield daemon.port
    finally:
        daemon.stop()


def _ls(port: int) -> subprocess.CompletedProcess:
    return subprocess.run(["iscsi-ls", "-s", f"iscsi://127.0.0.1:{port}"], capture_output=True, text=True,
                          timeout=15)


def test_a_tgt_library_through_the_api(tgtd, client_for, admin_user, tmp_path):
    api = client_for(admin_user)
    media = tmp_path / "media"
    media.mkdir()
    response = api.post("/api/v1/tape/libraries/", {
        "name": "stape1", "kind": "tgt", "iqn": IQN, "media_home": str(media), "slots": 8, "ie_slots": 1,
        "drive_count": 2, "media_size_mb": 16, "media": CODES}, format="json")
    assert response.status_code == 201, response.content
    library = Library.objects.get()
    assert library.tid is not None and sorted(p.name for p in media.iterdir()) == [*CODES, "stape1.smc"]
    assert Medium.objects.filter(library=library).count() == 3

    done = _ls(tgtd)
    assert done.returncode == 0, done.stderr
    listing = done.stdout
    assert f"Target:{IQN} Portal:127.0.0.1:{tgtd},1" in listing
    types = re.findall(r"^Lun:(\d+)\s+Type:(\w+)", listing, re.MULTILINE)
    assert types == [("0", "STORAGE_ARRAY_CONTROLLER"), ("1", "SEQUENTIAL_ACCESS"), ("2", "SEQUENTIAL_ACCESS"),
                     ("3", "MEDIA_CHANGER")], listing

    response = api.delete(f"/api/v1/tape/libraries/{library.pk}/?confirm=stape1")
    assert response.status_code == 204, response.content
    assert _ls(tgtd).stdout.strip() == "" and not Library.objects.exists()
    assert get_backend("tgt").show() == []
    assert sorted(p.name for p in media.iterdir()) == [*CODES, "stape1.smc"]  # the media stay
