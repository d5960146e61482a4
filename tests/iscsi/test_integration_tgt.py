"""Against a real tgtd (its own control port and a loopback portal), through the services: a file-backed LUN
seen by libiscsi's tools with its size, the initiator ACL, CHAP, live sessions and the delete that needs the name typed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from apps.core.testing import require_root, require_tools
from apps.core.testing.daemons import start_tgtd
from apps.iscsi import services
from apps.iscsi.models import Target
from apps.iscsi.operations import TARGET
from apps.storage.choices import Backend, DatasetKind
from apps.storage.models import Dataset, Pool

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

CLIENT = "iqn.2026-01.org.example:client1"
STRANGER = "iqn.2026-01.org.example:stranger"
SIZE = 64 << 20


def _tgtadm(control: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["tgtadm", "-C", str(control), "--lld", "iscsi", *args], capture_output=True, text=True,
                          timeout=10)


@pytest.fixture(scope="module")
def tgtd(tmp_path_factory):
    """(control port, portal port) of a tgtd of our own, stopped by PID at the end."""
    require_root()
    require_tools("tgtd", "tgtadm", "iscsi-ls", "iscsi-inq", "iscsi-readcapacity16", "iscsi-perf")
    daemon = start_tgtd(tmp_path_factory.mktemp("tgtd"))
    try:
        yield daemon.extra["control"], daemon.port
    finally:
        daemon.stop()


@pytest.fixture
def lab(tgtd, settings, tmp_path):
    control, port = tgtd
    settings.CALYPSO_ISCSI_BACKEND = "tgt"
    settings.CALYPSO_TGT_CONTROL_PORT = control
    mount = tmp_path / "itank-luns"
    mount.mkdir()
    pool = Pool.objects.create(name="itank", backend=Backend.ZFS)
    dataset = Dataset.objects.create(pool=pool, name="itank/luns", kind=DatasetKind.FILESYSTEM, mountpoint=str(mount))
    return control, port, dataset


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=15)


def test_a_file_lun_with_acl_and_chap(lab):
    control, port, dataset = lab
    group = services.GROUPS.create(name="clients", initiators=[CLIENT])
    target = services.TARGETS.create(name="itest", initiator_groups=[group])
    iqn = target.iqn
    path = f"{dataset.mountpoint}/disk1.img"
    services.LUNS.create(target=target, lun=1, dataset=dataset, path=path, size_bytes=SIZE)
    assert os.stat(path).st_size == SIZE
    assert Target.objects.get(pk=target.pk).tid is not None

    listing = _run("iscsi-ls", "-s", "-i", CLIENT, f"iscsi://127.0.0.1:{port}")
    assert listing.returncode == 0, listing.stderr
    assert f"Target:{iqn}" in listing.stdout and "Lun:1" in listing.stdout, listing.stdout
    url = f"iscsi://127.0.0.1:{port}/{iqn}/1"
    inquiry = _run("iscsi-inq", "-i", CLIENT, url)
    assert inquiry.returncode == 0 and "DIRECT_ACCESS" in inquiry.stdout, inquiry.stdout + inquiry.stderr
    capacity = _run("iscsi-readcapacity16", "-i", CLIENT, url)
    assert capacity.returncode == 0 and f"Total size:{SIZE}" in capacity.stdout, capacity.stdout

    refused = _run("iscsi-inq", "-i", STRANGER, url)  # not in the group
    assert refused.returncode != 0, refused.stdout
    services.GROUPS.update(group, networks=["127.0.0.1"])  # now its address is enough
    assert _run("iscsi-inq", "-i", STRANGER, url).returncode == 0
    services.GROUPS.update(group, networks=[], initiators=[])  # a group with neither admits everyone
    assert _run("iscsi-inq", "-i", STRANGER, url).returncode == 0
    services.GROUPS.update(group, initiators=[CLIENT])
    assert _run("iscsi-inq", "-i", STRANGER, url).returncode != 0

    services.TARGETS.update(target, chap_user="ituser", chap_secret="goodsecret123")
    assert _run("iscsi-inq", "-i", CLIENT, url).returncode != 0  # CHAP is required now
    wrong = _run("iscsi-inq", "-i", CLIENT, f"iscsi://ituser%wrongsecret12@127.0.0.1:{port}/{iqn}/1")
    assert wrong.returncode != 0 and "uthentication" in wrong.stdout + wrong.stderr, wrong.stdout + wrong.stderr
    right = _run("iscsi-inq", "-i", CLIENT, f"iscsi://ituser%goodsecret123@127.0.0.1:{port}/{iqn}/1")
    assert right.returncode == 0, right.stdout + right.stderr

    conf = Path(services.generated_config()["path"])
    assert "incominguser ituser goodsecret123" in conf.read_text()
    # tgt's own reader takes the persisted file: it would make nothing new (everything is already live).
    pretend = _run("tgt-admin", "-C", str(control), "--conf", str(conf), "--pretend", "--execute")
    assert pretend.returncode == 0, pretend.stdout + pretend.stderr
    assert "--op new" not in pretend.stdout, pretend.stdout

    # A client logged in: the session is listed, and deleting the target needs its name typed.
    client = subprocess.Popen(["iscsi-perf", "-m", "1", "-b", "1", "-i", CLIENT,
                               f"iscsi://ituser%goodsecret123@127.0.0.1:{port}/{iqn}/1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline, sessions = time.monotonic() + 5, []
        while not sessions and time.monotonic() < deadline:
            time.sleep(0.1)
            sessions = services.live_sessions(target)
        assert sessions and sessions[0]["initiator"] == CLIENT and sessions[0]["addresses"] == ["127.0.0.1"]
        assert TARGET["delete"].confirm_required(target)
    finally:
        os.kill(client.pid, signal.SIGKILL)
        client.wait(timeout=5)
    services.TARGETS.delete(Target.objects.get(pk=target.pk))
    shown = _tgtadm(control, "--op", "show", "--mode", "target")
    assert shown.returncode == 0 and iqn not in shown.stdout
    assert "ituser" not in _tgtadm(control, "--op", "show", "--mode", "account").stdout
    assert os.path.exists(path)  # the data stays
