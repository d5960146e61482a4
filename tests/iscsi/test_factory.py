"""The one backend factory: configured, or detected (SCST when its kernel module is loaded)."""

from __future__ import annotations

import pytest

from apps.iscsi import backends, services
from apps.iscsi.backends.scst import ScstBackend
from apps.iscsi.backends.tgt import TgtBackend


def test_configured(settings):
    settings.CALYPSO_ISCSI_BACKEND = "scst"
    assert isinstance(backends.get_backend(), ScstBackend)
    settings.CALYPSO_ISCSI_BACKEND = "tgt"
    settings.CALYPSO_TGT_CONTROL_PORT = 4917
    tgt = backends.get_backend()
    assert isinstance(tgt, TgtBackend) and tgt.control_port == 4917


def test_auto_detects_scst_by_its_sysfs_directory(settings, monkeypatch, tmp_path):
    settings.CALYPSO_ISCSI_BACKEND = "auto"
    monkeypatch.setattr(backends, "SCST_SYSFS", str(tmp_path / "missing"))
    assert backends.backend_name() == "tgt"
    monkeypatch.setattr(backends, "SCST_SYSFS", str(tmp_path))
    assert backends.backend_name() == "scst"


@pytest.mark.django_db
def test_generated_configuration_of_scst(settings, replay):
    settings.CALYPSO_ISCSI_BACKEND = "scst"
    config = services.generated_config()
    assert config["backend"] == "scst" and config["path"] == settings.CALYPSO_SCST_CONF
    assert "TARGET_DRIVER iscsi {" in config["text"]
    assert replay.calls == []
