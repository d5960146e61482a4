"""Storage services: disks checked through the host backend, missing devices, Btrfs balance status, and
names validated before any command, for every service that takes a name."""

from __future__ import annotations

import inspect
import pkgutil
from importlib import import_module
from pathlib import Path

import pytest

from apps.core.errors import BackendError, ServiceError, Unsupported
from apps.core.runner import LocalRunner, LoggingRunner, ReplayRunner
from apps.jobs.models import Job
from apps.storage import services
from apps.storage.models import Dataset, Pool, Snapshot, Vdev
from apps.system.backends.host import LSBLK_COLUMNS, BlockDevice, HostBackend

from .recordings import POOL_LIST

FIXTURES = Path(__file__).parent / "fixtures"
LSBLK = ["lsblk", "--json", "--bytes", "-o", LSBLK_COLUMNS]


class NoCommandRunner(LocalRunner):
    """This host, as a LocalRunner sees it, but any command fails the test."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, ...]] = []

    def run(self, argv, **kwargs):
        self.calls.append(tuple(argv))
        raise AssertionError(f"no command expected, got {argv}")


def recorded(path: str) -> tuple[list[str], str]:
    first, _, body = (FIXTURES / path).read_text().partition("\n")
    return first[2:].split(), body


@pytest.fixture(autouse=True)
def _fuse(settings):
    settings.CALYPSO_ZFS_FLAVOUR = "zfs-fuse"


@pytest.fixture
def tank(db) -> Pool:
    pool = Pool.objects.create(name="tank", health="ONLINE")
    Vdev.objects.create(pool=pool, name="/srv/tank/a.img", kind="file", state="ONLINE")
    data = Dataset.objects.create(pool=pool, name="tank/data")
    Snapshot.objects.create(dataset=data, name="tank/data@s1", short_name="s1")
    return pool


@pytest.fixture
def brec(db) -> Pool:
    return Pool.objects.create(backend="btrfs", name="brec", mountpoint="/tmp/brec/mnt1", health="ONLINE")


# ------------------------------------------------------------------ (a) disks in use, via HostBackend
def test_services_reach_lsblk_only_through_the_host_backend():
    names = [f"{services.__name__}.{m.name}" for m in pkgutil.iter_modules(services.__path__)]
    modules = [services, *map(import_module, names)]
    assert {"common", "pools", "datasets", "snapshots"} <= {m.__name__.rpartition(".")[2] for m in modules}
    for module in modules:
        assert "lsblk" not in inspect.getsource(module), module.__name__


def test_block_devices_for_chosen_devices_recorded():
    argv, body = recorded("host/lsblk_devices.txt")
    runner = ReplayRunner().add(argv, stdout=body)
    found = HostBackend(runner).block_devices(["/dev/vda", "/dev/zram0", "/dev/loop0"])
    assert runner.calls == [(*LSBLK, "/dev/vda", "/dev/zram0", "/dev/loop0")]
    assert {d.path: d.in_use for d in found} == {"/dev/vda": "mounted", "/dev/zram0": "", "/dev/loop0": ""}


def test_block_devices_refuses_what_is_not_a_device_path():
    runner = ReplayRunner()
    with pytest.raises(BackendError, match="not a device path"):
        HostBackend(runner).block_devices(["-J"])
    assert runner.calls == []


def test_in_use_reasons():
    disk = BlockDevice(name="sdb", path="/dev/sdb", type="disk", size_bytes=1)
    part = BlockDevice(name="sdb1", path="/dev/sdb1", type="part", size_bytes=1)
    assert disk.in_use == ""
    assert BlockDevice(name="sdc", path="/dev/sdc", type="disk", size_bytes=1, fstype="ext4").in_use == "filesystem"
    assert BlockDevice(name="sdd", path="/dev/sdd", type="disk", size_bytes=1, children=(part,)).in_use == "partitions"
    assert BlockDevice(name="sde", path="/dev/sde", type="disk", size_bytes=1, mountpoint="/srv").in_use == "mounted"


def _create_pool_runner(lsblk_argv: list[str], body: str, returncode: int = 0) -> ReplayRunner:
    return ReplayRunner().add(POOL_LIST, stdout="").add(lsblk_argv, stdout=body, returncode=returncode)


@pytest.mark.django_db
def test_create_pool_refuses_a_mounted_disk_per_the_host_backend(operator_user):
    argv, body = recorded("host/lsblk_devices.txt")
    runner = _create_pool_runner(argv, body)
    with pytest.raises(ServiceError) as err:
        services.create_pool("newpool", vdevs=[{"type": "mirror", "devices": ["/dev/vda", "/dev/zram0"]}],
                             spares=["/dev/loop0"], actor=operator_user, runner=runner)
    assert err.value.code == "disk_in_use" and err.value.field == "vdevs"  # the field the disk was given in
    assert "/dev/vda" in err.value.message and "mounted on /" in err.value.message
    assert runner.calls[-1] == tuple(argv) and not Job.objects.exists()


@pytest.mark.django_db
def test_create_pool_accepts_free_disks(operator_user):
    argv, body = recorded("host/lsblk_devices.txt")
    body = body.replace('"mountpoint": "/"', '"mountpoint": null')
    runner = _create_pool_runner(argv, body)
    job = services.create_pool("newpool", vdevs=[{"type": "mirror", "devices": ["/dev/vda", "/dev/zram0"]}],
                               spares=["/dev/loop0"], actor=operator_user, runner=runner)
    assert job.kind == "storage.pool.create" and job.params["spares"] == ["/dev/loop0"]


@pytest.mark.django_db
def test_lsblk_failure_leaves_the_check_to_zpool(operator_user):
    runner = _create_pool_runner([*LSBLK, "/dev/sdx", "/dev/sdy"], "", returncode=32)
    job = services.create_pool("newpool", layout="mirror", disks=["/dev/sdx", "/dev/sdy"], actor=operator_user,
                               runner=runner)
    assert job.kind == "storage.pool.create"


# ------------------------------------------------------------------ (b) devices that do not exist
# One check refuses a new device that is missing, a member of a pool or in use: a 400 naming ``disks``.
@pytest.mark.django_db
def test_missing_device_is_a_400_on_disks_before_any_command(operator_user, tmp_path):
    present = tmp_path / "a.img"
    present.write_bytes(b"")
    runner = NoCommandRunner()
    with pytest.raises(ServiceError) as err:
        services.create_pool("newpool", layout="mirror", disks=[str(present), str(tmp_path / "b.img")],
                             actor=operator_user, runner=runner)
    assert err.value.field == "disks" and err.value.status_code == 400
    assert str(tmp_path / "b.img") in err.value.message and str(present) not in err.value.message
    assert runner.calls == [] and not Job.objects.exists()


@pytest.mark.django_db
def test_missing_bare_disk_name_means_dev(operator_user):
    runner = LoggingRunner(NoCommandRunner(), lambda level, message: None)  # a job's runner is wrapped
    with pytest.raises(ServiceError) as err:
        services.create_pool("newpool", layout="stripe", disks=["calypso-no-such-disk"], actor=operator_user,
                             runner=runner)
    assert err.value.field == "disks" and err.value.status_code == 400
    assert "/dev/calypso-no-such-disk" in err.value.message
    assert runner.inner.calls == []


@pytest.mark.django_db
def test_missing_devices_for_add_vdevs_spares_and_replace(tank, operator_user, tmp_path):
    missing = str(tmp_path / "nope.img")
    calls = [  # each refusal names the field the missing device was given in
        ("vdevs", lambda r: services.add_vdevs(tank, vdevs=[{"type": "stripe", "devices": [missing]}], runner=r)),
        ("devices", lambda r: services.add_vdevs(tank, layout="stripe", devices=[missing], runner=r)),
        ("spares", lambda r: services.add_vdevs(tank, spares=[missing], runner=r)),
        ("cache", lambda r: services.create_pool("newpool", layout="stripe", disks=["/dev/vda"], cache=[missing],
                                                 runner=r)),
        ("new_device", lambda r: services.replace_member(tank, "/srv/tank/a.img", missing, actor=operator_user,
                                                         runner=r)),
    ]
    for field, call in calls:
        runner = NoCommandRunner()
        with pytest.raises(ServiceError) as err:
            call(runner)
        assert err.value.field == field and err.value.status_code == 400 and missing in err.value.message
        assert runner.calls == []
    assert not Job.objects.exists()


# ------------------------------------------------------------------ (c) Btrfs balance status
def _balance_runner(name: str, returncode: int = 0, *, on_stdout: bool = True,
                    runner: ReplayRunner | None = None) -> ReplayRunner:
    argv, body = recorded(f"btrfs/{name}.txt")
    if returncode and body.startswith("# returncode:"):
        body = body.partition("\n")[2]
    output = {"stdout": body} if on_stdout else {"stderr": body}
    return (runner or ReplayRunner()).add(argv, returncode=returncode, **output)


@pytest.mark.django_db
def test_balance_status_none(brec):
    runner = _balance_runner("balance_status_none")
    assert services.balance_status(brec, runner=runner)["state"] == "none"
    assert runner.calls == [("btrfs", "balance", "status", "/tmp/brec/mnt1")]


@pytest.mark.parametrize(("name", "state", "percent"), [("balance_status_running", "running", 0.0),
                                                        ("balance_status_paused", "paused", 25.0)])  # fmt: skip
@pytest.mark.django_db
def test_balance_status_running_or_paused(brec, name, state, percent):
    status = services.balance_status(brec, runner=_balance_runner(name, 1))  # the tool exits 1 with its report
    assert (status["state"], status["percent"], status["chunks_total"]) == (state, percent, 4)


@pytest.mark.django_db
def test_balance_status_host_refusal_is_a_409_with_the_tools_words(brec):
    runner = _balance_runner("balance_status_not_btrfs", 2, on_stdout=False)
    brec.mountpoint = "/tmp/brec"
    with pytest.raises(BackendError) as err:
        services.balance_status(brec, runner=runner)
    assert err.value.status_code == 409 and err.value.code == "host_refused"
    assert "not a btrfs filesystem" in err.value.message


@pytest.mark.django_db
def test_balance_status_refused_for_zfs_and_gone_pools(tank, brec):
    runner = ReplayRunner()
    with pytest.raises(Unsupported) as err:
        services.balance_status(tank, runner=runner)
    assert err.value.code == "unsupported" and err.value.status_code == 409
    brec.gone = True
    with pytest.raises(ServiceError) as err:
        services.balance_status(brec, runner=runner)
    assert err.value.code == "pool_gone" and runner.calls == []


# ------------------------------------------------------------------ (d) names before any command
BAD = ["bad;name", "two words", "-f", "a$(reboot)", "x\ny"]


def _cases(tank: Pool, brec: Pool, bad: str) -> list[tuple[str, object]]:
    data = tank.datasets.get(name="tank/data")
    snap = data.snapshots.get()
    return [
        ("name", lambda: services.create_pool(bad, layout="mirror", disks=["/dev/sdb", "/dev/sdc"])),
        ("name", lambda: services.import_pool(bad)),
        ("new_name", lambda: services.import_pool("oldtank", new_name=bad)),
        ("search_dirs", lambda: services.import_pool("oldtank", search_dirs=[bad])),
        ("search_dirs", lambda: services.list_importable(search_dirs=[bad])),
        ("disks", lambda: services.create_pool("newpool", layout="stripe", disks=[bad])),
        ("spares", lambda: services.create_pool("newpool", layout="stripe", disks=["/dev/sdb"], spares=[bad])),
        ("log", lambda: services.create_pool("newpool", layout="stripe", disks=["/dev/sdb"], log=[bad])),
        ("vdevs", lambda: services.add_vdevs(tank, vdevs=[{"type": "stripe", "devices": [bad]}])),
        ("devices", lambda: services.add_vdevs(tank, layout="stripe", devices=[bad])),
        ("spares", lambda: services.add_vdevs(tank, spares=[bad])),
        ("cache", lambda: services.add_vdevs(tank, cache=[bad])),
        ("name", lambda: services.create_dataset(tank, f"tank/{bad}")),
        ("new_name", lambda: services.rename_dataset(data, f"tank/{bad}")),
        ("inherit", lambda: services.update_dataset(data, inherit=[bad])),
        ("name", lambda: services.create_snapshot(data, bad)),
        ("target", lambda: services.clone_snapshot(snap, f"tank/{bad}")),
        ("tag", lambda: services.hold_snapshot(snap, bad)),
        ("tag", lambda: services.release_snapshot(snap, bad)),
        ("device", lambda: services.offline_member(tank, bad)),
        ("device", lambda: services.online_member(tank, bad)),
        ("device", lambda: services.detach_member(tank, bad)),
        ("device", lambda: services.replace_member(tank, bad, "/dev/sdc")),
        ("new_device", lambda: services.replace_member(tank, "/srv/tank/a.img", bad)),
        ("name", lambda: services.create_dataset(brec, bad)),  # a Btrfs subvolume
        ("mountpoint", lambda: services.register_btrfs_pool(bad)),
    ]


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.django_db
def test_every_service_validates_names_before_any_command(tank, brec, bad, replay):
    for field, call in _cases(tank, brec, bad):
        with pytest.raises(ServiceError) as err:
            call()
        assert err.value.status_code == 400, (field, err.value.message)
        assert err.value.field == field, (field, err.value.field)
        assert replay.calls == [], (field, replay.calls)
    assert not Job.objects.exists()


@pytest.mark.parametrize("name", ["bad;name", "two words", "tank pool", "a;rm -rf /"])
@pytest.mark.django_db
def test_pool_name_with_semicolon_or_space(name, operator_user):
    runner = ReplayRunner()
    with pytest.raises(ServiceError) as err:
        services.create_pool(name, layout="mirror", disks=["/dev/sdb", "/dev/sdc"], actor=operator_user,
                             runner=runner)
    assert err.value.field == "name" and err.value.status_code == 400 and runner.calls == []


# ------------------------------------------------------------------ sync: rows written in bulk
@pytest.mark.django_db
def test_bulk_written_snapshot_rows_read_back_equal_so_a_resync_changes_nothing():
    from datetime import UTC, datetime

    from apps.storage import sync
    from apps.storage.backends.base import DatasetInfo, PoolInfo, SnapshotInfo

    pools = [PoolInfo(name="tank", backend="zfs", health="ONLINE")]
    datasets = [DatasetInfo(name="tank", pool="tank", kind="filesystem"),
                DatasetInfo(name="tank/data", pool="tank", kind="filesystem")]
    when = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    snaps = [SnapshotInfo(name=f"tank/data@s{i}", dataset="tank/data", short_name=f"s{i}", created_at=when,
                          used_bytes=i, referenced_bytes=4096, holds=("keep", "ünïcode") if i == 0 else (),
                          guid=str(1000 + i), extra={"userrefs": 2 if i == 0 else 0, "note": 'quo"te\ttab'})
             for i in range(50)]
    first = sync.reconcile("zfs", pools, datasets, snaps)
    assert first.created["snapshots"] == 50
    row = Snapshot.objects.get(name="tank/data@s0")
    assert row.holds == ["keep", "ünïcode"] and row.userrefs == 2 and row.extra == {"note": 'quo"te\ttab'}
    assert row.created_at == when and row.guid == "1000" and row.created is not None and row.updated is not None
    again = sync.reconcile("zfs", pools, datasets, snaps)
    assert (again.created["snapshots"], again.updated["snapshots"], again.gone["snapshots"]) == (0, 0, 0)


@pytest.mark.django_db
def test_balance_status_through_the_api(brec, viewer_user, client_for, tank, replay):
    _balance_runner("balance_status_paused", 1, runner=replay)
    client = client_for(viewer_user)
    response = client.get(f"/api/v1/storage/pools/{brec.pk}/balance-status/")
    assert response.status_code == 200 and response.json()["state"] == "paused"
    assert replay.calls == [("btrfs", "balance", "status", "/tmp/brec/mnt1")]
    refused = client.get(f"/api/v1/storage/pools/{tank.pk}/balance-status/")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "unsupported"
    assert "ZFS" in refused.json()["error"]["message"] and len(replay.calls) == 1
