"""Against a real tgtd (its own control port and a loopback portal): a library of 2 drives, 10 slots, 2
import/export slots and 4 media, seen by libiscsi's tools as two tape drives and a changer; a create on a
target id in use rolls back and leaves the first library alone; delete keeps the media files."""

from __future__ import annotations

import re
import subprocess

import pytest

from apps.core.errors import BackendError
from apps.core.runner import LocalRunner
from apps.core.testing import require_root, require_tools
from apps.core.testing.daemons import start_tgtd
from apps.tape.backends.base import DriveSpec, LibrarySpec, MediumSpec
from apps.tape.backends.tgt_vtl import TgtLibraryBackend

pytestmark = pytest.mark.integration

IQN = "iqn.2026-12.local.calypso:itape1"
CODES = ("ITC001L6", "ITC002L6", "ITC003L6", "ITC004L6")
SPEC = LibrarySpec(name="itape1", serial="ITLIB0001", slots=10, ie_slots=2,
                   drives=(DriveSpec(serial="ITDRV0001"), DriveSpec(serial="ITDRV0002")),
                   media=tuple(MediumSpec(barcode=c, slot=i, size_mb=64) for i, c in enumerate(CODES, start=1)))


@pytest.fixture
def tgtd(tmp_path):
    """(control port, portal port) of a tgtd of our own, shut down afterwards (killed by PID if it stays)."""
    require_root()
    require_tools("tgtd", "tgtadm", "tgtimg", "iscsi-ls", "iscsi-inq")
    daemon = start_tgtd(tmp_path / "tgtd")
    control = daemon.extra["control"]
    try:
        yield control, daemon.port
    finally:
        daemon.stop()


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=15)


def test_a_library_seen_as_two_drives_and_a_changer(tgtd, tmp_path):
    control, port = tgtd
    media = tmp_path / "media"
    media.mkdir()
    backend = TgtLibraryBackend(LocalRunner(), control_port=control)
    backend.create(SPEC, 1, IQN, str(media), initiators=("127.0.0.1",))
    assert sorted(p.name for p in media.iterdir()) == [*CODES, "itape1.smc"]

    listing = _run("iscsi-ls", "-s", f"iscsi://127.0.0.1:{port}")
    assert listing.returncode == 0, listing.stderr
    assert f"Target:{IQN} Portal:127.0.0.1:{port},1" in listing.stdout
    types = re.findall(r"^Lun:(\d+)\s+Type:(\w+)", listing.stdout, re.MULTILINE)
    assert types == [("0", "STORAGE_ARRAY_CONTROLLER"), ("1", "SEQUENTIAL_ACCESS"), ("2", "SEQUENTIAL_ACCESS"),
                     ("3", "MEDIA_CHANGER")], listing.stdout
    changer = _run("iscsi-inq", f"iscsi://127.0.0.1:{port}/{IQN}/3")
    assert "Peripheral Device Type:MEDIA_CHANGER" in changer.stdout and "Vendor:STK" in changer.stdout, changer

    (library,) = backend.show()
    assert (library.tid, library.iqn, library.changer.lun) == (1, IQN, 3)
    assert [d.serial for d in library.drives] == ["ITDRV0001", "ITDRV0002"] and library.loaded == {}

    other = tmp_path / "other"
    other.mkdir()
    spec2 = LibrarySpec(name="itape2", media=(MediumSpec(barcode="ITC101L6", slot=1, size_mb=8),))
    with pytest.raises(BackendError, match="this target already exists.*rolled back in reverse order"):
        backend.create(spec2, 1, "iqn.2026-12.local.calypso:itape2", str(other))
    assert list(other.iterdir()) == []  # its medium and changer file were removed
    assert [lib.iqn for lib in backend.show()] == [IQN]

    backend.delete(1)
    assert backend.show() == []
    assert _run("iscsi-ls", "-s", f"iscsi://127.0.0.1:{port}").stdout.strip() == ""
    assert sorted(p.name for p in media.iterdir()) == [*CODES, "itape1.smc"]  # the media are kept
