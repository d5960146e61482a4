"""Storage admin on the subsystem kit: pages render (vdev tree, capacity bar, operation links), every
operation page runs its service through replayed host commands and writes exactly one audit event,
destructive pages need the name typed back, refusals land on the field they name with no host command
run, and viewers and restricted users get no links, 403 or 404."""

from __future__ import annotations

import re

import pytest
from guardian.shortcuts import assign_perm

from apps.audit.models import AuditEvent
from apps.jobs.models import Job
from apps.storage.models import Dataset, Pool, Snapshot, StorageEvent
from apps.system.backends.host import LSBLK_COLUMNS
from apps.system.models import HostInventory

from .recordings import DATASET_NAMES, FUSE, degraded_status, known_pools, recorded, zfs_refresh

POOLS = "/admin/storage/pool/"
DATASETS = "/admin/storage/dataset/"
SNAPSHOTS = "/admin/storage/snapshot/"
EVENTS = "/admin/storage/storageevent/"
BTRFS = FUSE.parent / "btrfs"
BTRFS_MNT = "/tmp/brec/mnt1"  # where the Btrfs recordings were made; the filesystem's label is calyfs
BTRFS_SYNC = ("fs_show_single", "fs_usage_single", "device_stats_single", "scrub_status_finished",
              "scrub_status_finished_summary", "subvolume_list", "subvolume_list_readonly",
              "subvolume_list_snapshots", "subvolume_show_root", "qgroup_show_off")  # fmt: skip


# ---------------------------------------------------------------- helpers
@pytest.fixture
def admin_browser(admin_user, browser_for):
    return browser_for(admin_user)


def _job_redirect(response, kind: str) -> Job:
    job = Job.objects.get(kind=kind)
    assert response.status_code == 302 and response["Location"] == f"/admin/jobs/job/{job.pk}/change/"
    return job


def _redirects_to(response, url: str) -> None:
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == url


def _audited(action: str, outcome: str = "ok") -> AuditEvent:
    """The one audit event of ``action`` with ``outcome``: one admin operation writes exactly one."""
    events = list(AuditEvent.objects.filter(action=action, outcome=outcome))
    assert len(events) == 1, list(AuditEvent.objects.values_list("action", "outcome", "message"))
    assert events[0].source == "admin"
    return events[0]


def _field_error(response, field: str) -> str:
    """The form page came back (200) with errors on ``field``."""
    assert response.status_code == 200, response.get("Location")
    errors = response.context["form"].errors
    assert field in errors, dict(errors)
    return " ".join(errors[field])


def _non_field_error(response) -> str:
    assert response.status_code == 200, response.get("Location")
    return " ".join(response.context["form"].non_field_errors())


def _initial_post(response) -> dict:
    """What the browser posts back for an unchanged form: each field's rendered value."""
    form = response.context["form"]
    return {name: form[name].value() for name in form.fields if form[name].value() not in (None, False)}


def _btrfs(replay, *names: str) -> None:
    replay.add_files(BTRFS / f"{n}.txt" for n in names)


@pytest.fixture
def calyfs(db) -> Pool:
    """A registered Btrfs filesystem (label calyfs) with its top level and a home subvolume."""
    pool = Pool.objects.create(backend="btrfs", name="calyfs", mountpoint=BTRFS_MNT)
    Dataset.objects.create(pool=pool, name="calyfs", kind="subvolume", mountpoint=BTRFS_MNT)
    Dataset.objects.create(pool=pool, name="calyfs/home", kind="subvolume", mountpoint=f"{BTRFS_MNT}/home")
    return pool


# ---------------------------------------------------------------- pools
@pytest.mark.django_db
def test_pool_pages_render_tree_capacity_jobs_and_events(tank, admin_browser, admin_user):
    Pool.objects.filter(pk=tank.pk).update(capacity_percent=85)
    StorageEvent.objects.create(pool=tank, kind="capacity_80", message="zrectank is 85 % full")
    job = Job.objects.create(kind="storage.pool.scrub", target=tank, lock_key=tank.lock_key, user=admin_user,
                             progress=42)
    listing = admin_browser.get(POOLS).content.decode()
    assert "zrectank" in listing and "zrecbig" in listing and 'value="scrub_selected"' in listing
    assert f'href="{POOLS}create/"' in listing and f'href="{POOLS}import/"' in listing
    assert f'href="{POOLS}register/"' in listing and f'href="{POOLS}sync/"' in listing
    page = admin_browser.get(f"{POOLS}{tank.pk}/change/").content.decode()
    assert 'class="calypso-vdev-tree"' in page and "/tmp/zrec/a.img" in page and "mirror-0" in page
    assert "calypso-capacity" in page and "85 %" in page
    assert f'formaction="{POOLS}{tank.pk}/scrub/"' in page and 'id="calypso-pool-op"' in page
    for op in ("offline", "online", "detach", "replace"):  # buttons on each device, not page links
        assert f'formaction="{POOLS}{tank.pk}/{op}/"' in page and f'href="{POOLS}{tank.pk}/{op}/"' not in page
    assert 'name="new_device"' in page and 'name="device" value="/tmp/zrec/b.img"' in page
    for op in ("scrub", "add-vdevs", "export", "delete"):
        assert f'href="{POOLS}{tank.pk}/{op}/"' in page, op
    assert 'data-live-jobs="1"' in page and f'class="calypso-progress" data-job-id="{job.pk}"' in page
    assert "42%" in page and "zrectank is 85 % full" in page
    for url in (DATASETS, SNAPSHOTS, f"{SNAPSHOTS}?age=7d", f"{SNAPSHOTS}?q=c2", EVENTS, f"{POOLS}?q=big"):
        assert admin_browser.get(url).status_code == 200, url
    assert not AuditEvent.objects.exists()  # reading writes nothing


@pytest.mark.django_db
def test_scrub_list_action_queues_one_job_per_pool(tank, admin_browser):
    big = Pool.objects.get(name="zrecbig")
    response = admin_browser.post(POOLS, {"action": "scrub_selected", "_selected_action": [tank.pk, big.pk]},
                                  follow=True)
    jobs = Job.objects.filter(kind="storage.pool.scrub")
    assert {j.lock_key for j in jobs} == {"pool:zrectank", "pool:zrecbig"}
    assert {j.target_id for j in jobs} == {str(tank.pk), str(big.pk)}
    assert "Scrub: 2 done." in response.content.decode()
    events = AuditEvent.objects.filter(action="storage.pool.scrub")
    assert sorted(e.object_label for e in events) == ["zrecbig", "zrectank"]
    assert {e.job_id for e in events} == {j.pk for j in jobs}


@pytest.mark.django_db
def test_scrub_page_goes_to_job_then_lock_is_reported_on_the_form(tank, admin_browser, replay):
    page = admin_browser.get(f"{POOLS}{tank.pk}/scrub/")
    assert page.status_code == 200 and 'data-operation="scrub"' in page.content.decode()
    assert not Job.objects.exists()  # GET only shows the page
    job = _job_redirect(admin_browser.post(f"{POOLS}{tank.pk}/scrub/"), "storage.pool.scrub")
    assert job.lock_key == "pool:zrectank" and job.source == "admin" and job.target_id == str(tank.pk)
    assert _audited("storage.pool.scrub", "queued").job_id == job.pk
    again = admin_browser.post(f"{POOLS}{tank.pk}/scrub/")
    assert f"Already running as job #{job.pk}" in _non_field_error(again)
    assert Job.objects.count() == 1 and replay.calls == []
    assert AuditEvent.objects.filter(action="storage.pool.scrub", outcome="failed").count() == 1


@pytest.mark.django_db
def test_pause_and_stop_scrub_call_the_host(tank, admin_browser, replay):
    refused = admin_browser.post(f"{POOLS}{tank.pk}/pause-scrub/")
    assert "pausing a scrub is unsupported by this ZFS (zfs-fuse)" in _non_field_error(refused)
    assert replay.calls == []
    assert AuditEvent.objects.get(action="storage.pool.pause_scrub").outcome == "failed"
    replay.add(["zpool", "scrub", "-s", "zrectank"])
    replay.add(["zpool", "status", "zrectank"], stdout=recorded("zpool_status_mirror_healthy.txt"))
    _redirects_to(admin_browser.post(f"{POOLS}{tank.pk}/stop-scrub/"), f"{POOLS}{tank.pk}/change/")
    assert replay.calls == [("zpool", "scrub", "-s", "zrectank"), ("zpool", "status", "zrectank")]
    _audited("storage.pool.stop_scrub")


@pytest.mark.django_db
def test_sync_page_queues_the_inventory_job(tank, admin_browser):
    job = _job_redirect(admin_browser.post(f"{POOLS}sync/"), "storage.pool.sync")
    assert job.lock_key == "storage:sync" and job.user.username == "admin1"
    assert _audited("storage.pool.sync", "queued").job_id == job.pk


@pytest.mark.django_db
def test_create_pool_from_inventory_disks_and_files(tank, admin_browser, replay):
    HostInventory.objects.create(hostname="nas", data={"block_devices": [
        {"name": "sda", "path": "/dev/sda", "type": "disk", "size_bytes": 2**40, "mountpoint": "/"},
        {"name": "sdb", "path": "/dev/sdb", "type": "disk", "size_bytes": 2**40, "model": "WDC"}]})
    page = admin_browser.get(f"{POOLS}create/").content.decode()
    assert 'name="disks_0" value="/dev/sdb"' in page and 'value="/dev/sda"' not in page
    assert "/dev/sda (mounted on /)" in page and 'name="disks_1"' in page
    known_pools(replay)
    replay.add(["lsblk", "--json", "--bytes", "-o", LSBLK_COLUMNS, "/dev/sdb"], stdout='{"blockdevices": []}')
    response = admin_browser.post(f"{POOLS}create/", {
        "name": "newpool", "layout": "mirror", "disks_0": ["/dev/sdb"], "disks_1": "/srv/b.img",
        "mountpoint": "/mnt/newpool", "log": "/srv/l1.img /srv/l2.img"})
    job = _job_redirect(response, "storage.pool.create")
    assert job.params["vdevs"] == [{"type": "mirror", "devices": ["/dev/sdb", "/srv/b.img"]}]
    assert job.params["log"] == [{"type": "mirror", "devices": ["/srv/l1.img", "/srv/l2.img"]}]
    assert job.params["mountpoint"] == "/mnt/newpool" and job.user.username == "admin1"
    assert job.lock_key == "pool:newpool" and job.source == "admin"
    assert _audited("storage.pool.create", "queued").job_id == job.pk
    assert ("zpool", "create") not in {c[:2] for c in replay.calls}  # the job creates it, not the page


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "field", "text"), [
    ({"name": "bad;name", "layout": "mirror", "disks_1": "/srv/a.img\n/srv/b.img"}, "name", "not a valid pool name"),
    ({"name": "newpool", "layout": "raidz1", "disks_1": "/srv/a.img\n/srv/b.img"}, "disks", "multiple of 3"),
    ({"name": "newpool", "layout": "mirror", "disks_1": ""}, "disks", "Choose disks"),
    ({"name": "newpool", "layout": "mirror", "disks_1": "/srv/a.img /srv/b.img", "mountpoint": "rel/dir"},
     "mountpoint", "absolute"),
])  # fmt: skip
def test_create_pool_refusals_on_their_field(tank, admin_browser, replay, data, field, text):
    response = admin_browser.post(f"{POOLS}create/", data)
    assert text.lower() in _field_error(response, field).lower()
    assert replay.calls == [] and not Job.objects.exists()
    assert AuditEvent.objects.get(action="storage.pool.create").outcome in ("failed", "denied")


@pytest.mark.django_db
def test_create_pool_refuses_disk_in_use(tank, admin_browser, replay):
    known_pools(replay)
    response = admin_browser.post(f"{POOLS}create/", {
        "name": "newpool", "layout": "mirror", "disks_1": "/tmp/zrec/a.img /srv/x.img"})
    assert "/tmp/zrec/a.img is already a member of pool zrectank" in _field_error(response, "disks")
    assert not Job.objects.exists() and all(c[1] in ("list", "status", "get") for c in replay.calls)


@pytest.mark.django_db
def test_import_lists_pools_then_queues_import(tank, admin_browser, replay):
    replay.add_file(FUSE / "zpool_import_list.txt")
    page = admin_browser.get(f"{POOLS}import/", {"search_dirs": "/tmp/zrec"}).content.decode()
    assert "zrectank" in page and "341026144811518982" in page and "Import this pool" in page
    assert "?search_dirs=/tmp/zrec&name=341026144811518982" in page
    prefilled = admin_browser.get(f"{POOLS}import/", {"search_dirs": "/tmp/zrec", "name": "341026144811518982"})
    assert prefilled.context["form"]["name"].value() == "341026144811518982"
    response = admin_browser.post(f"{POOLS}import/", {"name": "341026144811518982", "new_name": "back",
                                                      "search_dirs": "/tmp/zrec"})
    job = _job_redirect(response, "storage.pool.import")
    assert job.params == {"name_or_guid": "341026144811518982", "search_dirs": ["/tmp/zrec"], "new_name": "back",
                          "force": False}
    assert job.lock_key == "pool:back" and _audited("storage.pool.import", "queued").job_id == job.pk
    imports = [c for c in replay.calls if c[:2] == ("zpool", "import")]
    assert all(c == ("zpool", "import", "-d", "/tmp/zrec") for c in imports)  # only listed, never imported here
    bad = admin_browser.post(f"{POOLS}import/", {"name": "x;y", "search_dirs": "/tmp/zrec"})
    assert _field_error(bad, "name") and Job.objects.count() == 1


@pytest.mark.django_db
def test_register_btrfs_reads_the_filesystem_and_its_subvolumes(admin_browser, replay):
    _btrfs(replay, *BTRFS_SYNC)
    response = admin_browser.post(f"{POOLS}register/", {"mountpoint": BTRFS_MNT})
    pool = Pool.objects.get(backend="btrfs", name="calyfs")
    _redirects_to(response, f"{POOLS}{pool.pk}/change/")
    assert pool.mountpoint == BTRFS_MNT and pool.health == "ONLINE"
    assert {"calyfs", "calyfs/home", "calyfs/home/alice", "calyfs/srv"} <= set(
        Dataset.objects.filter(pool=pool).values_list("name", flat=True))
    assert Snapshot.objects.filter(dataset__pool=pool, name="calyfs/snaps/alice@daily").exists()
    assert _audited("storage.pool.register").object_label == "calyfs"


@pytest.mark.django_db
def test_register_btrfs_refusals_on_the_mountpoint_field(admin_browser, replay):
    bad = admin_browser.post(f"{POOLS}register/", {"mountpoint": "not/absolute"})
    assert _field_error(bad, "mountpoint") and replay.calls == []
    _btrfs(replay, "fs_show_not_btrfs")
    refused = admin_browser.post(f"{POOLS}register/", {"mountpoint": "/tmp/brec"})
    assert "not a valid btrfs filesystem" in _field_error(refused, "mountpoint")
    assert replay.calls == [("btrfs", "filesystem", "show", "--raw", "/tmp/brec")] and not Pool.objects.exists()
    assert AuditEvent.objects.filter(action="storage.pool.register", outcome="ok").count() == 0


@pytest.mark.django_db
def test_btrfs_pool_page_shows_balance_and_device_stats(calyfs, admin_browser, replay):
    _btrfs(replay, "balance_status_none", "fs_show_single", "device_stats_single", "qgroup_show_off")
    page = admin_browser.get(f"{POOLS}{calyfs.pk}/change/").content.decode()
    assert "Balance" in page and "none" in page
    assert "Device statistics" in page and "/dev/loop0" in page and "write_io_errs" in page
    assert f'href="{POOLS}{calyfs.pk}/scrub/"' in page
    for zfs_only in ("add-vdevs", "export", "pause-scrub", "offline", "properties"):  # not offered on Btrfs
        assert f"{POOLS}{calyfs.pk}/{zfs_only}/" not in page, zfs_only
    for btrfs_only in ("balance", "add-device", "remove-device", "replace-device", "enable-quota", "unregister",
                       "delete"):
        assert f"{POOLS}{calyfs.pk}/{btrfs_only}/" in page, btrfs_only
    assert "devid" in page and "Quotas are off on calyfs: turn them on" in page
    for button in ("pause-balance", "resume-balance", "cancel-balance"):  # buttons, greyed out with no balance
        assert f'formaction="{POOLS}{calyfs.pk}/{button}/" disabled' in page, button
    assert "No balance running." in page
    assert set(replay.calls) == {("btrfs", "balance", "status", BTRFS_MNT),
                                 ("btrfs", "qgroup", "show", "--raw", "-r", "-e", BTRFS_MNT),
                                 ("btrfs", "filesystem", "show", "--raw", BTRFS_MNT),
                                 ("btrfs", "device", "stats", BTRFS_MNT)}


@pytest.mark.django_db
def test_member_offline_and_refusal_on_device_field(tank, admin_browser, replay):
    replay.add_file(FUSE / "zpool_offline.txt")
    replay.add(["zpool", "status", "zrectank"], stdout=degraded_status())
    page = admin_browser.get(f"{POOLS}{tank.pk}/offline/").content.decode()
    assert 'name="device"' in page and 'name="temporary"' in page
    response = admin_browser.post(f"{POOLS}{tank.pk}/offline/", {"device": "/tmp/zrec/b.img"})
    _redirects_to(response, f"{POOLS}{tank.pk}/change/")
    tank.refresh_from_db()
    assert tank.health == "DEGRADED" and _audited("storage.pool.offline").changes["device"] == [None,
                                                                                              "/tmp/zrec/b.img"]
    calls = len(replay.calls)
    bad = admin_browser.post(f"{POOLS}{tank.pk}/replace/", {"device": "/tmp/zrec/nope.img",
                                                             "new_device": "/srv/new.img"})
    assert "is not a device of pool zrectank" in _field_error(bad, "device")
    assert len(replay.calls) == calls
    assert AuditEvent.objects.get(action="storage.pool.replace").outcome != "ok"


@pytest.mark.django_db
def test_member_online_replace_and_detach_run_their_commands(tank, admin_browser, replay):
    healthy = recorded("zpool_status_mirror_healthy.txt")
    replay.add(["zpool", "status", "zrectank"], stdout=healthy)
    replay.add_file(FUSE / "zpool_online.txt")
    replay.add(["zpool", "replace", "zrectank", "/tmp/zrec/a.img", "/srv/n.img"])
    replay.add(["zpool", "detach", "zrectank", "/tmp/zrec/a.img"])
    known_pools(replay)
    for op, data in (("online", {"device": "/tmp/zrec/b.img"}),
                     ("replace", {"device": "/tmp/zrec/a.img", "new_device": "/srv/n.img"}),
                     ("detach", {"device": "/tmp/zrec/a.img"})):
        _redirects_to(admin_browser.post(f"{POOLS}{tank.pk}/{op}/", data), f"{POOLS}{tank.pk}/change/")
        _audited(f"storage.pool.{op}")
    changes = [c for c in replay.calls if c[1] in ("online", "replace", "detach")]
    assert changes == [("zpool", "online", "zrectank", "/tmp/zrec/b.img"),
                       ("zpool", "replace", "zrectank", "/tmp/zrec/a.img", "/srv/n.img"),
                       ("zpool", "detach", "zrectank", "/tmp/zrec/a.img")]


@pytest.mark.django_db
def test_add_vdevs_plans_vdevs_and_queues_job(tank, admin_browser, replay):
    page = admin_browser.get(f"{POOLS}{tank.pk}/add-vdevs/")
    assert page.status_code == 200 and {"layout", "devices", "spares", "log", "cache"} <= set(
        page.context["form"].fields)
    bad = admin_browser.post(f"{POOLS}{tank.pk}/add-vdevs/", {"layout": "raidz1", "devices": "/srv/a /srv/b"})
    assert "multiple of 3" in _field_error(bad, "devices") and replay.calls == []
    nothing = admin_browser.post(f"{POOLS}{tank.pk}/add-vdevs/", {"layout": "mirror"})
    assert "Nothing to add" in _non_field_error(nothing) + " ".join(nothing.context["form"].errors.get("vdevs", []))
    known_pools(replay)
    response = admin_browser.post(f"{POOLS}{tank.pk}/add-vdevs/", {
        "layout": "mirror", "devices": "/srv/c.img\n/srv/d.img", "spares": "/srv/s.img", "log": "/srv/l1 /srv/l2"})
    job = _job_redirect(response, "storage.pool.add_vdevs")
    assert job.params["vdevs"] == [{"type": "mirror", "devices": ["/srv/c.img", "/srv/d.img"]}]
    assert job.params["spares"] == ["/srv/s.img"]
    assert job.params["log"] == [{"type": "mirror", "devices": ["/srv/l1", "/srv/l2"]}]
    assert job.lock_key == "pool:zrectank" and job.target_id == str(tank.pk)
    assert AuditEvent.objects.get(action="storage.pool.add_vdevs", outcome="queued").job_id == job.pk


@pytest.mark.django_db
def test_destroy_pool_needs_the_typed_name(tank, admin_browser, replay):
    page = admin_browser.get(f"{POOLS}{tank.pk}/delete/").content.decode()
    assert "calypso-danger" in page and 'name="confirm"' in page and "Type zrectank to confirm" in page
    assert "Every dataset, volume and snapshot of the pool is lost for good." in page
    for wrong in ("zrectan", ""):
        bad = admin_browser.post(f"{POOLS}{tank.pk}/delete/", {"confirm": wrong})
        assert "confirm" in bad.context["form"].errors
    assert "Type zrectank to confirm." in _field_error(
        admin_browser.post(f"{POOLS}{tank.pk}/delete/", {"confirm": "zrectan"}), "confirm")
    assert not Job.objects.exists() and replay.calls == []
    assert not AuditEvent.objects.filter(action="storage.pool.delete", outcome__in=("ok", "queued")).exists()
    job = _job_redirect(admin_browser.post(f"{POOLS}{tank.pk}/delete/", {"confirm": "zrectank", "force": "on"}),
                        "storage.pool.delete")
    assert job.target_id == str(tank.pk) and job.params == {"force": True} and job.lock_key == "pool:zrectank"
    assert AuditEvent.objects.get(action="storage.pool.delete", outcome="queued").job_id == job.pk
    assert replay.calls == [] and Pool.objects.filter(pk=tank.pk).exists()  # the job destroys it


@pytest.mark.django_db
def test_export_pool(tank, admin_browser, replay):
    page = admin_browser.get(f"{POOLS}{tank.pk}/export/").content.decode()
    assert "shares stop working" in page and 'name="force"' in page
    replay.add_file(FUSE / "zpool_export.txt")
    _redirects_to(admin_browser.post(f"{POOLS}{tank.pk}/export/", {}), f"{POOLS}{tank.pk}/change/")
    tank.refresh_from_db()
    assert tank.gone and replay.calls == [("zpool", "export", "zrectank")]
    assert _audited("storage.pool.export").changes["gone"] == [False, True]
    gone_page = admin_browser.get(f"{POOLS}{tank.pk}/change/").content.decode()
    assert f'formaction="{POOLS}{tank.pk}/' not in gone_page  # no scrub or device buttons on an exported pool
    assert re.findall(r'data-operation="(\w+)"', gone_page) == ["delete"]  # it can only be forgotten
    listing = admin_browser.post(POOLS, {"action": "scrub_selected", "_selected_action": [tank.pk]}, follow=True)
    assert listing.status_code == 200 and not Job.objects.exists() and len(replay.calls) == 1


# ---------------------------------------------------------------- events
@pytest.mark.django_db
def test_acknowledge_events_one_by_one_and_in_bulk(tank, admin_browser):
    first, second, third = (StorageEvent.objects.create(pool=tank, kind="capacity_80", message=f"full {i}")
                            for i in range(3))
    page = admin_browser.get(f"{EVENTS}{first.pk}/change/").content.decode()
    assert f'href="{EVENTS}{first.pk}/acknowledge/"' in page
    _redirects_to(admin_browser.post(f"{EVENTS}{first.pk}/acknowledge/"), f"{EVENTS}{first.pk}/change/")
    first.refresh_from_db()
    assert first.acknowledged and _audited("storage.storageevent.acknowledge")
    assert f"{EVENTS}{first.pk}/acknowledge/" not in admin_browser.get(f"{EVENTS}{first.pk}/change/").content.decode()
    admin_browser.post(EVENTS, {"action": "acknowledge_selected", "_selected_action": [first.pk, second.pk, third.pk]})
    assert StorageEvent.objects.filter(acknowledged=True).count() == 3
    assert AuditEvent.objects.filter(action="storage.storageevent.acknowledge").count() == 3  # not again for first


# ---------------------------------------------------------------- datasets
@pytest.mark.django_db
def test_dataset_changelist_is_an_indented_tree(tank, admin_browser):
    page = admin_browser.get(DATASETS).content.decode()
    positions = [page.index(f'title="{n}"') for n in DATASET_NAMES]
    assert positions == sorted(positions)
    assert 'padding-left:3.0em" title="zrectank/data/sub"' in page
    assert f'href="{DATASETS}create/"' in page and "Create dataset or volume" in page


@pytest.mark.django_db
def test_create_dataset_runs_zfs_create_and_refusals_name_their_field(tank, admin_browser, replay):
    page = admin_browser.get(f"{DATASETS}create/", {"pool": tank.pk, "name": "zrectank/data/"})
    form = page.context["form"]
    assert {"pool", "name", "kind", "compression", "quota", "properties"} <= set(form.fields)
    assert form["name"].value() == "zrectank/data/" and str(form["pool"].value()) == str(tank.pk)
    bad = admin_browser.post(f"{DATASETS}create/", {"pool": tank.pk, "name": "zrectank/x", "kind": "filesystem",
                                                    "quota": "lots"})
    assert _field_error(bad, "quota")
    elsewhere = admin_browser.post(f"{DATASETS}create/", {"pool": tank.pk, "name": "other/x", "kind": "filesystem"})
    assert "must start with zrectank/" in _field_error(elsewhere, "name")
    volume = admin_browser.post(f"{DATASETS}create/", {"pool": tank.pk, "name": "zrectank/vol", "kind": "volume",
                                                       "volsize": "1G"})
    assert "creating volumes (zvols) is unsupported by this ZFS (zfs-fuse)" in _non_field_error(volume)
    assert replay.calls == [] and Dataset.objects.count() == 4
    replay.add(["zfs", "create", "-o", "com.example:owner=ops", "-o", "quota=10737418240", "-o", "compression=lz4",
                "zrectank/x"])
    zfs_refresh(replay, "zrectank/x", datasets=["zrectank/x"])
    response = admin_browser.post(f"{DATASETS}create/", {
        "pool": tank.pk, "name": "zrectank/x", "kind": "filesystem", "quota": "10G", "compression": "lz4",
        "properties": "com.example:owner=ops"})
    made = Dataset.objects.get(name="zrectank/x")
    _redirects_to(response, f"{DATASETS}{made.pk}/change/")
    assert replay.calls[0][:2] == ("zfs", "create") and made.used_bytes == 19456
    event = AuditEvent.objects.get(action="storage.dataset.create", outcome="ok")
    assert event.object_label == "zrectank/x" and event.changes["properties"][1]["compression"] == "lz4"


@pytest.mark.django_db
def test_dataset_page_links_and_property_edit(tank, admin_browser, replay):
    data = Dataset.objects.get(name="zrectank/data")
    page = admin_browser.get(f"{DATASETS}{data.pk}/change/").content.decode()
    for op in ("update", "rename", "delete"):
        assert f'href="{DATASETS}{data.pk}/{op}/"' in page, op
    assert f'href="{SNAPSHOTS}create/?dataset={data.pk}"' in page and "Take snapshot" in page
    assert f'href="{DATASETS}create/?pool={tank.pk}&amp;name=zrectank/data/"' in page and "New child" in page
    assert f'href="{SNAPSHOTS}?dataset__id__exact={data.pk}"' in page and "3 snapshots" in page
    form_page = admin_browser.get(f"{DATASETS}{data.pk}/update/")
    form = form_page.context["form"]
    assert "volsize" not in form.fields and form["compression"].value() == "on"
    assert form["properties"].value() == "com.example:owner=alice"
    initial = _initial_post(form_page)
    bad = admin_browser.post(f"{DATASETS}{data.pk}/update/", {**initial, "recordsize": "3K"})
    assert "power of two" in _field_error(bad, "recordsize") and replay.calls == []
    nothing = admin_browser.post(f"{DATASETS}{data.pk}/update/", initial)  # an unchanged form changes nothing
    assert nothing.status_code == 200 and nothing.context["form"].errors and replay.calls == []
    for pair in ("com.example:owner=alice", "com.example:x=1", "quota=10737418240", "atime=off"):
        replay.add(["zfs", "set", pair, "zrectank/data"])
    zfs_refresh(replay, "zrectank/data")
    response = admin_browser.post(f"{DATASETS}{data.pk}/update/", {
        **initial, "quota": "10G", "atime": "off", "properties": "com.example:owner=alice\ncom.example:x=1"})
    _redirects_to(response, f"{DATASETS}{data.pk}/change/")
    sets = {c[2] for c in replay.calls if c[:2] == ("zfs", "set")}
    assert {"quota=10737418240", "atime=off", "com.example:x=1"} <= sets
    assert not any(c[2].startswith(("compression=", "recordsize=")) for c in replay.calls if c[1] == "set")
    assert _audited("storage.dataset.update").changes["properties"][1]["quota"] == "10G"


@pytest.mark.django_db
def test_unchanged_property_form_says_nothing_changed(tank, admin_browser, replay):
    data = Dataset.objects.get(name="zrectank/data")
    initial = _initial_post(admin_browser.get(f"{DATASETS}{data.pk}/update/"))
    nothing = admin_browser.post(f"{DATASETS}{data.pk}/update/", initial)
    assert "Nothing changed." in _non_field_error(nothing)
    assert replay.calls == [] and not AuditEvent.objects.filter(action="storage.dataset.update").exists()


@pytest.mark.django_db
def test_emptied_property_inherits_again(tank, admin_browser, replay):
    data = Dataset.objects.get(name="zrectank/data")
    initial = _initial_post(admin_browser.get(f"{DATASETS}{data.pk}/update/"))
    replay.add(["zfs", "inherit", "compression", "zrectank/data"])
    zfs_refresh(replay, "zrectank/data")
    _redirects_to(admin_browser.post(f"{DATASETS}{data.pk}/update/", {**initial, "compression": ""}),
                  f"{DATASETS}{data.pk}/change/")
    assert ("zfs", "inherit", "compression", "zrectank/data") in replay.calls
    assert not any(c[1] == "set" for c in replay.calls)


@pytest.mark.django_db
def test_rename_dataset(tank, admin_browser, replay):
    data = Dataset.objects.get(name="zrectank/data")
    assert admin_browser.get(f"{DATASETS}{data.pk}/rename/").context["form"]["new_name"].value() == "zrectank/data"
    bad = admin_browser.post(f"{DATASETS}{data.pk}/rename/", {"new_name": "other/data"})
    assert "must start with zrectank/" in _field_error(bad, "new_name") and replay.calls == []
    taken = admin_browser.post(f"{DATASETS}{data.pk}/rename/", {"new_name": "zrectank/home"})
    assert "already exists" in _field_error(taken, "new_name") and replay.calls == []
    replay.add(["zfs", "rename", "zrectank/data", "zrectank/d2"])
    zfs_refresh(replay, "zrectank", rename=("zrectank/data", "zrectank/d2"))
    response = admin_browser.post(f"{DATASETS}{data.pk}/rename/", {"new_name": "zrectank/d2"})
    renamed = Dataset.objects.get(name="zrectank/d2", gone=False)
    _redirects_to(response, f"{DATASETS}{renamed.pk}/change/")
    assert replay.calls[0] == ("zfs", "rename", "zrectank/data", "zrectank/d2")
    assert Snapshot.objects.filter(dataset=renamed).count() == 3
    assert AuditEvent.objects.get(action="storage.dataset.rename", outcome="ok").changes["new_name"] == [
        None, "zrectank/d2"]


@pytest.mark.django_db
def test_destroy_dataset_confirms_then_destroys(tank, admin_browser, replay):
    sub = Dataset.objects.get(name="zrectank/data/sub")
    page = admin_browser.get(f"{DATASETS}{sub.pk}/delete/").content.decode()
    assert "calypso-danger" in page and 'name="recursive"' in page and 'name="confirm"' in page
    bad = admin_browser.post(f"{DATASETS}{sub.pk}/delete/", {"confirm": "sub", "recursive": "on"})
    assert "Type zrectank/data/sub to confirm." in _field_error(bad, "confirm") and replay.calls == []
    assert AuditEvent.objects.get(action="storage.dataset.delete").outcome == "denied"
    replay.add(["zfs", "destroy", "-r", "zrectank/data/sub"])
    response = admin_browser.post(f"{DATASETS}{sub.pk}/delete/", {"confirm": "zrectank/data/sub", "recursive": "on"})
    _redirects_to(response, DATASETS)
    assert not Dataset.objects.filter(pk=sub.pk).exists() and replay.calls == [
        ("zfs", "destroy", "-r", "zrectank/data/sub")]
    event = AuditEvent.objects.get(action="storage.dataset.delete", outcome="ok")
    assert event.changes["recursive"] == [None, True] and event.object_label == "zrectank/data/sub"
    assert "confirm" not in event.changes


@pytest.mark.django_db
def test_root_dataset_offers_no_destroy(tank, calyfs, admin_browser):
    for root in (Dataset.objects.get(name="zrectank"), Dataset.objects.get(name="calyfs")):
        page = admin_browser.get(f"{DATASETS}{root.pk}/change/").content.decode()
        assert f"{DATASETS}{root.pk}/delete/" not in page, root.name  # it goes with its pool


@pytest.mark.django_db
def test_take_snapshot_from_the_dataset_page(tank, admin_browser, replay):
    data = Dataset.objects.get(name="zrectank/data")
    page = admin_browser.get(f"{SNAPSHOTS}create/", {"dataset": data.pk})
    assert str(page.context["form"]["dataset"].value()) == str(data.pk)
    bad = admin_browser.post(f"{SNAPSHOTS}create/", {"dataset": data.pk, "name": "x;y"})
    assert _field_error(bad, "name") and replay.calls == []
    taken = admin_browser.post(f"{SNAPSHOTS}create/", {"dataset": data.pk, "name": "c2"})
    assert "zrectank/data@c2 already exists" in _field_error(taken, "name") and replay.calls == []
    replay.add(["zfs", "snapshot", "-r", "zrectank/data@manual1"])
    zfs_refresh(replay, "zrectank/data", snapshots=["zrectank/data@manual1", "zrectank/data/sub@manual1"])
    response = admin_browser.post(f"{SNAPSHOTS}create/", {"dataset": data.pk, "name": "manual1", "recursive": "on"})
    snap = Snapshot.objects.get(name="zrectank/data@manual1")
    _redirects_to(response, f"{SNAPSHOTS}{snap.pk}/change/")
    assert replay.calls[0] == ("zfs", "snapshot", "-r", "zrectank/data@manual1")
    assert Snapshot.objects.filter(name="zrectank/data/sub@manual1").exists()
    assert _audited("storage.snapshot.create").object_label == "zrectank/data@manual1"


@pytest.mark.django_db
def test_btrfs_subvolume_create_and_delete(calyfs, admin_browser, replay):
    home = Dataset.objects.get(name="calyfs/home")
    page = admin_browser.get(f"{DATASETS}{home.pk}/change/").content.decode()
    assert "New child" in page and f'href="{DATASETS}{home.pk}/delete/"' in page
    assert f"{DATASETS}{home.pk}/update/" not in page and f"{DATASETS}{home.pk}/rename/" not in page  # ZFS only
    _btrfs(replay, "subvolume_create", "fs_show_single", "subvolume_list_readonly", "subvolume_list_snapshots",
           "subvolume_show_root", "qgroup_show_off")
    listing = (BTRFS / "subvolume_list.txt").read_text().partition("\n")[2]
    replay.add(["btrfs", "subvolume", "list", "-p", "-u", "-q", "-R", BTRFS_MNT], stdout=listing + (
        "ID 270 gen 20 parent 5 top level 5 parent_uuid -                                    received_uuid - "
        "                                   uuid 0a0a0a0a-0000-4000-8000-000000000270 path projects\n"))
    response = admin_browser.post(f"{DATASETS}create/", {"pool": calyfs.pk, "name": "projects",
                                                         "kind": "filesystem"})
    made = Dataset.objects.get(pool=calyfs, name="calyfs/projects")
    _redirects_to(response, f"{DATASETS}{made.pk}/change/")
    assert replay.calls[0] == ("btrfs", "subvolume", "create", f"{BTRFS_MNT}/projects")
    _audited("storage.dataset.create")
    work = Dataset.objects.create(pool=calyfs, name="calyfs/projects-work", kind="subvolume")
    _btrfs(replay, "subvolume_delete")
    response = admin_browser.post(f"{DATASETS}{work.pk}/delete/", {"confirm": "calyfs/projects-work"})
    _redirects_to(response, DATASETS)
    deleted = replay.calls.index(("btrfs", "subvolume", "delete", f"{BTRFS_MNT}/projects-work"))
    assert ("btrfs", "filesystem", "show", "--raw", BTRFS_MNT) in replay.calls[deleted:]  # then re-read
    assert not Dataset.objects.filter(pk=work.pk).exists() and _audited("storage.dataset.delete")


# ---------------------------------------------------------------- snapshots
@pytest.mark.django_db
def test_bulk_destroy_asks_for_the_count_then_destroys(tank, admin_browser, replay):
    snaps = list(Snapshot.objects.filter(dataset__name="zrectank/data"))
    for s in snaps:
        replay.add(["zfs", "destroy", s.name])
    data = {"action": "delete_selected", "_selected_action": [s.pk for s in snaps]}
    page = admin_browser.post(SNAPSHOTS, data)
    text = page.content.decode()
    assert page.status_code == 200 and "Type the number of objects (3) to confirm" in text
    assert all(s.name in text for s in snaps) and replay.calls == []
    wrong = admin_browser.post(SNAPSHOTS, {**data, "confirm": "2"})
    assert "Type 3 to confirm." in wrong.content.decode() and replay.calls == []
    assert Snapshot.objects.filter(pk__in=[s.pk for s in snaps]).count() == 3
    done = admin_browser.post(SNAPSHOTS, {**data, "confirm": "3"}, follow=True)
    assert "Destroy: 3 done." in done.content.decode()
    assert sorted(replay.calls) == sorted(("zfs", "destroy", s.name) for s in snaps)
    assert not Snapshot.objects.filter(pk__in=[s.pk for s in snaps]).exists()
    events = AuditEvent.objects.filter(action="storage.snapshot.delete")
    assert sorted(e.object_label for e in events) == sorted(s.name for s in snaps)
    assert {e.outcome for e in events} == {"ok"}


@pytest.mark.django_db
def test_bulk_destroy_reports_a_refusal_and_destroys_the_others(tank, admin_browser, replay):
    held, *others = Snapshot.objects.filter(dataset__name="zrectank/data").order_by("created_at")
    replay.add(["zfs", "destroy", held.name], stderr=f"cannot destroy '{held.name}': snapshot has holds",
               returncode=1)
    for s in others:
        replay.add(["zfs", "destroy", s.name])
    zfs_refresh(replay, "zrectank/data")  # after a refusal the rows are re-read from the host: still there
    data = {"action": "delete_selected", "_selected_action": [held.pk, *(s.pk for s in others)], "confirm": "3"}
    page = admin_browser.post(SNAPSHOTS, data, follow=True).content.decode()
    assert "snapshot has holds" in page and "Destroy: 2 done." in page and "Destroy: 1 failed" in page
    assert Snapshot.objects.filter(pk=held.pk).exists() and not Snapshot.objects.filter(
        pk__in=[s.pk for s in others]).exists()
    assert AuditEvent.objects.get(action="storage.snapshot.delete", object_label=held.name).outcome == "failed"


@pytest.mark.django_db
def test_snapshot_row_and_page_actions(tank, admin_browser):
    snap = Snapshot.objects.get(name="zrectank/data@c2")
    listing = admin_browser.get(SNAPSHOTS).content.decode()
    assert f'href="{SNAPSHOTS}{snap.pk}/rollback/"' in listing and f'href="{SNAPSHOTS}{snap.pk}/hold/"' in listing
    assert f'href="{SNAPSHOTS}{snap.pk}/delete/"' in listing and 'value="delete_selected"' in listing
    page = admin_browser.get(f"{SNAPSHOTS}{snap.pk}/change/").content.decode()
    for op in ("rollback", "clone", "hold", "delete"):
        assert f'href="{SNAPSHOTS}{snap.pk}/{op}/"' in page, op
    assert f"{SNAPSHOTS}{snap.pk}/release/" not in page  # nothing held
    held = Snapshot.objects.get(name="zrectank/data@s1")  # userrefs 1 in the recording
    assert f'href="{SNAPSHOTS}{held.pk}/release/"' in admin_browser.get(f"{SNAPSHOTS}{held.pk}/change/").content.decode()


@pytest.mark.django_db
def test_single_destroy_from_the_row_link(tank, admin_browser, replay):
    snap = Snapshot.objects.get(name="zrectank/data@c3")
    bad = admin_browser.post(f"{SNAPSHOTS}{snap.pk}/delete/", {"confirm": "c3"})
    assert "Type zrectank/data@c3 to confirm." in _field_error(bad, "confirm") and replay.calls == []
    replay.add(["zfs", "destroy", "zrectank/data@c3"])
    _redirects_to(admin_browser.post(f"{SNAPSHOTS}{snap.pk}/delete/", {"confirm": "zrectank/data@c3"}), SNAPSHOTS)
    assert not Snapshot.objects.filter(pk=snap.pk).exists() and replay.calls == [("zfs", "destroy", snap.name)]
    assert AuditEvent.objects.get(action="storage.snapshot.delete", outcome="ok").object_label == snap.name


@pytest.mark.django_db
def test_rollback_lists_newer_refuses_then_rolls_back(tank, admin_browser, replay):
    oldest = Snapshot.objects.get(name="zrectank/data@s1")
    page = admin_browser.get(f"{SNAPSHOTS}{oldest.pk}/rollback/").content.decode()
    assert "calypso-danger" in page and 'name="destroy_newer"' in page and 'name="confirm"' in page
    assert "Newer snapshots" in page and "zrectank/data@c2" in page and "zrectank/data@c3" in page
    bad = admin_browser.post(f"{SNAPSHOTS}{oldest.pk}/rollback/", {"confirm": "nope", "destroy_newer": "on"})
    assert "Type zrectank/data@s1 to confirm." in _field_error(bad, "confirm")
    refused = admin_browser.post(f"{SNAPSHOTS}{oldest.pk}/rollback/", {"confirm": oldest.name})
    assert "Newer snapshots exist" in _field_error(refused, "destroy_newer") and replay.calls == []
    replay.add(["zfs", "rollback", "-r", oldest.name])
    zfs_refresh(replay, "zrectank/data", gone={"zrectank/data@c2", "zrectank/data@c3"})
    response = admin_browser.post(f"{SNAPSHOTS}{oldest.pk}/rollback/", {"confirm": oldest.name,
                                                                         "destroy_newer": "on"})
    _redirects_to(response, f"{SNAPSHOTS}{oldest.pk}/change/")
    assert replay.calls[0] == ("zfs", "rollback", "-r", "zrectank/data@s1")
    assert list(Snapshot.objects.filter(dataset__name="zrectank/data").values_list("name", flat=True)) == [
        "zrectank/data@s1"]
    events = AuditEvent.objects.filter(action="storage.snapshot.rollback")
    assert [e.outcome for e in events.order_by("id")] == ["denied", "failed", "ok"]
    assert events.get(outcome="ok").changes["destroy_newer"] == [None, True]


@pytest.mark.django_db
def test_clone_and_hold_release(tank, admin_browser, replay):
    snap = Snapshot.objects.get(name="zrectank/data@c2")
    form = admin_browser.get(f"{SNAPSHOTS}{snap.pk}/clone/").context["form"]
    assert form["target"].value() == "zrectank/data-c2"
    bad = admin_browser.post(f"{SNAPSHOTS}{snap.pk}/clone/", {"target": "elsewhere/x"})
    assert "must start with zrectank/" in _field_error(bad, "target") and replay.calls == []
    replay.add(["zfs", "hold", "keep", snap.name]).add(["zfs", "release", "keep", snap.name])
    _redirects_to(admin_browser.post(f"{SNAPSHOTS}{snap.pk}/hold/", {"tag": "keep"}), f"{SNAPSHOTS}{snap.pk}/change/")
    snap.refresh_from_db()
    assert snap.holds == ["keep"] and _audited("storage.snapshot.hold").changes["tag"] == [None, "keep"]
    assert f'href="{SNAPSHOTS}{snap.pk}/release/"' in admin_browser.get(
        f"{SNAPSHOTS}{snap.pk}/change/").content.decode()
    bad_tag = admin_browser.post(f"{SNAPSHOTS}{snap.pk}/release/", {"tag": "a b"})
    assert _field_error(bad_tag, "tag") and len(replay.calls) == 1
    admin_browser.post(f"{SNAPSHOTS}{snap.pk}/release/", {"tag": "keep"})
    snap.refresh_from_db()
    assert snap.holds == [] and AuditEvent.objects.filter(action="storage.snapshot.release", outcome="ok").count() == 1
    assert replay.calls == [("zfs", "hold", "keep", snap.name), ("zfs", "release", "keep", snap.name)]
    replay.add(["zfs", "clone", snap.name, "zrectank/copy"])
    zfs_refresh(replay, "zrectank/copy", datasets=["zrectank/copy"])
    response = admin_browser.post(f"{SNAPSHOTS}{snap.pk}/clone/", {"target": "zrectank/copy"})
    clone = Dataset.objects.get(name="zrectank/copy")
    _redirects_to(response, f"{DATASETS}{clone.pk}/change/")
    assert ("zfs", "clone", snap.name, "zrectank/copy") in replay.calls
    assert _audited("storage.snapshot.clone").changes["created"] == [
        None, {"type": "storage.dataset", "id": str(clone.pk), "label": "zrectank/copy"}]


@pytest.mark.django_db
def test_delete_and_add_urls_are_the_kit_pages(tank, admin_browser, replay):
    data = Dataset.objects.get(name="zrectank/data")
    for url in (f"{POOLS}{tank.pk}/delete/", f"{DATASETS}{data.pk}/delete/"):
        page = admin_browser.get(url)
        assert page.status_code == 200 and 'data-operation="delete"' in page.content.decode(), url
        assert "confirm" in page.context["form"].fields
    _redirects_to(admin_browser.get(f"{POOLS}add/"), f"{POOLS}create/")
    _redirects_to(admin_browser.get(f"{DATASETS}add/"), f"{DATASETS}create/")
    for listing in (POOLS, DATASETS):  # Django's own delete action would drop rows without the host
        assert 'value="delete_selected"' not in admin_browser.get(listing).content.decode(), listing
    confirm = admin_browser.post(SNAPSHOTS, {"action": "delete_selected", "_selected_action": [
        Snapshot.objects.first().pk]})
    assert 'name="confirm"' in confirm.content.decode() and replay.calls == []  # the kit's, with its count
    assert Snapshot.objects.count() == 4 and not AuditEvent.objects.exists()


# ---------------------------------------------------------------- who may
@pytest.mark.django_db
def test_viewer_sees_no_operations_and_gets_403(tank, viewer_user, browser_for, replay):
    client = browser_for(viewer_user)
    replay.add_file(FUSE / "zpool_get_all.txt")  # the pool page shows the pool's properties
    StorageEvent.objects.create(pool=tank, kind="capacity_80", message="full")
    event = StorageEvent.objects.get()
    page = client.get(POOLS).content.decode()
    assert "zrectank" in page and "scrub_selected" not in page and "data-operation=" not in page
    page = client.get(f"{POOLS}{tank.pk}/change/").content.decode()
    assert "zrectank" in page and "formaction=" not in page and 'id="calypso-member-' not in page
    assert "data-operation=" not in page and f"{POOLS}{tank.pk}/delete/" not in page
    data = Dataset.objects.get(name="zrectank/data")
    snap = Snapshot.objects.filter(dataset=data).first()
    page = client.get(f"{DATASETS}{data.pk}/change/").content.decode()
    assert "data-operation=" not in page and "Take snapshot" not in page and "New child" not in page
    listing = client.get(SNAPSHOTS).content.decode()
    assert f"{SNAPSHOTS}{snap.pk}/rollback/" not in listing and 'value="delete_selected"' not in listing
    assert f"{EVENTS}{event.pk}/acknowledge/" not in client.get(f"{EVENTS}{event.pk}/change/").content.decode()
    urls = [f"{POOLS}{tank.pk}/{op}/" for op in ("scrub", "pause-scrub", "stop-scrub", "offline", "online",
                                                  "replace", "detach", "add-vdevs", "export", "delete",
                                                  "update-properties")]
    urls += [f"{POOLS}{op}/" for op in ("create", "register", "import", "sync")]
    urls += [f"{DATASETS}create/", *(f"{DATASETS}{data.pk}/{op}/" for op in ("update", "rename", "delete"))]
    urls += [f"{SNAPSHOTS}create/", *(f"{SNAPSHOTS}{snap.pk}/{op}/" for op in ("rollback", "clone", "hold",
                                                                                  "release", "delete"))]
    urls += [f"{EVENTS}{event.pk}/acknowledge/"]
    for url in urls:
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"confirm": "zrectank", "device": "/tmp/zrec/a.img", "name": "x",
                                 "mountpoint": "/mnt/x", "dataset": data.pk, "pool": tank.pk}).status_code == 403, url
    client.post(POOLS, {"action": "scrub_selected", "_selected_action": [tank.pk]})
    client.post(SNAPSHOTS, {"action": "delete_selected", "_selected_action": [snap.pk], "confirm": "1"})
    # Nothing ran (the pool page only read its properties); the only audit events are the records of the
    # denied requests themselves.
    assert not Job.objects.exists() and set(replay.calls) <= {("zpool", "get", "all", "zrectank")}
    assert set(AuditEvent.objects.values_list("action", "outcome")) == {("http.request.denied", "denied")}
    assert Snapshot.objects.filter(pk=snap.pk).exists()


@pytest.mark.django_db
def test_object_permissions_restrict_to_404(tank, make_user, browser_for, replay):
    user = make_user("scoped1", None, is_staff=True)
    big = Pool.objects.get(name="zrecbig")
    for perm in ("storage.view_pool", "storage.scrub_pool"):
        assign_perm(perm, user, big)
    client = browser_for(user)
    replay.add(["zpool", "get", "all", "zrecbig"], stdout=recorded("zpool_get_all.txt").replace("zrectank",
                                                                                                 "zrecbig "))
    for url in (f"{POOLS}{tank.pk}/scrub/", f"{POOLS}{tank.pk}/delete/", f"{POOLS}{tank.pk}/offline/"):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"confirm": "zrectank", "device": "/tmp/zrec/a.img"}).status_code == 404, url
    assert client.get(f"{POOLS}{tank.pk}/change/").status_code == 403  # Django's own check comes first
    page = client.get(f"{POOLS}{big.pk}/change/").content.decode()
    assert f'href="{POOLS}{big.pk}/scrub/"' in page and f"{POOLS}{big.pk}/delete/" not in page
    assert f"{POOLS}{big.pk}/add-vdevs/" not in page and 'id="calypso-member-' not in page
    assert client.post(f"{POOLS}{big.pk}/export/").status_code == 403  # seen, but not allowed
    job = _job_redirect(client.post(f"{POOLS}{big.pk}/scrub/"), "storage.pool.scrub")
    assert job.target_id == str(big.pk) and job.user == user
    assert replay.calls == [("zpool", "get", "all", "zrecbig")]  # the page's properties, nothing else
    assert AuditEvent.objects.exclude(action="http.request.denied").get().action == "storage.pool.scrub"
    assert AuditEvent.objects.filter(action="http.request.denied").count() == 2  # the two 403s above


@pytest.mark.django_db
def test_bulk_destroy_page_reports_each_snapshot(tank, admin_browser, replay):
    held, *others = Snapshot.objects.filter(dataset__name="zrectank/data").order_by("created_at", "name")
    replay.add(["zfs", "destroy", held.name], stderr=f"cannot destroy '{held.name}': snapshot has holds",
               returncode=1)
    for s in others:
        replay.add(["zfs", "destroy", s.name])
    zfs_refresh(replay, "zrectank/data", gone=[s.name for s in others])  # zfs-fuse: one by one, until the refusal
    ids = [held.pk, *(s.pk for s in others)]
    page = admin_browser.post(f"{SNAPSHOTS}bulk-delete/", {"ids": ids, "confirm": "3"}, follow=True)
    text = page.content.decode()  # (the message list capitalises the first letter)
    assert f"{held.name[1:]}: cannot destroy" in text and "Destroy snapshots: 2 done, 1 failed" in text
    assert list(Snapshot.objects.filter(pk__in=ids).values_list("pk", flat=True)) == [held.pk]
    items = AuditEvent.objects.filter(action="storage.snapshot.delete")
    assert sorted((e.object_id, e.outcome) for e in items) == sorted(
        [(str(held.pk), "failed"), *((str(s.pk), "ok") for s in others)])
