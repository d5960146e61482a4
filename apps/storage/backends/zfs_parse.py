"""Pure parsers for zpool/zfs output (zfs-fuse and OpenZFS 2.x). No I/O, no Django.

Human numbers ("1.2K", "556K", "1.93G") use ZFS's 1024 base. Timestamps printed by the tools (``ctime``
style) are in the command's time zone, which the runner sets to UTC, and come back as aware UTC datetimes.
A number or time too large to be real (past 2**63 - 1, past the year 9999) is unreadable output: ParseError.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apps.core.errors import ParseError, lines, parser

from .base import DatasetInfo, ImportablePool, PoolInfo, PropertyValue, ScanProgress, SnapshotInfo, VdevInfo

__all__ = [
    "DATASET_PROPERTIES",
    "SNAPSHOT_PROPERTIES",
    "ZfsVersion",
    "datasets_from_properties",
    "detect_flavour",
    "parse_count",
    "parse_ctime",
    "parse_scan",
    "parse_size",
    "parse_zfs_get",
    "parse_zfs_get_values",
    "parse_zfs_holds",
    "parse_zfs_list_snapshots",
    "parse_zpool_import",
    "parse_zpool_list",
    "parse_zpool_status",
    "snapshots_from_values",
]

DATASET_PROPERTIES = (
    "type", "used", "available", "referenced", "mountpoint", "compression", "recordsize", "atime",
    "readonly", "quota", "refquota", "reservation", "refreservation", "volsize", "volblocksize", "dedup", "sync",
    "checksum", "encryption",
)  # fmt: skip
SNAPSHOT_PROPERTIES = ("creation", "used", "referenced", "userrefs", "guid")

_UNITS = {"": 0, "B": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6, "Z": 7}
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([BKMGTPEZ]?)(?:i?B)?$")
_STATES = "ONLINE|DEGRADED|FAULTED|OFFLINE|UNAVAIL|REMOVED|AVAIL|INUSE|SPLIT"
_ROW = r"^(?P<name>\S.*?)\s+(?P<state>{})(?:\s+(?P<r>\S+)\s+(?P<w>\S+)\s+(?P<c>\S+))?\s*(?P<note>.*)$"
_ROW_RE = re.compile(_ROW.format(rf"(?:{_STATES})(?=\s|$)"))
# A state word this parser does not know (ZFS prints UNKNOWN, and versions add words): kept as printed.
_OTHER_ROW_RE = re.compile(_ROW.format(r"[A-Z][A-Z_-]+(?=\s|$)"))
MAX_INT = 2**63 - 1  # what the inventory stores; beyond it a number is not real
_CLASSES = {"logs": "log", "cache": "cache", "spares": "spare", "special": "special", "dedup": "dedup"}
_GROUP_RE = re.compile(r"^(mirror|raidz[123]?|draid[123]?(?::[^-\s]*)?|spare|replacing|root|indirect)-\d+$")
_CTIME_FORMATS = ("%a %b %d %H:%M:%S %Y", "%a %b %d %H:%M %Y")


# ---------------------------------------------------------------- numbers and times
def _bounded(value: int, text: str) -> int:
    if value > MAX_INT:
        raise ParseError(f"number out of range: {text[:40]!r}")
    return value


def parse_size(text: str) -> int | None:
    """Bytes from "123456" or a human size ("1.93G", "556K"); None for "-"/"none"/unparsable; ParseError for
    a number too large to be real."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        return _bounded(int(text), text)
    m = _SIZE_RE.match(text)
    if not m:
        return None
    value = float(m.group(1)) * 1024 ** _UNITS[m.group(2)]
    return _bounded(round(value) if value < 2**64 else MAX_INT + 1, text)


def parse_count(text: str) -> int:
    """An error counter from `zpool status`: "0", "696", "3.13K" (approximate, 1024 base)."""
    value = parse_size(text)
    return value if value is not None else 0


def parse_ctime(text: str) -> datetime | None:
    """A ``ctime`` string ("Tue Nov 24 17:13:47 2026") as the tool wrote it, in UTC (the runner gives every
    command ``TZ=UTC``), as an aware datetime; None when it is not such a string."""
    text = " ".join(text.split())
    for fmt in _CTIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _epoch(text: str) -> datetime | None:
    """Seconds since the epoch (`zfs get -p creation`); ParseError past the year 9999."""
    seconds = _int(text)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ParseError(f"time out of range: {text.strip()[:40]!r}") from exc


def _int(text: str) -> int | None:
    text = text.strip()
    return _bounded(int(text), text) if text.isascii() and text.isdigit() else None


def _errors(text: str) -> int:
    """A scan's error count (the inventory keeps it in 32 bits)."""
    value = int(text)
    if value >= 2**31:
        raise ParseError(f"error count out of range: {text[:40]!r}")
    return value


def _done(text: str) -> float:
    """A scan's "NN.NN% done"."""
    value = float(text)
    if not 0 <= value <= 100:
        raise ParseError(f"percentage out of range: {text[:40]!r}")
    return value


# ---------------------------------------------------------------- flavour
@dataclass(frozen=True, slots=True)
class ZfsVersion:
    flavour: str  # "openzfs" | "zfs-fuse"
    version: str = ""  # "2.1.5" for OpenZFS, "" when the tool does not say


def detect_flavour(returncode: int, stdout: str, stderr: str) -> ZfsVersion:
    """Which ZFS answered `zfs version`: OpenZFS prints "zfs-2.x"; older ones don't know the verb."""
    first = stdout.strip().splitlines()[0] if stdout.strip() else ""
    m = re.match(r"^zfs-(\d+\.\d+(?:\.\d+)?)", first)
    if returncode == 0 and m:
        return ZfsVersion("openzfs", m.group(1))
    return ZfsVersion("zfs-fuse")


# ---------------------------------------------------------------- zpool status
@dataclass(slots=True)
class _Node:
    name: str
    state: str
    counts: tuple[int, int, int]
    note: str
    depth: int
    children: list[_Node] = field(default_factory=list)


def _vdev_kind(name: str, has_children: bool) -> str:
    m = _GROUP_RE.match(name)
    if m:
        kind = m.group(1).split(":")[0]
        return {"raidz": "raidz1", "draid": "draid"}.get(kind, "draid" if kind.startswith("draid") else kind)
    if re.match(r"^draid\d-\d+-\d+$", name):
        return "draid-spare"
    if has_children:
        return "root"
    return "file" if name.startswith("/") and not name.startswith("/dev/") else "disk"


def _to_vdev(node: _Node, role: str) -> VdevInfo:
    r, w, c = node.counts
    children = tuple(_to_vdev(ch, role) for ch in node.children)
    return VdevInfo(
        name=node.name,
        kind=_vdev_kind(node.name, bool(children)),
        state=node.state,
        role=role,
        read_errors=r,
        write_errors=w,
        checksum_errors=c,
        note=node.note,
        children=children,
    )


def _parse_row(line: str) -> _Node | None:
    body = line.lstrip("\t")
    stripped = body.lstrip(" ")
    m = _ROW_RE.match(stripped.rstrip()) or _OTHER_ROW_RE.match(stripped.rstrip())
    if not m:
        return None
    counts = tuple(parse_count(m.group(k) or "0") for k in "rwc")
    note = m.group("note").strip()
    if m.group("r") and not m.group("r")[0].isdigit():  # spare rows: "INUSE  currently in use"
        counts, note = (0, 0, 0), stripped[m.end("state") :].strip()
    return _Node(m.group("name"), m.group("state"), counts, note, (len(body) - len(stripped)) // 2)  # type: ignore[arg-type]


def _build_tree(rows: Iterable[str]) -> tuple[_Node | None, list[tuple[str, _Node]]]:
    """Indented config rows -> (root row, [(role, top-level vdev), ...])."""
    root: _Node | None = None
    tops: list[tuple[str, _Node]] = []
    stack: list[_Node] = []
    role = "data"
    for line in rows:
        word = line.strip()
        if not word or word.startswith("NAME "):
            continue
        if word in _CLASSES and not line.lstrip("\t").startswith(" "):
            role, stack = _CLASSES[word], []
            continue
        node = _parse_row(line)
        if node is None:
            continue
        if node.depth == 0:
            root, stack = node, [node]
            continue
        while stack and stack[-1].depth >= node.depth:
            stack.pop()
        if node.depth == 1 or not stack:
            tops.append((role, node))
        else:
            stack[-1].children.append(node)
        stack.append(node)
    return root, tops


_SECTION_RE = re.compile(r"^\s*([a-z]+):(?:\s(.*)|$)")
_KEYS = {
    "pool",
    "id",
    "state",
    "status",
    "action",
    "see",
    "scan",
    "scrub",
    "config",
    "errors",
    "remove",
    "checkpoint",
    "comment",
}


def _sections(block: str) -> dict[str, list[str]]:
    """Split one pool's text into its "key:" sections (continuation lines kept, config rows raw)."""
    out: dict[str, list[str]] = {}
    key = ""
    for line in lines(block):
        m = _SECTION_RE.match(line)
        if m and m.group(1) in _KEYS and not (key == "config" and line.startswith("\t")):
            key = m.group(1)
            out.setdefault(key, []).append((m.group(2) or "").strip())
        elif key:
            out[key].append(line if key == "config" else line.strip())
    return out


def _split_pools(text: str) -> list[str]:
    blocks = re.split(r"(?m)^(?=\s*pool: )", text)
    return [b for b in blocks if re.match(r"^\s*pool: ", b)]


@parser("zpool status")
def parse_zpool_status(text: str) -> list[PoolInfo]:
    """Every pool in `zpool status` output: health, vdev tree with states and counts, scan, advice."""
    return [_pool_from_block(block) for block in _split_pools(text)]


def _advice(sec: dict[str, list[str]]) -> str:
    parts = []
    for key in ("status", "action", "see"):
        if key in sec:
            parts.append(f"{key}: " + "\n".join(x for x in sec[key] if x))
    return "\n".join(parts)


def _pool_from_block(block: str) -> PoolInfo:
    sec = _sections(block)
    name = sec["pool"][0]
    if not name:
        raise ParseError("a pool without a name", line=block.splitlines()[0])
    root, tops = _build_tree(lines("\n".join(sec.get("config", []))))
    scan_lines = sec.get("scan") or sec.get("scrub") or []
    extra = {"root_errors": root.counts} if root else {}
    return PoolInfo(
        name=name, backend="zfs", health=sec.get("state", ["UNKNOWN"])[0],
        scan=parse_scan("\n".join(x for x in scan_lines if x)),
        vdevs=tuple(_to_vdev(node, role) for role, node in tops),
        status_text=_advice(sec), errors_text=" ".join(x for x in sec.get("errors", []) if x), extra=extra,
    )  # fmt: skip


# ---------------------------------------------------------------- scan line
_FUSE_SCAN = re.compile(
    r"^(?P<fn>scrub|resilver) (?P<st>in progress|completed|stopped) (?:for|after) [0-9hm]+"
    r"(?:, (?P<pct>[\d.]+)% done)?(?: with (?P<err>\d+) errors on (?P<when>.+))?"
)
_OZ_DONE = re.compile(
    r"^(?:scrub repaired|resilvered(?: \(\S+\))?) (?P<proc>\S+) in .+? with (?P<err>\d+) errors on (?P<when>.+)$"
)
_OZ_CANCEL = re.compile(r"^(?P<fn>scrub|resilver)(?: \(\S+\))? canceled on (?P<when>.+)$")
_OZ_RUN = re.compile(r"^(?P<fn>scrub|resilver)(?: \(\S+\))? (?P<st>in progress|paused) since (?P<when>.+)$")
_OZ_BYTES_22 = re.compile(r"(?P<scanned>\S+) / (?P<total>\S+) scanned.*?, (?P<issued>\S+) / \S+ issued")
_OZ_BYTES_21 = re.compile(
    r"(?P<scanned>\S+) scanned(?: at \S+)?, (?P<issued>\S+) issued(?: at \S+)?, (?P<total>\S+) total"
)
_OZ_PROC = re.compile(r"(?P<proc>\S+) (?:repaired|resilvered), (?P<pct>[\d.]+)% done")


@parser("zpool status")
def parse_scan(text: str) -> ScanProgress:
    """The scrub/resilver state from a "scan:" (OpenZFS) or "scrub:" (zfs-fuse) section."""
    first = next(lines(text.strip()), "").strip()
    if not first or first.startswith("none requested"):
        return ScanProgress(text=text)
    if m := _FUSE_SCAN.match(first):
        return _fuse_scan(m, text)
    if m := _OZ_DONE.match(first):
        fn = "scrub" if first.startswith("scrub") else "resilver"
        return ScanProgress(
            fn,
            "finished",
            100.0,
            errors=_errors(m["err"]),
            finished_at=parse_ctime(m["when"]),
            text=text,
            processed_bytes=parse_size(m["proc"]),
        )
    if m := _OZ_CANCEL.match(first):
        return ScanProgress(m["fn"], "canceled", finished_at=parse_ctime(m["when"]), text=text)
    if m := _OZ_RUN.match(first):
        return _openzfs_running(m, text)
    return ScanProgress(text=text)


def _fuse_scan(m: re.Match[str], text: str) -> ScanProgress:
    state = {"in progress": "scanning", "completed": "finished", "stopped": "canceled"}[m["st"]]
    pct = _done(m["pct"]) if m["pct"] else (100.0 if state == "finished" else 0.0)
    when = parse_ctime(m["when"]) if m["when"] else None
    return ScanProgress(m["fn"], state, pct, errors=_errors(m["err"] or "0"), finished_at=when, text=text)


def _openzfs_running(m: re.Match[str], text: str) -> ScanProgress:
    state = "scanning" if m["st"] == "in progress" else "paused"
    started = parse_ctime(m["when"])
    if state == "paused" and (s := re.search(r"scrub started on (.+)", text)):
        started = parse_ctime(s.group(1))
    issued = total = processed = None
    pct = 0.0
    if b := (_OZ_BYTES_22.search(text) or _OZ_BYTES_21.search(text)):
        issued, total = parse_size(b["issued"]), parse_size(b["total"])
    if p := _OZ_PROC.search(text):
        processed, pct = parse_size(p["proc"]), _done(p["pct"])
    return ScanProgress(
        m["fn"],
        state,
        pct,
        examined_bytes=issued,
        total_bytes=total,
        started_at=started,
        text=text,
        processed_bytes=processed,
    )


# ---------------------------------------------------------------- zpool import
@parser("zpool import")
def parse_zpool_import(text: str) -> list[ImportablePool]:
    """Pools `zpool import [-d DIR]` offers (name, guid, state, advice, vdev tree without counts)."""
    pools = []
    for block in _split_pools(text):
        sec = _sections(block)
        if not sec["pool"][0]:
            raise ParseError("a pool without a name", line=block.splitlines()[0])
        _, tops = _build_tree(lines("\n".join(sec.get("config", []))))
        pools.append(ImportablePool(
            name=sec["pool"][0], guid=sec.get("id", [""])[0], state=sec.get("state", ["UNKNOWN"])[0],
            status_text=_advice(sec), vdevs=tuple(_to_vdev(node, role) for role, node in tops),
        ))  # fmt: skip
    return pools


# ---------------------------------------------------------------- zpool list
def _percent(text: str) -> int | None:
    value = _int(text.rstrip("%"))
    if value is not None and value > 1000:
        raise ParseError(f"percentage out of range: {text[:40]!r}")
    return value


def _ratio(text: str) -> float | None:
    try:
        ratio = float(text.rstrip("x"))
    except ValueError:
        return None
    return ratio if 0 <= ratio < 1e9 else None


@parser("zpool list")
def parse_zpool_list(text: str, columns: Sequence[str]) -> list[PoolInfo]:
    """`zpool list -H -o COLUMNS` rows (exact with -p, human sizes without) as PoolInfo."""
    pools = []
    for line in lines(text):
        if not line.strip():
            continue
        row = dict(zip(columns, line.split("\t"), strict=False))
        if not row.get("name"):
            raise ParseError("a pool without a name")
        pools.append(PoolInfo(
            name=row["name"], backend="zfs", health=row.get("health", "UNKNOWN"),
            size_bytes=parse_size(row.get("size", "-")), allocated_bytes=parse_size(row.get("allocated", "-")),
            free_bytes=parse_size(row.get("free", "-")),
            fragmentation_percent=_percent(row.get("fragmentation", "-")),
            capacity_percent=_percent(row.get("capacity", "-")), dedup_ratio=_ratio(row.get("dedupratio", "-")),
            guid=row.get("guid", ""),
        ))  # fmt: skip
    return pools


# ---------------------------------------------------------------- zfs get / list
@parser("zfs get")
def parse_zfs_get(text: str) -> dict[str, dict[str, PropertyValue]]:
    """`zfs get -H -p -o name,property,value[,source]` -> {dataset: {property: PropertyValue}} (source ""
    when the listing has no source column)."""
    out: dict[str, dict[str, PropertyValue]] = {}
    for line in lines(text):
        parts = line.split("\t")
        if len(parts) in (3, 4) and parts[0]:
            out.setdefault(parts[0], {})[parts[1]] = PropertyValue(parts[2], parts[3] if len(parts) == 4 else "")
    return out


@parser("zfs get")
def parse_zfs_get_values(text: str) -> dict[str, dict[str, str]]:
    """`zfs get -H -p -o name,property,value` -> {dataset: {property: value}}."""
    return {name: {prop: v.value for prop, v in props.items()} for name, props in parse_zfs_get(text).items()}


def _wanted(prop: str) -> bool:
    return prop in DATASET_PROPERTIES or ":" in prop


@parser("zfs get")
def datasets_from_properties(props: dict[str, dict[str, PropertyValue]]) -> list[DatasetInfo]:
    """DatasetInfo for every filesystem/volume, keeping the useful and all user (":") properties."""
    datasets = []
    for name, values in props.items():
        if "@" in name or "#" in name:
            continue
        kept = {k: v for k, v in values.items() if _wanted(k)}
        val = {k: v.value for k, v in kept.items()}
        mount = val.get("mountpoint", "-")
        datasets.append(DatasetInfo(
            name=name, pool=name.split("/")[0], kind=val.get("type", "filesystem"),
            used_bytes=_int(val.get("used", "-")), available_bytes=_int(val.get("available", "-")),
            referenced_bytes=_int(val.get("referenced", "-")), mountpoint="" if mount == "-" else mount,
            properties=kept,
        ))  # fmt: skip
    return datasets


def _snapshot(name: str, values: dict[str, str], holds: tuple[str, ...] = ()) -> SnapshotInfo:
    dataset, _, short = name.partition("@")
    guid = values.get("guid", "")
    return SnapshotInfo(
        name=name, dataset=dataset, short_name=short, created_at=_epoch(values.get("creation", "-")),
        used_bytes=_int(values.get("used", "-")), referenced_bytes=_int(values.get("referenced", "-")),
        holds=holds, guid="" if guid == "-" else guid, extra={"userrefs": _int(values.get("userrefs", "-")) or 0},
    )  # fmt: skip


@parser("zfs get")
def snapshots_from_values(values: dict[str, dict[str, str]]) -> list[SnapshotInfo]:
    """Snapshots out of `zfs get -p` values (zfs-fuse lists datasets and snapshots together)."""
    return [_snapshot(name, vals) for name, vals in values.items() if "@" in name]


@parser("zfs list -t snapshot")
def parse_zfs_list_snapshots(text: str, columns: Sequence[str] = ("name", *SNAPSHOT_PROPERTIES)) -> list[SnapshotInfo]:
    """`zfs list -H -p -t snapshot -o name,creation,used,referenced,userrefs,guid` rows."""
    snaps = []
    for line in lines(text):
        parts = line.split("\t")
        if len(parts) == len(columns):
            row = dict(zip(columns, parts, strict=True))
            snaps.append(_snapshot(row["name"], row))
    return snaps


@parser("zfs holds")
def parse_zfs_holds(text: str) -> dict[str, tuple[str, ...]]:
    """`zfs holds -H SNAP...` ("snap<TAB>tag<TAB>time") -> {snapshot: (tag, ...)}."""
    out: dict[str, list[str]] = {}
    for line in lines(text):
        parts = line.split("\t")
        if len(parts) >= 2:
            out.setdefault(parts[0], []).append(parts[1])
    return {k: tuple(v) for k, v in out.items()}
