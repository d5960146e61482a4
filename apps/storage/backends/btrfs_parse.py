"""Pure parsers for btrfs-progs text output (checked against btrfs-progs 6.2). No I/O, no Django.

Times: ``btrfs subvolume list -s`` and ``btrfs scrub status`` print local time without a zone, so
the backend runs them with ``TZ=UTC`` and these parsers read those times as UTC. A number too large to be
real (past 2**63 - 1) or a time past the year 9999 is unreadable output: ParseError, naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apps.core.errors import ParseError, lines, parser
from apps.storage.backends.base import ScanProgress

__all__ = [
    "DEVICE_STAT_KEYS",
    "BtrfsChunkUsage",
    "BtrfsDevice",
    "BtrfsFilesystem",
    "BtrfsSubvolume",
    "BtrfsUsage",
    "parse_btrfs_balance_status",
    "parse_btrfs_device_stats",
    "parse_btrfs_filesystem_show",
    "parse_btrfs_filesystem_usage",
    "parse_btrfs_filesystems",
    "parse_btrfs_mkfs",
    "parse_btrfs_property_ro",
    "parse_btrfs_qgroup_show",
    "parse_btrfs_replace_status",
    "parse_btrfs_scrub_counters",
    "parse_btrfs_scrub_status",
    "parse_btrfs_subvolume_list",
    "parse_btrfs_subvolume_show",
]

DEVICE_STAT_KEYS = ("write_io_errs", "read_io_errs", "flush_io_errs", "corruption_errs", "generation_errs")
# The errors btrfs-progs itself adds up for "Error summary" (cmds/scrub.c).
_SCRUB_ERROR_KEYS = ("read_errors", "csum_errors", "verify_errors", "super_errors")
_SCRUB_STATES = {"running": "scanning", "finished": "finished", "aborted": "canceled", "interrupted": "canceled"}
_MISSING_PATHS = {"MISSING", "<missing disk>", "missing"}
MAX_INT = 2**63 - 1  # what the inventory stores; beyond it a number is not real
MAX_ERRORS = 2**31 - 1  # a scrub's error total, as the inventory keeps it


@dataclass(frozen=True, slots=True)
class BtrfsDevice:
    devid: int
    size_bytes: int
    used_bytes: int
    path: str  # "" when the device is missing
    missing: bool = False


@dataclass(frozen=True, slots=True)
class BtrfsFilesystem:
    label: str  # "" when the filesystem has no label
    uuid: str
    total_devices: int
    bytes_used: int
    devices: tuple[BtrfsDevice, ...] = ()
    missing: bool = False  # at least one device is missing

    @property
    def name(self) -> str:
        return self.label or self.uuid


@dataclass(frozen=True, slots=True)
class BtrfsChunkUsage:
    kind: str  # "data" | "metadata" | "system" | "data+metadata"
    profile: str  # "single" | "dup" | "raid1" | "raid10" | "raid5" | "raid6" | "raid1c3" | "raid1c4"
    size_bytes: int
    used_bytes: int
    devices: dict[str, int] = field(default_factory=dict)  # device path (or "missing") -> bytes


@dataclass(frozen=True, slots=True)
class BtrfsUsage:
    overall: dict[str, int]  # device_size, device_allocated, ..., used, free_estimated, free_min, ...
    data_ratio: float
    metadata_ratio: float
    multiple_profiles: bool
    chunks: tuple[BtrfsChunkUsage, ...] = ()
    unallocated: dict[str, int] = field(default_factory=dict)

    def profiles(self, kind: str) -> tuple[str, ...]:
        """Every profile one chunk kind uses; more than one while a conversion is under way."""
        return tuple(dict.fromkeys(c.profile for c in self.chunks if c.kind == kind))

    @property
    def logical_used_bytes(self) -> int:
        return sum(c.used_bytes for c in self.chunks)


@dataclass(frozen=True, slots=True)
class BtrfsSubvolume:
    id: int
    gen: int
    parent_id: int
    top_level: int
    path: str
    uuid: str = ""
    parent_uuid: str = ""  # "" for a subvolume that is not a snapshot
    received_uuid: str = ""
    cgen: int | None = None
    otime: datetime | None = None  # only printed by "list -s"


def _number(text: str) -> int:
    """A whole number as btrfs-progs prints it (ASCII digits), within what the inventory stores."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        raise ParseError(f"not a number: {text[:40]!r}")
    value = int(text)
    if value > MAX_INT:
        raise ParseError(f"number out of range: {text[:40]!r}")
    return value


def _int(text: str) -> int:
    """The number a value starts with ("1601437696\t(min: 865730560)")."""
    words = text.split()
    if not words:
        raise ParseError("a number is missing")
    return _number(words[0])


def _dash(value: str) -> str:
    return "" if value == "-" else value


# --- btrfs filesystem show --raw <mnt> -------------------------------------------------------

_LABEL_RE = re.compile(r"^Label:\s+(?:'(?P<label>.*)'|none)\s+uuid:\s+(?P<uuid>\S+)")
_TOTAL_RE = re.compile(r"Total devices\s+(\d+)\s+FS bytes used\s+(\d+)")
_DEVID_RE = re.compile(r"devid\s+(\d+)\s+size\s+(\d+)\s+used\s+(\d+)\s+path\s*(.*)$")


def _parse_device(match: re.Match[str]) -> BtrfsDevice:
    path = match[4].strip()
    missing = path in _MISSING_PATHS or not path
    return BtrfsDevice(_number(match[1]), _number(match[2]), _number(match[3]), "" if missing else path, missing)


@dataclass(slots=True)
class _ShownFilesystem:
    label: str
    uuid: str
    total: int = 0
    used: int = 0
    devices: list[BtrfsDevice] = field(default_factory=list)
    some_missing: bool = False

    def result(self) -> BtrfsFilesystem:
        missing = self.some_missing or any(d.missing for d in self.devices) or len(self.devices) < self.total
        return BtrfsFilesystem(self.label, self.uuid, self.total, self.used, tuple(self.devices), missing)


@parser("btrfs filesystem show")
def parse_btrfs_filesystems(text: str) -> list[BtrfsFilesystem]:
    """Every filesystem in ``filesystem show --raw``, each with its own devices (sizes in bytes)."""
    shown: list[_ShownFilesystem] = []
    for line in lines(text):
        if m := _LABEL_RE.match(line.strip()):
            shown.append(_ShownFilesystem(m["label"] or "", m["uuid"]))
        elif not shown:
            continue
        elif m := _TOTAL_RE.search(line):
            shown[-1].total, shown[-1].used = _number(m[1]), _number(m[2])
        elif m := _DEVID_RE.search(line):
            shown[-1].devices.append(_parse_device(m))
        elif "Some devices missing" in line:
            shown[-1].some_missing = True
    return [fs.result() for fs in shown]


@parser("btrfs filesystem show")
def parse_btrfs_filesystem_show(text: str) -> BtrfsFilesystem:
    """Label, uuid and devices (sizes in bytes) of the first filesystem in ``filesystem show --raw``."""
    filesystems = parse_btrfs_filesystems(text)
    if not filesystems:
        raise ParseError("no filesystem in 'btrfs filesystem show' output")
    return filesystems[0]


# --- btrfs filesystem usage -b <mnt> ---------------------------------------------------------

_OVERALL_KEYS = {
    "Device size": "device_size",
    "Device allocated": "device_allocated",
    "Device unallocated": "device_unallocated",
    "Device missing": "device_missing",
    "Device slack": "device_slack",
    "Used": "used",
    "Free (estimated)": "free_estimated",
    "Free (statfs, df)": "free_statfs",
    "Global reserve": "global_reserve",
}
_CHUNK_RE = re.compile(r"^(Data\+Metadata|Data|Metadata|System),\s*(\S+):\s+Size:(\d+),\s+Used:(\d+)")
_MIN_RE = re.compile(r"\(min:\s*(\d+)\)")


_RATIOS = {"Data ratio": "data_ratio", "Metadata ratio": "metadata_ratio"}


def _ratio(text: str) -> float:
    value = float(text)
    if not 0 < value <= 16:  # a profile keeps at most a few copies
        raise ParseError(f"ratio out of range: {text[:40]!r}")
    return value


def _overall_line(key: str, value: str, overall: dict[str, int], ratios: dict[str, float | bool]) -> None:
    if key in _OVERALL_KEYS:
        overall[_OVERALL_KEYS[key]] = _int(value)
        if key == "Free (estimated)" and (m := _MIN_RE.search(value)):
            overall["free_min"] = _number(m[1])
    elif key in _RATIOS:
        ratios[_RATIOS[key]] = _ratio(value.strip())
    elif key == "Multiple profiles":
        ratios["multiple_profiles"] = value.strip() == "yes"


@parser("btrfs filesystem usage")
def parse_btrfs_filesystem_usage(text: str) -> BtrfsUsage:
    """Overall byte counts, ratios and per-profile chunk usage from ``filesystem usage -b``."""
    overall: dict[str, int] = {}
    ratios: dict[str, float | bool] = {}
    chunks: list[BtrfsChunkUsage] = []
    unallocated: dict[str, int] = {}
    current: dict[str, int] | None = None
    for line in lines(text):
        if m := _CHUNK_RE.match(line):
            current = {}
            chunks.append(BtrfsChunkUsage(m[1].lower(), m[2].lower(), _number(m[3]), _number(m[4]), current))
        elif line.startswith("Unallocated:"):
            current = unallocated
        elif line.startswith((" ", "\t")) and ":" in line and current is None:
            key, _, value = line.strip().partition(":")
            _overall_line(key, value, overall, ratios)
        elif current is not None and line.startswith((" ", "\t")) and len(parts := line.split()) >= 2:
            current[" ".join(parts[:-1])] = _number(parts[-1])
    return BtrfsUsage(
        overall=overall,
        data_ratio=float(ratios.get("data_ratio", 1.0)),
        metadata_ratio=float(ratios.get("metadata_ratio", 1.0)),
        multiple_profiles=bool(ratios.get("multiple_profiles", False)),
        chunks=tuple(chunks),
        unallocated=unallocated,
    )


# --- btrfs subvolume list -p -u -q -R [-s -r] <mnt> -------------------------------------------

_LIST_FIELDS = {
    "id": re.compile(r"^ID (\d+)"),
    "gen": re.compile(r"\bgen (\d+)"),
    "cgen": re.compile(r"\bcgen (\d+)"),
    "parent": re.compile(r"\bparent (\d+)"),
    "top_level": re.compile(r"\btop level (\d+)"),
    "otime": re.compile(r"\botime (\S+ \S+|-)"),
    "parent_uuid": re.compile(r"\bparent_uuid (\S+)"),
    "received_uuid": re.compile(r"\breceived_uuid (\S+)"),
    "uuid": re.compile(r"(?<![\w])uuid (\S+)"),
}


def _utc(text: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> datetime | None:
    """A zone-less time printed under ``TZ=UTC``; ParseError when it is not one (or past the year 9999)."""
    if text in ("", "-"):
        return None
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=UTC)
    except ValueError as exc:
        raise ParseError(f"not a time: {text[:40]!r}") from exc


def _list_line(line: str) -> BtrfsSubvolume:
    # The path comes last and may hold spaces; everything before " path " is key/value pairs.
    head, _, path = line.partition(" path ")
    if not path:
        raise ParseError("a subvolume without a path")
    found = {key: (m[1] if (m := rx.search(head)) else "") for key, rx in _LIST_FIELDS.items()}
    top_level = _number(found["top_level"] or "0")
    return BtrfsSubvolume(
        id=_number(found["id"]),
        gen=_number(found["gen"] or "0"),
        parent_id=_number(found["parent"]) if found["parent"] else top_level,
        top_level=top_level,
        path=path,
        uuid=_dash(found["uuid"]),
        parent_uuid=_dash(found["parent_uuid"]),
        received_uuid=_dash(found["received_uuid"]),
        cgen=_number(found["cgen"]) if found["cgen"] else None,
        otime=_utc(found["otime"]),
    )


@parser("btrfs subvolume list")
def parse_btrfs_subvolume_list(text: str) -> list[BtrfsSubvolume]:
    """One entry per ``ID ...`` line of ``subvolume list`` (any mix of -p -u -q -R -s -r)."""
    return [_list_line(line) for line in lines(text) if line.startswith("ID ")]


# --- btrfs subvolume show <path> --------------------------------------------------------------

_SHOW_INTS = {"Subvolume ID": "id", "Generation": "generation", "Gen at creation": "cgen",
              "Parent ID": "parent_id", "Top level ID": "top_level"}  # fmt: skip
_SHOW_STRS = {"Name": "name", "UUID": "uuid", "Parent UUID": "parent_uuid", "Received UUID": "received_uuid",
              "Flags": "flags"}  # fmt: skip


def _zoned(text: str) -> datetime | None:
    if text == "-":
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z").astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ParseError(f"not a time: {text[:40]!r}") from exc


def _show_value(key: str, value: str, out: dict) -> None:
    if key in _SHOW_INTS:
        out[_SHOW_INTS[key]] = _number(value)
    elif key in _SHOW_STRS:
        out[_SHOW_STRS[key]] = _dash(value)
    elif key == "Creation time":
        out["created_at"] = _zoned(value)


@parser("btrfs subvolume show")
def parse_btrfs_subvolume_show(text: str) -> dict:
    """Identity, flags and creation time (aware UTC) of one subvolume from ``subvolume show``."""
    rows = lines(text)
    out: dict = {"path": next(rows, "").strip(), "snapshots": []}
    in_snapshots = False
    for line in rows:
        key, sep, value = line.strip().partition(":")
        if in_snapshots and line.strip():
            out["snapshots"].append(line.strip())
        elif sep:
            in_snapshots = key == "Snapshot(s)"
            _show_value(key, value.strip(), out)
    out["readonly"] = "readonly" in out.get("flags", "").split(",")
    return out


# --- btrfs property get -ts <path> ro ---------------------------------------------------------


@parser("btrfs property get")
def parse_btrfs_property_ro(text: str) -> bool:
    """True when ``property get -ts <path> ro`` says ``ro=true``."""
    for line in lines(text):
        key, _, value = line.strip().partition("=")
        if key == "ro":
            return value.strip() == "true"
    raise ParseError("no 'ro=' line in 'btrfs property get' output")


# --- btrfs scrub status -R / --raw <mnt> -------------------------------------------------------


@parser("btrfs scrub status")
def parse_btrfs_scrub_counters(text: str) -> dict[str, int]:
    """The raw counters (``data_bytes_scrubbed``, ``csum_errors`` ...) of ``scrub status -R``."""
    counters: dict[str, int] = {}
    for line in lines(text):
        key, sep, value = line.strip().partition(":")
        if sep and key.islower() and value.strip().isdigit():
            counters[key] = _number(value)
    return counters


def _scrub_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in lines(text):
        key, sep, value = line.partition(":")
        if sep and not line.startswith((" ", "\t")):
            fields[key.strip()] = value.strip()
    return fields


def _duration(text: str) -> timedelta:
    hours, minutes, seconds = (_number(p) for p in text.split(":"))
    try:
        return timedelta(hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError as exc:
        raise ParseError(f"duration out of range: {text[:40]!r}") from exc


def _scrub_state(fields: dict[str, str]) -> str:
    if "Status" in fields:
        return _SCRUB_STATES.get(fields["Status"], "none")
    # In its first seconds a running scrub has no stats yet, but an ETA.
    return "scanning" if "Time left" in fields or "Bytes scrubbed" in fields else "none"


def _scrub_percent(state: str, done: int | None, total: int | None) -> float:
    if state == "finished":
        return 100.0
    if not done or not total:
        return 0.0
    return round(min(100.0, 100.0 * done / total), 2)


def _field(fields: dict[str, str], key: str, read):
    """``read(fields[key])`` (None when absent), an error naming that line."""
    if key not in fields:
        return None
    try:
        return read(fields[key])
    except ParseError as exc:
        raise ParseError(str(exc), line=f"{key}: {fields[key]}") from exc


@parser("btrfs scrub status")
def parse_btrfs_scrub_status(raw: str, summary: str = "") -> ScanProgress:
    """Scrub state, bytes done of total, errors and times from ``scrub status -R`` and ``--raw``."""
    fields = {**_scrub_fields(raw), **_scrub_fields(summary)}
    counters = parse_btrfs_scrub_counters(raw)
    state = _scrub_state(fields)
    total = _field(fields, "Total to scrub", _int)
    done = _field(fields, "Bytes scrubbed", _int)
    if done is None and counters:
        done = min(counters.get("data_bytes_scrubbed", 0) + counters.get("tree_bytes_scrubbed", 0), MAX_INT)
    started = _field(fields, "Scrub started", lambda v: _utc(v, "%a %b %d %H:%M:%S %Y"))
    finished = None
    if started and state in ("finished", "canceled") and "Duration" in fields:
        try:
            finished = started + _field(fields, "Duration", _duration)
        except OverflowError as exc:
            raise ParseError("scrub end past the year 9999", line=f"Duration: {fields['Duration']}") from exc
    return ScanProgress(
        function="scrub" if state != "none" else "none",
        state=state,
        percent=_scrub_percent(state, done, total),
        examined_bytes=done if state != "none" else None,
        total_bytes=total,
        errors=min(sum(counters.get(k, 0) for k in _SCRUB_ERROR_KEYS), MAX_ERRORS),
        started_at=started,
        finished_at=finished,
        text=(summary or raw).strip(),
    )


# --- btrfs balance status <mnt> ---------------------------------------------------------------

_BALANCE_ON_RE = re.compile(r"^Balance on '.*' is (\w+)(?:, (.+))?$")
_BALANCE_PROGRESS_RE = re.compile(r"(\d+) out of about (\d+) chunks balanced \((\d+) considered\),\s+(\d+)% left")


@parser("btrfs balance status")
def parse_btrfs_balance_status(text: str) -> dict:
    """State ("none", "running", "paused"), chunk counts and percent done of ``balance status``."""
    out: dict = {"state": "none", "request": "", "chunks_balanced": 0, "chunks_total": 0,
                 "chunks_considered": 0, "percent": 0.0, "text": text.strip()}  # fmt: skip
    for line in lines(text):
        if m := _BALANCE_ON_RE.match(line.strip()):
            out["state"], out["request"] = m[1], m[2] or ""
        elif m := _BALANCE_PROGRESS_RE.search(line):
            left = _number(m[4])
            if left > 100:
                raise ParseError(f"percentage out of range: {m[4][:40]!r}")
            out.update(chunks_balanced=_number(m[1]), chunks_total=_number(m[2]), chunks_considered=_number(m[3]),
                       percent=float(100 - left))  # fmt: skip
    return out


# --- btrfs device stats <mnt> -----------------------------------------------------------------

_STAT_RE = re.compile(r"^\[(?P<dev>.+)\]\.(?P<key>\w+)\s+(?P<value>\d+)$")


def _stats_entry(device: str) -> dict:
    missing = device.startswith("devid:")
    return {"device": "" if missing else device, "devid": _number(device[6:]) if missing else None,
            "missing": missing, **dict.fromkeys(DEVICE_STAT_KEYS, 0)}  # fmt: skip


@parser("btrfs device stats")
def parse_btrfs_device_stats(text: str) -> list[dict]:
    """Per device error counters; a missing device shows as ``[devid:N]`` with ``missing`` True."""
    devices: dict[str, dict] = {}
    for line in lines(text):
        if m := _STAT_RE.match(line.strip()):
            entry = devices.setdefault(m["dev"], _stats_entry(m["dev"]))
            entry[m["key"]] = _number(m["value"])
    for entry in devices.values():
        entry["errors"] = min(sum(entry[k] for k in DEVICE_STAT_KEYS), MAX_INT)
    return list(devices.values())


# --- mkfs.btrfs -L <label> ... <devices> ----------------------------------------------------

_MKFS_RE = re.compile(r"^(Label|UUID):\s+(.*)$")


@parser("mkfs.btrfs")
def parse_btrfs_mkfs(text: str) -> dict:
    """The label and UUID of the filesystem ``mkfs.btrfs`` just made (from its summary)."""
    out = {"label": "", "uuid": ""}
    for line in lines(text):
        if m := _MKFS_RE.match(line.strip()):
            out[m[1].lower()] = m[2].strip()
    if not out["uuid"]:
        raise ParseError("no UUID in the summary")
    return out


# --- btrfs qgroup show --raw -r -e <mnt> ----------------------------------------------------

_QGROUP_RE = re.compile(r"^(?P<level>\d+)/(?P<id>\d+)\s+(?P<rfer>\d+)\s+(?P<excl>\d+)\s+(?P<max_rfer>\d+|none)"
                        r"\s+(?P<max_excl>\d+|none)(?:\s+(?P<path>.*))?$")


def _limit(text: str) -> int | None:
    return None if text == "none" else _number(text)


@parser("btrfs qgroup show")
def parse_btrfs_qgroup_show(text: str) -> list[dict]:
    """Every qgroup: ``qgroupid`` ("0/256"), ``level``, ``subvolid`` (the id after the slash), ``referenced``
    and ``exclusive`` bytes, the limits (None: none) and the subvolume ``path`` as printed ("<toplevel>",
    "<stale>" for a subvolume deleted since)."""
    out = []
    for line in lines(text):
        line = line.strip()
        if not line or line.startswith(("Qgroupid", "--")):
            continue
        m = _QGROUP_RE.match(line)
        if m is None:
            raise ParseError("not a qgroup line")
        out.append({"qgroupid": f"{m['level']}/{m['id']}", "level": _number(m["level"]), "subvolid": _number(m["id"]),
                    "referenced": _number(m["rfer"]), "exclusive": _number(m["excl"]),
                    "max_referenced": _limit(m["max_rfer"]), "max_exclusive": _limit(m["max_excl"]),
                    "path": (m["path"] or "").strip()})  # fmt: skip
    return out


# --- btrfs replace status -1 <mnt> ----------------------------------------------------------

_REPLACE_ERRS_RE = re.compile(r"(\d+) write errs, (\d+) uncorr\. read errs")
_REPLACE_DONE_RE = re.compile(r"^(\d+(?:\.\d+)?)% done")
_REPLACE_ENDED_RE = re.compile(r"^Started on .+?, (finished|canceled|suspended) on .+?(?: at (\d+(?:\.\d+)?)%)?,")


@parser("btrfs replace status")
def parse_btrfs_replace_status(text: str) -> dict:
    """State ("never", "running", "finished", "canceled", "suspended"), percent and error counts of the
    current or last device replacement, as ``replace status -1`` prints it in one line."""
    line = text.strip().splitlines()[-1].strip() if text.strip() else ""
    out: dict = {"state": "never", "percent": 0.0, "write_errors": 0, "read_errors": 0, "text": line}
    if m := _REPLACE_ERRS_RE.search(line):
        out.update(write_errors=_number(m[1]), read_errors=_number(m[2]))
    if m := _REPLACE_DONE_RE.match(line):
        percent = float(m[1])
        if percent > 100:
            raise ParseError(f"percentage out of range: {m[1][:40]!r}")
        out.update(state="running", percent=percent)
    elif m := _REPLACE_ENDED_RE.match(line):
        out.update(state=m[1], percent=100.0 if m[1] == "finished" else float(m[2] or 0))
    elif line and line != "Never started":
        raise ParseError("not a replace status line")
    return out
