"""Datasets the host has under names Calypso would not give a new one (made by hand with a space, say): they
are listed and flagged, and can be destroyed by their exact name; a new dataset with such a name is still
refused before any command runs, and no name ever reaches a command line as an option."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest

from apps.core.runner import ReplayRunner
from apps.storage import services, sync
from apps.storage.backends.base import BackendError
from apps.storage.backends.btrfs import BtrfsBackend
from apps.storage.backends.zfs import ZfsBackend
from apps.storage.models import Dataset, Pool

from .recordings import zfs_refresh

BTRFS_FIXTURES = Path(__file__).parent / "fixtures" / "btrfs"

BASE = "/api/v1/storage"
ODD = "zrectank/my data"


@pytest.fixture
def odd(tank, replay) -> Dataset:
    """zrectank/my data, made on the host by hand and picked up by a sync."""
    zfs_refresh(replay, "zrectank", datasets=[ODD])
    sync.refresh_pool_contents(replay, tank)
    replay.calls.clear()
    return Dataset.objects.get(name=ODD)


@pytest.mark.django_db
def test_a_dataset_named_by_hand_is_listed_and_flagged(odd, viewer_user, client_for, admin_user, browser_for):
    assert odd.name_unmanaged and not odd.gone
    assert not Dataset.objects.get(name="zrectank/data").name_unmanaged
    listed = {d["name"]: d["name_unmanaged"] for d in client_for(viewer_user).get(f"{BASE}/datasets/").json()["results"]}
    assert listed[ODD] is True and not any(v for k, v in listed.items() if k != ODD)
    page = browser_for(admin_user).get("/admin/storage/dataset/").content.decode()
    assert "column-foreign_name" in page and page.count('alt="True"') == 1 and "my data" in page


@pytest.mark.django_db
def test_destroying_it_through_the_api_runs_its_exact_name(odd, operator_user, client_for, replay):
    client = client_for(operator_user)
    replay.add(["zfs", "destroy", ODD])
    response = client.delete(f"{BASE}/datasets/{odd.pk}/?{urlencode({'confirm': ODD})}")
    assert response.status_code == 204, response.content
    assert replay.calls == [("zfs", "destroy", ODD)]
    assert not Dataset.objects.filter(pk=odd.pk).exists()


@pytest.mark.django_db
def test_destroying_it_through_the_service_runs_its_exact_name(odd, replay):
    replay.add(["zfs", "destroy", "-r", ODD])
    services.destroy_dataset(odd, recursive=True, runner=replay)
    assert replay.calls == [("zfs", "destroy", "-r", ODD)]


@pytest.mark.django_db
@pytest.mark.parametrize("name", [ODD, "zrectank/-rf", "zrectank/a;b", "zrectank/my\ndata"])
def test_creating_one_with_such_a_name_is_refused_before_any_command(tank, operator_user, client_for, replay,
                                                                      name):
    response = client_for(operator_user).post(f"{BASE}/datasets/", {"pool": tank.pk, "name": name}, format="json")
    assert response.status_code == 400, response.content
    assert "name" in response.json()["error"]["fields"]
    assert replay.calls == []


@pytest.mark.django_db
def test_renaming_into_such_a_name_is_refused(tank, operator_user, client_for, replay):
    data = Dataset.objects.get(name="zrectank/data")
    response = client_for(operator_user).post(f"{BASE}/datasets/{data.pk}/rename/", {"new_name": ODD}, format="json")
    assert response.status_code == 400 and "new_name" in response.json()["error"]["fields"]
    assert replay.calls == []


@pytest.mark.parametrize("name", ["-rf", "--help", "zrectank/x\n-r", "zrectank/a,b", "zrectank/a\x00b", ""])
def test_the_backend_never_passes_an_option_or_a_foreign_character_as_a_name(name):
    runner = ReplayRunner()
    backend = ZfsBackend(runner, flavour="zfs-fuse")
    with pytest.raises(BackendError):
        backend.destroy_dataset(name)
    with pytest.raises(BackendError):
        backend.destroy_snapshots(name, ["s"])
    with pytest.raises(BackendError):
        backend.destroy_snapshots("zrectank/data", [name.lstrip("-") + ",x" if name else "a\nb"])
    assert runner.calls == []


def test_snapshots_of_a_dataset_named_by_hand_can_be_destroyed():
    runner = ReplayRunner().add(["zfs", "destroy", "zrectank/my data@before upgrade"])
    ZfsBackend(runner, flavour="zfs-fuse").destroy_snapshots("zrectank/my data", ["before upgrade"])
    assert runner.calls == [("zfs", "destroy", "zrectank/my data@before upgrade")]


@pytest.mark.django_db
def test_a_btrfs_subvolume_named_by_hand_is_flagged_and_destroyed_by_its_path(replay):
    pool = Pool.objects.create(backend="btrfs", name="calyfs", mountpoint="/tmp/brec/mnt1")
    odd = Dataset.objects.create(pool=pool, name="calyfs/old stuff", kind="subvolume")
    assert odd.name_unmanaged and not Dataset(pool=pool, name="calyfs/home").name_unmanaged
    replay.add(["btrfs", "subvolume", "delete", "/tmp/brec/mnt1/old stuff"])
    replay.add_files(BTRFS_FIXTURES / f"{n}.txt" for n in (
        "fs_show_single", "subvolume_list", "subvolume_list_readonly", "subvolume_list_snapshots",
        "subvolume_show_root", "qgroup_show_off"))
    services.destroy_dataset(odd, runner=replay)
    assert replay.calls[0] == ("btrfs", "subvolume", "delete", "/tmp/brec/mnt1/old stuff")
    assert not Dataset.objects.filter(pk=odd.pk).exists()  # the pool was re-read: the subvolume is gone
    with pytest.raises(BackendError):
        BtrfsBackend(replay).delete_subvolume("/tmp/brec/mnt1", "-rf")
