"""Pure parsers of the director console's output (bconsole 9.6): its +---+ tables, ``llist`` blocks, the job,
estimate, status and labelling reports, bvfs rows (with Bacula's base64 lstat decoded) and its error texts.

Each parser reads the lines one command printed; the console's own lines (``Connecting to Director``, ``Using
Catalog``, ``You have messages.``) are skipped wherever they fall."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from apps.core.errors import ParseError, lines, parser

from .types import (
    BvfsEntry,
    BvfsVersion,
    ClientRecord,
    Estimate,
    FileAttributes,
    JobProgress,
    JobRecord,
    LabelResult,
    PoolRecord,
    SlotUpdate,
    VolumeRecord,
)

__all__ = [
    "BvfsRow",
    "bvfs_entry",
    "command_output",
    "command_outputs",
    "decode_lstat",
    "find_error",
    "parse_bvfs_entries",
    "parse_bvfs_jobids",
    "parse_bvfs_rows",
    "parse_bvfs_versions",
    "parse_config_errors",
    "parse_estimate",
    "parse_job_log",
    "parse_label_barcodes",
    "parse_list_clients",
    "parse_list_jobs",
    "parse_list_pools",
    "parse_list_volumes",
    "parse_llist",
    "parse_llist_job",
    "parse_messages",
    "parse_run",
    "parse_status_client",
    "parse_tables",
    "parse_update_slots",
]

_NOISE = re.compile(
    r"^(Connecting to (Director|Storage daemon|Client) .*|1000 OK: .*|Enter a period to cancel a command\.|"
    r"Using Catalog \".*\"|Automatically selected (Catalog|Client|Storage): .*|You have (no )?messages\.|"
    r"\[exit status: -?\d+\]|quit)\s*$")
_MAX_INT = 2**63 - 1


def _noise(line: str) -> bool:
    return bool(_NOISE.match(line))


def _int(text: str) -> int:
    """A count as the console prints it (``3,048,905``); refuses what does not fit a catalog integer."""
    value = int(text.replace(",", "").strip())
    if not 0 <= value <= _MAX_INT:
        raise ValueError(f"{text!r} is out of range")
    return value


def _time(text: str) -> datetime | None:
    """A catalog time (``2026-12-02 09:42:34``, printed in UTC) or None for 0 / empty."""
    text = text.strip()
    if text in ("", "0", "NULL", "0000-00-00 00:00:00"):
        return None
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def command_output(text: str, command: str) -> str:
    """What the console printed for ``command`` in a session: the lines after its echo, up to the next echo
    of a command Calypso sent (or ``quit``); the whole text when the echo is missing."""
    rows = text.splitlines()
    try:
        start = rows.index(command) + 1
    except ValueError:
        return text
    end = next((i for i in range(start, len(rows)) if rows[i] == "quit"), len(rows))
    return "\n".join(rows[start:end]) + "\n"


# --- errors ---------------------------------------------------------------------------------------------

_ERRORS = [re.compile(p) for p in (
    r": is an invalid command\.",
    r"^Job \".*\" not found",
    r"resource \"?[^\"]*\"?:? (not found|does not exist)",
    r"^(Error|ERROR|Fatal error)\b",
    r"Media record for Volume name \".*\" not found",
    r"^Select .*\(\d+-\d+\): ",
    r"^Expected a positive integer",
    r"is not running\.\s*$",
    r"^Invalid ",
    r"^Query failed",
    r"^Failed to connect to",
    r"^Director authorization problem",
    r"^No Volumes found to label",
    r"^Unknown keyword",
    r"^Can't find ",
    r"^[a-z_]+\.c:\d+ ",
    r"^Pool \".*\" not found",
    r"^Could not find ",
)]


def find_error(text: str) -> str | None:
    """The console's error lines in ``text`` (bconsole exits 0 whatever happens), or None."""
    found = [row.strip() for row in text.splitlines() if any(p.search(row) for p in _ERRORS)]
    return "\n".join(dict.fromkeys(found)) or None


@parser("messages (configuration errors)")
def parse_config_errors(text: str) -> list[str]:
    """The configuration errors a ``reload`` left in ``messages``: each ``Config error: ...`` with its place."""
    errors: list[str] = []
    current: list[str] | None = None
    for line in lines(text):
        if "Config error:" in line:
            current = [line[line.index("Config error:"):].strip()]
            errors.append("")
        elif current is not None and line.startswith(" ") and line.strip():
            current.append(line.strip().lstrip(": ").strip())
        else:
            current = None
        if current is not None:
            errors[-1] = " ".join(current)
    return list(dict.fromkeys(errors))


@parser("messages")
def parse_messages(text: str) -> list[str]:
    """The message lines the director queued for the console (its job reports, its errors)."""
    return [line.rstrip() for line in lines(text) if line.strip() and not _noise(line)]


# --- tables ---------------------------------------------------------------------------------------------


def _cells(line: str, width: int | None) -> list[str]:
    if not (line.startswith("|") and line.rstrip().endswith("|")):
        raise ValueError("a table row must start and end with |")
    cells = [c.strip() for c in line.rstrip()[1:-1].split("|")]
    if width is not None and len(cells) != width:
        raise ValueError(f"expected {width} columns, got {len(cells)}")
    return cells


def _tables(text: str) -> list[tuple[str, list[dict[str, str]]]]:
    """Every +---+ table in ``text``, each with the line before it (``Pool: TapePool``) and its rows."""
    tables: list[tuple[str, list[dict[str, str]]]] = []
    context, header, rows, state = "", None, None, "out"
    for line in lines(text):
        if line.startswith("+") and set(line.strip()) <= {"+", "-"}:
            state = {"out": "header", "header_done": "body", "body": "out"}.get(state, state)
            if state == "out" and rows is not None:
                tables.append((context, rows))
                header, rows = None, None
            continue
        if state == "header":
            header, state = _cells(line, None), "header_done"
        elif state == "body":
            rows.append(dict(zip(header, _cells(line, len(header)), strict=True)))
        elif state == "header_done":
            raise ValueError("expected a border after the table header")
        elif line.strip() and not _noise(line):
            context = line.strip()
        if state == "header_done" and rows is None:
            rows = []
    if state != "out":
        raise ValueError("the table does not end")
    return tables


parse_tables = parser("list")(_tables)


def _rows(text: str) -> list[tuple[str, dict[str, str]]]:
    return [(context, row) for context, rows in _tables(text) for row in rows]


@parser("list jobs")
def parse_list_jobs(text: str) -> list[JobRecord]:
    """``list jobs``: one record per job, oldest first."""
    return [JobRecord(jobid=_int(r["JobId"]), name=r["Name"], type=r["Type"], level=r["Level"],
                      status=r["JobStatus"], files=_int(r["JobFiles"]), bytes=_int(r["JobBytes"]),
                      start_time=_time(r["StartTime"])) for _c, r in _rows(text)]


@parser("list volumes")
def parse_list_volumes(text: str) -> list[VolumeRecord]:
    """``list volumes``: every volume of every pool (the pool from the ``Pool:`` line above its table)."""
    return [VolumeRecord(media_id=_int(r["MediaId"]), name=r["VolumeName"], pool=c.removeprefix("Pool: "),
                         status=r["VolStatus"], bytes=_int(r["VolBytes"]), slot=_int(r["Slot"]),
                         in_changer=r["InChanger"] == "1", media_type=r["MediaType"], enabled=r["Enabled"] == "1",
                         last_written=_time(r["LastWritten"]), retention_s=_int(r["VolRetention"]))
            for c, r in _rows(text)]


@parser("list pools")
def parse_list_pools(text: str) -> list[PoolRecord]:
    """``list pools``."""
    return [PoolRecord(pool_id=_int(r["PoolId"]), name=r["Name"], volumes=_int(r["NumVols"]),
                       max_volumes=_int(r["MaxVols"]), max_volume_bytes=_int(r["MaxVolBytes"]),
                       retention_s=_int(r["VolRetention"]), pool_type=r["PoolType"], enabled=r["Enabled"] == "1")
            for _c, r in _rows(text)]


@parser("list clients")
def parse_list_clients(text: str) -> list[ClientRecord]:
    """``list clients``."""
    return [ClientRecord(client_id=_int(r["ClientId"]), name=r["Name"], file_retention_s=_int(r["FileRetention"]),
                         job_retention_s=_int(r["JobRetention"])) for _c, r in _rows(text)]


# --- llist ----------------------------------------------------------------------------------------------

_FIELD = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*): ?(.*)$")


def _llist(text: str) -> list[dict[str, str]]:
    """``llist``: one ``Key: value`` block per record, blocks apart by a blank line."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines(text):
        if not line.strip():
            if current:
                blocks.append(current)
            current = {}
            continue
        if _noise(line) or line.strip() == "No results to list.":
            continue
        match = _FIELD.match(line)
        if not match:
            raise ValueError("expected a Key: value line")
        current[match[1]] = match[2].rstrip()
    if current:
        blocks.append(current)
    return blocks


parse_llist = parser("llist")(_llist)


@parser("llist jobid")
def parse_llist_job(text: str) -> JobRecord | None:
    """``llist jobid=N``: the job's record, None when the catalog has none."""
    blocks = _llist(text)
    if not blocks:
        return None
    f = blocks[0]
    return JobRecord(jobid=_int(f["JobId"]), name=f["Name"], type=f["Type"], level=f["Level"],
                     status=f["JobStatus"], files=_int(f["JobFiles"]), bytes=_int(f["JobBytes"]),
                     start_time=_time(f["StartTime"]), end_time=_time(f.get("EndTime", "")), job=f["Job"],
                     client=f.get("ClientName", ""), pool=f.get("PoolName", ""), fileset=f.get("FileSet", ""),
                     errors=_int(f.get("JobErrors", "0")), fields=f)


# --- one-line reports -----------------------------------------------------------------------------------


@parser("run")
def parse_run(text: str) -> int:
    """``run ... yes`` (or ``restore ... yes``): the JobId the director queued."""
    for line in lines(text):
        match = re.match(r"^Job queued\. JobId=(\d+)\s*$", line)
        if match:
            return _int(match[1])
    raise ParseError("no 'Job queued. JobId=N' line")


@parser("estimate")
def parse_estimate(text: str) -> Estimate:
    """``estimate job=...``: how many files and bytes a backup would read."""
    for line in lines(text):
        match = re.match(r"^2000 OK estimate files=([\d,]+) bytes=([\d,]+)\s*$", line)
        if match:
            return Estimate(files=_int(match[1]), bytes=_int(match[2]))
    raise ParseError("no '2000 OK estimate' line")


_PROGRESS = re.compile(r"^\s+Files=([\d,]+) Bytes=([\d,]+) AveBytes/sec=([\d,]+) LastBytes/sec=([\d,]+) "
                       r"Errors=([\d,]+)")


@parser("status client")
def parse_status_client(text: str) -> list[JobProgress]:
    """``status client=...``: the files, bytes and rates of each job the file daemon is running."""
    jobs: dict[int, dict] = {}
    current: dict | None = None
    for line in lines(text):
        if match := re.match(r"^JobId (\d+) Job \S+ is running\.", line):
            current = jobs.setdefault(_int(match[1]), {"jobid": _int(match[1])})
        elif current is not None and (match := _PROGRESS.match(line)):
            current.update(files=_int(match[1]), bytes=_int(match[2]), bytes_per_second=_int(match[3]),
                           last_bytes_per_second=_int(match[4]), errors=_int(match[5]))
        elif current is not None and (match := re.match(r"^\s+Files: Examined=([\d,]+)", line)):
            current["examined"] = _int(match[1])
        elif current is not None and line.startswith("    Processing file: "):
            current["current_file"] = line.removeprefix("    Processing file: ")
        elif not line.startswith(" "):
            current = None
    return [JobProgress(**j) for j in jobs.values() if "files" in j]


@parser("list joblog")
def parse_job_log(text: str) -> list[str]:
    """``list joblog jobid=N``: the job's log lines, as the catalog kept them (one entry may span lines)."""
    out: list[str] = []
    entry: list[str] | None = None
    in_table = False
    for line in lines(text):
        if line.startswith("+") and set(line.strip()) <= {"+", "-"}:
            in_table = True
            continue
        if not in_table or line.startswith("| LogText"):
            continue
        if re.fullmatch(r"\\\s*\|\s*", line):
            out.extend(entry or [])
            entry = None
        elif line.startswith("| ") and entry is None:
            entry = [line[2:].rstrip(" |") if line.rstrip().endswith(" |") else line[2:].rstrip()]
        elif entry is not None:
            entry.append(line.rstrip())
        elif line.strip() and not _noise(line):
            raise ValueError("a log line outside a table row")
    return [row for row in out if row.strip()]


@parser(".bvfs_get_jobids")
def parse_bvfs_jobids(text: str) -> list[int]:
    """``.bvfs_get_jobids``: the jobs a restore to that point needs (``1,4,7``)."""
    for line in lines(text):
        if re.fullmatch(r"\d+(,\d+)*", line.strip()):
            return [_int(x) for x in line.strip().split(",")]
    return []


# --- bvfs rows and lstat --------------------------------------------------------------------------------

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def _b64(word: str) -> int:
    negative = word.startswith("-")
    value = 0
    for ch in word[negative:]:
        value = value * 64 + _B64[ch]
    if value > _MAX_INT:
        raise ValueError(f"lstat field {word!r} is out of range")
    return -value if negative else value


def decode_lstat(lstat: str) -> FileAttributes:
    """Bacula's lstat (stat fields in its own base64, space separated): mode, owner, size, mtime."""
    fields = [_b64(w) for w in lstat.split()]
    if len(fields) < 13:
        raise ValueError(f"an lstat has at least 13 fields, got {len(fields)}")
    mtime = fields[11]
    return FileAttributes(mode=fields[2], uid=fields[4], gid=fields[5], size=fields[7],
                          mtime=datetime.fromtimestamp(mtime, UTC) if 0 < mtime < 253402300800 else None)


BvfsRow = tuple[int, int, int, int, str, str]  # pathid, filenameid, fileid, jobid, lstat, name


@parser(".bvfs_lsdirs")
def parse_bvfs_rows(text: str) -> list[BvfsRow]:
    """``.bvfs_lsdirs`` / ``.bvfs_lsfiles`` rows, their lstat left encoded (a big listing is decoded only where
    shown): pathid, filenameid, fileid, jobid, lstat, name (tab apart)."""
    out = []
    for line in lines(text):
        if "\t" not in line:
            continue
        cols = line.split("\t")
        if len(cols) != 6:
            raise ValueError(f"expected 6 tab-separated columns, got {len(cols)}")
        if len(cols[4].split()) < 13:
            raise ValueError("an lstat has at least 13 fields")
        out.append((_int(cols[0]), _int(cols[1]), _int(cols[2]), _int(cols[3]), cols[4], cols[5]))
    return out


def bvfs_entry(row: BvfsRow) -> BvfsEntry:
    """One row with its lstat decoded (ValueError when it cannot be)."""
    pathid, filenameid, fileid, jobid, lstat, name = row
    return BvfsEntry(pathid=pathid, filenameid=filenameid, fileid=fileid, jobid=jobid, name=name,
                     attributes=decode_lstat(lstat))


@parser(".bvfs_lsdirs")
def parse_bvfs_entries(text: str) -> list[BvfsEntry]:
    """``.bvfs_lsdirs`` / ``.bvfs_lsfiles`` rows, decoded."""
    return [bvfs_entry(row) for row in parse_bvfs_rows(text)]


def command_outputs(text: str, commands: list[str]) -> list[str]:
    """What the console printed for each of ``commands`` sent in one session (split at their echoes)."""
    rows = text.splitlines()
    marks = []
    start = 0
    for command in commands:
        start = rows.index(command, start) if command in rows[start:] else len(rows)
        marks.append(start)
    ends = [*marks[1:], next((i for i in range(marks[-1], len(rows)) if rows[i] == "quit"), len(rows))]
    return ["\n".join(rows[begin + 1:end]) + "\n" if begin < len(rows) else "" for begin, end in zip(marks, ends,
                                                                                                  strict=True)]


@parser(".bvfs_versions")
def parse_bvfs_versions(text: str) -> list[BvfsVersion]:
    """``.bvfs_versions``: pathid, filenameid, fileid, jobid, lstat, checksum, volume, inchanger."""
    out = []
    for line in lines(text):
        if "\t" not in line:
            continue
        cols = line.split("\t")
        if len(cols) != 8:
            raise ValueError(f"expected 8 tab-separated columns, got {len(cols)}")
        out.append(BvfsVersion(pathid=_int(cols[0]), filenameid=_int(cols[1]), fileid=_int(cols[2]),
                               jobid=_int(cols[3]), attributes=decode_lstat(cols[4]), checksum=cols[5],
                               volume=cols[6], in_changer=cols[7].strip() == "1"))
    return out


# --- the changer ----------------------------------------------------------------------------------------


@parser("label barcodes")
def parse_label_barcodes(text: str) -> LabelResult:
    """``label barcodes ... yes``: which volumes were labelled and which failed, with the daemon's reason."""
    labelled: list[tuple[str, int]] = []
    failed: list[tuple[str, int, str]] = []
    slot, reasons = 0, []
    for line in lines(text):
        if match := re.match(r'^Sending label command for Volume "(.+)" Slot (\d+) \.\.\.', line):
            slot, reasons = _int(match[2]), []
        elif match := re.match(r'^Catalog record for Volume "(.+)", Slot (\d+)\s+successfully created\.', line):
            labelled.append((match[1], _int(match[2])))
        elif match := re.match(r"^Label command failed for Volume (\S+)\.", line):
            failed.append((match[1], slot, " ".join(reasons)))
        elif re.match(r"^39\d\d |^Results=|^ERR=", line):
            reasons.append(line.strip())
    return LabelResult(labelled=tuple(labelled), failed=tuple(failed))


@parser("update slots")
def parse_update_slots(text: str) -> SlotUpdate:
    """``update slots``: the changer's slot count and what became of each barcode."""
    slots, current, updated, missing = None, [], [], []
    for line in lines(text):
        if match := re.match(r'^Device ".+" has (\d+) slots\.', line):
            slots = _int(match[1])
        elif match := re.match(r'^Catalog record for Volume "(.+)" is up to date\.', line):
            current.append(match[1])
        elif match := re.match(r'^Catalog record for Volume "(.+)" updated', line):
            updated.append(match[1])
        elif match := re.match(r'^Volume "(.+)" not found in catalog\. Slot=(\d+)', line):
            missing.append((match[1], _int(match[2])))
    if slots is None:
        raise ParseError("no 'Device ... has N slots.' line")
    return SlotUpdate(slots=slots, up_to_date=tuple(current), updated=tuple(updated), not_in_catalog=tuple(missing))
