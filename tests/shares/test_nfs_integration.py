"""The real NFS servers' tools. NFS-Ganesha: a private ganesha.nfsd (NFSv4 only, 127.0.0.1, a free port)
reads what Calypso renders, re-reads it on each change (SIGHUP), and libnfs's ``nfs-ls`` lists what it serves,
on a plain directory and on a zfs-fuse filesystem. The kernel server: nfsd itself cannot run here, but the real
``exportfs`` reads the exports file Calypso writes (in a private mount namespace, so the host's own exports
are never touched) and ``exportfs -v`` reports what it took."""

from __future__ import annotations

import glob
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from apps.core.errors import BackendError
from apps.core.runner import DEFAULT_TIMEOUT, CommandResult, LocalRunner, runner_override
from apps.core.testing import require_root, require_tools
from apps.core.testing.daemons import Daemon, start_ganesha
from apps.shares import services
from apps.shares.backends import get_nfs
from apps.shares.models import NfsExport
from apps.storage import sync
from apps.storage.models import Dataset

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def ganesha(settings, tmp_path) -> Iterator[Daemon]:
    """ganesha.nfsd with a main configuration of its own and no exports yet: Calypso adds its include line."""
    require_root()
    require_tools("ganesha.nfsd", "nfs-ls")
    if not glob.glob("/usr/lib/*/ganesha/libfsalvfs.so"):
        pytest.skip("NFS-Ganesha's VFS backend (nfs-ganesha-vfs) is not installed")
    settings.CALYPSO_NFS_BACKEND = "ganesha"
    daemon = start_ganesha(tmp_path / "ganesha", Path(settings.CALYPSO_GANESHA_CONF))
    settings.CALYPSO_GANESHA_PID_FILE = str(daemon.extra["pid_file"])
    try:
        yield daemon
    finally:
        daemon.stop()


def nfs_ls(server: Daemon, pseudo: str) -> subprocess.CompletedProcess:
    return subprocess.run(["nfs-ls", f"nfs://127.0.0.1{pseudo}?version=4&nfsport={server.port}"],
                          capture_output=True, text=True, timeout=20)


def until(check: Callable[[], subprocess.CompletedProcess], wanted: Callable[[subprocess.CompletedProcess], bool],
          timeout: float = 10.0) -> subprocess.CompletedProcess:
    """Ganesha re-reads its exports after the SIGHUP, not during it: ask again until ``wanted`` (or time out)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if wanted(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def listed(name: str) -> Callable[[subprocess.CompletedProcess], bool]:
    return lambda r: r.returncode == 0 and name in r.stdout


def refused(r: subprocess.CompletedProcess) -> bool:
    return r.returncode != 0


def test_exports_appear_change_and_disappear_for_a_real_client(projects, ganesha):
    root = Path(projects.mountpoint)
    (root / "hello-nfs.txt").write_text("hello\n")
    (root / "docs" / "private.txt").write_text("not for 127.0.0.1\n")
    for directory in (root, root / "docs"):  # root is squashed: the anonymous user reads them
        directory.chmod(0o755)
    export = services.EXPORTS.create(path=str(root), clients=[{"host": "127.0.0.1", "access": "rw"}])
    include = f'%include "{get_nfs().config_path()}"'
    assert include in Path(settings.CALYPSO_GANESHA_CONF).read_text()
    seen = until(lambda: nfs_ls(ganesha, str(root)), listed("hello-nfs.txt"))
    assert seen.returncode == 0 and "hello-nfs.txt" in seen.stdout, seen.stderr

    # a client that is not listed is refused
    docs = services.EXPORTS.create(path=str(root / "docs"), clients=[{"host": "10.9.9.9", "access": "rw"}])
    answer = until(lambda: nfs_ls(ganesha, str(root / "docs")), refused)
    assert answer.returncode != 0 and "private.txt" not in answer.stdout
    assert "NFS4ERR" in answer.stderr or "Failed to mount" in answer.stderr, answer.stderr
    services.EXPORTS.update(docs, clients=[{"host": "10.9.9.9", "access": "rw"}, {"host": "127.0.0.0/8"}])
    assert until(lambda: nfs_ls(ganesha, str(root / "docs")), listed("private.txt")).returncode == 0

    services.EXPORTS.delete(export)
    # what stays at that path is the pseudo filesystem's directory leading to the other export, no file of it
    gone = until(lambda: nfs_ls(ganesha, str(root)), lambda r: "hello-nfs.txt" not in r.stdout)
    assert "hello-nfs.txt" not in gone.stdout and gone.stdout.split() [-1:] in ([], ["docs"]), gone.stdout
    assert nfs_ls(ganesha, str(root / "docs")).returncode == 0  # the other export stays
    log = ganesha.extra["log"].read_text(errors="replace")
    assert log.count("Reread exports complete") >= 4 and ganesha.proc.poll() is None


def test_a_zfs_fuse_filesystem_is_served(zfs_pool_factory, ganesha, tmp_path):
    pool, _disks = zfs_pool_factory("stripe", 1, "128M")
    sync.sync_zfs(LocalRunner())
    dataset = Dataset.objects.get(name=pool)
    (Path(dataset.mountpoint) / "on-zfs.txt").write_text("zfs\n")
    try:
        export = services.EXPORTS.create(path=dataset.mountpoint, clients=[{"host": "127.0.0.1"}])
        seen = until(lambda: nfs_ls(ganesha, dataset.mountpoint), listed("on-zfs.txt"))
        assert seen.returncode == 0 and "on-zfs.txt" in seen.stdout, seen.stderr
        services.EXPORTS.delete(export)
        assert until(lambda: nfs_ls(ganesha, dataset.mountpoint), refused).returncode != 0
    finally:
        ganesha.stop()  # before the pool goes: zfs-fuse calls a pool in use busy
        for _ in range(20):
            if subprocess.run(["zpool", "destroy", "-f", pool], capture_output=True).returncode == 0:
                break
            time.sleep(0.5)


# ---------------------------------------------------------------------------------------------- kernel server
NAMESPACE_SETUP = """set -e
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$HOME_DIR/upper,workdir=$HOME_DIR/work" /etc
mkdir -p /etc/exports.d
touch /etc/exports.d/calypso.exports
if [ -f "$EXPORTS_FILE" ]; then mount --bind "$EXPORTS_FILE" /etc/exports.d/calypso.exports; fi
mount --bind "$HOME_DIR/varlib" /var/lib/nfs
exec "$@"
"""


class NamespaceRunner:
    """Runs each command in a private mount namespace where /etc is an overlay whose
    exports.d/calypso.exports is the file the service wrote, and /var/lib/nfs (exportfs's table) a directory
    of the test's."""

    def __init__(self, home: Path, exports_file: Path) -> None:
        for name in ("upper", "work", "varlib"):
            (home / name).mkdir(parents=True, exist_ok=True)
        self.script = home / "setup.sh"
        self.script.write_text(NAMESPACE_SETUP)
        self.env = {"HOME_DIR": str(home), "EXPORTS_FILE": str(exports_file), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        self.inner = LocalRunner()

    def run(self, argv, *, stdin=None, timeout=DEFAULT_TIMEOUT, check=True, env=None) -> CommandResult:
        wrapped = ["unshare", "-m", "--propagation", "private", "sh", str(self.script), *argv]
        return self.inner.run(wrapped, stdin=stdin, timeout=timeout, check=check, env={**self.env, **(env or {})})


def test_the_real_exportfs_takes_what_calypso_renders(projects, settings, tmp_path):
    require_root()
    require_tools("exportfs", "unshare")
    settings.CALYPSO_NFS_BACKEND = "kernel"
    root = Path(projects.mountpoint)
    (root / "team data").mkdir()
    (root / "old").mkdir()
    with runner_override(NamespaceRunner(tmp_path / "ns", Path(settings.CALYPSO_NFS_EXPORTS_FILE))):
        services.EXPORTS.create(path=str(root), clients=[
            {"host": "10.0.0.0/24", "access": "rw"},
            {"host": "*.example.com", "sync": False, "squash": "all_squash", "anonuid": 1000, "anongid": 100,
             "sec": ["krb5", "krb5i", "krb5p"]},
            {"host": "@trusted", "access": "rw", "squash": "no_root_squash"},
            {"host": "2001:db8::/64"}])
        services.EXPORTS.create(path=str(root / "team data"), clients=[{"host": "127.0.0.1", "sec": ["sys", "krb5"]}])
        services.EXPORTS.create(path=str(root / "old"), clients=[{"host": "10.9.9.9"}], enabled=False)
        exported = services.nfs_status()["exports"]
        got = {(e["path"], e["host"]): (e["access"], e["sync"], e["squash"], e["anonuid"], e["anongid"], tuple(e["sec"]))
               for e in exported}
        wanted = {(x.path, c["host"]): (c["access"], c["sync"], c["squash"], c["anonuid"], c["anongid"], tuple(c["sec"]))
                  for x in NfsExport.objects.filter(enabled=True) for c in x.clients}
        assert got == wanted and len(got) == 5

        # a directory removed behind Calypso's back: exportfs -ra refuses, the previous file is put back
        before = Path(settings.CALYPSO_NFS_EXPORTS_FILE).read_text()
        (root / "team data").rmdir()
        with pytest.raises(BackendError) as caught:
            services.EXPORTS.update(NfsExport.objects.get(path=str(root)), description="changed")
        assert "exportfs -ra failed (exit 1)" in caught.value.message
        assert f"Failed to stat {root / 'team data'}" in caught.value.message
        assert Path(settings.CALYPSO_NFS_EXPORTS_FILE).read_text() == before
        assert NfsExport.objects.get(path=str(root)).description == ""
