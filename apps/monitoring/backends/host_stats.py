"""The host's counters for the metrics collector: CPU, memory, load, network and disk I/O from ``/proc``
(read as files: no process per tick), and pool I/O from ``zpool iostat``.

The parsers are pure and return counters; rates are the collector's business (two readings apart)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from apps.core.errors import lines, parser
from apps.core.runner import Runner
from apps.storage.backends.zfs_parse import parse_size
from apps.system.backends.host import parse_meminfo

__all__ = ["Counters", "HostStats", "PoolIO", "parse_diskstats", "parse_loadavg", "parse_net_dev", "parse_proc_stat",
           "parse_zpool_iostat"]

SECTOR = 512  # /proc/diskstats counts 512-byte sectors whatever the device's own sector size
WHOLE_DISK = re.compile(r"^(sd[a-z]+|vd[a-z]+|xvd[a-z]+|hd[a-z]+|nvme\d+n\d+|mmcblk\d+)$")
SKIPPED_INTERFACES = re.compile(r"^(lo|ifb\d+|veth.*|docker\d+|podman\d+|cni.*|virbr\d+-nic)$")


@dataclass(frozen=True)
class Counters:
    """One reading: monotonic counters (CPU jiffies, bytes) and instant values (memory, load)."""

    cpu_busy: int
    cpu_total: int
    load1: float
    mem_total: int
    mem_available: int
    net: dict[str, tuple[int, int]]  # interface -> (rx bytes, tx bytes)
    disks: dict[str, tuple[int, int]]  # whole disk -> (read bytes, written bytes)


@dataclass(frozen=True)
class PoolIO:
    """A pool's I/O over the sampling interval: operations and bytes per second."""

    read_ops: float
    write_ops: float
    read_bps: float
    write_bps: float


@parser("/proc/stat")
def parse_proc_stat(text: str) -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs together; idle and iowait are not busy."""
    for line in lines(text):
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + (values[4] if len(values) > 4 else 0)
            total = sum(values[:8])  # guest time is already counted in user time
            return total - idle, total
    raise ValueError("no cpu line")


@parser("/proc/loadavg")
def parse_loadavg(text: str) -> float:
    return float(text.split()[0])


@parser("/proc/net/dev")
def parse_net_dev(text: str) -> dict[str, tuple[int, int]]:
    """Interface -> (received, sent) bytes, loopback and virtual plumbing left out."""
    out = {}
    for line in lines(text):
        name, sep, rest = line.partition(":")
        name = name.strip()
        if not sep or "|" in rest or SKIPPED_INTERFACES.match(name):
            continue
        fields = rest.split()
        out[name] = (int(fields[0]), int(fields[8]))
    return out


@parser("/proc/diskstats")
def parse_diskstats(text: str) -> dict[str, tuple[int, int]]:
    """Whole disk -> (read, written) bytes; partitions, loop and device-mapper devices left out."""
    out = {}
    for line in lines(text):
        fields = line.split()
        if len(fields) >= 10 and WHOLE_DISK.match(fields[2]):
            out[fields[2]] = (int(fields[5]) * SECTOR, int(fields[9]) * SECTOR)
    return out


@parser("zpool iostat")
def parse_zpool_iostat(text: str, pools: Sequence[str]) -> dict[str, PoolIO]:
    """``zpool iostat POOL... INTERVAL 2``: the last row of each pool is its I/O over the interval (the first
    is the average since import). Sizes are human ("14.0M") on zfs-fuse and OpenZFS alike."""
    wanted, out = set(pools), {}
    for line in lines(text):
        fields = line.split()
        if len(fields) == 7 and fields[0] in wanted:
            rops, wops, rbw, wbw = (parse_size(f) or 0 for f in fields[3:7])
            out[fields[0]] = PoolIO(float(rops), float(wops), float(rbw), float(wbw))
    return out


class HostStats:
    """Reads the counters of the host the portal runs on, and pool I/O through the runner."""

    def __init__(self, runner: Runner, proc: Path = Path("/proc")) -> None:
        self._runner = runner
        self._proc = proc

    def counters(self) -> Counters:
        """CPU, memory, load, network and disk counters, from five small files."""
        busy, total = parse_proc_stat(self._read("stat"))
        memory = parse_meminfo(self._read("meminfo"))
        return Counters(busy, total, parse_loadavg(self._read("loadavg")), memory["total_bytes"] or 0,
                        memory["available_bytes"] or 0, parse_net_dev(self._read("net/dev")),
                        parse_diskstats(self._read("diskstats")))

    def pool_io(self, pools: Sequence[str], interval_s: int = 1) -> dict[str, PoolIO]:
        """Each ZFS pool's operations and bandwidth over ``interval_s`` seconds."""
        if not pools:
            return {}
        argv = ["zpool", "iostat", *pools, str(interval_s), "2"]
        return parse_zpool_iostat(self._runner.run(argv, timeout=30 + interval_s).stdout, pools)

    def _read(self, name: str) -> str:
        return (self._proc / name).read_text()
