"""Pure parsers of ``tgtadm --op show`` output (tgt 1.0.x), read from recorded real output in the tests.

Whatever the parser cannot read raises ``ParseError`` naming the command and the line."""

from __future__ import annotations

import re

from apps.core.errors import ParseError, lines, parser

from .base import HostLun, HostSession, HostTarget, PortalConfig

__all__ = ["is_iscsi_name", "parse_show_account", "parse_show_portal", "parse_show_target"]

_TARGET = re.compile(r"Target (\d+): (\S+)")
_NEXUS = re.compile(r"I_T nexus: (\d+)")
_INITIATOR = re.compile(r"Initiator: (\S+)(?: alias: .*)?")
_KEY = re.compile(r"([A-Za-z][A-Za-z0-9 _/-]*):(?: (.*))?")
_SIZE = re.compile(r"Size: (\d+) MB, Block size: (\d+)")
_PORTAL = re.compile(r"Portal: (\[[0-9A-Fa-f:.]+\]|[0-9.]+):(\d+),(\d+)")
_SECTIONS = {"System information:": "system", "I_T nexus information:": "nexus", "LUN information:": "lun",
             "Account information:": "account", "ACL information:": "acl"}


def is_iscsi_name(value: str) -> bool:
    return value.startswith(("iqn.", "eui.", "naa."))


class _Target:
    def __init__(self, tid: int, iqn: str) -> None:
        self.tid, self.iqn = tid, iqn
        self.luns: list[dict] = []
        self.sessions: list[dict] = []
        self.addresses: list[str] = []
        self.initiators: list[str] = []
        self.incoming: list[str] = []
        self.outgoing: list[str] = []

    def build(self) -> HostTarget:
        luns = tuple(HostLun(lun=d["lun"], path=d.get("path", ""), kind=d.get("type", "disk"),
                             size_bytes=d.get("size"), block_size=d.get("block_size"),
                             read_only=d.get("readonly", False), serial=d.get("serial", "")) for d in self.luns)
        sessions = tuple(HostSession(target=self.iqn, initiator=s["initiator"], addresses=tuple(s["addresses"]),
                                     session_id=s["id"]) for s in self.sessions)
        return HostTarget(iqn=self.iqn, tid=self.tid, luns=luns, addresses=tuple(self.addresses),
                          initiators=tuple(self.initiators), incoming=tuple(self.incoming),
                          outgoing=tuple(self.outgoing), sessions=sessions)


_LUN_KEYS = {"Type": "type", "SCSI SN": "serial", "Readonly": "readonly", "Backing store path": "path"}


def _lun_field(lun: dict, line: str) -> None:
    if line.startswith("Size: "):
        size = _SIZE.fullmatch(line)
        if size is None:
            raise ParseError("not a 'Size: N MB, Block size: N' line")
        lun["size"], lun["block_size"] = int(size.group(1)) * 1000 * 1000, int(size.group(2))
        return
    key, sep, value = line.partition(":")
    if not sep or not key or not key[0].isalpha():
        raise ParseError("not a 'key: value' line of a LUN")
    name = _LUN_KEYS.get(key)
    if name is None:
        return
    value = value.strip()
    if name == "readonly":
        lun[name] = value == "Yes"
    elif name == "path":
        lun[name] = "" if value == "None" else value
    else:
        lun[name] = value


@parser("tgtadm --op show --mode target")
def parse_show_target(text: str) -> list[HostTarget]:
    targets: list[_Target] = []
    section = None
    lun: dict | None = None
    nexus: dict | None = None
    for raw in lines(text):
        line = raw.strip()
        if not line:
            continue
        head = _TARGET.fullmatch(raw)
        if head:
            targets.append(_Target(int(head.group(1)), head.group(2)))
            section, lun, nexus = None, None, None
            continue
        if not targets or not raw.startswith(" "):
            raise ParseError("expected 'Target N: <iqn>' or an indented line")
        target = targets[-1]
        if line in _SECTIONS:
            section = _SECTIONS[line]
            continue
        if section == "system":
            if not _KEY.fullmatch(line):
                raise ParseError("not a 'key: value' line of the system information")
        elif section == "nexus":
            if _NEXUS.fullmatch(line):
                nexus = {"id": _NEXUS.fullmatch(line).group(1), "initiator": "", "addresses": []}
                target.sessions.append(nexus)
            elif nexus is not None and _INITIATOR.fullmatch(line):
                nexus["initiator"] = _INITIATOR.fullmatch(line).group(1)
            elif nexus is not None and line.startswith("IP Address: "):
                nexus["addresses"].append(line.removeprefix("IP Address: ").strip())
            elif nexus is None or not re.fullmatch(r"Connection: \d+", line):
                raise ParseError("not a line of an I_T nexus")
        elif section == "lun":
            if line.startswith("LUN: "):
                lun = {"lun": int(line.removeprefix("LUN: "))}
                target.luns.append(lun)
            elif lun is None:
                raise ParseError("a LUN field before any 'LUN: N'")
            else:
                _lun_field(lun, line)
        elif section == "account":
            if line.endswith(" (outgoing)"):
                target.outgoing.append(line.removesuffix(" (outgoing)"))
            elif " " in line:
                raise ParseError("not an account name")
            else:
                target.incoming.append(line)
        elif section == "acl":
            if " " in line:
                raise ParseError("not an ACL entry")
            (target.initiators if is_iscsi_name(line) else target.addresses).append(line)
        else:
            raise ParseError("a line outside any known section")
    return [t.build() for t in targets]


@parser("tgtadm --op show --mode account")
def parse_show_account(text: str) -> list[str]:
    users: list[str] = []
    seen_header = False
    for raw in lines(text):
        line = raw.strip()
        if not line:
            continue
        if line == "Account list:":
            seen_header = True
        elif seen_header and raw.startswith(" ") and " " not in line:
            users.append(line)
        else:
            raise ParseError("expected 'Account list:' and one user name per line")
    return users


@parser("tgtadm --op show --mode portal")
def parse_show_portal(text: str) -> list[PortalConfig]:
    portals = []
    for raw in lines(text):
        if not raw.strip():
            continue
        match = _PORTAL.fullmatch(raw.strip())
        if not match:
            raise ParseError("expected 'Portal: <address>:<port>,<tpgt>'")
        portals.append(PortalConfig(match.group(1).strip("[]"), int(match.group(2))))
    return portals
