"""tgtadm --op show parsers against output recorded from a real tgtd (tgt 1.0.85, Debian 12)."""

from __future__ import annotations

import pytest

from apps.core.errors import ParseError
from apps.iscsi.backends.base import PortalConfig
from apps.iscsi.backends.tgt_parse import parse_show_account, parse_show_portal, parse_show_target

from .recordings import recorded


def test_targets_luns_acls_and_accounts():
    first, second = parse_show_target(recorded("tgt_show_target.txt"))
    assert (first.tid, first.iqn) == (1, "iqn.2026-12.org.calypso:disk1")
    assert [lun.lun for lun in first.luns] == [0, 1, 2]
    controller, disk, readonly = first.luns
    assert (controller.kind, controller.path) == ("controller", "")
    assert (disk.path, disk.block_size, disk.size_bytes, disk.read_only) == (
        "/tmp/ct-iscsi/rec/lun1.img", 512, 67_000_000, False)
    assert (readonly.block_size, readonly.read_only, readonly.serial) == (4096, True, "CALY0002")
    assert first.addresses == ("127.0.0.1", "10.0.0.0/8")
    assert first.initiators == ("iqn.2026-01.org.example:client1",)
    assert (first.incoming, first.outgoing) == (("alice",), ("bob",))
    assert first.sessions == ()
    assert (second.tid, second.iqn, [lun.lun for lun in second.luns]) == (2, "iqn.2026-12.org.calypso:empty", [0])
    assert (second.addresses, second.initiators, second.incoming) == ((), (), ())


def test_i_t_nexus_is_a_session():
    target = parse_show_target(recorded("tgt_show_target_session.txt"))[0]
    (session,) = target.sessions
    assert (session.target, session.initiator, session.addresses, session.session_id) == (
        "iqn.2026-12.org.calypso:disk1", "iqn.2026-01.org.example:client1", ("127.0.0.1",), "2")


def test_nothing_configured():
    assert parse_show_target(recorded("tgt_show_target_empty.txt")) == []


def test_accounts_and_portals():
    assert parse_show_account(recorded("tgt_show_account.txt")) == ["bob", "alice"]
    assert parse_show_account("Account list:\n") == []
    assert parse_show_portal(recorded("tgt_show_portal.txt")) == [
        PortalConfig("::1", 3918), PortalConfig("127.0.0.1", 3918), PortalConfig("127.0.0.1", 3917)]


@pytest.mark.parametrize(("text", "line"), [
    ("tgtadm: can't send the request to the tgt daemon, Transport endpoint is not connected\n",
     "tgtadm: can't send the request to the tgt daemon, Transport endpoint is not connected"),
    ("Target x: iqn.2026-12.org.calypso:a\n", "Target x: iqn.2026-12.org.calypso:a"),
    ("Target 1: iqn.2026-12.org.calypso:a\n    LUN information:\n        LUN: zero\n", "        LUN: zero"),
    ("Target 1: iqn.2026-12.org.calypso:a\n    ACL information:\n        two words\n", "        two words"),
    ("Target 1: iqn.2026-12.org.calypso:a\n    Something new:\n        what\n", "    Something new:"),
])
def test_garbage_names_the_line(text, line):
    with pytest.raises(ParseError) as caught:
        parse_show_target(text)
    assert caught.value.line == line
    assert "tgtadm --op show --mode target" in str(caught.value)


def test_garbage_accounts_and_portals():
    with pytest.raises(ParseError, match="Portal: nowhere"):
        parse_show_portal("Portal: nowhere\n")
    with pytest.raises(ParseError, match="alice"):
        parse_show_account("alice\n")
