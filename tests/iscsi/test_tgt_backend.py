"""The tgt backend through ReplayRunner: the fewest tgtadm commands, their undo in reverse order on a
failure, and the targets.conf file it persists."""

from __future__ import annotations

import os
import stat

import pytest

from apps.core.errors import BackendError, Unsupported
from apps.core.runner import ReplayRunner
from apps.iscsi.backends.base import Chap, GroupConfig, IscsiConfig, LunConfig, PortalConfig, TargetConfig
from apps.iscsi.backends.tgt import TgtBackend, tgt_acl
from apps.iscsi.backends.tgt_parse import parse_show_target

from .recordings import SHOW_ACCOUNT, SHOW_PORTAL, SHOW_TARGET, empty_tgtd, recorded, tgt

IQN = "iqn.2026-12.org.calypso:disk1"
CLIENT = "iqn.2026-01.org.example:client1"
DISK1 = TargetConfig(
    iqn=IQN,
    luns=(LunConfig(1, "/srv/a.img"),
          LunConfig(2, "/dev/zvol/ztank/vm1", block_device=True, block_size=4096, read_only=True, serial="SER1")),
    groups=(GroupConfig("g", (CLIENT,), ("10.0.0.0/8",)),),
    incoming=Chap("alice", "secretsecret1"), outgoing=Chap("bob", "mutualsecret1"))
CREATE_DISK1 = [
    tgt("--op", "new", "--mode", "account", "--user", "alice", "--password", "secretsecret1"),
    tgt("--op", "new", "--mode", "account", "--user", "bob", "--password", "mutualsecret1"),
    tgt("--op", "new", "--mode", "target", "--tid", "1", "-T", IQN),
    tgt("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", "/srv/a.img", "--blocksize", "512"),
    tgt("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "-b", "/dev/zvol/ztank/vm1",
        "--blocksize", "4096"),
    tgt("--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "--params", "readonly=1,scsi_sn=SER1"),
    tgt("--op", "bind", "--mode", "target", "--tid", "1", "-I", "10.0.0.0/8"),
    tgt("--op", "bind", "--mode", "target", "--tid", "1", "-Q", CLIENT),
    tgt("--op", "bind", "--mode", "account", "--tid", "1", "--user", "alice"),
    tgt("--op", "bind", "--mode", "account", "--tid", "1", "--user", "bob", "--outgoing"),
]


@pytest.fixture
def conf(tmp_path):
    return tmp_path / "tgt" / "calypso.conf"


def backend(runner, conf, port=0) -> TgtBackend:
    return TgtBackend(runner, control_port=port, conf_path=conf)


def test_a_new_target_from_nothing(conf):
    runner = empty_tgtd(ReplayRunner())
    for argv in CREATE_DISK1:
        runner.add(argv)
    applied = backend(runner, conf).apply(IscsiConfig(targets=(DISK1,)))
    assert runner.calls == [SHOW_TARGET, SHOW_ACCOUNT, *CREATE_DISK1]
    assert applied.tids == {IQN: 1}
    text = conf.read_text()
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o600  # it holds the CHAP secrets
    assert f"<target {IQN}>" in text and "incominguser alice secretsecret1" in text
    assert "outgoinguser bob mutualsecret1" in text
    assert "    <backing-store /dev/zvol/ztank/vm1>\n        lun 2\n        block-size 4096\n        readonly 1\n" \
           "        scsi_sn SER1\n    </backing-store>\n" in text
    assert "initiator-address 10.0.0.0/8" in text and f"initiator-name {CLIENT}" in text


def test_the_control_port_goes_to_every_tgtadm(conf):
    runner = ReplayRunner()
    runner.add(("tgtadm", "-C", "4917", "--lld", "iscsi", "--op", "show", "--mode", "target"), "")
    runner.add(("tgtadm", "-C", "4917", "--lld", "iscsi", "--op", "show", "--mode", "account"), "Account list:\n")
    backend(runner, conf, port=4917).apply(IscsiConfig())
    assert all(call[:3] == ("tgtadm", "-C", "4917") for call in runner.calls)


def test_changes_are_the_difference_with_what_tgtd_reports(conf):
    conf.parent.mkdir(parents=True)
    conf.write_text("incominguser alice secretsecret1\noutgoinguser bob mutualsecret1\n")  # the last apply
    runner = ReplayRunner().add(SHOW_TARGET, recorded("tgt_show_target.txt")).add(
        SHOW_ACCOUNT, recorded("tgt_show_account.txt"))
    expected = [
        tgt("--op", "unbind", "--mode", "target", "--tid", "1", "-I", "10.0.0.0/8"),
        tgt("--op", "unbind", "--mode", "target", "--tid", "1", "-Q", CLIENT),
        tgt("--op", "unbind", "--mode", "account", "--tid", "1", "--user", "bob", "--outgoing"),
        tgt("--op", "delete", "--mode", "logicalunit", "--tid", "1", "--lun", "2"),
        tgt("--op", "delete", "--force", "--mode", "target", "--tid", "2"),
        tgt("--op", "delete", "--mode", "account", "--user", "bob"),
    ]
    for argv in expected:
        runner.add(argv)
    wanted = TargetConfig(iqn=IQN, luns=(LunConfig(1, "/tmp/ct-iscsi/rec/lun1.img"),),
                          groups=(GroupConfig("local", (), ("127.0.0.1",)),), incoming=Chap("alice", "secretsecret1"))
    applied = backend(runner, conf).apply(IscsiConfig(targets=(wanted,)))
    assert runner.calls[2:] == expected
    assert applied.tids == {IQN: 1}


def test_a_changed_secret_makes_the_account_again(conf):
    conf.parent.mkdir(parents=True)
    conf.write_text("incominguser alice oldsecret123\n")
    host = parse_show_target(recorded("tgt_show_target.txt"))
    b = backend(ReplayRunner(), conf)
    wanted = TargetConfig(iqn=IQN, luns=(LunConfig(1, "/tmp/ct-iscsi/rec/lun1.img"),
                                         LunConfig(2, "/tmp/ct-iscsi/rec/lun2.img", block_size=4096, read_only=True)),
                          groups=(GroupConfig("g", (CLIENT,), ("127.0.0.1", "10.0.0.0/8")),),
                          incoming=Chap("alice", "newsecret123"), outgoing=Chap("bob", "mutualsecret1"))
    plan = b.plan(IscsiConfig(targets=(wanted, TargetConfig(iqn="iqn.2026-12.org.calypso:empty"))), host,
                  ["bob", "alice"], None, {"alice": "oldsecret123", "bob": "mutualsecret1"})
    assert [s.do for s in plan.steps] == [
        tgt("--op", "unbind", "--mode", "account", "--tid", "1", "--user", "alice"),
        tgt("--op", "delete", "--mode", "account", "--user", "alice"),
        tgt("--op", "new", "--mode", "account", "--user", "alice", "--password", "newsecret123"),
        tgt("--op", "bind", "--mode", "account", "--tid", "1", "--user", "alice"),
    ]
    assert plan.steps[1].undo == (tgt("--op", "new", "--mode", "account", "--user", "alice", "--password",
                                      "oldsecret123"),)


def test_a_failure_midway_undoes_what_ran_in_reverse_order(conf):
    runner = empty_tgtd(ReplayRunner())
    for argv in CREATE_DISK1[:3]:
        runner.add(argv)
    runner.add(CREATE_DISK1[3], stderr="tgtadm: invalid request\n", returncode=22)
    undo = [tgt("--op", "delete", "--force", "--mode", "target", "--tid", "1"),
            tgt("--op", "delete", "--mode", "account", "--user", "bob"),
            tgt("--op", "delete", "--mode", "account", "--user", "alice")]
    for argv in undo:
        runner.add(argv)
    with pytest.raises(BackendError) as caught:
        backend(runner, conf).apply(IscsiConfig(targets=(DISK1,)))
    assert runner.calls == [SHOW_TARGET, SHOW_ACCOUNT, *CREATE_DISK1[:4], *undo]
    message = caught.value.message
    assert "invalid request" in message and "3 commands already run were undone in reverse order" in message
    assert not conf.exists()


def test_a_failed_undo_is_said_and_secrets_never_appear(conf):
    runner = empty_tgtd(ReplayRunner())
    runner.add(CREATE_DISK1[0])
    runner.add(CREATE_DISK1[1], stderr="tgtadm: this account already exists\n", returncode=22)
    runner.add(tgt("--op", "delete", "--mode", "account", "--user", "alice"), stderr="tgtadm: can't find the account\n",
               returncode=22)
    with pytest.raises(BackendError) as caught:
        backend(runner, conf).apply(IscsiConfig(targets=(DISK1,)))
    message = caught.value.message
    assert "this account already exists" in message and "failed for" in message and "can't find the account" in message
    assert "secret" not in message.replace("CHAP secret", "") and "********" in message
    assert "mutualsecret1" not in repr(caught.value.argv)


def test_lun_0_is_refused_before_any_change(conf):
    runner = empty_tgtd(ReplayRunner())
    lun0 = TargetConfig(iqn=IQN, luns=(LunConfig(0, "/srv/a.img"),))
    with pytest.raises(Unsupported, match="LUN 0"):
        backend(runner, conf).apply(IscsiConfig(targets=(lun0,)))
    assert runner.calls == [SHOW_TARGET, SHOW_ACCOUNT]


def test_acl_is_every_groups_names_and_networks(conf):
    groups = (GroupConfig("names", (CLIENT,)), GroupConfig("nets", (), ("10.0.0.0/8",)),
              GroupConfig("both", ("iqn.2026-01.org.example:c2",), ("192.0.2.0/24", "10.0.0.0/8")))
    assert tgt_acl(TargetConfig(iqn=IQN, groups=groups)) == (
        ("10.0.0.0/8", "192.0.2.0/24"), (CLIENT, "iqn.2026-01.org.example:c2"))
    assert tgt_acl(TargetConfig(iqn=IQN, groups=(*groups, GroupConfig("everyone"))))[0][-1] == "ALL"


def test_names_only_and_no_group_allows_nobody(conf):
    names_only = TargetConfig(iqn=IQN, groups=(GroupConfig("names", (CLIENT,)),))
    text = backend(ReplayRunner(), conf).render(IscsiConfig(targets=(names_only, TargetConfig(iqn=IQN + "x"))))
    first, second = text.split("<target ")[1:]
    assert "initiator-address" not in first and f"initiator-name {CLIENT}" in first
    assert "initiator-" not in second


def test_portals_are_made_exactly_the_configured_ones(conf):
    runner = empty_tgtd(ReplayRunner()).add(SHOW_PORTAL, recorded("tgt_show_portal.txt"))
    expected = [tgt("--op", "new", "--mode", "portal", "--param", "portal=0.0.0.0:3260"),
                tgt("--op", "delete", "--mode", "portal", "--param", "portal=[::1]:3918"),
                tgt("--op", "delete", "--mode", "portal", "--param", "portal=127.0.0.1:3918")]
    for argv in expected:
        runner.add(argv)
    every = PortalConfig("0.0.0.0", 3260)  # noqa: S104 - a portal on every address is what is tested
    backend(runner, conf).apply(IscsiConfig(portals=(PortalConfig("127.0.0.1", 3917), every)))
    assert runner.calls[3:] == expected


def test_tgtd_not_answering_is_a_backend_error(conf):
    runner = ReplayRunner().add(SHOW_TARGET, stderr="tgtadm: can't send the request to the tgt daemon, Transport "
                                                    "endpoint is not connected\n", returncode=107)
    with pytest.raises(BackendError, match="tgtd did not answer"):
        backend(runner, conf).sessions()


def test_nothing_to_do_when_tgtd_already_matches(conf):
    host = parse_show_target(recorded("tgt_show_target.txt"))
    same = IscsiConfig(targets=(
        TargetConfig(iqn=IQN, luns=(LunConfig(1, "/tmp/ct-iscsi/rec/lun1.img"),
                                    LunConfig(2, "/tmp/ct-iscsi/rec/lun2.img", block_size=4096, read_only=True,
                                              serial="CALY0002")),
                     groups=(GroupConfig("g", (CLIENT,), ("127.0.0.1", "10.0.0.0/8")),),
                     incoming=Chap("alice", "secretsecret1"), outgoing=Chap("bob", "mutualsecret1")),
        TargetConfig(iqn="iqn.2026-12.org.calypso:empty")))
    plan = backend(ReplayRunner(), conf).plan(same, host, ["bob", "alice"], None,
                                              {"alice": "secretsecret1", "bob": "mutualsecret1"})
    assert plan.steps == [] and plan.tids == {IQN: 1, "iqn.2026-12.org.calypso:empty": 2}


def test_a_virtual_tape_library_on_the_same_tgtd_is_left_alone(conf):
    """The tape app's libraries (a changer and tape drives) are targets no iSCSI change may remove."""
    from pathlib import Path

    shown = (Path(__file__).parent.parent / "tape" / "fixtures" / "tgt-vtl-show-target.txt").read_text()
    shown = shown.split("\n", 1)[1]  # the recording's first line is its command
    targets = parse_show_target(shown)
    tape = [t.tid for t in targets if any(lun.kind == "changer" for lun in t.luns)]
    disks = [t.tid for t in targets if t.tid not in tape]
    assert tape and disks
    runner = ReplayRunner().add(SHOW_TARGET, shown).add(SHOW_ACCOUNT, "Account list:\n")
    for tid in disks:  # the plain disk target beside it, which the configuration no longer has, goes
        runner.add(("tgtadm", "--lld", "iscsi", "--op", "delete", "--force", "--mode", "target", "--tid", str(tid)))
    backend(runner, conf).apply(IscsiConfig())
    deleted = [call[-1] for call in runner.calls if "delete" in call]
    assert deleted == [str(tid) for tid in disks]
