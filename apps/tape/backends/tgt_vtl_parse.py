"""Pure parser of ``tgtadm --op show --mode target`` (tgt 1.0.x) for virtual tape libraries: every target with
its LUNs (type, serial, online, backing store), and the libraries among them (a target with a changer LUN).

A drive LUN shows the medium the changer moved into it: ``Online: Yes`` and the medium's file as its backing
store path (the file name is the barcode); an empty drive is ``Online: No``. Whatever the parser cannot read
raises ``ParseError`` naming the command and the line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from apps.core.errors import ParseError, lines, parser

__all__ = ["ShownLibrary", "ShownLun", "ShownTarget", "libraries", "parse_show_target"]

_TARGET = re.compile(r"Target (\d+): (\S+)")
_SECTIONS = {"System information:": "system", "I_T nexus information:": "nexus", "LUN information:": "lun",
             "Account information:": "account", "ACL information:": "acl"}
_KEYS = {"Type": "kind", "SCSI SN": "serial", "Online": "online", "Backing store type": "backing_type",
         "Backing store path": "path"}


@dataclass(frozen=True)
class ShownLun:
    lun: int
    kind: str = ""  # controller, tape, changer, disk...
    serial: str = ""
    online: bool = False
    backing_type: str = ""  # ssc, smc, rdwr, null...
    path: str = ""  # "" when tgtd shows None

    @property
    def loaded(self) -> str:
        """The barcode of the medium in this drive (its file's name), "" when it is empty."""
        return self.path.rsplit("/", 1)[-1] if self.kind == "tape" and self.online and self.path else ""


@dataclass(frozen=True)
class ShownTarget:
    tid: int
    iqn: str
    luns: tuple[ShownLun, ...] = ()
    addresses: tuple[str, ...] = ()  # ACL entries (addresses, ALL, initiator names)
    sessions: int = 0


@dataclass(frozen=True)
class ShownLibrary:
    tid: int
    iqn: str
    changer: ShownLun
    drives: tuple[ShownLun, ...]
    addresses: tuple[str, ...] = ()
    sessions: int = 0

    @property
    def loaded(self) -> dict[int, str]:
        """Drive LUN -> barcode of the medium in it, for the drives that hold one."""
        return {d.lun: d.loaded for d in self.drives if d.loaded}


def _lun_field(lun: dict, line: str) -> None:
    key, sep, value = line.partition(":")
    if not sep or not key[:1].isalpha():
        raise ParseError("not a 'key: value' line of a LUN")
    name = _KEYS.get(key)
    value = value.strip()
    if name == "online":
        lun[name] = value == "Yes"
    elif name == "path":
        lun[name] = "" if value == "None" else value
    elif name:
        lun[name] = value


def _section_line(target: dict, section: str | None, line: str) -> None:
    if section == "lun":
        if line.startswith("LUN: "):
            target["luns"].append({"lun": int(line.removeprefix("LUN: "))})
        elif not target["luns"]:
            raise ParseError("a LUN field before any 'LUN: N'")
        else:
            _lun_field(target["luns"][-1], line)
    elif section == "nexus":
        target["sessions"] += line.startswith("I_T nexus: ")
    elif section == "acl":
        if " " in line:
            raise ParseError("not an ACL entry")
        target["addresses"].append(line)
    elif section not in ("system", "account"):
        raise ParseError("a line outside any known section")


@parser("tgtadm --op show --mode target")
def parse_show_target(text: str) -> list[ShownTarget]:
    targets: list[dict] = []
    section = None
    for raw in lines(text):
        line = raw.strip()
        if not line:
            continue
        head = _TARGET.fullmatch(raw)
        if head:
            targets.append({"tid": int(head.group(1)), "iqn": head.group(2), "luns": [], "addresses": [],
                            "sessions": 0})
            section = None
        elif not targets or not raw.startswith(" "):
            raise ParseError("expected 'Target N: <iqn>' or an indented line")
        elif line in _SECTIONS:
            section = _SECTIONS[line]
        else:
            _section_line(targets[-1], section, line)
    return [ShownTarget(t["tid"], t["iqn"], tuple(ShownLun(**lun) for lun in t["luns"]), tuple(t["addresses"]),
                        t["sessions"]) for t in targets]


def libraries(targets: list[ShownTarget]) -> list[ShownLibrary]:
    """The targets that are tape libraries (one changer LUN), with their tape drive LUNs."""
    found = []
    for target in targets:
        changers = [lun for lun in target.luns if lun.kind == "changer"]
        if len(changers) == 1:
            drives = tuple(lun for lun in target.luns if lun.kind == "tape")
            found.append(ShownLibrary(target.tid, target.iqn, changers[0], drives, target.addresses,
                                      target.sessions))
    return found
