"""The SCST backend: scst.conf rendered, checked with scstadmin -check_config and applied with -config,
and its outputs read from formats recorded from the SCST project's own sources (fixtures/README.md)."""

from __future__ import annotations

import pytest

from apps.core.errors import BackendError, ParseError, Unsupported
from apps.core.runner import ReplayRunner
from apps.iscsi.backends.base import Chap, GroupConfig, IscsiConfig, LunConfig, PortalConfig, TargetConfig
from apps.iscsi.backends.scst import ScstBackend, device_name
from apps.iscsi.backends.scst_parse import parse_list_target, parse_sysfs_sessions

from .recordings import FIXTURES, recorded

IQN = "iqn.2026-12.org.calypso:disk1"
CONFIG = IscsiConfig(targets=(TargetConfig(
    iqn=IQN, alias="disk1",
    luns=(LunConfig(0, "/dev/zvol/ztank/vm1", block_device=True, block_size=4096, serial="SER1"),
          LunConfig(1, "/srv/a.img", read_only=True)),
    groups=(GroupConfig("hosts", ("iqn.1993-08.org.debian:01:abcdef",)), GroupConfig("anyone")),
    incoming=Chap("alice", "secretsecret1"), outgoing=Chap("bob", "mutualsecret1"),
    portals=(PortalConfig("192.0.2.1", 3260),)),))


def test_render():
    text = ScstBackend(ReplayRunner(), conf_path="/x").render(CONFIG)
    zvol, file = device_name(IQN, 0), device_name(IQN, 1)
    assert (f"HANDLER vdisk_blockio {{\n\tDEVICE {zvol} {{\n\t\tfilename /dev/zvol/ztank/vm1\n\t\tblocksize 4096\n"
            f"\t\tusn SER1\n\t}}\n}}\n") in text
    assert f"HANDLER vdisk_fileio {{\n\tDEVICE {file} {{\n\t\tfilename /srv/a.img\n\t\tread_only 1\n\t}}\n}}\n" in text
    assert f"\tTARGET {IQN} {{\n\t\tIncomingUser \"alice secretsecret1\"\n\t\tOutgoingUser \"bob mutualsecret1\"\n" in text
    assert "\t\tallowed_portal 192.0.2.1\n\t\tenabled 1\n" in text
    assert (f"\t\tGROUP hosts {{\n\t\t\tLUN 0 {zvol}\n\t\t\tLUN 1 {file}\n\t\t\tINITIATOR iqn.1993-08.org.debian:01:abcdef\n"
            "\t\t}\n") in text
    assert "\t\tGROUP anyone {\n" in text and "\t\t\tINITIATOR *\n" in text
    # The same nesting as SCST's own example configuration.
    example = (FIXTURES / "scst_example.conf").read_text()
    assert "TARGET_DRIVER iscsi {" in example and 'IncomingUser "joe 12charsecret"' in example


def test_networks_cannot_be_expressed():
    config = IscsiConfig(targets=(TargetConfig(iqn=IQN, groups=(GroupConfig("lan", (), ("10.0.0.0/8",)),)),))
    with pytest.raises(Unsupported, match="by name only"):
        ScstBackend(ReplayRunner(), conf_path="/x").render(config)


def test_apply_checks_then_applies(tmp_path):
    conf = tmp_path / "scst.conf"
    runner = ReplayRunner()
    runner.add(("scstadmin", "-check_config", str(tmp_path / ".scst.conf.candidate")), "\t-> Done, 0 warnings found.\n")
    runner.add(("scstadmin", "-config", str(conf), "-force", "-noprompt"), "All done.\n")
    ScstBackend(runner, conf_path=conf).apply(CONFIG)
    assert [c[1] for c in runner.calls] == ["-check_config", "-config"]
    assert "TARGET iqn.2026-12.org.calypso:disk1" in conf.read_text()


def test_a_refused_check_installs_nothing(tmp_path):
    conf = tmp_path / "scst.conf"
    conf.write_text("previous\n")
    runner = ReplayRunner().add(("scstadmin", "-check_config", str(tmp_path / ".scst.conf.candidate")),
                                stderr="FATAL: No target drivers or handlers defined, aborting!\n", returncode=1)
    with pytest.raises(BackendError, match="No target drivers"):
        ScstBackend(runner, conf_path=conf).apply(CONFIG)
    assert conf.read_text() == "previous\n"
    assert len(runner.calls) == 1


def test_a_failed_apply_puts_the_previous_file_back(tmp_path):
    conf = tmp_path / "scst.conf"
    conf.write_text("previous\n")
    runner = ReplayRunner().add(("scstadmin", "-check_config", str(tmp_path / ".scst.conf.candidate")), "ok\n")
    apply = ("scstadmin", "-config", str(conf), "-force", "-noprompt")
    runner.add(apply, stderr="FATAL: Received the following error:\n\n\tDevice 'x' still in use\n", returncode=1)
    runner.add(apply, "All done.\n")
    with pytest.raises(BackendError, match="previous configuration was put back"):
        ScstBackend(runner, conf_path=conf).apply(CONFIG)
    assert conf.read_text() == "previous\n"
    assert runner.calls[-1] == apply  # the previous file applied again


def test_list_target_recorded_in_scstadmins_own_tests():
    assert parse_list_target(recorded("scst_list_target.txt")) == {"copy_manager": ["copy_manager_tgt"],
                                                                   "scst_local": ["local"]}
    assert parse_list_target(recorded("scst_list_target_iscsi.txt")) == {
        "iscsi": ["iqn.2026-12.org.calypso:disk1", "iqn.2026-12.org.calypso:vm-store"]}
    with pytest.raises(ParseError, match="No such driver"):
        parse_list_target("No such driver 'iscsi' exists.\n")


def test_sessions_from_sysfs():
    runner = ReplayRunner().add_file(FIXTURES / "scst_sysfs_sessions.txt")
    runner.add(("scstadmin", "-list_target", "-driver", "iscsi"), recorded("scst_list_target_iscsi.txt"))
    backend = ScstBackend(runner, conf_path="/x")
    sessions = backend.sessions()
    assert [(s.target, s.initiator, s.addresses) for s in sessions] == [
        ("iqn.2006-10.net.vlnb:tgt1", "iqn.2005-03.org.open-iscsi:cacdcd2520", ("10.170.75.2",)),
        (IQN, "iqn.1993-08.org.debian:01:abcdef", ("192.0.2.7", "192.0.2.8"))]
    targets = backend.targets()
    assert [(t.iqn, len(t.sessions)) for t in targets] == [(IQN, 1), ("iqn.2026-12.org.calypso:vm-store", 0)]
    with pytest.raises(ParseError, match="/etc/passwd"):
        parse_sysfs_sessions("/etc/passwd\n")
