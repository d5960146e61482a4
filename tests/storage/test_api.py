"""Storage API on the subsystem kit: permissions (403 for operations, 404 for hidden objects), input
refused with 400 naming the field before any host command, typed confirmations, jobs as 202 with their
URL, one error format, and exactly one audit event per operation call."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from apps.audit.models import AuditEvent
from apps.jobs.models import Job
from apps.storage.models import Dataset, Pool, Snapshot

from .recordings import DATASET_NAMES, FUSE, SNAP_GET, degraded_status, recorded, zfs_refresh

BASE = "/api/v1/storage"
BTRFS = FUSE.parent / "btrfs"
BTRFS_MNT = "/tmp/brec/mnt1"  # where the Btrfs recordings were made; the filesystem's label is calyfs


def _error(response, status: int, code: str | None = None) -> dict:
    """The one error format: {"error": {"status", "code", "message", "fields"?}}."""
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["status"] == status and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


def _audited(action: str, outcome: str = "ok") -> AuditEvent:
    events = list(AuditEvent.objects.filter(action=action, outcome=outcome))
    assert len(events) == 1, list(AuditEvent.objects.values_list("action", "outcome", "message"))
    assert events[0].source == "api"
    return events[0]


def _under(name: str, root: str) -> bool:
    return name == root or name.startswith((f"{root}/", f"{root}@"))


def _zfs_refresh(replay, root: str, *, datasets=(), snapshots=()) -> None:
    """What re-reading the datasets and snapshots under ``root`` runs (zfs-fuse), from the recordings, with
    new ``datasets`` and ``snapshots``."""
    names = [n for n in DATASET_NAMES if _under(n, root)] + list(datasets)
    props = "".join(line for line in recorded("zfs_get_all.txt").splitlines(True) if _under(line.split("\t")[0], root))
    props += "".join(f"{n}\ttype\tfilesystem\t-\n{n}\tused\t19456\t-\n" for n in datasets)
    snaps = "".join(line for line in recorded("zfs_get_snapshots_root.txt").splitlines(True)
                    if _under(line.split("\t")[0], root))
    snaps += "".join(f"{s}\tcreation\t1795541000\n{s}\tused\t0\n{s}\treferenced\t122880\n{s}\tuserrefs\t0\n"
                     f"{s}\tguid\t{i + 77}\n" for i, s in enumerate(snapshots))
    replay.add(["zfs", "list", "-H", "-o", "name", "-t", "filesystem", "-r", root], stdout="\n".join(names) + "\n")
    replay.add(["zfs", "get", "-H", "-p", "-o", "name,property,value,source", "all", *names], stdout=props)
    replay.add([*SNAP_GET[:4], "-r", *SNAP_GET[4:], root], stdout=snaps)


# ---------------------------------------------------------------- reading and who may
@pytest.mark.django_db
def test_viewer_reads_but_cannot_operate(tank, viewer_user, client_for, replay):
    client = client_for(viewer_user)
    listing = client.get(f"{BASE}/pools/")
    assert listing.status_code == 200 and {p["name"] for p in listing.json()["results"]} == {"zrecbig", "zrectank"}
    detail = client.get(f"{BASE}/pools/{tank.pk}/").json()
    assert detail["health"] == "ONLINE" and detail["vdevs"][0]["kind"] == "mirror"
    assert {v["name"] for v in detail["vdevs"]} == {"mirror-0", "/tmp/zrec/a.img", "/tmp/zrec/b.img"}
    snap = Snapshot.objects.get(name="zrectank/data@c2")
    data = Dataset.objects.get(name="zrectank/data")
    for method, url, body in (
        ("post", f"{BASE}/pools/{tank.pk}/scrub/", {}),
        ("post", f"{BASE}/pools/{tank.pk}/export/", {}),
        ("post", f"{BASE}/pools/{tank.pk}/offline/", {"device": "/tmp/zrec/b.img"}),
        ("post", f"{BASE}/pools/", {"name": "x", "layout": "mirror", "disks": ["/srv/a", "/srv/b"]}),
        ("post", f"{BASE}/pools/register/", {"mountpoint": BTRFS_MNT}),
        ("post", f"{BASE}/pools/sync/", {}),
        ("delete", f"{BASE}/pools/{tank.pk}/?confirm=zrectank", None),
        ("patch", f"{BASE}/datasets/{data.pk}/", {"compression": "zstd"}),
        ("post", f"{BASE}/snapshots/", {"dataset": data.pk, "name": "x"}),
        ("post", f"{BASE}/snapshots/bulk-delete/", {"ids": [snap.pk], "confirm": "1"}),
        ("delete", f"{BASE}/snapshots/{snap.pk}/?confirm={snap.name}", None),
    ):
        _error(getattr(client, method)(url, body), 403, "permission_denied")
    assert not Job.objects.exists() and replay.calls == [] and Snapshot.objects.filter(pk=snap.pk).exists()
    # Each refusal is on record as a denied request, and nothing else was.
    assert set(AuditEvent.objects.values_list("action", "outcome")) == {("http.request.denied", "denied")}
    assert AuditEvent.objects.count() == 11  # one per refused request above


@pytest.mark.django_db
def test_operator_scrub_returns_202_job_then_409_while_it_runs(tank, operator_user, token_client_for):
    client = token_client_for(operator_user)  # a real token header, as scripts send it
    response = client.post(f"{BASE}/pools/{tank.pk}/scrub/")
    assert response.status_code == 202, response.json()
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == "storage.pool.scrub" and job.lock_key == "pool:zrectank" and job.user == operator_user
    assert job.source == "api" and response["Location"] == f"/api/v1/jobs/{job.pk}/"
    assert _audited("storage.pool.scrub", "queued").job_id == job.pk
    again = _error(client.post(f"{BASE}/pools/{tank.pk}/scrub/"), 409, "job_locked")
    assert again["job_id"] == job.pk and Job.objects.count() == 1
    assert AuditEvent.objects.get(action="storage.pool.scrub", outcome="failed").message.startswith(
        f"Already running as job #{job.pk}")


@pytest.mark.django_db
def test_object_permissions_hide_other_pools(tank, plain_user, client_for):
    big = Pool.objects.get(name="zrecbig")
    assign_perm("storage.view_pool", plain_user, tank)
    client = client_for(plain_user)
    assert [p["name"] for p in client.get(f"{BASE}/pools/").json()["results"]] == ["zrectank"]
    _error(client.get(f"{BASE}/pools/{big.pk}/"), 404, "not_found")
    _error(client.post(f"{BASE}/pools/{big.pk}/scrub/"), 404, "not_found")
    _error(client.delete(f"{BASE}/pools/{big.pk}/?confirm=zrecbig"), 404, "not_found")
    _error(client.post(f"{BASE}/pools/{tank.pk}/scrub/"), 403, "permission_denied")
    assert not Job.objects.exists()
    assign_perm("storage.scrub_pool", plain_user, tank)
    assert client.post(f"{BASE}/pools/{tank.pk}/scrub/").status_code == 202
    _error(client.post(f"{BASE}/pools/{big.pk}/scrub/"), 404)  # a grant on one pool is not one on the other
    assert Job.objects.get().target_id == str(tank.pk)


@pytest.mark.django_db
def test_anonymous_is_refused_in_the_error_format(tank, client_for):
    error = _error(client_for(None).get(f"{BASE}/pools/"), 401)
    assert error["code"] == "not_authenticated"
    assert client_for(None).post(f"{BASE}/pools/{tank.pk}/scrub/").status_code == 401 and not Job.objects.exists()


# ---------------------------------------------------------------- pools
@pytest.mark.parametrize("name", ["bad;name", "two words"])
@pytest.mark.django_db
def test_bad_pool_name_is_400_naming_the_field(name, operator_user, client_for, replay):
    response = client_for(operator_user).post(f"{BASE}/pools/", {"name": name, "layout": "mirror",
                                                                 "disks": ["/srv/a.img", "/srv/b.img"]})
    error = _error(response, 400, "invalid")
    assert list(error["fields"]) == ["name"] and error["fields"]["name"] == [error["message"]]
    assert "is not a valid pool name" in error["message"]
    assert not Job.objects.exists() and replay.calls == []
    assert AuditEvent.objects.get(action="storage.pool.create").outcome in ("failed", "denied")


@pytest.mark.django_db
def test_create_pool_refusals_and_job(tank, operator_user, client_for, replay):
    client = client_for(operator_user)
    error = _error(client.post(f"{BASE}/pools/", {"name": "newpool", "layout": "mirror"}), 400, "invalid")
    assert "Choose disks" in error["fields"]["disks"][0]
    error = _error(client.post(f"{BASE}/pools/", {"name": "newpool", "vdevs": [{"type": "mirror", "devices": [
        "/srv/a.img", "bad;dev"]}]}), 400)
    assert "vdevs" in error["fields"] and replay.calls == []
    replay.add(["zpool", "list", "-H", "-o", "name,size,allocated,free,capacity,dedupratio,health,guid"],
               stdout=recorded("zpool_list.txt"))
    replay.add(["zpool", "status"], stdout=recorded("zpool_status_all.txt"))
    replay.add(["zfs", "get", "-H", "-o", "name,value", "mountpoint", "zrecbig", "zrectank"], stdout="")
    in_use = _error(client.post(f"{BASE}/pools/", {"name": "newpool", "disks": ["/tmp/zrec/a.img", "/srv/x.img"]}),
                    400, "disk_in_use")
    assert in_use["fields"] == {"disks": ["/tmp/zrec/a.img is already a member of pool zrectank."]}
    response = client.post(f"{BASE}/pools/", {"name": "newpool", "vdevs": [
        {"type": "mirror", "devices": ["/srv/a.img", "/srv/b.img"]}], "spares": ["/srv/s.img"]})
    assert response.status_code == 202, response.json()
    job = Job.objects.get(kind="storage.pool.create")
    assert response["Location"] == f"/api/v1/jobs/{job.pk}/" and job.lock_key == "pool:newpool"
    assert job.params["vdevs"] == [{"type": "mirror", "devices": ["/srv/a.img", "/srv/b.img"]}]
    assert job.params["spares"] == ["/srv/s.img"] and _audited("storage.pool.create", "queued").job_id == job.pk


@pytest.mark.django_db
def test_destroy_pool_needs_the_typed_name(tank, operator_user, client_for, replay):
    client = client_for(operator_user)
    wrong = _error(client.delete(f"{BASE}/pools/{tank.pk}/", {"confirm": "nope"}), 400, "invalid")
    assert wrong["fields"]["confirm"] == ["Type zrectank to confirm."]
    missing = _error(client.delete(f"{BASE}/pools/{tank.pk}/"), 400)
    assert "confirm" in missing["fields"] and not Job.objects.exists()
    assert AuditEvent.objects.filter(action="storage.pool.delete", outcome="denied").count() == 2
    response = client.delete(f"{BASE}/pools/{tank.pk}/?confirm=zrectank&force=true")
    assert response.status_code == 202, response.json()
    job = Job.objects.get(kind="storage.pool.delete")
    assert job.target_id == str(tank.pk) and job.params == {"force": True} and job.lock_key == "pool:zrectank"
    assert _audited("storage.pool.delete", "queued").job_id == job.pk and replay.calls == []
    body = client_for(operator_user).delete(f"{BASE}/pools/{Pool.objects.get(name='zrecbig').pk}/",
                                            {"confirm": "zrecbig"})
    assert body.status_code == 202 and Job.objects.filter(kind="storage.pool.delete").count() == 2


@pytest.mark.django_db
def test_member_offline_through_the_api(tank, operator_user, client_for, replay):
    client = client_for(operator_user)
    bad = _error(client.post(f"{BASE}/pools/{tank.pk}/offline/", {"device": "/tmp/zrec/nope.img"}), 400)
    assert bad["fields"] == {"device": ["/tmp/zrec/nope.img is not a device of pool zrectank."]}
    assert "device" in _error(client.post(f"{BASE}/pools/{tank.pk}/offline/", {}), 400)["fields"]
    assert replay.calls == []
    replay.add_file(FUSE / "zpool_offline_temporary.txt")
    replay.add(["zpool", "status", "zrectank"], stdout=degraded_status())
    response = client.post(f"{BASE}/pools/{tank.pk}/offline/", {"device": "/tmp/zrec/a.img", "temporary": True})
    assert response.status_code == 200 and response.json()["health"] == "DEGRADED"
    assert replay.calls[0] == ("zpool", "offline", "-t", "zrectank", "/tmp/zrec/a.img")
    assert _audited("storage.pool.offline").changes["temporary"] == [None, True]


@pytest.mark.django_db
def test_offline_answers_the_member_state_read_after_it(tank, operator_user, client_for, replay):
    replay.add(["zpool", "offline", "zrectank", "/tmp/zrec/b.img"])
    replay.add(["zpool", "status", "zrectank"], stdout=degraded_status())  # b.img OFFLINE
    response = client_for(operator_user).post(f"{BASE}/pools/{tank.pk}/offline/", {"device": "/tmp/zrec/b.img"})
    assert response.status_code == 200, response.json()
    states = {v["name"]: v["state"] for v in response.json()["vdevs"]}
    assert states["/tmp/zrec/b.img"] == "OFFLINE" and states["/tmp/zrec/a.img"] == "ONLINE"
    assert client_for(operator_user).get(f"{BASE}/pools/{tank.pk}/").json()["vdevs"] == response.json()["vdevs"]


@pytest.mark.django_db
def test_export_then_the_pool_is_gone(tank, operator_user, client_for, replay):
    replay.add_file(FUSE / "zpool_export.txt")
    response = client_for(operator_user).post(f"{BASE}/pools/{tank.pk}/export/")
    assert response.status_code == 200 and response.json()["gone"] is True
    assert response.json()["health"] == "UNKNOWN" and Pool.objects.get(pk=tank.pk).health == "UNKNOWN"
    assert {v["state"] for v in response.json()["vdevs"]} == {"UNKNOWN"}
    assert replay.calls == [("zpool", "export", "zrectank")] and _audited("storage.pool.export")
    again = _error(client_for(operator_user).post(f"{BASE}/pools/{tank.pk}/export/"), 409, "pool_gone")
    assert "not imported on this host" in again["message"] and len(replay.calls) == 1


@pytest.mark.django_db
def test_importable_is_a_read_only_query(tank, operator_user, viewer_user, client_for, replay):
    replay.add_file(FUSE / "zpool_import_list.txt")
    response = client_for(operator_user).get(f"{BASE}/pools/importable/", {"search_dirs": "/tmp/zrec"})
    assert response.status_code == 200
    assert {"name": "zrectank", "guid": "341026144811518982"}.items() <= response.json()[0].items()
    _error(client_for(viewer_user).get(f"{BASE}/pools/importable/", {"search_dirs": "/tmp/zrec"}), 403)
    assert replay.calls == [("zpool", "import", "-d", "/tmp/zrec")]
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["http.request.denied"]  # the viewer's 403
    response = client_for(operator_user).post(f"{BASE}/pools/import/", {"name": "341026144811518982",
                                                                        "search_dirs": ["/tmp/zrec"]})
    assert response.status_code == 202 and Job.objects.get().params["name_or_guid"] == "341026144811518982"


@pytest.mark.django_db
def test_register_btrfs_and_its_refusal(operator_user, client_for, replay):
    client = client_for(operator_user)
    replay.add_file(BTRFS / "fs_show_not_btrfs.txt")
    refused = _error(client.post(f"{BASE}/pools/register/", {"mountpoint": "/tmp/brec"}), 400, "invalid")
    assert "not a valid btrfs filesystem" in refused["fields"]["mountpoint"][0] and not Pool.objects.exists()
    replay.add_files(BTRFS / f"{n}.txt" for n in (
        "fs_show_single", "fs_usage_single", "device_stats_single", "scrub_status_finished",
        "scrub_status_finished_summary", "subvolume_list", "subvolume_list_readonly", "subvolume_list_snapshots",
        "subvolume_show_root", "qgroup_show_off"))
    response = client.post(f"{BASE}/pools/register/", {"mountpoint": BTRFS_MNT})
    assert response.status_code == 200, response.json()
    pool = Pool.objects.get(backend="btrfs")
    assert response.json()["name"] == "calyfs" == pool.name and response.json()["id"] == pool.pk
    assert Dataset.objects.filter(pool=pool, name="calyfs/home/alice").exists()
    assert _audited("storage.pool.register").object_label == "calyfs"


# ---------------------------------------------------------------- datasets
@pytest.mark.django_db
def test_dataset_create_validates_before_running(tank, operator_user, client_for, replay):
    client = client_for(operator_user)
    response = client.post(f"{BASE}/datasets/", {"pool": tank.pk, "name": "zrectank/x", "quota": "many"})
    assert "quota" in _error(response, 400, "invalid")["fields"]
    enum = _error(client.post(f"{BASE}/datasets/", {"pool": tank.pk, "name": "zrectank/x", "compression": "best"}),
                  400)
    assert "compression" in enum["fields"]
    sized = _error(client.post(f"{BASE}/datasets/", {"pool": tank.pk, "name": "zrectank/x", "volsize": "10G"},
                               format="json"), 400)
    assert "apply" in sized["fields"]["volsize"][0]  # a filesystem has no size of its own: said, not dropped
    hidden = _error(client.post(f"{BASE}/datasets/", {"pool": 999999, "name": "zrectank/x"}), 400)
    assert "does not exist" in hidden["fields"]["pool"][0]
    assert replay.calls == [] and Dataset.objects.count() == 4
    listed = client.get(f"{BASE}/datasets/", {"pool": tank.pk}).json()["results"]
    assert {d["name"] for d in listed} == set(Dataset.objects.filter(pool=tank).values_list("name", flat=True))


@pytest.mark.django_db
def test_dataset_create_and_patch_run_zfs(tank, operator_user, client_for, replay):
    client = client_for(operator_user)
    replay.add(["zfs", "create", "-o", "quota=1073741824", "zrectank/x"])
    _zfs_refresh(replay, "zrectank/x", datasets=["zrectank/x"])
    response = client.post(f"{BASE}/datasets/", {"pool": tank.pk, "name": "zrectank/x", "quota": "1G"})
    assert response.status_code == 201, response.json()
    assert response.json()["name"] == "zrectank/x" and response.json()["used_bytes"] == 19456
    assert _audited("storage.dataset.create").object_label == "zrectank/x"
    data = Dataset.objects.get(name="zrectank/data")
    replay.add(["zfs", "set", "compression=zstd", "zrectank/data"]).add(["zfs", "inherit", "atime", "zrectank/data"])
    _zfs_refresh(replay, "zrectank/data")
    response = client.patch(f"{BASE}/datasets/{data.pk}/", {"compression": "zstd", "inherit": ["atime"]})
    assert response.status_code == 200, response.json()
    assert ("zfs", "set", "compression=zstd", "zrectank/data") in replay.calls
    assert ("zfs", "inherit", "atime", "zrectank/data") in replay.calls
    nothing = _error(client.patch(f"{BASE}/datasets/{data.pk}/", {}), 400)
    assert "properties" in nothing["fields"] and len([c for c in replay.calls if c[1] in ("set", "inherit")]) == 2


@pytest.mark.django_db
def test_dataset_delete_needs_confirm_in_the_query_string(tank, operator_user, client_for, replay):
    client = client_for(operator_user)
    sub = Dataset.objects.get(name="zrectank/data/sub")
    assert "confirm" in _error(client.delete(f"{BASE}/datasets/{sub.pk}/?confirm=sub"), 400)["fields"]
    assert replay.calls == []
    replay.add(["zfs", "destroy", "-r", "zrectank/data/sub"])
    response = client.delete(f"{BASE}/datasets/{sub.pk}/?confirm=zrectank/data/sub&recursive=true")
    assert response.status_code == 204 and not Dataset.objects.filter(pk=sub.pk).exists()
    assert _audited("storage.dataset.delete").changes["recursive"] == [None, True]


# ---------------------------------------------------------------- snapshots
@pytest.mark.django_db
def test_snapshot_list_filters_and_constant_queries(tank, viewer_user, client_for, django_assert_num_queries,
                                                   django_assert_max_num_queries):
    client = client_for(viewer_user)
    data = Dataset.objects.get(name="zrectank/data")
    names = {s["name"] for s in client.get(f"{BASE}/snapshots/", {"dataset": data.pk}).json()["results"]}
    assert names == {"zrectank/data@c2", "zrectank/data@c3", "zrectank/data@s1"}
    assert [s["name"] for s in client.get(f"{BASE}/snapshots/", {"name": "a@c"}).json()["results"]] != []
    assert client.get(f"{BASE}/snapshots/", {"name": ".*(["}).status_code == 200  # plain text, never a regex
    with django_assert_max_num_queries(6) as small:
        client.get(f"{BASE}/snapshots/")
    Snapshot.objects.bulk_create([Snapshot(dataset=data, name=f"zrectank/data@x{i}", short_name=f"x{i}")
                                  for i in range(40)])
    with django_assert_num_queries(len(small.captured_queries)):
        page = client.get(f"{BASE}/snapshots/").json()
    assert len(page["results"]) == 44 and "next" in page


@pytest.mark.django_db
def test_rollback_permission_confirm_and_refusal(tank, viewer_user, operator_user, client_for, replay):
    snap = Snapshot.objects.get(name="zrectank/data@s1")
    _error(client_for(viewer_user).post(f"{BASE}/snapshots/{snap.pk}/rollback/", {"confirm": snap.name}), 403)
    client = client_for(operator_user)
    assert "confirm" in _error(client.post(f"{BASE}/snapshots/{snap.pk}/rollback/", {}), 400)["fields"]
    error = _error(client.post(f"{BASE}/snapshots/{snap.pk}/rollback/", {"confirm": snap.name}), 409,
                   "newer_snapshots")
    assert set(error["newer"]) == {"zrectank/data@c2", "zrectank/data@c3"} and "destroy_newer" in error["fields"]
    assert replay.calls == []
    assert [e.outcome for e in AuditEvent.objects.filter(action="storage.snapshot.rollback").order_by("id")] == [
        "denied", "failed"]


@pytest.mark.django_db
def test_take_snapshot_and_destroy_one(tank, operator_user, client_for, replay):
    client = client_for(operator_user)
    data = Dataset.objects.get(name="zrectank/data")
    assert "name" in _error(client.post(f"{BASE}/snapshots/", {"dataset": data.pk, "name": "x;y"}), 400)["fields"]
    replay.add(["zfs", "snapshot", "zrectank/data@manual1"])
    _zfs_refresh(replay, "zrectank/data", snapshots=["zrectank/data@manual1"])
    response = client.post(f"{BASE}/snapshots/", {"dataset": data.pk, "name": "manual1"})
    assert response.status_code == 201, response.json()
    snap = Snapshot.objects.get(name="zrectank/data@manual1")
    assert response.json()["id"] == snap.pk and _audited("storage.snapshot.create")
    assert "confirm" in _error(client.delete(f"{BASE}/snapshots/{snap.pk}/?confirm=manual1"), 400)["fields"]
    replay.add(["zfs", "destroy", "zrectank/data@manual1"])
    assert client.delete(f"{BASE}/snapshots/{snap.pk}/?confirm=zrectank/data@manual1").status_code == 204
    assert not Snapshot.objects.filter(pk=snap.pk).exists() and _audited("storage.snapshot.delete")


@pytest.mark.django_db
def test_bulk_delete_needs_the_count_and_reports_what_failed(tank, operator_user, client_for, replay):
    client = client_for(operator_user)
    data_snaps = list(Snapshot.objects.filter(dataset__name="zrectank/data"))
    home_snap = Snapshot.objects.get(name="zrectank/home@s1")
    ids = [s.pk for s in (*data_snaps, home_snap)]
    wrong = _error(client.post(f"{BASE}/snapshots/bulk-delete/", {"ids": ids, "confirm": "3"}), 400)
    assert wrong["fields"] == {"confirm": ["Type 4 (the number of snapshots) to confirm."]}
    assert "ids" in _error(client.post(f"{BASE}/snapshots/bulk-delete/", {"ids": [], "confirm": "0"}), 400)["fields"]
    assert replay.calls == []
    for s in data_snaps:
        replay.add(["zfs", "destroy", s.name])
    replay.add(["zfs", "destroy", home_snap.name], stderr="cannot destroy 'zrectank/home@s1': snapshot has dependent clones",
               returncode=1)
    zfs_refresh(replay, "zrectank/home")  # after the refusal the rows are re-read from the host
    response = client.post(f"{BASE}/snapshots/bulk-delete/", {"ids": ids, "confirm": "4"})
    assert response.status_code == 207, response.json()  # some failed: Multi-Status, one result per snapshot
    body = response.json()
    assert body["done"] == 3 and body["failed"] == 1
    assert [(r["id"], r["ok"]) for r in body["results"]] == [*((s.pk, True) for s in data_snaps), (home_snap.pk, False)]
    assert "snapshot has dependent clones" in body["results"][-1]["message"]
    assert list(Snapshot.objects.values_list("name", flat=True)) == ["zrectank/home@s1"]
    assert _audited("storage.snapshot.bulk_delete", "failed").message == "3 done, 1 failed"
    assert AuditEvent.objects.filter(action="storage.snapshot.delete").count() == 4
    replay.recordings.pop(("zfs", "destroy", home_snap.name))  # the clone is gone: it goes now
    replay.add(["zfs", "destroy", home_snap.name])
    response = client.post(f"{BASE}/snapshots/bulk-delete/", {"ids": [home_snap.pk], "confirm": "1"})
    assert response.status_code == 200 and response.json()["failed"] == 0


@pytest.mark.django_db
def test_inputs_cannot_name_objects_the_user_may_not_use(tank, make_user, client_for, replay):
    user = make_user("scoped2", None)
    data, home = Dataset.objects.get(name="zrectank/data"), Dataset.objects.get(name="zrectank/home")
    assign_perm("storage.add_snapshot", user)  # may take snapshots, of the datasets granted to them
    for perm in ("storage.view_dataset", "storage.change_dataset"):
        assign_perm(perm, user, home)
    client = client_for(user)
    for pk in (data.pk, 999999):  # another's dataset answers exactly like a missing one
        error = _error(client.post(f"{BASE}/snapshots/", {"dataset": pk, "name": "x"}), 400, "invalid")
        assert error["fields"] == {"dataset": [f"Object {pk} does not exist or is not yours to use."]}
    assert replay.calls == []
    replay.add(["zfs", "snapshot", "zrectank/home@x"])
    _zfs_refresh(replay, "zrectank/home", snapshots=["zrectank/home@x"])
    assert client.post(f"{BASE}/snapshots/", {"dataset": home.pk, "name": "x"}).status_code == 201
    theirs = Snapshot.objects.get(name="zrectank/data@c2")
    _error(client.delete(f"{BASE}/snapshots/{theirs.pk}/?confirm={theirs.name}"), 404)
    _error(client.post(f"{BASE}/snapshots/bulk-delete/", {"ids": [theirs.pk], "confirm": "1"}), 403)
    assert Snapshot.objects.filter(pk=theirs.pk).exists()


@pytest.mark.django_db
def test_snapshot_list_row_matches_drf_fields(tank, viewer_user, client_for):
    from rest_framework import serializers as drf

    from apps.storage.api.serializers import SnapshotSerializer

    snap = Snapshot.objects.select_related("dataset").get(name="zrectank/data@s1")
    reference = drf.ModelSerializer.to_representation(SnapshotSerializer(snap), snap)
    assert SnapshotSerializer(snap).data == dict(reference)
    listed = client_for(viewer_user).get(f"{BASE}/snapshots/", {"name": "data@s1"}).json()["results"]
    assert listed == [dict(reference)]  # the list reads only the columns it shows, and shows the same


@pytest.mark.django_db
def test_every_storage_list_that_declares_search_searches(tank, admin_user, client_for):
    from apps.storage.models import SnapshotPolicy, StorageEvent

    StorageEvent.objects.create(pool=tank, kind="scrub_finished", message="Scrub of zrectank finished")
    SnapshotPolicy.objects.create(name="zrectank-data-hourly", dataset=Dataset.objects.get(name="zrectank/data"), hourly=1)
    client = client_for(admin_user)
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    lists = [path for path, ops in schema["paths"].items() if path.startswith(f"{BASE}/") and "{" not in path
             and any(p["name"] == "search" for p in ops.get("get", {}).get("parameters", []))]
    assert f"{BASE}/snapshots/" in lists
    for path in lists:
        rows = client.get(path).json()["results"]
        assert rows, path
        assert client.get(path, {"search": "no-such-thing-anywhere"}).json()["results"] == [], path
        assert client.get(path, {"search": "zrectank"}).json()["results"], path
    found = client.get(f"{BASE}/snapshots/", {"search": "home@"}).json()["results"]
    assert [s["name"] for s in found] == ["zrectank/home@s1"]
