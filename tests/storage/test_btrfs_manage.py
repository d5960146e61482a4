"""Btrfs management against recorded btrfs-progs 6.2 output: parsers, the commands built, how each ending of a
balance is read, the services' refusals (400 naming the field, 409 when busy) and the jobs' progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import ParseError, ServiceError
from apps.core.runner import ReplayRunner
from apps.jobs.models import Job
from apps.jobs.runtime import run_job
from apps.storage import services
from apps.storage.backends.base import BackendError
from apps.storage.backends.btrfs import BtrfsBackend, balance_filters
from apps.storage.backends.btrfs_parse import parse_btrfs_mkfs, parse_btrfs_qgroup_show, parse_btrfs_replace_status
from apps.storage.backends.pools import BtrfsPool
from apps.storage.models import Dataset, Pool, Snapshot

FIXTURES = Path(__file__).parent / "fixtures" / "btrfs"
MNT = "/tmp/brec/mnt3"  # where the management recordings were made (label calyrec)
MNT1 = "/tmp/brec/mnt1"  # the listing recordings (label calyfs)


def body(name: str) -> str:
    first, _, rest = (FIXTURES / f"{name}.txt").read_text().partition("\n")
    return rest.partition("\n")[2] if rest.startswith("# returncode:") else rest.partition("# stderr:\n")[0]


def replay(*names: str) -> ReplayRunner:
    return ReplayRunner().add_files(FIXTURES / f"{n}.txt" for n in names)


# --- parsers -----------------------------------------------------------------------------------


def test_qgroup_show_gives_each_subvolume_its_referenced_and_exclusive_bytes():
    groups = {q["path"]: q for q in parse_btrfs_qgroup_show(body("mgmt_qgroup_show"))}
    assert set(groups) == {"<toplevel>", "home", "home@s1"}
    home = groups["home"]
    assert (home["qgroupid"], home["subvolid"], home["referenced"], home["exclusive"]) == (
        "0/256", 256, 256917504, 5259264)
    assert home["max_referenced"] is None and groups["home@s1"]["exclusive"] == 16384
    with pytest.raises(ParseError):
        parse_btrfs_qgroup_show("0/256 lots of bytes\n")


def test_replace_status_running_finished_never_and_canceled():
    running = parse_btrfs_replace_status(body("mgmt_replace_status_running"))
    assert (running["state"], running["percent"], running["write_errors"]) == ("running", 1.6, 0)
    done = parse_btrfs_replace_status(body("mgmt_replace_status_finished"))
    assert (done["state"], done["percent"]) == ("finished", 100.0)
    assert parse_btrfs_replace_status("Never started\n")["state"] == "never"
    canceled = parse_btrfs_replace_status("Started on  1.Dec 19:52:39, canceled on  1.Dec 19:52:40 at 12.5%, "
                                          "0 write errs, 0 uncorr. read errs\n")
    assert (canceled["state"], canceled["percent"]) == ("canceled", 12.5)
    with pytest.raises(ParseError):
        parse_btrfs_replace_status("250% done, 0 write errs, 0 uncorr. read errs\n")


def test_mkfs_summary_gives_label_and_uuid():
    assert parse_btrfs_mkfs(body("mgmt_mkfs_raid1")) == {"label": "calyrec",
                                                        "uuid": "542fbd53-4cd7-4569-b641-33ba34553ca0"}


# --- backend -----------------------------------------------------------------------------------


def test_balance_filters_are_usage_and_convert_or_a_full_balance_said_so():
    assert balance_filters() == ["--full-balance"]
    assert balance_filters(data_usage=100, metadata_usage=100) == ["-dusage=100", "-musage=100"]
    assert balance_filters(data_convert="single", metadata_convert="dup") == ["-dconvert=single", "-mconvert=dup"]
    assert balance_filters(data_usage=50, data_convert="raid1") == ["-dusage=50,convert=raid1"]
    with pytest.raises(BackendError):
        balance_filters(data_convert="raid7")


def test_mkfs_builds_its_command_and_reads_the_uuid():
    runner = replay("mgmt_mkfs_raid1")
    made = BtrfsBackend(runner).mkfs(["/dev/loop0", "/dev/loop1"], label="calyrec", data_profile="raid1",
                                     metadata_profile="raid1", force=True)
    assert made["uuid"] == "542fbd53-4cd7-4569-b641-33ba34553ca0"
    with pytest.raises(BackendError) as few:
        BtrfsBackend(replay("mgmt_mkfs_too_few")).mkfs(["/dev/loop0", "/dev/loop1"], label="calyrec",
                                                       data_profile="raid1c3", metadata_profile="raid1")
    assert "3 devices are required" in few.value.message
    with pytest.raises(BackendError):
        BtrfsBackend(runner).mkfs(["/dev/loop0", "-f"], label="x", data_profile="single", metadata_profile="dup")


@pytest.mark.parametrize(("recording", "outcome"), [
    ("mgmt_balance_start_done", "done"), ("mgmt_balance_start_paused", "paused"),
    ("mgmt_balance_resume_canceled", "canceled")])  # fmt: skip
def test_each_ending_of_a_balance_is_told_apart(recording, outcome):
    runner = replay(recording)
    argv = runner.recordings and next(iter(runner.recordings))
    handle = runner.start(list(argv))
    assert BtrfsBackend(runner).balance_outcome(handle) == outcome


def test_a_refused_balance_is_the_tools_error():
    runner = replay("mgmt_balance_start_busy")
    handle = runner.start(["btrfs", "balance", "start", "--full-balance", MNT])
    with pytest.raises(BackendError) as busy:
        BtrfsBackend(runner).balance_outcome(handle)
    assert "another exclusive operation 'balance' in progress" in busy.value.message


def test_quota_groups_off_reads_as_none_and_sizes_fill_listings():
    assert BtrfsBackend(replay("qgroup_show_off")).qgroups(MNT1) is None
    runner = replay("mgmt_qgroup_show")
    pool = BtrfsPool(BtrfsBackend(runner), "calyrec", MNT)
    assert pool.sizes()[256]["referenced"] == 256917504
    pool.sizes()
    assert len(runner.calls) == 1  # read once per backend object


def test_device_removal_refused_by_the_profile_says_why():
    runner = replay("mgmt_device_remove_below_min")
    handle = BtrfsBackend(runner).start_remove_device(MNT, "/dev/loop0")
    with pytest.raises(BackendError) as refused:
        BtrfsBackend(runner).finish_command(handle)
    assert "unable to go below two devices on raid1" in refused.value.message
    by_devid = ReplayRunner().add(["btrfs", "device", "remove", "3", MNT])
    BtrfsBackend(by_devid).start_remove_device(MNT, 3)  # a missing device has only its devid
    assert by_devid.calls == [("btrfs", "device", "remove", "3", MNT)]


# --- services ----------------------------------------------------------------------------------


@pytest.fixture
def calyfs(db) -> Pool:
    pool = Pool.objects.create(backend="btrfs", name="calyfs", mountpoint=MNT1)
    Dataset.objects.create(pool=pool, name="calyfs", kind="subvolume", mountpoint=MNT1, extra={"id": 5})
    return pool


@pytest.mark.django_db
@pytest.mark.parametrize(("kwargs", "field", "words"), [
    ({"devices": ["/dev/loop0", "/dev/loop1"], "data_profile": "raid1c3"}, "data_profile", "at least 3 devices"),
    ({"devices": ["/dev/loop0"], "metadata_profile": "raid1"}, "metadata_profile", "at least 2 devices"),
    ({"devices": ["/dev/loop0", "/dev/loop0"]}, "devices", "twice"),
    ({"devices": ["/srv/disk.img"]}, "devices", "block devices"),
    ({"devices": []}, "devices", "at least one"),
    ({"devices": ["/dev/loop0"], "data_profile": "raid7"}, "data_profile", "Unknown profile"),
    ({"devices": ["/dev/loop0"], "mountpoint": "relative/path"}, "mountpoint", ""),
])  # fmt: skip
def test_create_refuses_bad_input_before_any_command(replay, kwargs, field, words):
    with pytest.raises(ServiceError) as refused:
        services.create_btrfs("vault", **kwargs)
    assert (refused.value.status_code, refused.value.field) == (400, field) and words in refused.value.message
    assert replay.calls == [] and not Job.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("label", ["calyfs", "a@b", "-f", "with/slash", "9lives", ""])
def test_create_refuses_a_label_taken_or_unfit_for_a_pool_name(calyfs, replay, label):
    with pytest.raises(ServiceError) as refused:
        services.create_btrfs(label, devices=["/dev/loop5"])
    assert refused.value.field == "label" and replay.calls == []


@pytest.mark.django_db
def test_api_create_queues_a_job_and_names_the_field_it_refuses(operator_user, token_client_for, replay, settings):
    settings.CALYPSO_BTRFS_MOUNT_ROOT = "/srv/btrfs"
    client = token_client_for(operator_user)
    bad = client.post("/api/v1/storage/pools/create-btrfs/", {"label": "vault", "devices": ["/dev/loop0"],
                                                              "data_profile": "raid1"}, format="json")
    assert bad.status_code == 400 and "data_profile" in bad.json()["error"]["fields"]
    replay.add(["lsblk", "--json", "--bytes", "-o", "NAME,KNAME,PATH,TYPE,SIZE,MODEL,SERIAL,ROTA,TRAN,FSTYPE,"
                "MOUNTPOINT,RO", "/dev/loop0"], stdout='{"blockdevices": []}')
    replay.add(["zpool", "list", "-H", "-o", "name,size,allocated,free,capacity,dedupratio,health,guid"], stdout="")
    response = client.post("/api/v1/storage/pools/create-btrfs/", {"label": "vault", "devices": ["/dev/loop0"]},
                           format="json")
    assert response.status_code == 202, response.json()
    job = Job.objects.get(kind="storage.btrfs.create")
    assert job.params == {"label": "vault", "devices": ["/dev/loop0"], "data_profile": "single",
                          "metadata_profile": "dup", "mountpoint": "/srv/btrfs/vault", "force": False}
    assert AuditEvent.objects.filter(action="storage.pool.create_btrfs", outcome="queued").exists()


def _running_balance(runner: ReplayRunner, polls: int, ending: str) -> None:
    """``balance start`` that runs for ``polls`` status reads, then ends as recorded in ``ending``."""
    first, _, rest = (FIXTURES / f"{ending}.txt").read_text().partition("\n")
    stdout, _, stderr = rest.partition("# stderr:\n")
    runner.add(["btrfs", "balance", "start", "-dusage=50", MNT1], stdout=stdout, stderr=stderr, polls=polls)


def _balance_reads(runner: ReplayRunner) -> None:
    # The paused recording's progress line, said of a running balance.
    running = body("mgmt_balance_status_paused2").replace(MNT, MNT1).replace("is paused", "is running")
    runner.add(["btrfs", "balance", "status", MNT1], stdout=running, returncode=1)
    runner.add_files(FIXTURES / f"{n}.txt" for n in (
        "fs_show_single", "fs_usage_single", "device_stats_single", "scrub_status_finished",
        "scrub_status_finished_summary"))


@pytest.fixture
def queued_balance(calyfs, operator_user, replay, monkeypatch) -> Job:
    """A balance of calyfs queued with a 50 % usage filter; its job re-reads progress without waiting."""
    monkeypatch.setattr(services.btrfs, "BTRFS_POLL_S", 0)
    replay.add_files([FIXTURES / "balance_status_none.txt", FIXTURES / "fs_show_single.txt",
                      FIXTURES / "device_stats_single.txt"])
    return services.start_balance(calyfs, data_usage=50, actor=operator_user)


@pytest.mark.django_db
def test_a_balance_job_follows_progress_and_ends_paused(queued_balance, replay):
    job = queued_balance
    assert job.params == {"filters": ["-dusage=50"]}
    _running_balance(replay, 2, "mgmt_balance_start_paused")
    _balance_reads(replay)
    done = run_job(job.pk, runner=replay)
    assert (done.state, done.progress) == ("cancelled", 75)  # where the balance stopped, not 100 %
    assert done.error == "The balance was paused at 75 %: resume it to go on."


@pytest.mark.django_db
def test_a_balance_cancelled_on_the_host_ends_its_job_cancelled(queued_balance, replay):
    job = queued_balance
    replay.add(["btrfs", "balance", "start", "-dusage=50", MNT1], stderr="balance canceled by user\n",
               returncode=255, polls=1)
    _balance_reads(replay)
    done = run_job(job.pk, runner=replay)
    assert done.state == "cancelled" and "cancelled at" in done.error


@pytest.mark.django_db
def test_balance_refusals(calyfs, replay):
    running = body("balance_status_running").replace("/tmp/brec/mnt1", MNT1)
    replay.add(["btrfs", "balance", "status", MNT1], stdout=running, returncode=1)
    replay.add_files([FIXTURES / "fs_show_single.txt", FIXTURES / "device_stats_single.txt"])
    with pytest.raises(ServiceError) as busy:
        services.start_balance(calyfs)
    assert busy.value.status_code == 409 and "already running" in busy.value.message
    with pytest.raises(ServiceError) as not_paused:
        services.resume_balance(calyfs)
    assert not_paused.value.status_code == 409
    with pytest.raises(ServiceError) as convert:
        services.start_balance(calyfs, data_convert="raid1")  # one device
    assert convert.value.field == "data_convert" and "at least 2 devices" in convert.value.message
    with pytest.raises(ServiceError) as usage:
        services.start_balance(calyfs, data_usage=101)
    assert usage.value.field == "data_usage"
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_device_operations_name_the_member_they_cannot_find(calyfs, replay):
    replay.add_files([FIXTURES / "fs_show_single.txt", FIXTURES / "device_stats_single.txt"])
    with pytest.raises(ServiceError) as unknown:
        services.remove_btrfs_device(calyfs, device="/dev/sdz")
    assert unknown.value.field == "device" and "not a device of this filesystem" in unknown.value.message
    job = services.remove_btrfs_device(calyfs, device="1")  # by devid
    assert job.params["devid"] == 1 and job.params["path"].startswith("/dev/loop")
    with pytest.raises(ServiceError) as not_block:
        services.replace_btrfs_device(calyfs, device="1", new_device="/srv/new.img")
    assert not_block.value.field == "new_device"


@pytest.mark.django_db
def test_zfs_pools_are_not_offered_btrfs_operations(tank):
    from apps.storage.operations import POOL

    for name in ("balance", "add_device", "remove_device", "replace_device", "enable_quota", "unregister"):
        assert not POOL[name].available(tank), name
    with pytest.raises(ServiceError):
        services.start_balance(tank)


@pytest.mark.django_db
def test_unregister_forgets_rows_and_leaves_the_filesystem(calyfs, operator_user, token_client_for, replay):
    client = token_client_for(operator_user)
    refused = client.post(f"/api/v1/storage/pools/{calyfs.pk}/unregister/", {"confirm": "nope"}, format="json")
    assert refused.status_code == 400 and "confirm" in refused.json()["error"]["fields"]
    response = client.post(f"/api/v1/storage/pools/{calyfs.pk}/unregister/", {"confirm": "calyfs"}, format="json")
    assert response.status_code == 204 and not Pool.objects.filter(pk=calyfs.pk).exists()
    assert replay.calls == []  # nothing on the host
    assert AuditEvent.objects.filter(action="storage.pool.unregister", outcome="ok").exists()


@pytest.mark.django_db
def test_the_delete_page_of_a_subvolume_says_what_becomes_of_its_snapshots(calyfs, admin_user, browser_for):
    home = Dataset.objects.create(pool=calyfs, name="calyfs/home", kind="subvolume", extra={"id": 256})
    Dataset.objects.create(pool=calyfs, name="calyfs/home/alice", kind="subvolume", extra={"id": 257})
    Snapshot.objects.create(dataset=home, name="calyfs/home@s1", short_name="s1")
    page = browser_for(admin_user).get(f"/admin/storage/dataset/{home.pk}/delete/").content.decode()
    assert 'name="snapshots"' in page and "Keep them" in page and "Delete them too" in page
    assert "calyfs/home@s1" in page and "calyfs/home/alice" in page and "subvolumes of their own" in page


@pytest.mark.django_db
def test_mount_refuses_a_mounted_filesystem_and_mounts_by_uuid(calyfs, replay):
    findmnt = ["findmnt", "--mountpoint", MNT1, "--noheadings", "--output", "FSTYPE"]
    replay.add(findmnt, stdout="btrfs\n")
    with pytest.raises(ServiceError) as mounted:
        services.mount_btrfs_pool(calyfs)
    assert mounted.value.status_code == 409 and replay.calls == [tuple(findmnt)]
    calyfs.guid = "4e259939-5e09-446f-8cd5-94fa73a55026"
    calyfs.save()
    replay.recordings.clear()
    replay.add(findmnt, returncode=1)
    replay.add(["mkdir", "-p", MNT1])
    replay.add(["mount", "-t", "btrfs", "-o", "subvolid=5", f"UUID={calyfs.guid}", MNT1])
    replay.add_files(FIXTURES / f"{n}.txt" for n in ("fs_show_single", "fs_usage_single", "device_stats_single",
                                                     "scrub_status_finished", "scrub_status_finished_summary"))
    assert services.mount_registered_btrfs(runner=replay) == [f"calyfs: mounted at {MNT1}"]
    with pytest.raises(BackendError):
        BtrfsBackend(replay).mount_uuid("UUID=x,subvol=/", MNT1)  # never a second option through the UUID


@pytest.mark.django_db
def test_the_pool_page_offers_pause_and_cancel_while_a_balance_runs(calyfs, admin_user, browser_for, replay):
    running = body("mgmt_balance_status_paused2").replace(MNT, MNT1).replace("is paused", "is running")
    replay.add(["btrfs", "balance", "status", MNT1], stdout=running, returncode=1)
    replay.add_files(FIXTURES / f"{n}.txt" for n in ("fs_show_single", "device_stats_single", "qgroup_show_off",
                                                     "fs_usage_single", "scrub_status_finished",
                                                     "scrub_status_finished_summary"))
    browser = browser_for(admin_user)
    page = browser.get(f"/admin/storage/pool/{calyfs.pk}/change/").content.decode()
    pause = f"/admin/storage/pool/{calyfs.pk}/pause-balance/"
    assert f'formaction="{pause}">' in page and f'formaction="/admin/storage/pool/{calyfs.pk}/resume-balance/" ' \
                                                 "disabled" in page
    assert "running: 3 of about 4 chunks (75.0 %)" in page
    replay.add(["btrfs", "balance", "pause", MNT1])
    response = browser.post(pause)
    assert response.status_code == 302 and ("btrfs", "balance", "pause", MNT1) in replay.calls
    assert AuditEvent.objects.filter(action="storage.pool.pause_balance", outcome="ok").exists()
