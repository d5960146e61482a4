"""The iSCSI services: refusals name their field and run nothing, a backend failure rolls the row back after
the host was restored, LUN files, sessions and the dataset-in-use refusal."""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import ValidationError

from apps.core.configfiles import integration_path
from apps.core.errors import BackendError, ServiceError
from apps.iscsi import services
from apps.iscsi.models import InitiatorGroup, Lun, Target
from apps.storage.services import refuse_if_in_use

from .recordings import empty_tgtd, recorded, tgt, tgtd_shows

pytestmark = pytest.mark.django_db
IQN = "iqn.2026-12.org.calypso:disk1"
ONE = f"Target 1: {IQN}\n    LUN information:\n        LUN: 0\n            Type: controller\n"


def field_of(exc_info) -> set[str]:
    return set(exc_info.value.message_dict)


@pytest.mark.parametrize(("fields", "field"), [
    ({"name": "disk1", "iqn": "iqn.2026-12.org.calypso:Disk1"}, "iqn"),
    ({"name": "disk1", "iqn": "iqn.26-12.org.calypso:disk1"}, "iqn"),
    ({"name": "disk1", "iqn": "iqn.2026-12.org.calypso:" + "a" * 200}, "iqn"),
    ({"name": "Disk 1"}, "name"),
    ({"name": "disk1", "chap_user": "alice", "chap_secret": "short"}, "chap_secret"),
    ({"name": "disk1", "chap_user": "alice", "chap_secret": "8charsxx"}, "chap_secret"),
    ({"name": "disk1", "chap_user": "alice", "chap_secret": "seventeen-chars-x"}, "chap_secret"),
    ({"name": "disk1", "chap_user": "alice", "chap_secret": "with space12"}, "chap_secret"),
    ({"name": "disk1", "chap_user": "alice;rm", "chap_secret": "secretsecret1"}, "chap_user"),
    # tgt-admin hands secrets, addresses and paths to a shell at boot: nothing a shell reads gets through
    ({"name": "disk1", "chap_user": "alice", "chap_secret": "aaaaaaa&reboot"}, "chap_secret"),
    ({"name": "disk1", "chap_user": "alice", "chap_secret": "aaaaa$(reboot)"}, "chap_secret"),
    ({"name": "disk1", "mutual_chap_user": "bob", "mutual_chap_secret": "mutualsecret1"}, "mutual_chap_user"),
    ({"name": "disk1", "chap_user": "alice", "chap_secret": "secretsecret1", "mutual_chap_user": "bob",
      "mutual_chap_secret": "secretsecret1"}, "mutual_chap_secret"),
])
def test_bad_targets_are_refused_naming_the_field_and_nothing_runs(replay, fields, field):
    with pytest.raises(ValidationError) as caught:
        services.TARGETS.create(**fields)
    assert field in field_of(caught)
    assert replay.calls == [] and not Target.objects.exists()
    assert not integration_path("tgt", "calypso.conf").exists()  # no file written either
    assert "secretsecret1" not in str(caught.value) and "short" not in str(caught.value.message_dict.get(field))


@pytest.mark.parametrize(("fields", "field"), [
    ({"initiators": ["iqn.2026-01.org.example:a b"]}, "initiators"),
    ({"initiators": ["iqn.2026-01.org.example:a;reboot"]}, "initiators"),
    ({"networks": ["10.0.0.0/8; reboot"]}, "networks"),
    ({"networks": ["10.0.0.0 /8"]}, "networks"),
    ({"networks": ["10.0.0.0/33"]}, "networks"),
    ({"networks": ["fe80::1%$(id)"]}, "networks"),
    ({"networks": "10.0.0.0/8"}, "networks"),
])
def test_bad_groups_are_refused(replay, fields, field):
    with pytest.raises(ValidationError) as caught:
        services.GROUPS.create(name="hosts", **fields)
    assert field in field_of(caught)
    assert replay.calls == [] and not InitiatorGroup.objects.exists()


def make_target(replay, **extra) -> Target:
    empty_tgtd(replay)
    replay.add(tgt("--op", "new", "--mode", "target", "--tid", "1", "-T", IQN))
    return services.TARGETS.create(name="disk1", **extra)


def test_a_target_is_created_with_its_default_iqn_and_tid(replay, settings):
    target = make_target(replay)
    target.refresh_from_db()
    assert (target.iqn, target.tid) == (IQN, 1)
    assert replay.calls[-1] == tgt("--op", "new", "--mode", "target", "--tid", "1", "-T", IQN)
    text = (services.generated_config()["text"])
    assert f"<target {IQN}>" in text


@pytest.mark.parametrize(("path", "field"), [
    ("/etc/passwd", "path"),
    ("{mount}/../escape.img", "path"),
    ("{mount}/./a.img", "path"),
    ("relative.img", "path"),
    ("{mount}", "path"),
    ("{mount}/missing-dir/a.img", "path"),
    ("{mount}/new.img", "size_bytes"),  # missing, and no size to create it with
    ("{mount}/x$(id).img", "path"),
    ("{mount}/with space.img", "path"),
    ("{mount}/semi;colon.img", "path"),
])
def test_bad_file_luns_are_refused_and_nothing_is_written(replay, fs_dataset, path, field):
    target = make_target(replay)
    calls = len(replay.calls)
    path = path.format(mount=fs_dataset.mountpoint)
    with pytest.raises(ValidationError) as caught:
        services.LUNS.create(target=target, lun=1, kind="file", dataset=fs_dataset, path=path)
    assert field in field_of(caught)
    assert len(replay.calls) == calls and not Lun.objects.exists()
    assert os.listdir(fs_dataset.mountpoint) == []


def test_a_symlink_out_of_the_dataset_is_refused(replay, fs_dataset, tmp_path):
    target = make_target(replay)
    os.symlink(tmp_path, os.path.join(fs_dataset.mountpoint, "out"))
    with pytest.raises(ValidationError) as caught:
        services.LUNS.create(target=target, lun=1, dataset=fs_dataset, path=f"{fs_dataset.mountpoint}/out/a.img",
                             size_bytes=1 << 20)
    assert "path" in field_of(caught)


def test_lun_0_is_tgts_controller(replay, fs_dataset):
    target = make_target(replay)
    with pytest.raises(ValidationError) as caught:
        services.LUNS.create(target=target, lun=0, dataset=fs_dataset, path=f"{fs_dataset.mountpoint}/a.img",
                             size_bytes=1 << 20)
    assert field_of(caught) == {"lun"}
    assert not os.listdir(fs_dataset.mountpoint)


def test_a_zvol_lun_uses_its_device_node(replay, zvol, fs_dataset):
    target = make_target(replay)
    tgtd_shows(replay, ONE)
    replay.add(tgt("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", "/dev/zvol/ztank/vm1",
                   "--blocksize", "4096"))
    lun = services.LUNS.create(target=target, lun=1, kind="zvol", dataset=zvol, block_size=4096)
    assert lun.device_path == "/dev/zvol/ztank/vm1"
    with pytest.raises(ValidationError) as caught:  # a filesystem is no volume
        services.LUNS.create(target=target, lun=2, kind="zvol", dataset=fs_dataset)
    assert field_of(caught) == {"dataset"}


def test_a_file_lun_creates_a_sparse_file_and_a_backend_failure_removes_it(replay, fs_dataset):
    target = make_target(replay)
    path = f"{fs_dataset.mountpoint}/disk1.img"
    new_lun = tgt("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", path, "--blocksize", "512")
    tgtd_shows(replay, ONE)
    replay.add(new_lun, stderr="tgtadm: invalid request\n", returncode=22)
    with pytest.raises(BackendError, match="invalid request"):
        services.LUNS.create(target=target, lun=1, dataset=fs_dataset, path=path, size_bytes=64 << 20)
    assert not Lun.objects.exists() and not os.path.exists(path)

    replay.recordings[new_lun] = []
    replay.add(new_lun)
    lun = services.LUNS.create(target=target, lun=1, dataset=fs_dataset, path=path, size_bytes=64 << 20)
    stat = os.stat(path)
    assert stat.st_size == 64 << 20 and stat.st_blocks == 0  # sparse
    assert lun.device_path == path


def test_a_backend_failure_rolls_the_row_back_after_undoing_in_reverse(replay):
    empty_tgtd(replay)
    steps = [tgt("--op", "new", "--mode", "account", "--user", "alice", "--password", "secretsecret1"),
             tgt("--op", "new", "--mode", "target", "--tid", "1", "-T", IQN)]
    replay.add(steps[0])
    replay.add(steps[1])
    replay.add(tgt("--op", "bind", "--mode", "account", "--tid", "1", "--user", "alice"),
               stderr="tgtadm: can't find the account\n", returncode=22)
    undo = [tgt("--op", "delete", "--force", "--mode", "target", "--tid", "1"),
            tgt("--op", "delete", "--mode", "account", "--user", "alice")]
    for argv in undo:
        replay.add(argv)
    with pytest.raises(BackendError) as caught:
        services.TARGETS.create(name="disk1", chap_user="alice", chap_secret="secretsecret1")
    assert "undone in reverse order" in caught.value.message
    assert replay.calls[-2:] == undo
    assert not Target.objects.exists()


def test_a_chap_user_has_one_secret(replay):
    replay.add(tgt("--op", "new", "--mode", "account", "--user", "alice", "--password", "secretsecret1"))
    replay.add(tgt("--op", "bind", "--mode", "account", "--tid", "1", "--user", "alice"))
    make_target(replay, chap_user="alice", chap_secret="secretsecret1")
    calls = len(replay.calls)
    with pytest.raises(ValidationError) as caught:
        services.TARGETS.create(name="disk2", chap_user="alice", chap_secret="othersecret1")
    assert field_of(caught) == {"chap_user"}
    assert len(replay.calls) == calls


def test_deleting_a_dataset_a_lun_uses_is_refused_naming_the_lun(replay, fs_dataset):
    target = make_target(replay)
    tgtd_shows(replay, ONE)
    path = f"{fs_dataset.mountpoint}/a.img"
    replay.add(tgt("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "3", "-b", path, "--blocksize", "512"))
    services.LUNS.create(target=target, lun=3, dataset=fs_dataset, path=path, size_bytes=1 << 20)
    with pytest.raises(ServiceError) as caught:
        refuse_if_in_use(fs_dataset, verb="destroyed")
    assert f"iSCSI LUN 3 of target {IQN}" in caught.value.message
    with pytest.raises(ServiceError, match="iSCSI LUN 3"):
        refuse_if_in_use(fs_dataset.pool, verb="destroyed")


def test_deleting_a_target_with_live_sessions_needs_its_name_typed(replay):
    from apps.iscsi.operations import TARGET

    target = make_target(replay)
    assert not TARGET["delete"].confirm_required(target)
    tgtd_shows(replay, recorded("tgt_show_target_session.txt"), recorded("tgt_show_account.txt"))
    assert services.in_use(target) and TARGET["delete"].confirm_required(target)
    assert TARGET["delete"].confirm(target) == target.name
    assert services.live_sessions(target) == [{"target": IQN, "initiator": "iqn.2026-01.org.example:client1",
                                               "addresses": ["127.0.0.1"], "session_id": "2"}]
    for argv in (tgt("--op", "delete", "--force", "--mode", "target", "--tid", "1"),
                 tgt("--op", "delete", "--force", "--mode", "target", "--tid", "2"),
                 tgt("--op", "delete", "--mode", "account", "--user", "bob"),
                 tgt("--op", "delete", "--mode", "account", "--user", "alice")):
        replay.add(argv)
    services.TARGETS.delete(target)
    assert not Target.objects.exists()
