"""Pure parsers of Samba's tools: ``smbstatus --json``, ``pdbedit -L`` and testparm's complaints."""

from __future__ import annotations

import json
import re

from apps.core.errors import lines, parser

from .base import OpenFile, SmbAccount, SmbConnection, SmbSession, SmbStatus

__all__ = ["parse_pdbedit_list", "parse_smbstatus_json", "parse_smbstatus_text", "problems_in_testparm"]


def _pid(server_id: dict) -> int:
    return int((server_id or {}).get("pid") or 0)


def _degree(value: dict | None) -> str:
    value = value or {}
    cipher, degree = value.get("cipher") or "-", value.get("degree") or "none"
    return "-" if degree == "none" else f"{degree} ({cipher})"


@parser("smbstatus --json")
def parse_smbstatus_json(text: str) -> SmbStatus:
    """Sessions, share connections (tree connects) and open files, as Samba 4.16+ prints them."""
    data = json.loads(text)
    if not isinstance(data, dict) or "sessions" not in data:
        raise ValueError("no sessions in the document")
    sessions = tuple(sorted((
        SmbSession(session_id=str(s["session_id"]), pid=_pid(s.get("server_id")), username=s.get("username", ""),
                   group=s.get("groupname", ""), machine=s.get("remote_machine", ""),
                   address=s.get("hostname", ""), dialect=s.get("session_dialect", ""),
                   encryption=_degree(s.get("encryption")), signing=_degree(s.get("signing")))
        for s in (data.get("sessions") or {}).values()), key=lambda s: (s.username, s.session_id)))
    connections = tuple(sorted((
        SmbConnection(share=t["service"], session_id=str(t.get("session_id", "")), pid=_pid(t.get("server_id")),
                      machine=t.get("machine", ""), connected_at=t.get("connected_at", ""))
        for t in (data.get("tcons") or {}).values()), key=lambda c: (c.share, c.session_id)))
    files = []
    for path, entry in sorted((data.get("open_files") or {}).items()):
        for open_ in (entry.get("opens") or {}).values():
            files.append(OpenFile(path=path, share_path=entry.get("service_path", ""), name=entry.get("filename", ""),
                                  pid=_pid(open_.get("server_id")), uid=open_.get("uid"),
                                  access=(open_.get("access_mask") or {}).get("text", ""),
                                  sharemode=(open_.get("sharemode") or {}).get("text", ""),
                                  opened_at=open_.get("opened_at", "")))
    return SmbStatus(version=str(data.get("version", "")), sessions=sessions, connections=connections,
                     open_files=tuple(files))


_WHEN = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}"
_SESSION = re.compile(r"^(\d+)\s+(\S+)\s+(\S+)\s+(\S+) \((\S+)\)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")
_SERVICE = re.compile(rf"^(\S+)\s+(\d+)\s+(\S+)\s+({_WHEN}(?: \w+)?)\s+(\S+)\s+(\S+)\s*$")
_LOCK = re.compile(rf"^(\d+)\s+(\d+)\s+(\S+)\s+(0x[0-9a-fA-F]+)\s+(\S+)\s+(\S+)\s+(/.*?)   (.+?)\s+({_WHEN})\s*$")


@parser("smbstatus")
def parse_smbstatus_text(text: str) -> SmbStatus:
    """The plain report of Samba before 4.16 (no --json): its three tables, read by their columns."""
    version, section = "", ""
    sessions, connections, files = [], [], []
    for line in lines(text):
        if line.startswith("Samba version "):
            version = line.removeprefix("Samba version ").strip()
        elif line.startswith("PID ") and "Username" in line:
            section = "sessions"
        elif line.startswith("Service ") and "Connected at" in line:
            section = "services"
        elif line.startswith("Pid ") and "SharePath" in line:
            section = "locks"
        elif not line.strip() or line.startswith(("---", "Locked files", "No locked files")):
            continue
        elif section == "sessions":
            pid, user, group, machine, address, dialect, encryption, signing = _SESSION.match(line).groups()
            sessions.append(SmbSession(session_id=pid, pid=int(pid), username=user, group=group, machine=machine,
                                       address=address, dialect=dialect, encryption=encryption, signing=signing))
        elif section == "services":
            share, pid, machine, when, _enc, _sign = _SERVICE.match(line).groups()
            connections.append(SmbConnection(share=share, session_id=pid, pid=int(pid), machine=machine,
                                             connected_at=" ".join(when.split())))
        elif section == "locks":
            pid, uid, deny, _mask, rw, _oplock, share_path, name, when = _LOCK.match(line).groups()
            files.append(OpenFile(path=f"{share_path.rstrip('/')}/{name}", share_path=share_path, name=name,
                                  pid=int(pid), uid=int(uid), access={"RDWR": "RW", "RDONLY": "R", "WRONLY": "W"}.get(
                                      rw, rw), sharemode=deny, opened_at=" ".join(when.split())))
        else:
            raise ValueError("a line outside the tables")
    return SmbStatus(version=version, sessions=tuple(sessions), connections=tuple(connections),
                     open_files=tuple(files))


@parser("pdbedit -L")
def parse_pdbedit_list(text: str) -> list[SmbAccount]:
    """``user:uid:full name`` per account."""
    accounts = []
    for line in lines(text):
        if not line.strip():
            continue
        name, uid, _full = line.split(":", 2)
        accounts.append(SmbAccount(username=name, uid=int(uid) if uid.strip() else None))
    return accounts


# testparm exits 0 on a parameter it does not know (it ignores it, and so would smbd): Calypso refuses those.
_PROBLEMS = ("Unknown parameter", "Ignoring unknown parameter", "ERROR", "is not boolean", "Error loading",
             "Invalid", "invalid")


def problems_in_testparm(stderr: str) -> list[str]:
    """The lines of testparm's report that name a problem in the file."""
    seen: list[str] = []
    for line in stderr.splitlines():
        line = line.strip()
        if line and any(p in line for p in _PROBLEMS) and line not in seen:
            seen.append(line)
    return seen
