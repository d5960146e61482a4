"""The real Samba: a private smbd on a loopback port serves what Calypso renders, and smbclient connects as an
SMB account Calypso created, on a share of a real zfs-fuse dataset."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.core.errors import BackendError
from apps.core.runner import LocalRunner
from apps.core.testing import require_root, require_tools
from apps.core.testing.daemons import Daemon, start_smbd
from apps.shares import services
from apps.shares.operations import SMB_SHARE
from apps.storage import sync
from apps.storage.models import Dataset

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def smbd(tmp_path) -> Iterator[Daemon]:
    require_root()
    require_tools("smbd", "smbclient", "testparm", "smbcontrol", "smbpasswd", "pdbedit", "smbstatus")
    daemon = start_smbd(tmp_path / "samba")
    try:
        yield daemon
    finally:
        daemon.stop()


def smbclient(server: Daemon, share: str, user: str, password: str, command: str,
              cwd: Path | None = None) -> subprocess.CompletedProcess:
    """One smbclient session (the password through the environment, not the command line)."""
    return subprocess.run(["smbclient", f"//127.0.0.1/{share}", "-p", str(server.port), "-U", user,
                           "-c", command], env={**os.environ, "PASSWD": password}, capture_output=True, text=True,
                          timeout=30, cwd=cwd)


@pytest.fixture
def dataset(zfs_pool_factory) -> Iterator[Dataset]:
    """A zfs-fuse dataset mounted where the SMB account can reach it (pytest's own directories are private)."""
    pool, _ = zfs_pool_factory("stripe", 1, "128M")
    mount = Path(f"/tmp/calypso-smb-{uuid.uuid4().hex[:8]}")
    subprocess.run(["zfs", "create", "-o", f"mountpoint={mount}", f"{pool}/projects"], check=True)
    sync.sync_zfs(LocalRunner())
    yield Dataset.objects.get(name=f"{pool}/projects")
    subprocess.run(["zfs", "destroy", "-r", f"{pool}/projects"], capture_output=True)
    shutil.rmtree(mount, ignore_errors=True)


@pytest.fixture
def smb_account(make_user) -> Iterator[tuple]:
    name = f"csmb{uuid.uuid4().hex[:8]}"
    user = make_user(name, None)
    try:
        yield user, name
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def test_clients_see_what_calypso_renders(smbd, dataset, smb_account, settings, tmp_path):
    settings.CALYPSO_SAMBA_CONF = str(smbd.extra["conf"])
    user, name = smb_account
    password = "Correct-Horse-" + uuid.uuid4().hex[:6]
    account = services.ACCOUNTS.create(user=user, password=password)
    assert account.unix_account_created
    Path(dataset.mountpoint).chmod(0o777)
    ro_dir = Path(dataset.mountpoint) / "archive"
    ro_dir.mkdir(mode=0o755)
    (ro_dir / "old.txt").write_text("kept\n")
    ro_dir.chmod(0o777)  # writable for the account: only the share's read-only setting refuses the write
    (ro_dir / "old.txt").chmod(0o644)
    share = services.SHARES.create(name="projects", path=dataset.mountpoint, valid_users=[name])
    archive = services.SHARES.create(name="archive", path=str(ro_dir), read_only=True)
    assert "include = " in smbd.extra["conf"].read_text()

    # write and read back as the SMB account
    local = tmp_path / "report.txt"
    local.write_text("quarterly numbers\n")
    put = smbclient(smbd, "projects", name, password, f"put {local} report.txt", cwd=tmp_path)
    assert put.returncode == 0, put.stdout + put.stderr
    assert (Path(dataset.mountpoint) / "report.txt").read_text() == "quarterly numbers\n"
    got = smbclient(smbd, "projects", name, password, "get report.txt back.txt", cwd=tmp_path)
    assert got.returncode == 0 and (tmp_path / "back.txt").read_text() == "quarterly numbers\n"
    wrong = smbclient(smbd, "projects", name, "not-the-password", "ls")
    assert "NT_STATUS_LOGON_FAILURE" in wrong.stdout + wrong.stderr

    # the read-only share reads and refuses writes
    listed = smbclient(smbd, "archive", name, password, "ls")
    assert listed.returncode == 0 and "old.txt" in listed.stdout
    refused = smbclient(smbd, "archive", name, password, f"put {local} new.txt", cwd=tmp_path)
    assert "NT_STATUS_ACCESS_DENIED" in refused.stdout + refused.stderr or "NT_STATUS_MEDIA_WRITE_PROTECTED" in \
        refused.stdout + refused.stderr, refused.stdout + refused.stderr
    assert not (ro_dir / "new.txt").exists()

    # a connected client shows in the live view, and removing its share then needs the name typed
    holder = subprocess.Popen(["smbclient", "//127.0.0.1/projects", "-p", str(smbd.port), "-U", name],
                              env={**os.environ, "PASSWD": password}, stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not services.sessions_on(share) and time.monotonic() < deadline:
            time.sleep(0.2)
        status = services.smb_status()
        assert any(s["username"] == name for s in status["sessions"])
        assert SMB_SHARE["delete"].confirm_required(share)
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)

    # a value testparm refuses is refused; the working configuration stays and keeps serving
    before = services.include_path().read_text()
    with pytest.raises(BackendError, match="not boolean"):
        services.SHARES.update(share, extra_options={"oplocks": "maybe"})
    assert services.include_path().read_text() == before
    assert smbclient(smbd, "projects", name, password, "ls").returncode == 0

    # a removed share disappears for new connections
    services.SHARES.delete(archive)
    gone = smbclient(smbd, "archive", name, password, "ls")
    assert "NT_STATUS_BAD_NETWORK_NAME" in gone.stdout + gone.stderr, gone.stdout + gone.stderr

    services.SHARES.delete(share)
    services.ACCOUNTS.delete(account)
    assert subprocess.run(["getent", "passwd", name], capture_output=True).returncode == 2


def test_previous_versions_of_a_btrfs_subvolume(smbd, btrfs_mount, smb_account, settings, tmp_path):
    """A snapshot named by the policy template shows as a previous version of a file (shadow_copy2)."""
    from apps.storage import services as storage

    settings.CALYPSO_SAMBA_CONF = str(smbd.extra["conf"])
    user, name = smb_account
    password = "Correct-Horse-" + uuid.uuid4().hex[:6]
    services.ACCOUNTS.create(user=user, password=password)
    pool = storage.register_btrfs_pool(btrfs_mount)
    home = storage.create_dataset(pool, "home")
    Path(home.mountpoint, "plan.txt").write_text("version 1\n")
    storage.create_snapshot(home, "calypso_hourly_2026-11-30_10:00:00")
    Path(home.mountpoint, "plan.txt").write_text("version 2\n")
    # the pool is mounted under pytest's private directory: the account acts as root on this share
    services.SHARES.create(name="home", path=home.mountpoint, previous_versions=True, admin_users=[name])
    info = smbclient(smbd, "home", name, password, "allinfo plan.txt")
    assert info.returncode == 0, info.stdout + info.stderr
    assert "@GMT-2026.11.30-10.00.00" in info.stdout, info.stdout
    old = smbclient(smbd, "home", name, password, "get @GMT-2026.11.30-10.00.00/plan.txt old.txt", cwd=tmp_path)
    assert old.returncode == 0 and (tmp_path / "old.txt").read_text() == "version 1\n", old.stdout + old.stderr
