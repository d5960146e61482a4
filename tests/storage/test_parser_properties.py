"""Every host-tool parser against damaged copies of the recorded outputs: truncated, garbled, with numbers of
300 digits, times past the year 9999 and odd names. Whatever it is given, a parser returns something the
inventory can store or raises the one typed ``ParseError``, naming the command and the line; nothing else
escapes. The backends built on them raise nothing but ``BackendError`` either.

Hypothesis runs derandomized with a bounded number of examples, so a run is repeatable and takes seconds."""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.errors import BackendError, ParseError
from apps.core.runner import CommandResult, ReplayRunner
from apps.storage.backends import btrfs_parse as bp
from apps.storage.backends import zfs_parse as zp
from apps.storage.backends.btrfs import BtrfsBackend
from apps.storage.backends.zfs import POOL_COLUMNS, ZfsBackend
from apps.system.backends import host

ROOT = Path(__file__).parent / "fixtures"
SYSTEM = Path(__file__).parents[1] / "system" / "fixtures"
PROPERTY = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MAX_INT = 2**63 - 1  # the inventory's biggest integer column
MAX_ERRORS = 2**31 - 1  # a pool's scan error count column
ODD_NAMES = ("my data", "-rf", "--help", "été", "a b  c", "x@y", "日本", "'quoted'", "$(id)", "a;b")


def body(path: Path) -> str:
    """A recording's output: after the command line and the returncode line, if any."""
    text = path.read_text().partition("\n")[2]
    return text.partition("\n")[2] if text.startswith("# returncode:") else text


def fixtures(folder: Path, *patterns: str) -> list[str]:
    found = sorted({p for pattern in patterns for p in folder.glob(pattern)})
    assert found, patterns
    return [body(p) for p in found]


def argv_of(path: Path) -> list[str]:
    return shlex.split(path.read_text().partition("\n")[0][2:])


def _scan_sections(texts: list[str]) -> list[str]:
    out = []
    for text in texts:
        if m := re.search(r"(?ms)^\s*(?:scan|scrub): (.*?)^config:", text):
            out.append(m[1])
    return out


ZFS_STATUS = fixtures(ROOT, "zfs-fuse/zpool_status_[!n]*.txt", "openzfs/zpool_status_[!n]*.txt",
                      "openzfs/zpool_status_never_scanned.txt")
FUSE_COLS, OPENZFS_COLS = POOL_COLUMNS["zfs-fuse"], POOL_COLUMNS["openzfs"]
SCRUB_PAIRS = [(body(ROOT / f"btrfs/scrub_status_{n}.txt"), body(ROOT / f"btrfs/scrub_status_{n}_summary.txt"))
               for n in ("finished", "running", "starting", "never", "errors", "degraded")]

# (name, parser taking one text, recorded texts it reads)
PARSERS: list[tuple[str, Callable[[str], object], list[str]]] = [
    ("zpool status", zp.parse_zpool_status, ZFS_STATUS),
    ("zpool status scan", zp.parse_scan, _scan_sections(ZFS_STATUS)),
    ("zpool import", zp.parse_zpool_import, fixtures(ROOT, "*/zpool_import_list.txt")),
    ("zpool list (zfs-fuse)", lambda t: zp.parse_zpool_list(t, FUSE_COLS), fixtures(ROOT, "zfs-fuse/zpool_list.txt")),
    ("zpool list (openzfs)", lambda t: zp.parse_zpool_list(t, OPENZFS_COLS), fixtures(ROOT, "openzfs/zpool_list.txt")),
    ("zfs get", zp.parse_zfs_get, fixtures(ROOT, "*/zfs_get_all*.txt", "*/zfs_get_pool_mountpoints.txt")),
    ("zfs get datasets", lambda t: zp.datasets_from_properties(zp.parse_zfs_get(t)),
     fixtures(ROOT, "*/zfs_get_all*.txt")),
    ("zfs get values", zp.parse_zfs_get_values, fixtures(ROOT, "zfs-fuse/zfs_get_snapshots*.txt")),
    ("zfs get snapshots", lambda t: zp.snapshots_from_values(zp.parse_zfs_get_values(t)),
     fixtures(ROOT, "zfs-fuse/zfs_get_snapshots*.txt")),
    ("zfs list -t snapshot", zp.parse_zfs_list_snapshots, fixtures(ROOT, "openzfs/zfs_list_snapshots*.txt")),
    ("zfs holds", zp.parse_zfs_holds, fixtures(ROOT, "openzfs/zfs_holds*.txt")),
    ("zfs version", lambda t: zp.detect_flavour(0, t, ""), fixtures(ROOT, "openzfs/zfs_version*.txt")),
    ("btrfs filesystem show", bp.parse_btrfs_filesystem_show, fixtures(ROOT, "btrfs/fs_show_[!n]*.txt",
                                                                       "btrfs/fs_show_nolabel.txt",
                                                                       "btrfs/*_fs_show.txt")),
    ("btrfs filesystem show (all)", bp.parse_btrfs_filesystems, fixtures(ROOT, "btrfs/fs_show_two.txt")),
    ("btrfs filesystem usage", bp.parse_btrfs_filesystem_usage, fixtures(ROOT, "btrfs/fs_usage_*.txt")),
    ("btrfs subvolume list", bp.parse_btrfs_subvolume_list, fixtures(ROOT, "btrfs/*subvolume_list*.txt")),
    ("btrfs subvolume show", bp.parse_btrfs_subvolume_show, fixtures(ROOT, "btrfs/*subvolume_show*.txt")),
    ("btrfs property get", bp.parse_btrfs_property_ro, fixtures(ROOT, "btrfs/property_get_ro_*.txt")),
    ("btrfs scrub status -R", bp.parse_btrfs_scrub_counters, [raw for raw, _ in SCRUB_PAIRS]),
    ("btrfs scrub status --raw", lambda t: bp.parse_btrfs_scrub_status("", t), [s for _, s in SCRUB_PAIRS]),
    ("btrfs balance status", bp.parse_btrfs_balance_status, fixtures(ROOT, "btrfs/balance_status_[nrp]*.txt")),
    ("btrfs device stats", bp.parse_btrfs_device_stats, fixtures(ROOT, "btrfs/device_stats_*.txt")),
    ("lsblk", host.parse_lsblk, fixtures(ROOT, "host/lsblk_devices.txt") + fixtures(SYSTEM, "lsblk.txt")),
    ("findmnt", host.parse_findmnt, fixtures(SYSTEM, "findmnt.txt")),
    ("lscpu", host.parse_lscpu, fixtures(SYSTEM, "lscpu.txt")),
]


# ---------------------------------------------------------------- damage
def _replace_match(draw, text: str, pattern: str, replacement: st.SearchStrategy[str]) -> str:
    matches = list(re.finditer(pattern, text))
    if not matches:
        return text
    m = draw(st.sampled_from(matches))
    return text[: m.start()] + draw(replacement) + text[m.end() :]


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True) or [""]


JUNK = st.text(st.sampled_from("aZ09 \t:-/@.,()%x٣\u00e9"), max_size=24)


@st.composite
def damaged(draw, text: str) -> str:
    """``text`` with one to three kinds of damage a tool's output may show (or a buggy tool may print)."""
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(("truncate", "cut", "drop", "junk", "garble", "huge", "future", "name")))
        rows = _lines(text)
        i = draw(st.integers(0, len(rows) - 1))
        if kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
        elif kind == "cut":
            rows[i] = rows[i][: draw(st.integers(0, len(rows[i])))]
            text = "".join(rows)
        elif kind == "drop":
            text = "".join(rows[:i] + rows[i + 1 :])
        elif kind == "junk":
            text = "".join([*rows[:i], draw(JUNK) + "\n", *rows[i:]])
        elif kind == "garble":
            start = draw(st.integers(0, len(text)))
            text = text[:start] + draw(JUNK) + text[start + draw(st.integers(0, 12)) :]
        elif kind == "huge":
            text = _replace_match(draw, text, r"\d+", st.sampled_from(("9" * 300, "1" + "0" * 299, "4" * 20)))
        elif kind == "future":
            text = _replace_match(draw, text, r"\b(?:19|20)\d\d\b|\b1[5-9]\d{8}\b",
                                  st.sampled_from(("10000", "99999", "253402300800", "9" * 18)))
        else:
            words = sorted(set(re.findall(r"[A-Za-z][\w.:@/-]{2,}", text)))
            if words:
                word, odd = draw(st.sampled_from(words)), draw(st.sampled_from(ODD_NAMES))
                text = text.replace(word, odd)
    return text


# ---------------------------------------------------------------- what comes out
def storable(value, path: str = "result") -> None:
    """Every number and time in a parser's result fits the inventory's columns."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            storable(item, f"{path}.{f.name}")
            if f.name == "errors" and isinstance(item, int):
                assert item <= MAX_ERRORS, path
            if f.name.endswith("_percent") and isinstance(item, int | float):
                assert 0 <= item <= 32767, path
    elif isinstance(value, dict):
        for k, v in value.items():
            storable(v, f"{path}[{k!r}]")
    elif isinstance(value, list | tuple | set):
        for i, v in enumerate(value):
            storable(v, f"{path}[{i}]")
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        assert abs(value) <= MAX_INT, f"{path} = {value}"
    elif isinstance(value, float):
        assert value == value and abs(value) < 1e300, f"{path} = {value}"
    elif isinstance(value, datetime):
        assert value.tzinfo is not None, path


# The host inventory keeps these as JSON, where any number fits: only the error is checked.
UNBOUNDED = {"lsblk", "findmnt", "lscpu"}


def parses_or_typed_error(parse: Callable[[str], object], text: str, *, bounded: bool = True) -> None:
    try:
        result = parse(text)
    except ParseError as exc:
        assert exc.code == "unreadable_output" and exc.status_code == 502
        assert exc.command and f"`{exc.command}`" in str(exc), str(exc)
        if exc.line is not None:
            assert repr(exc.line[:200]) in str(exc)
        return
    if bounded:
        storable(result)


# ---------------------------------------------------------------- the properties
@pytest.mark.parametrize(("name", "parse", "texts"), PARSERS, ids=[p[0] for p in PARSERS])
def test_recorded_outputs_parse_and_parse_the_same_twice(name, parse, texts):
    for text in texts:
        first = parse(text)
        assert first == parse(text)
        if name not in UNBOUNDED:
            storable(first)


@pytest.mark.parametrize(("name", "parse", "texts"), PARSERS, ids=[p[0] for p in PARSERS])
def test_damaged_outputs_raise_only_the_typed_error(name, parse, texts):
    @PROPERTY
    @given(st.data())
    def check(data):
        text = data.draw(st.sampled_from(texts).flatmap(damaged), label="output")
        parses_or_typed_error(parse, text, bounded=name not in UNBOUNDED)

    check()


@PROPERTY
@given(st.sampled_from(SCRUB_PAIRS).flatmap(lambda pair: st.tuples(damaged(pair[0]), damaged(pair[1]))))
def test_damaged_scrub_status_pairs_raise_only_the_typed_error(pair):
    parses_or_typed_error(lambda raw: bp.parse_btrfs_scrub_status(raw, pair[1]), pair[0])


@PROPERTY
@given(st.text(max_size=40) | st.from_regex(r"\A[0-9]{1,320}(\.[0-9]{1,5})?[BKMGTPEZ]?\Z"))
def test_number_and_time_readers_raise_only_the_typed_error(text):
    for read in (zp.parse_size, zp.parse_count, zp.parse_ctime):
        parses_or_typed_error(read, text)


def test_parse_error_names_the_command_and_the_line():
    line = "\t    /tmp/zrec/a.img  ONLINE       0     0     " + "9" * 300
    text = body(ROOT / "zfs-fuse/zpool_status_mirror_healthy.txt").replace(
        "\t    /tmp/zrec/a.img  ONLINE       0     0     0", line)
    with pytest.raises(ParseError) as err:
        zp.parse_zpool_status(text)
    assert (err.value.command, err.value.line) == ("zpool status", line)
    assert "`zpool status`" in str(err.value) and "/tmp/zrec/a.img" in str(err.value)
    usage = body(ROOT / "btrfs/fs_usage_single.txt").replace("Used:314572800", "Used:" + "1" * 300)
    with pytest.raises(ParseError) as err:
        bp.parse_btrfs_filesystem_usage(usage)
    assert err.value.command == "btrfs filesystem usage" and err.value.line.startswith("Data,single:")
    with pytest.raises(ParseError, match="btrfs subvolume show") as err:
        bp.parse_btrfs_subvolume_show(body(ROOT / "btrfs/subvolume_show_snapshot.txt").replace("2026-11-24", "12026-11-24"))
    assert "Creation time" in err.value.line


# ---------------------------------------------------------------- the backends on top
BTRFS_INFO = ("fs_show_single", "fs_usage_single", "device_stats_single", "scrub_status_finished",
              "scrub_status_finished_summary")  # fmt: skip
BTRFS_LISTING = ("fs_show_single", "subvolume_list", "subvolume_list_readonly", "subvolume_list_snapshots",
                 "subvolume_show_root")  # fmt: skip
MNT = "/tmp/brec/mnt1"


def _replay(paths: list[Path], damage: dict[int, str]) -> ReplayRunner:
    runner = ReplayRunner()
    for i, path in enumerate(paths):
        runner.add(argv_of(path), stdout=damage.get(i, body(path)))
    return runner


@st.composite
def one_damaged(draw, paths: list[Path]) -> dict[int, str]:
    i = draw(st.integers(0, len(paths) - 1))
    return {i: draw(damaged(body(paths[i])))}


def _only_backend_errors(call: Callable[[], object]) -> None:
    try:
        storable(call())
    except BackendError:
        pass


BTRFS_INFO_PATHS = [ROOT / "btrfs" / f"{n}.txt" for n in BTRFS_INFO]
BTRFS_LISTING_PATHS = [ROOT / "btrfs" / f"{n}.txt" for n in BTRFS_LISTING]


@PROPERTY
@given(one_damaged(BTRFS_INFO_PATHS))
def test_btrfs_filesystem_info_raises_only_backend_errors(damage):
    backend = BtrfsBackend(_replay(BTRFS_INFO_PATHS, damage))
    _only_backend_errors(lambda: backend.filesystem_info(MNT))


@PROPERTY
@given(one_damaged(BTRFS_LISTING_PATHS))
def test_btrfs_listings_raise_only_backend_errors(damage):
    runner = _replay(BTRFS_LISTING_PATHS, damage)
    _only_backend_errors(lambda: BtrfsBackend(runner).list_subvolumes(MNT))
    _only_backend_errors(lambda: BtrfsBackend(runner).list_snapshots(MNT))


FUSE_POOLS = [ROOT / "zfs-fuse" / n for n in ("zpool_list.txt", "zpool_status_all.txt")]
MOUNTPOINTS = ("zfs", "get", "-H", "-o", "name,value", "mountpoint")


class _AnyMountpoints(ReplayRunner):
    """Answers the mountpoint query for whatever pools a damaged listing names (none set)."""

    def run(self, argv, **kwargs):
        if tuple(argv[: len(MOUNTPOINTS)]) == MOUNTPOINTS:
            return CommandResult(tuple(argv), 0, "", "", 0.0)
        return super().run(argv, **kwargs)


@PROPERTY
@given(one_damaged(FUSE_POOLS))
def test_zfs_pool_listing_raises_only_backend_errors(damage):
    runner = _AnyMountpoints()
    for i, path in enumerate(FUSE_POOLS):
        runner.add(argv_of(path), stdout=damage.get(i, body(path)))
    _only_backend_errors(lambda: ZfsBackend(runner, flavour="zfs-fuse").list_pools())
