"""ZFS volumes (zvols) through the services: create with a human volsize, sparse or thick, a chosen
volblocksize, resize, destroy.

zfs-fuse has no zvols (`zfs create -V` aborts there), so these tests replay OpenZFS 2.x output written
from its documentation and sources (tests/storage/fixtures/openzfs/, see the README there), with the
flavour set to OpenZFS; the last tests check that zfs-fuse is refused before any command.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import BackendError, ServiceError, Unsupported
from apps.core.runner import ReplayRunner, runner_override
from apps.storage import services
from apps.storage.backends.zfs import ZfsBackend
from apps.storage.models import Dataset, Pool
from apps.storage.operations import DATASET

OZ = Path(__file__).parent / "fixtures" / "openzfs"
GIB = 1024**3


def openzfs(*names: str) -> ReplayRunner:
    """A ReplayRunner answering from the OpenZFS recordings ``names``."""
    return ReplayRunner().add_files(OZ / f"{name}.txt" for name in names)


@pytest.fixture(autouse=True)
def _openzfs(settings, monkeypatch):
    settings.CALYPSO_ZFS_FLAVOUR = "openzfs"
    monkeypatch.setattr(ZfsBackend, "busy_delay", 0)


@pytest.fixture
def tank(db) -> Pool:
    pool = Pool.objects.create(name="tank", health="ONLINE")
    Dataset.objects.create(pool=pool, name="tank", mountpoint="/tank")
    return pool


@pytest.fixture
def vm1(tank, operator_user) -> Dataset:
    """A thick 20G volume with the default 16K blocks, created through the service."""
    runner = openzfs("zfs_create_volume_thick", "zfs_get_all_volume_thick", "zfs_list_snapshots_vm1_none")
    return services.create_dataset(tank, "tank/vm1", kind="volume", volsize="20G", actor=operator_user,
                                   runner=runner)


@pytest.mark.django_db
def test_create_sparse_volume_with_human_size_and_block_size(tank, operator_user):
    runner = openzfs("zfs_create_volume_sparse", "zfs_get_all_volume_sparse", "zfs_list_snapshots_vm0_none")
    with runner_override(runner):
        vol = DATASET["create"].run(actor=operator_user, data={
            "pool": tank, "name": "tank/vm0", "kind": "volume", "volsize": "10G", "sparse": True,
            "properties": {"volblocksize": "64K", "compression": "LZ4"}})
    assert runner.calls[0] == ("zfs", "create", "-s", "-V", str(10 * GIB), "-o", "volblocksize=65536",
                               "-o", "compression=lz4", "tank/vm0")
    assert vol.kind == "volume" and vol.mountpoint == ""
    assert vol.prop("volsize") == str(10 * GIB) and vol.prop("volblocksize") == "65536"
    assert vol.properties["volblocksize"]["source"] == "-"  # set at creation, not the default
    assert vol.used_bytes == 57344 and vol.referenced_bytes == 57344
    event = AuditEvent.objects.get(action="storage.dataset.create", object_label="tank/vm0")
    assert event.outcome == "ok" and event.object_id == str(vol.pk) and event.actor == operator_user
    assert event.changes["kind"] == [None, "volume"] and event.changes["volsize"] == [None, "10G"]


@pytest.mark.django_db
def test_thick_volume_reserves_its_size(vm1):
    assert vm1.prop("volsize") == str(20 * GIB) and vm1.prop("volblocksize") == "16384"
    assert int(vm1.prop("refreservation")) > 20 * GIB  # volsize plus metadata, unlike a sparse volume
    assert vm1.used_bytes == int(vm1.prop("refreservation"))


@pytest.mark.django_db
def test_volsize_may_come_as_a_property(tank, operator_user):
    runner = openzfs("zfs_create_volume_thick", "zfs_get_all_volume_thick", "zfs_list_snapshots_vm1_none")
    vol = services.create_dataset(tank, "tank/vm1", kind="volume", properties={"volsize": "20480M"},
                                  actor=operator_user, runner=runner)
    assert runner.calls[0] == ("zfs", "create", "-V", str(20 * GIB), "tank/vm1")
    assert vol.prop("volsize") == str(20 * GIB)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"volsize": None}, "volsize"),
    ({"volsize": "lots"}, "volsize"),
    ({"volsize": "0"}, "volsize"),
    ({"volsize": "10000000", "properties": {"volblocksize": "16K"}}, "volsize"),  # not a multiple of 16K
    ({"volsize": "10G", "properties": {"volblocksize": "3K"}}, "volblocksize"),  # not a power of two
    ({"volsize": "10G", "properties": {"volblocksize": "32M"}}, "volblocksize"),  # above 16M
    ({"volsize": "10G", "properties": {"recordsize": "128K"}}, "recordsize"),  # a filesystem property
    ({"volsize": "10G", "properties": {"quota": "5G"}}, "quota"),
    ({"volsize": "10G", "properties": {"mountpoint": "/mnt/vm"}}, "mountpoint"),
])  # fmt: skip
@pytest.mark.django_db
def test_bad_volume_requests_name_their_field_before_any_command(tank, operator_user, kwargs, field):
    runner = ReplayRunner()
    with pytest.raises(ServiceError) as err:
        services.create_dataset(tank, "tank/vm9", kind="volume", actor=operator_user, runner=runner, **kwargs)
    assert err.value.field == field and err.value.status_code == 400, err.value.message
    assert runner.calls == []


@pytest.mark.parametrize("prop", ["volsize", "volblocksize"])
@pytest.mark.django_db
def test_volume_properties_do_not_apply_to_filesystems(tank, operator_user, prop):
    runner = ReplayRunner()
    with pytest.raises(ServiceError) as err:
        services.create_dataset(tank, "tank/fs", properties={prop: "16K"}, actor=operator_user, runner=runner)
    assert err.value.field == prop and runner.calls == []


@pytest.mark.django_db
def test_a_size_for_a_filesystem_is_refused_not_dropped(tank, operator_user):
    runner = ReplayRunner()
    with pytest.raises(ServiceError) as err:
        services.create_dataset(tank, "tank/fs", volsize="10G", actor=operator_user, runner=runner)
    assert err.value.field == "volsize" and err.value.status_code == 400 and runner.calls == []


@pytest.mark.django_db
def test_existing_volume_name_is_refused(vm1, tank, operator_user):
    runner = ReplayRunner()
    with pytest.raises(ServiceError) as err:
        services.create_dataset(tank, "tank/vm1", kind="volume", volsize="1G", actor=operator_user, runner=runner)
    assert err.value.code == "exists" and err.value.field == "name" and runner.calls == []


@pytest.mark.django_db
def test_host_refusal_of_a_create_is_a_409_with_the_tools_words(tank, operator_user):
    runner = openzfs("zfs_create_volume_exists")  # created behind the portal's back, not yet synced
    with runner_override(runner), pytest.raises(BackendError) as err:
        DATASET["create"].run(actor=operator_user, data={"pool": tank, "name": "tank/vol", "kind": "volume",
                                                         "volsize": "10G"})
    assert err.value.status_code == 409 and "dataset already exists" in err.value.message
    event = AuditEvent.objects.get(action="storage.dataset.create")
    assert event.outcome == "failed" and "dataset already exists" in event.message
    assert event.object_label == "tank/vol" and not Dataset.objects.filter(name="tank/vol").exists()


@pytest.mark.django_db
def test_resize_volume_in_human_units(vm1, operator_user):
    runner = openzfs("zfs_set_volsize", "zfs_get_all_volume_resized", "zfs_list_snapshots_vm1_none")
    with runner_override(runner):
        vol = DATASET["update"].run(actor=operator_user, obj=vm1, data={"properties": {"volsize": "30G"}})
    assert runner.calls[0] == ("zfs", "set", f"volsize={30 * GIB}", "tank/vm1")
    assert vol.prop("volsize") == str(30 * GIB)
    assert int(vol.prop("refreservation")) > 30 * GIB  # the reservation followed the new size
    event = AuditEvent.objects.get(action="storage.dataset.update")
    assert event.outcome == "ok" and event.object_id == str(vm1.pk)
    assert event.changes["properties"] == [None, {"volsize": "30G"}]  # what the operator asked
    before, after = event.changes["properties (stored)"]  # the dataset's properties, before and after
    assert (before["volsize"]["value"], after["volsize"]["value"]) == (str(20 * GIB), str(30 * GIB))


@pytest.mark.django_db
def test_resize_to_a_partial_block_is_refused_before_any_command(vm1, operator_user):
    runner = ReplayRunner()
    with pytest.raises(ServiceError) as err:
        services.update_dataset(vm1, properties={"volsize": "10000000"}, actor=operator_user, runner=runner)
    assert err.value.field == "volsize" and "16384" in err.value.message and runner.calls == []


@pytest.mark.django_db
def test_resize_when_the_block_size_is_unknown_leaves_the_check_to_zfs(vm1, operator_user):
    Dataset.objects.filter(pk=vm1.pk).update(properties={})
    vm1.refresh_from_db()
    runner = openzfs("zfs_set_volsize_not_multiple")
    with pytest.raises(BackendError) as err:
        services.update_dataset(vm1, properties={"volsize": "10000000"}, actor=operator_user, runner=runner)
    assert err.value.status_code == 409 and "multiple of volume block size (16K)" in err.value.message


@pytest.mark.django_db
def test_volblocksize_cannot_change_after_creation(vm1, operator_user):
    runner = ReplayRunner()
    with pytest.raises(ServiceError) as err:
        services.update_dataset(vm1, properties={"volblocksize": "64K"}, actor=operator_user, runner=runner)
    assert err.value.field == "volblocksize" and runner.calls == []


@pytest.mark.django_db
def test_destroy_volume_drops_its_row(vm1, operator_user):
    runner = openzfs("zfs_destroy_volume")
    op = DATASET["delete"]
    confirmed = op.serializer(vm1, data={"confirm": "tank/vm1"})
    assert confirmed.is_valid(), confirmed.errors
    with runner_override(runner):
        assert op.run(actor=operator_user, obj=vm1, data=confirmed.validated_data) is None
    assert runner.calls == [("zfs", "destroy", "tank/vm1")]
    assert not Dataset.objects.filter(name="tank/vm1").exists()
    event = AuditEvent.objects.get(action="storage.dataset.delete")
    assert (event.outcome, event.object_id, event.object_label) == ("ok", str(vm1.pk), "tank/vm1")


@pytest.mark.django_db
def test_destroy_volume_with_snapshots_needs_recursive(vm1, operator_user):
    runner = openzfs("zfs_destroy_volume_children")
    with pytest.raises(BackendError) as err:
        services.destroy_dataset(vm1, actor=operator_user, runner=runner)
    assert err.value.status_code == 409 and "volume has children" in err.value.message
    assert Dataset.objects.filter(name="tank/vm1").exists()
    runner = openzfs("zfs_destroy_volume_recursive")
    services.destroy_dataset(vm1, recursive=True, actor=operator_user, runner=runner)
    assert runner.calls == [("zfs", "destroy", "-r", "tank/vm1")]
    assert not Dataset.objects.filter(name="tank/vm1").exists()


@pytest.mark.django_db
def test_busy_volume_is_retried_then_reported(vm1, operator_user):
    runner = ReplayRunner().add(["zfs", "destroy", "tank/vm1"], stderr="cannot destroy 'tank/vm1': dataset is busy\n",
                                returncode=1)
    with pytest.raises(BackendError) as err:
        services.destroy_dataset(vm1, actor=operator_user, runner=runner)
    assert "dataset is busy" in err.value.message and err.value.status_code == 409
    assert len(runner.calls) == ZfsBackend.busy_retries + 1


@pytest.mark.django_db
def test_zfs_fuse_has_no_volumes_and_says_so_before_any_command(tank, operator_user, settings):
    settings.CALYPSO_ZFS_FLAVOUR = "zfs-fuse"
    runner = ReplayRunner()
    with pytest.raises(Unsupported) as err:
        services.create_dataset(tank, "tank/vm0", kind="volume", volsize="1G", actor=operator_user, runner=runner)
    assert err.value.code == "unsupported" and err.value.status_code == 409
    assert "zvols" in err.value.message and "zfs-fuse" in err.value.message
    assert runner.calls == [] and not Dataset.objects.filter(name="tank/vm0").exists()
