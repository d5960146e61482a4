"""Samba's tools through recorded real outputs: parsers, the rendered include file, testparm and smbcontrol."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.core.errors import BackendError, ParseError
from apps.core.runner import ReplayRunner
from apps.shares.backends.base import ShadowCopies, SmbShareSpec
from apps.shares.backends.samba import SambaBackend, render_shares
from apps.shares.backends.samba_parse import (
    parse_pdbedit_list,
    parse_smbstatus_json,
    parse_smbstatus_text,
    problems_in_testparm,
)

from .recordings import add_recording, recorded_text

CONF = "/etc/samba/smb.conf"


def test_smbstatus_json_with_an_open_file():
    status = parse_smbstatus_json(recorded_text("smbstatus_json.txt"))
    assert status.version == "4.17.12-Debian"
    [session] = status.sessions
    assert (session.username, session.machine, session.dialect, session.pid) == ("smbtest1", "127.0.0.1", "SMB3_11",
                                                                                 9202)
    assert session.signing == "partial (AES-128-GMAC)" and session.encryption == "-"
    [conn] = status.connections
    assert (conn.share, conn.session_id, conn.connected_at) == ("share1", "1950629204",
                                                                "2026-12-02T00:49:42.889534+00:00")
    [opened] = status.open_files
    assert (opened.path, opened.name, opened.access, opened.uid) == ("/tmp/smbrec/share1/up.txt", "up.txt", "RW", 999)


def test_smbstatus_json_idle_and_garbage():
    idle = parse_smbstatus_json(recorded_text("smbstatus_json_idle.txt"))
    assert idle.sessions == idle.connections == idle.open_files == ()
    with pytest.raises(ParseError, match="smbstatus --json"):
        parse_smbstatus_json("Samba version 4.17\nPID Username")


def test_pdbedit_list():
    [account] = parse_pdbedit_list(recorded_text("pdbedit_list.txt"))
    assert (account.username, account.uid) == ("smbtest1", 999)


def test_problems_in_testparm_name_the_parameter():
    stderr = (Path(__file__).parent / "fixtures" / "testparm_unknown_parameter.txt").read_text().split("# stderr:\n")[1]
    assert problems_in_testparm(stderr) == ['Unknown parameter encountered: "bogus option"',
                                         'Ignoring unknown parameter "bogus option"']
    assert problems_in_testparm("Load smb config files from x\nLoaded services file OK.\nServer role: ROLE_STANDALONE") == []


def test_render_every_option():
    text = render_shares([
        SmbShareSpec(name="projects", path="/tank/projects", comment="Team files", read_only=True, guest_ok=True,
                     valid_users=("alice", "@staff"), admin_users=("root",), hosts_allow=("10.0.0.0/24",),
                     hosts_deny=("ALL",), case_sensitive="yes",
                     shadow=ShadowCopies(".zfs/snapshot", "_%Y-%m-%d_%H:%M:%S", r"^calypso_\(hourly\)$", "_2"),
                     recycle=True, audit=True, options=(("oplocks", "no"),)),
        SmbShareSpec(name="off", path="/tank/off", available=False, browseable=False),
    ])
    section = text.split("[projects]\n")[1].split("\n[off]")[0]
    lines = dict(line.strip().split(" = ", 1) for line in section.strip().splitlines())
    assert lines["path"] == "/tank/projects" and lines["comment"] == "Team files"
    assert (lines["read only"], lines["guest ok"], lines["browseable"]) == ("yes", "yes", "yes")
    assert lines["valid users"] == "alice @staff" and lines["hosts allow"] == "10.0.0.0/24"
    assert lines["vfs objects"] == "full_audit recycle shadow_copy2"
    assert lines["shadow:snapdir"] == ".zfs/snapshot" and lines["shadow:delimiter"] == "_2"
    assert lines["recycle:repository"] == ".recycle/%U" and lines["oplocks"] == "no"
    assert lines["case sensitive"] == "yes"
    assert "\tavailable = no\n\tread only = no\n\tbrowseable = no\n" in text.split("[off]")[1]


def test_validate_refuses_an_ignored_parameter(tmp_path):
    runner = add_recording(ReplayRunner(), "testparm_unknown_parameter.txt", candidate=str(tmp_path / "c"))
    with pytest.raises(BackendError, match="bogus option"):
        SambaBackend(runner, CONF).validate(tmp_path / "c")


def test_validate_refuses_a_bad_value(tmp_path):
    runner = add_recording(ReplayRunner(), "testparm_not_boolean.txt", candidate=str(tmp_path / "c"))
    with pytest.raises(BackendError, match="not boolean"):
        SambaBackend(runner, CONF).validate(tmp_path / "c")


def test_reload_when_smbd_is_not_running_is_not_an_error():
    runner = add_recording(ReplayRunner(), "smbcontrol_not_running.txt", conf=CONF)
    assert SambaBackend(runner, CONF).reload() is False


def test_reload_failure_says_so():
    runner = ReplayRunner().add(["smbcontrol", "-s", CONF, "smbd", "reload-config"], stderr="Permission denied",
                                returncode=1)
    with pytest.raises(BackendError, match="did not take the new configuration"):
        SambaBackend(runner, CONF).reload()


def test_password_goes_on_stdin_only():
    runner = ReplayRunner().add(["smbpasswd", "-c", CONF, "-s", "-a", "alice"], stdout="Added user alice.")
    SambaBackend(runner, CONF).set_password("alice", "Correct-Horse-9")
    assert runner.calls == [("smbpasswd", "-c", CONF, "-s", "-a", "alice")]
    assert runner.stdins == ["Correct-Horse-9\nCorrect-Horse-9\n"]
    with pytest.raises(BackendError):
        SambaBackend(runner, CONF).set_password("alice; rm", "x" * 9)


def test_include_line_added_once(tmp_path):
    conf = tmp_path / "smb.conf"
    conf.write_text("[global]\n\tworkgroup = OFFICE\n")
    backend = SambaBackend(ReplayRunner(), conf)
    include = Path("/etc/calypso/integrations/samba/shares.conf")
    text = backend.main_with_include(include)
    assert text.startswith("[global]\n\tworkgroup = OFFICE\n") and text.endswith(f"include = {include}\n")
    conf.write_text(text)
    assert backend.main_with_include(include) is None


def test_smbstatus_plain_tables_of_an_older_samba():
    runner = add_recording(ReplayRunner(), "smbstatus_json_unsupported.txt", conf=CONF)
    add_recording(runner, "smbstatus_text.txt", conf=CONF)
    status = SambaBackend(runner, CONF).status()
    [session] = status.sessions
    assert (session.pid, session.username, session.address, session.dialect, session.signing) == (
        18616, "smbtest1", "ipv4:127.0.0.1:42236", "SMB3_11", "partial(AES-128-GMAC)")
    [conn] = status.connections
    assert (conn.share, conn.pid, conn.connected_at) == ("share1", 18616, "Wed Dec 2 00:59:10 2026 UTC")
    [opened] = status.open_files
    assert (opened.path, opened.name, opened.access, opened.uid) == ("/tmp/smbrec/share1/up.txt", "up.txt", "RW", 999)
    with pytest.raises(ParseError, match="smbstatus"):
        parse_smbstatus_text("Samba version 4.13\nPID     Username  Group\ngarbage line here\n")
