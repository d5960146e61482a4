"""Storage admin: pages render (vdev tree, capacity bar, forms), each form calls its service (replayed
host commands, or a recorder where the service is covered elsewhere), refusals land on the named
field with no command run, and viewers and restricted users get no buttons, 403 or 404."""

from __future__ import annotations

import pytest
from django.test import Client
from guardian.shortcuts import assign_perm

from apps.audit.models import AuditEvent
from apps.core.runner import ReplayRunner
from apps.jobs.models import Job
from apps.storage import services, sync
from apps.storage.models import Dataset, Pool, Snapshot, StorageEvent
from apps.system.models import HostInventory

from .test_models_sync import POOL_LIST, fuse_sync_runner, recorded

POOLS = "/admin/storage/pool/"
DATASETS = "/admin/storage/dataset/"
SNAPSHOTS = "/admin/storage/snapshot/"


@pytest.fixture
def tank(db):
    sync.sync_zfs(fuse_sync_runner())
    pool = Pool.objects.get(name="zrectank")
    Pool.objects.filter(pk=pool.pk).update(capacity_percent=85)
    return pool


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client_(admin_user):
    return _client(admin_user)


@pytest.fixture
def replay(monkeypatch, settings) -> ReplayRunner:
    """Every storage service's default runner becomes one ReplayRunner."""
    settings.CALYPSO_ZFS_FLAVOUR = "zfs-fuse"
    runner = ReplayRunner()
    monkeypatch.setattr(services._common, "_runner", lambda r=None: runner)
    return runner


@pytest.fixture
def recorder(monkeypatch):
    """record(name, returns) -> list of (args, kwargs) the admin passed to services.<name>."""

    def record(name: str, returns=None):
        calls: list = []

        def fake(*args, **kwargs):
            calls.append((args, kwargs))
            return returns(*args, **kwargs) if callable(returns) else returns

        monkeypatch.setattr(services, name, fake)
        return calls

    return record


def _known_pools(runner: ReplayRunner) -> ReplayRunner:
    """What the disks-in-use check reads: the pools' members from zpool status."""
    runner.add(POOL_LIST, stdout=recorded("zpool_list.txt"))
    runner.add(["zpool", "status"], stdout=recorded("zpool_status_all.txt"))
    runner.add(["zfs", "get", "-H", "-o", "name,value", "mountpoint", "zrecbig", "zrectank"], stdout="")
    return runner


def _job_redirect(response, kind: str) -> Job:
    job = Job.objects.get(kind=kind)
    assert response.status_code == 302 and response["Location"] == f"/admin/jobs/job/{job.pk}/change/"
    return job


# ---------------------------------------------------------------- pools
@pytest.mark.django_db
def test_pool_pages_render_tree_and_capacity(tank, admin_client_):
    StorageEvent.objects.create(pool=tank, kind="capacity_80", message="zrectank is 85 % full")
    job = services.start_scrub(tank, actor=None)
    assert admin_client_.get(POOLS).status_code == 200
    page = admin_client_.get(f"{POOLS}{tank.pk}/change/").content.decode()
    assert 'class="calypso-vdev-tree"' in page and "/tmp/zrec/a.img" in page and "mirror-0" in page
    assert "calypso-capacity" in page and "85 %" in page
    assert f'formaction="{POOLS}{tank.pk}/scrub/"' in page and 'id="calypso-pool-op"' in page
    assert f'formaction="{POOLS}{tank.pk}/member/?op=offline"' in page and 'name="new_device"' in page
    assert 'data-live-jobs="1"' in page and f'class="calypso-progress" data-job-id="{job.pk}"' in page
    assert "zrectank is 85 % full" in page
    for url in (DATASETS, SNAPSHOTS, f"{SNAPSHOTS}?age=7d", f"{SNAPSHOTS}?q=c2", "/admin/storage/storageevent/"):
        assert admin_client_.get(url).status_code == 200, url


@pytest.mark.django_db
def test_scrub_action_enqueues_job(tank, admin_client_):
    admin_client_.post(POOLS, {"action": "scrub_selected", "_selected_action": [tank.pk]})
    assert Job.objects.filter(kind="storage.scrub", lock_key="pool:zrectank").exists()


@pytest.mark.django_db
def test_scrub_button_goes_to_job_then_lock_is_reported(tank, admin_client_):
    assert admin_client_.get(f"{POOLS}{tank.pk}/scrub/").status_code == 405
    job = _job_redirect(admin_client_.post(f"{POOLS}{tank.pk}/scrub/"), "storage.scrub")
    assert job.lock_key == "pool:zrectank" and job.source == "admin"
    again = admin_client_.post(f"{POOLS}{tank.pk}/scrub/", follow=True)
    assert f"Already running as job #{job.pk}" in again.content.decode() and Job.objects.count() == 1


@pytest.mark.django_db
def test_pause_and_stop_scrub_call_the_host(tank, admin_client_, replay):
    replay.add(["zpool", "scrub", "-s", "zrectank"])
    page = admin_client_.post(f"{POOLS}{tank.pk}/pause-scrub/", follow=True).content.decode()
    assert '<li class="error">Pausing a scrub is unsupported by this ZFS (zfs-fuse)' in page
    response = admin_client_.post(f"{POOLS}{tank.pk}/stop-scrub/")
    assert response.status_code == 302 and response["Location"] == f"{POOLS}{tank.pk}/change/"
    assert ("zpool", "scrub", "-s", "zrectank") in [tuple(c) for c in replay.calls]
    assert AuditEvent.objects.filter(action="storage.pool.stop_scrub", outcome="ok").exists()


@pytest.mark.django_db
def test_create_pool_from_inventory_disks_and_files(tank, admin_client_, replay):
    HostInventory.objects.create(hostname="nas", data={"block_devices": [
        {"name": "sda", "path": "/dev/sda", "type": "disk", "size_bytes": 2**40, "mountpoint": "/"},
        {"name": "sdb", "path": "/dev/sdb", "type": "disk", "size_bytes": 2**40, "model": "WDC"}]})
    page = admin_client_.get(f"{POOLS}create/").content.decode()
    assert 'value="/dev/sdb"' in page and 'value="/dev/sda"' not in page and "/dev/sda (mounted on /)" in page
    _known_pools(replay)
    replay.add(["lsblk", "--json", "--bytes", "-o", __import__("apps.system.backends.host", fromlist=["x"])
                .LSBLK_COLUMNS, "/dev/sdb"], stdout='{"blockdevices": []}')
    response = admin_client_.post(f"{POOLS}create/", {
        "name": "newpool", "backend": "zfs", "layout": "mirror", "disks": ["/dev/sdb"],
        "extra_disks": "/srv/b.img", "mountpoint": "/mnt/newpool"})
    job = _job_redirect(response, "storage.pool.create")
    assert job.params["vdevs"] == [{"type": "mirror", "devices": ["/dev/sdb", "/srv/b.img"]}]
    assert job.params["mountpoint"] == "/mnt/newpool" and job.user.username == "admin1"
    assert AuditEvent.objects.filter(action="storage.pool.create", job_id=job.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "field", "text"), [
    ({"name": "bad;name", "layout": "mirror", "extra_disks": "/srv/a.img\n/srv/b.img"}, "name", ""),
    ({"name": "newpool", "layout": "raidz1", "extra_disks": "/srv/a.img\n/srv/b.img"}, "disks", "multiple of 3"),
    ({"name": "newpool", "layout": "mirror", "extra_disks": ""}, "disks", "Choose disks"),
])
def test_create_pool_errors_on_their_field(tank, admin_client_, replay, data, field, text):
    response = admin_client_.post(f"{POOLS}create/", {"backend": "zfs", **data})
    assert response.status_code == 200 and field in response.context["form"].errors
    assert text in " ".join(response.context["form"].errors[field])
    assert replay.calls == [] and not Job.objects.exists()


@pytest.mark.django_db
def test_create_pool_refuses_disk_in_use(tank, admin_client_, replay):
    _known_pools(replay)
    response = admin_client_.post(f"{POOLS}create/", {
        "name": "newpool", "backend": "zfs", "layout": "mirror", "extra_disks": "/tmp/zrec/a.img /srv/x.img"})
    assert "already a member of pool zrectank" in response.context["form"].errors["disks"][0]
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_import_lists_pools_then_queues_import(tank, admin_client_, replay):
    replay.add_file("tests/storage/fixtures/zfs-fuse/zpool_import_list.txt")
    page = admin_client_.get(f"{POOLS}import/", {"search_dirs": "/tmp/zrec"}).content.decode()
    assert "zrectank" in page and "341026144811518982" in page and 'value="Import"' in page
    response = admin_client_.post(f"{POOLS}import/", {"name": "341026144811518982", "new_name": "back",
                                                      "search_dirs": "/tmp/zrec"})
    job = _job_redirect(response, "storage.pool.import")
    assert job.params == {"name_or_guid": "341026144811518982", "search_dirs": ["/tmp/zrec"], "new_name": "back",
                          "force": False}
    bad = admin_client_.post(f"{POOLS}import/", {"name": "x;y", "search_dirs": "/tmp/zrec"})
    assert "name" in bad.context["import_form"].errors and Job.objects.count() == 1


@pytest.mark.django_db
def test_register_btrfs(admin_client_, recorder, db):
    pool = Pool.objects.create(backend="btrfs", name="data", mountpoint="/mnt/data")
    calls = recorder("register_btrfs_pool", returns=pool)
    response = admin_client_.post(f"{POOLS}register-btrfs/", {"mountpoint": "/mnt/data"})
    assert response.status_code == 302 and response["Location"] == f"{POOLS}{pool.pk}/change/"
    assert calls[0][0] == ("/mnt/data",) and calls[0][1]["source"] == "admin"


@pytest.mark.django_db
def test_btrfs_pool_page_shows_balance_and_device_stats(admin_client_, recorder, db):
    pool = Pool.objects.create(backend="btrfs", name="data", mountpoint="/mnt/data")
    recorder("balance_status", returns={"running": False, "paused": False})
    recorder("device_stats", returns=[{"device": "/dev/vdb", "write_io_errs": 3}])
    page = admin_client_.get(f"{POOLS}{pool.pk}/change/").content.decode()
    assert "Balance" in page and "Device statistics" in page and "/dev/vdb" in page and "write_io_errs" in page
    assert "/add-devices/" not in page and "/destroy/" not in page  # ZFS-only operations


@pytest.mark.django_db
def test_member_offline_and_refusal_on_device_field(tank, admin_client_, replay):
    replay.add(["zpool", "offline", "zrectank", "/tmp/zrec/b.img"])
    replay.add(["zpool", "status", "zrectank"], stdout=recorded("zpool_status_mirror_degraded.txt"))
    response = admin_client_.post(f"{POOLS}{tank.pk}/member/?op=offline", {"device": "/tmp/zrec/b.img"})
    assert response.status_code == 302 and response["Location"] == f"{POOLS}{tank.pk}/change/"
    tank.refresh_from_db()
    assert tank.health == "DEGRADED" and AuditEvent.objects.filter(action="storage.pool.offline").exists()
    calls = len(replay.calls)
    bad = admin_client_.post(f"{POOLS}{tank.pk}/member/", {"op": "replace", "device": "/tmp/zrec/nope.img",
                                                            "new_device": "/srv/new.img"})
    assert "is not a device of pool zrectank" in bad.context["form"].errors["device"][0]
    assert len(replay.calls) == calls


@pytest.mark.django_db
def test_member_replace_and_detach_call_services(tank, admin_client_, recorder):
    replace, detach = recorder("replace_member", returns=tank), recorder("detach_member", returns=tank)
    url = f"{POOLS}{tank.pk}/member/"
    admin_client_.post(url, {"op": "replace", "device": "/tmp/zrec/a.img", "new_device": "/srv/n.img"})
    admin_client_.post(url, {"op": "detach", "device": "/tmp/zrec/a.img"})
    assert replace[0][0] == (tank, "/tmp/zrec/a.img", "/srv/n.img") and detach[0][0] == (tank, "/tmp/zrec/a.img")


@pytest.mark.django_db
def test_add_devices_plans_vdevs_and_queues_job(tank, admin_client_, replay):
    assert admin_client_.get(f"{POOLS}{tank.pk}/add-devices/").status_code == 200
    bad = admin_client_.post(f"{POOLS}{tank.pk}/add-devices/", {"layout": "raidz1", "devices": "/srv/a /srv/b"})
    assert "multiple of 3" in bad.context["form"].errors["devices"][0] and replay.calls == []
    _known_pools(replay)
    response = admin_client_.post(f"{POOLS}{tank.pk}/add-devices/", {
        "layout": "mirror", "devices": "/srv/c.img\n/srv/d.img", "spares": "/srv/s.img", "log": "/srv/l1 /srv/l2"})
    job = _job_redirect(response, "storage.pool.add_vdevs")
    assert job.params["vdevs"] == [{"type": "mirror", "devices": ["/srv/c.img", "/srv/d.img"]}]
    assert job.params["spares"] == ["/srv/s.img"]
    assert job.params["log"] == [{"type": "mirror", "devices": ["/srv/l1", "/srv/l2"]}]


@pytest.mark.django_db
def test_destroy_pool_needs_the_typed_name(tank, admin_client_):
    page = admin_client_.get(f"{POOLS}{tank.pk}/destroy/").content.decode()
    assert "calypso-danger" in page and "Type the pool name" in page
    bad = admin_client_.post(f"{POOLS}{tank.pk}/destroy/", {"confirm": "zrectan"})
    assert "Type the pool name (zrectank)" in bad.context["form"].errors["confirm"][0] and not Job.objects.exists()
    job = _job_redirect(admin_client_.post(f"{POOLS}{tank.pk}/destroy/", {"confirm": "zrectank"}),
                        "storage.pool.destroy")
    assert job.target_id == str(tank.pk)


@pytest.mark.django_db
def test_export_pool(tank, admin_client_, replay):
    replay.add_file("tests/storage/fixtures/zfs-fuse/zpool_export.txt")
    assert "calypso-danger" in admin_client_.get(f"{POOLS}{tank.pk}/export/").content.decode()
    response = admin_client_.post(f"{POOLS}{tank.pk}/export/", {})
    assert response.status_code == 302
    tank.refresh_from_db()
    assert tank.gone and AuditEvent.objects.filter(action="storage.pool.export", source="admin").exists()


# ---------------------------------------------------------------- datasets
@pytest.mark.django_db
def test_dataset_changelist_is_an_indented_tree(tank, admin_client_):
    page = admin_client_.get(DATASETS).content.decode()
    names = ["zrectank", "zrectank/data", "zrectank/data/sub", "zrectank/home"]
    positions = [page.index(f'title="{n}"') for n in names]
    assert positions == sorted(positions)
    assert 'padding-left:3.0em" title="zrectank/data/sub"' in page and "Create dataset/volume" in page


@pytest.mark.django_db
def test_create_dataset_calls_service_and_errors_on_field(tank, admin_client_, recorder, replay):
    page = admin_client_.get(f"{DATASETS}create/").content.decode()
    assert "zrectank" in page and 'name="compression"' in page
    bad = admin_client_.post(f"{DATASETS}create/", {"pool": tank.pk, "name": "zrectank/x", "kind": "filesystem",
                                                     "quota": "lots"})
    assert "quota" in bad.context["form"].errors and replay.calls == []
    made = Dataset.objects.get(name="zrectank/data")
    calls = recorder("create_dataset", returns=made)
    response = admin_client_.post(f"{DATASETS}create/", {
        "pool": tank.pk, "name": "zrectank/vol", "kind": "volume", "volsize": "1G", "compression": "lz4",
        "user_properties": "com.example:owner=ops"})
    assert response.status_code == 302 and response["Location"] == f"{DATASETS}{made.pk}/change/"
    args, kwargs = calls[0]
    assert args == (tank, "zrectank/vol") and kwargs["kind"] == "volume" and kwargs["volsize"] == "1G"
    assert kwargs["properties"] == {"compression": "lz4", "com.example:owner": "ops"}


@pytest.mark.django_db
def test_dataset_page_links_and_property_edit(tank, admin_client_, recorder, replay):
    data = Dataset.objects.get(name="zrectank/data")
    page = admin_client_.get(f"{DATASETS}{data.pk}/change/").content.decode()
    for op in ("properties", "rename", "snapshot", "destroy"):
        assert f"{DATASETS}{data.pk}/{op}/" in page, op
    form_page = admin_client_.get(f"{DATASETS}{data.pk}/properties/")
    assert form_page.status_code == 200 and "volsize" not in form_page.context["form"].fields
    initial = form_page.context["form"].initial
    bad = admin_client_.post(f"{DATASETS}{data.pk}/properties/", {**initial, "recordsize": "3K"})
    assert "power of two" in bad.context["form"].errors["recordsize"][0] and replay.calls == []
    calls = recorder("update_dataset", returns=data)
    admin_client_.post(f"{DATASETS}{data.pk}/properties/", {**initial, "quota": "10G", "atime": "off",
                                                            "user_properties": "com.example:x=1"})
    props = calls[0][1]["properties"]
    assert props["quota"] == "10G" and props["com.example:x"] == "1"
    nothing = admin_client_.post(f"{DATASETS}{data.pk}/properties/", initial)
    assert "Nothing changed." in nothing.content.decode()


@pytest.mark.django_db
def test_rename_dataset(tank, admin_client_, recorder, replay):
    data = Dataset.objects.get(name="zrectank/data")
    bad = admin_client_.post(f"{DATASETS}{data.pk}/rename/", {"new_name": "other/data"})
    assert "must start with zrectank/" in bad.context["form"].errors["new_name"][0] and replay.calls == []
    calls = recorder("rename_dataset", returns=data)
    assert admin_client_.post(f"{DATASETS}{data.pk}/rename/", {"new_name": "zrectank/d2"}).status_code == 302
    assert calls[0][0] == (data, "zrectank/d2")


@pytest.mark.django_db
def test_destroy_dataset_confirms_then_destroys(tank, admin_client_, replay):
    sub = Dataset.objects.get(name="zrectank/data/sub")
    bad = admin_client_.post(f"{DATASETS}{sub.pk}/destroy/", {"confirm": "sub"})
    assert "confirm" in bad.context["form"].errors and replay.calls == []
    replay.add(["zfs", "destroy", "-r", "zrectank/data/sub"])
    response = admin_client_.post(f"{DATASETS}{sub.pk}/destroy/", {"confirm": "zrectank/data/sub", "recursive": "on"})
    assert response.status_code == 302 and not Dataset.objects.filter(pk=sub.pk).exists()
    assert AuditEvent.objects.get(action="storage.dataset.delete").changes["recursive"] == [None, True]


@pytest.mark.django_db
def test_take_snapshot_errors_and_calls(tank, admin_client_, recorder, replay):
    data = Dataset.objects.get(name="zrectank/data")
    bad = admin_client_.post(f"{DATASETS}{data.pk}/snapshot/", {"name": "x;y"})
    assert "name" in bad.context["form"].errors and replay.calls == []
    snap = Snapshot.objects.filter(dataset=data).first()
    calls = recorder("create_snapshot", returns=snap)
    admin_client_.post(f"{DATASETS}{data.pk}/snapshot/", {"name": "manual1", "recursive": "on"})
    assert calls[0][0] == (data, "manual1") and calls[0][1]["recursive"] is True


@pytest.mark.django_db
def test_btrfs_subvolume_create_and_delete(admin_client_, recorder, db):
    pool = Pool.objects.create(backend="btrfs", name="data", mountpoint="/mnt/data")
    top = Dataset.objects.create(pool=pool, name="data", kind="subvolume")
    home = Dataset.objects.create(pool=pool, name="data/home", kind="subvolume")
    page = admin_client_.get(f"{DATASETS}{home.pk}/change/").content.decode()
    assert "New subvolume" in page and "Delete subvolume" in page and "/properties/" not in page
    assert "Delete subvolume" not in admin_client_.get(f"{DATASETS}{top.pk}/change/").content.decode()
    created = recorder("create_subvolume", returns=home)
    admin_client_.post(f"{DATASETS}{home.pk}/subvolume/", {"name": "home/alice"})
    assert created[0][0] == (pool, "home/alice")
    deleted = recorder("destroy_dataset")
    admin_client_.post(f"{DATASETS}{home.pk}/destroy/", {"confirm": "data/home"})
    assert deleted[0][0] == (home,)


# ---------------------------------------------------------------- snapshots
@pytest.mark.django_db
def test_bulk_destroy_asks_then_destroys(tank, admin_client_, replay):
    snaps = list(Snapshot.objects.filter(dataset__name="zrectank/data"))
    for s in snaps:
        replay.add(["zfs", "destroy", s.name])
    data = {"action": "destroy_selected", "_selected_action": [s.pk for s in snaps]}
    page = admin_client_.post(SNAPSHOTS, data)
    assert page.status_code == 200 and b"Yes, destroy" in page.content and replay.calls == []
    admin_client_.post(SNAPSHOTS, {**data, "confirmed": "yes"})
    assert len(replay.calls) == 3 and not Snapshot.objects.filter(pk__in=[s.pk for s in snaps]).exists()


@pytest.mark.django_db
def test_snapshot_row_and_page_actions(tank, admin_client_):
    snap = Snapshot.objects.filter(dataset__name="zrectank/data").order_by("created_at").first()
    listing = admin_client_.get(SNAPSHOTS).content.decode()
    assert f"{SNAPSHOTS}{snap.pk}/rollback/" in listing and f"{SNAPSHOTS}{snap.pk}/hold/" in listing
    page = admin_client_.get(f"{SNAPSHOTS}{snap.pk}/change/").content.decode()
    for op in ("rollback", "clone", "hold", "destroy"):
        assert f"{SNAPSHOTS}{snap.pk}/{op}/" in page, op


@pytest.mark.django_db
def test_rollback_refuses_newer_snapshots_then_rolls_back(tank, admin_client_, recorder, replay):
    oldest = Snapshot.objects.filter(dataset__name="zrectank/data").order_by("created_at").first()
    page = admin_client_.get(f"{SNAPSHOTS}{oldest.pk}/rollback/").content.decode()
    assert "calypso-danger" in page and "Newer snapshots" in page
    bad = admin_client_.post(f"{SNAPSHOTS}{oldest.pk}/rollback/", {"confirm": "nope"})
    assert "Type the snapshot name" in bad.context["form"].errors["confirm"][0]
    refused = admin_client_.post(f"{SNAPSHOTS}{oldest.pk}/rollback/", {"confirm": oldest.name})
    assert "Newer snapshots exist" in refused.context["form"].errors["destroy_newer"][0] and replay.calls == []
    calls = recorder("rollback_snapshot", returns=oldest)
    admin_client_.post(f"{SNAPSHOTS}{oldest.pk}/rollback/", {"confirm": oldest.name, "destroy_newer": "on"})
    assert calls[0][1]["confirm"] == oldest.name and calls[0][1]["destroy_newer"] is True


@pytest.mark.django_db
def test_clone_and_hold_release(tank, admin_client_, recorder, replay):
    snap = Snapshot.objects.filter(dataset__name="zrectank/data").first()
    bad = admin_client_.post(f"{SNAPSHOTS}{snap.pk}/clone/", {"target": "elsewhere/x"})
    assert "target" in bad.context["form"].errors and replay.calls == []
    replay.add(["zfs", "hold", "keep", snap.name]).add(["zfs", "release", "keep", snap.name])
    admin_client_.post(f"{SNAPSHOTS}{snap.pk}/hold/", {"tag": "keep"})
    snap.refresh_from_db()
    assert snap.holds == ["keep"] and AuditEvent.objects.filter(action="storage.snapshot.hold").exists()
    admin_client_.post(f"{SNAPSHOTS}{snap.pk}/hold/", {"tag": "keep", "_release": "Release"})
    snap.refresh_from_db()
    assert snap.holds == [] and AuditEvent.objects.filter(action="storage.snapshot.release").exists()
    clone = Dataset.objects.get(name="zrectank/home")
    calls = recorder("clone_snapshot", returns=clone)
    response = admin_client_.post(f"{SNAPSHOTS}{snap.pk}/clone/", {"target": "zrectank/copy"})
    assert response["Location"] == f"{DATASETS}{clone.pk}/change/" and calls[0][0] == (snap, "zrectank/copy")


@pytest.mark.django_db
def test_row_deletes_go_through_the_services(tank, admin_client_):
    data = Dataset.objects.get(name="zrectank/data")
    for url, target in ((f"{POOLS}{tank.pk}/delete/", f"{POOLS}{tank.pk}/destroy/"),
                        (f"{DATASETS}{data.pk}/delete/", f"{DATASETS}{data.pk}/destroy/")):
        assert admin_client_.get(url)["Location"] == target
    for listing in (POOLS, DATASETS, SNAPSHOTS):
        assert 'value="delete_selected"' not in admin_client_.get(listing).content.decode(), listing


# ---------------------------------------------------------------- who may
@pytest.mark.django_db
def test_viewer_sees_no_actions_and_gets_403(tank, viewer_user, replay):
    client = _client(viewer_user)
    page = client.get(POOLS).content.decode()
    assert "zrectank" in page and "scrub_selected" not in page and "Create pool" not in page
    page = client.get(f"{POOLS}{tank.pk}/change/").content.decode()
    assert "/scrub/" not in page and "formaction=" not in page and 'id="calypso-member-' not in page
    assert "/destroy/" not in page and "/add-devices/" not in page
    data = Dataset.objects.get(name="zrectank/data")
    snap = Snapshot.objects.filter(dataset=data).first()
    assert "/properties/" not in client.get(f"{DATASETS}{data.pk}/change/").content.decode()
    for url in (f"{POOLS}{tank.pk}/scrub/", f"{POOLS}{tank.pk}/destroy/", f"{POOLS}{tank.pk}/member/",
                f"{POOLS}{tank.pk}/add-devices/", f"{POOLS}create/", f"{POOLS}import/", f"{DATASETS}create/",
                f"{DATASETS}{data.pk}/properties/", f"{DATASETS}{data.pk}/destroy/", f"{DATASETS}{data.pk}/snapshot/",
                f"{SNAPSHOTS}{snap.pk}/rollback/", f"{SNAPSHOTS}{snap.pk}/hold/", f"{SNAPSHOTS}{snap.pk}/destroy/"):
        assert client.post(url, {"confirm": "zrectank", "device": "/tmp/zrec/a.img"}).status_code == 403, url
    assert not Job.objects.exists() and replay.calls == []


@pytest.mark.django_db
def test_object_permissions_restrict_to_404(tank, make_user):
    user = make_user("scoped1", None, is_staff=True)
    big = Pool.objects.get(name="zrecbig")
    for perm in ("storage.view_pool", "storage.scrub_pool"):
        assign_perm(perm, user, big)
    client = _client(user)
    assert client.post(f"{POOLS}{tank.pk}/scrub/").status_code == 404
    assert client.get(f"{POOLS}{tank.pk}/change/").status_code == 403  # the admin's own check comes first
    _job_redirect(client.post(f"{POOLS}{big.pk}/scrub/"), "storage.scrub")
