"""Pure parsers of SCST's outputs: ``scstadmin -list_target`` and the iscsi-scst session directories in
sysfs (see tests/iscsi/fixtures/README.md for where each recorded format comes from)."""

from __future__ import annotations

import re

from apps.core.errors import ParseError, lines, parser

from .base import HostSession

__all__ = ["SESSIONS_ROOT", "parse_list_target", "parse_sysfs_sessions"]

SESSIONS_ROOT = "/sys/kernel/scst_tgt/targets/iscsi"
_NOISE = ("Collecting current configuration", "All done.")


@parser("scstadmin -list_target")
def parse_list_target(text: str) -> dict[str, list[str]]:
    """``{driver: [target, ...]}`` from the two-column table scstadmin prints."""
    out: dict[str, list[str]] = {}
    header = False
    driver = None
    for raw in lines(text):
        line = raw.rstrip()
        if not line.strip() or line.startswith(_NOISE):
            continue
        if not line.startswith("\t"):
            raise ParseError("expected a tab-indented row of the Driver/Target table")
        body = line[1:]
        if re.fullmatch(r"Driver\s+Target", body):
            header = True
            continue
        if re.fullmatch(r"-+", body):
            continue
        if not header:
            raise ParseError("a row before the Driver/Target header")
        if body.startswith(" "):  # the driver column left blank: another target of the driver above
            if driver is None:
                raise ParseError("a target row before any driver")
            out[driver].append(body.strip())
            continue
        parts = body.split()
        if len(parts) != 2:
            raise ParseError("expected '<driver> <target>'")
        driver = parts[0]
        out.setdefault(driver, []).append(parts[1])
    return out


@parser("find /sys/kernel/scst_tgt/targets/iscsi")
def parse_sysfs_sessions(text: str) -> list[HostSession]:
    """One connection directory per line: ``<root>/<target>/sessions/<initiator>/<address>``."""
    sessions: dict[tuple[str, str], list[str]] = {}
    for raw in lines(text):
        if not raw.strip():
            continue
        if not raw.startswith(SESSIONS_ROOT + "/"):
            raise ParseError(f"a path outside {SESSIONS_ROOT}")
        parts = raw[len(SESSIONS_ROOT) + 1:].split("/")
        if len(parts) != 4 or parts[1] != "sessions" or not all(parts):
            raise ParseError("expected <target>/sessions/<initiator>/<address>")
        sessions.setdefault((parts[0], parts[2]), []).append(parts[3])
    return [HostSession(target=t, initiator=i, addresses=tuple(a)) for (t, i), a in sessions.items()]
