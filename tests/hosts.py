"""Host fixtures every app's integration tests share (root and the real tools): one zfs-fuse daemon for the
run with throwaway pools on sparse files, loop-mounted Btrfs filesystems, a private sshd on a loopback
port, and one live portal (uvicorn + Celery worker) for every live test module. Loaded by tests/conftest.py."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from apps.core.errors import BackendError
from apps.core.runner import LocalRunner
from apps.core.testing import require_root, require_tools
from apps.core.testing.live import LiveStack, database_url
from apps.storage.backends.btrfs import BtrfsBackend
from apps.storage.backends.zfs import ZfsBackend

__all__ = ["BTRFS_IMAGE_BYTES", "BTRFS_LABEL", "LIVE_HEARTBEAT_S", "SshServer", "btrfs_factory", "btrfs_mount",
           "live_stack", "ssh_server", "zfs_backend", "zfs_daemon", "zfs_mirror_pool", "zfs_pool_factory"]

BTRFS_LABEL = "calytest"  # the btrfs_mount fixture's filesystem label
BTRFS_IMAGE_BYTES = 1 << 30  # and its sparse image (only what is written takes disk space)
LIVE_HEARTBEAT_S = 0.5  # the live worker's job heartbeat


ZFS_PIDFILE = "/run/calypso-test-zfs-fuse.pid"


def _zpool_answers() -> bool:
    try:
        return subprocess.run(["zpool", "list"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def zfs_daemon() -> Iterator[None]:
    """zfs-fuse for the whole run: reuse a running one, else start ours (own session) and stop it by PID."""
    require_root()
    require_tools("zpool", "zfs", "zfs-fuse")
    if _zpool_answers():
        yield
        return
    proc = subprocess.Popen(  # its own session, like `setsid`: a signal to our group never reaches it
        ["zfs-fuse", "--no-daemon", "-p", ZFS_PIDFILE],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not _zpool_answers():
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            pytest.fail("zfs-fuse did not start")
        time.sleep(0.2)
    yield
    _stop(proc)


@pytest.fixture
def zfs_backend(zfs_daemon: None) -> ZfsBackend:
    """A ZfsBackend on this host through the real LocalRunner."""
    return ZfsBackend(LocalRunner())


def _cleanup_pool(backend: ZfsBackend, name: str, search_dir: Path) -> None:
    try:
        backend.destroy_pool(name, force=True)
    except BackendError:
        try:  # a test may have left it exported
            backend.import_pool(name, [str(search_dir)], force=True)
            backend.destroy_pool(name, force=True)
        except BackendError:
            pass


@pytest.fixture
def zfs_pool_factory(zfs_backend: ZfsBackend, tmp_path: Path) -> Iterator[Callable[..., tuple[str, Path]]]:
    """make(layout, files=N) -> (unique pool name, dir of its sparse image files); destroyed afterwards."""
    made: list[tuple[str, Path]] = []

    def make(layout: str = "mirror", files: int = 2, size: str = "128M") -> tuple[str, Path]:
        name = f"ztest{uuid.uuid4().hex[:10]}"
        disk_dir = tmp_path / name
        disk_dir.mkdir()
        devices = [str(disk_dir / f"d{i}.img") for i in range(files)]
        for dev in devices:
            subprocess.run(["truncate", "-s", size, dev], check=True)
        made.append((name, disk_dir))
        zfs_backend.create_pool(
            name, [{"type": layout, "devices": devices}], mountpoint=str(tmp_path / f"{name}-mnt"), force=True
        )
        return name, disk_dir

    yield make
    for name, disk_dir in reversed(made):
        _cleanup_pool(zfs_backend, name, disk_dir)
        shutil.rmtree(disk_dir, ignore_errors=True)


@pytest.fixture
def zfs_mirror_pool(zfs_pool_factory: Callable[..., tuple[str, Path]]) -> tuple[str, Path]:
    """A fresh two-way mirror pool on sparse files."""
    return zfs_pool_factory("mirror", 2)


def _forget_scrub_records(uuid: str) -> None:
    # btrfs-progs keeps scrub results per filesystem uuid; this filesystem is gone after the test.
    for prefix in ("scrub.status.", "scrub.progress."):
        Path("/var/lib/btrfs", prefix + uuid).unlink(missing_ok=True)


@pytest.fixture
def btrfs_factory(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """make(label=BTRFS_LABEL, size=BTRFS_IMAGE_BYTES) -> the mountpoint of a fresh Btrfs filesystem on a
    sparse loop-mounted image; every one is torn down completely afterwards."""
    require_root()
    require_tools("btrfs", "mkfs.btrfs", "losetup", "mount")
    runner = LocalRunner()
    made: list[tuple[str, str, Path, str]] = []

    def make(label: str = BTRFS_LABEL, size: int = BTRFS_IMAGE_BYTES) -> str:
        image, mnt = tmp_path / f"{label}-{uuid.uuid4().hex[:6]}.img", tmp_path / f"mnt-{uuid.uuid4().hex[:6]}"
        mnt.mkdir()
        with image.open("wb") as fh:
            fh.truncate(size)
        runner.run(["mkfs.btrfs", "-q", "-L", label, str(image)])
        loop = runner.run(["losetup", "--find", "--show", str(image)]).stdout.strip()
        made.append((str(mnt), loop, image, ""))
        runner.run(["mount", loop, str(mnt)])
        made[-1] = (str(mnt), loop, image, BtrfsBackend(runner).filesystem_info(str(mnt)).guid)
        return str(mnt)

    yield make
    for mnt, loop, image, fs_uuid in reversed(made):
        runner.run(["umount", mnt], check=False)
        runner.run(["losetup", "-d", loop], check=False)
        image.unlink(missing_ok=True)
        if fs_uuid:
            _forget_scrub_records(fs_uuid)


@pytest.fixture
def btrfs_mount(btrfs_factory: Callable[..., str]) -> str:
    """A fresh Btrfs filesystem (label BTRFS_LABEL) on a sparse image, loop-mounted; torn down afterwards."""
    return btrfs_factory()


@dataclass(frozen=True)
class SshServer:
    """A private sshd on 127.0.0.1: ``authorize(public_key)`` lets a key in as root."""

    host: str
    port: int
    host_key: str  # "ssh-ed25519 AAAA..." as the server presents it
    authorized_keys: Path
    home: Path  # its private directory (host key, configuration, log)

    def authorize(self, public_key: str) -> None:
        with self.authorized_keys.open("a") as fh:
            fh.write(public_key.strip() + "\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ssh_server(tmp_path_factory) -> Iterator[SshServer]:
    """OpenSSH's sshd with its own host key and configuration on a loopback port for the whole run, root by
    key only (tests authorize their keys); stopped by PID at the end."""
    require_root()
    require_tools("sshd", "ssh", "ssh-keygen")
    home = tmp_path_factory.mktemp("sshd")
    home.chmod(0o700)
    key = home / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    authorized = home / "authorized_keys"
    authorized.touch(mode=0o600)
    port = _free_port()
    config = home / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {key}", f"PidFile {home / 'sshd.pid'}",
        f"AuthorizedKeysFile {authorized}", "PermitRootLogin prohibit-password", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "LogLevel ERROR", ""]))
    Path("/run/sshd").mkdir(exist_ok=True)  # its privilege separation directory
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                            stderr=(home / "sshd.log").open("w"), start_new_session=True)
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            pytest.fail(f"sshd did not start: {(home / 'sshd.log').read_text()[-500:]}")
        time.sleep(0.05)
    host_key = " ".join(Path(f"{key}.pub").read_text().split()[:2])
    try:
        yield SshServer("127.0.0.1", port, host_key, authorized, home)
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def live_stack(django_db_setup, django_db_blocker) -> Iterator[LiveStack]:
    """A real uvicorn server and Celery worker on the test database and Redis, on a queue and channel prefix
    of their own, started once for the run by the first test that needs it. Test modules use it through
    ``tests.jobs.test_live.live``, which points this process's Celery and channel layer at it and stops it (by
    PID) after the last module that needs it; at the latest it stops at the end of the run."""
    from django.conf import settings

    db = settings.DATABASES["default"]  # the test database, now that pytest-django created it
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip(f"live tests need PostgreSQL (other processes share the test database), not {db['ENGINE']}")
    tag = f"calypso-live-{uuid.uuid4().hex[:10]}"
    env = {
        "DJANGO_SETTINGS_MODULE": "calypso.settings",
        "DATABASE_URL": database_url(db),
        "REDIS_URL": settings.REDIS_URL,
        "CALYPSO_QUEUE": tag,
        "CALYPSO_CHANNEL_PREFIX": tag,
        "CALYPSO_CACHE_PREFIX": tag,
        "CALYPSO_DATA_DIR": str(settings.DATA_DIR),
        "CALYPSO_SECRET_KEY": settings.SECRET_KEY,
        "CALYPSO_JOB_HEARTBEAT_S": str(LIVE_HEARTBEAT_S),
        "CALYPSO_PROGRESS_PERSIST_S": "0.25",
        "CALYPSO_LOG_LEVEL": "WARNING",
    }
    with LiveStack(env, queue=tag, include=["tests.jobs.live_tasks"]) as stack:
        yield stack
