"""The host itself: CPU, memory, block devices and filesystems, from lscpu/lsblk/findmnt and /proc."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from apps.core.errors import BackendError, parser
from apps.core.runner import LocalRunner, LoggingRunner, Runner

__all__ = [
    "BlockDevice",
    "HostBackend",
    "block_device",
    "parse_findmnt",
    "parse_lsblk",
    "parse_lscpu",
    "parse_meminfo",
]

LSBLK_COLUMNS = "NAME,KNAME,PATH,TYPE,SIZE,MODEL,SERIAL,ROTA,TRAN,FSTYPE,MOUNTPOINT,RO"
FINDMNT_COLUMNS = "TARGET,SOURCE,FSTYPE,SIZE,USED,AVAIL"


@dataclass(frozen=True, slots=True)
class BlockDevice:
    name: str
    path: str
    type: str
    size_bytes: int
    model: str = ""
    serial: str = ""
    rotational: bool = False
    transport: str = ""
    fstype: str = ""
    mountpoint: str = ""
    read_only: bool = False
    children: tuple[BlockDevice, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def in_use(self) -> str:
        """Why the device cannot become a pool member ("mounted", "filesystem", "partitions"), or ""."""
        if self.mountpoint:
            return "mounted"
        if self.fstype:
            return "filesystem"
        return "partitions" if self.children else ""


def block_device(data: dict) -> BlockDevice:
    """A BlockDevice back from its ``as_dict()`` form (as the host inventory stores it)."""
    fields = {k: data[k] for k in BlockDevice.__dataclass_fields__ if k != "children" and data.get(k) is not None}
    return BlockDevice(**{"name": "", "path": "", "type": "", "size_bytes": 0, **fields},
                       children=tuple(block_device(c) for c in data.get("children") or ()))


def _device(raw: dict) -> BlockDevice:
    return BlockDevice(
        name=raw["name"], path=raw.get("path") or f"/dev/{raw['name']}", type=raw.get("type") or "",
        size_bytes=int(raw.get("size") or 0), model=(raw.get("model") or "").strip(),
        serial=(raw.get("serial") or "").strip(), rotational=bool(raw.get("rota")), transport=raw.get("tran") or "",
        fstype=raw.get("fstype") or "", mountpoint=raw.get("mountpoint") or "", read_only=bool(raw.get("ro")),
        children=tuple(_device(c) for c in raw.get("children") or ()))


@parser
def parse_lsblk(text: str) -> list[BlockDevice]:
    """``lsblk --json --bytes`` to a device tree."""
    return [_device(d) for d in json.loads(text).get("blockdevices", [])]


@parser
def parse_findmnt(text: str) -> list[dict]:
    """``findmnt --json --bytes`` flattened to a list of mounted filesystems."""
    out: list[dict] = []

    def walk(nodes):
        for n in nodes:
            out.append({"target": n["target"], "source": n.get("source") or "", "fstype": n.get("fstype") or "",
                        "size_bytes": int(n.get("size") or 0), "used_bytes": int(n.get("used") or 0),
                        "avail_bytes": int(n.get("avail") or 0)})
            walk(n.get("children") or [])

    walk(json.loads(text).get("filesystems", []))
    return out


@parser
def parse_lscpu(text: str) -> dict:
    """``lscpu --json``: model, architecture, CPU count, threads, cores, sockets."""
    fields = {e["field"].rstrip(":"): e.get("data") for e in json.loads(text).get("lscpu", [])}
    def num(key):
        value = fields.get(key)
        return int(value) if value and str(value).isdigit() else None
    return {"model": fields.get("Model name") or "", "architecture": fields.get("Architecture") or "",
            "cpus": num("CPU(s)"), "threads_per_core": num("Thread(s) per core"),
            "cores_per_socket": num("Core(s) per socket"), "sockets": num("Socket(s)"),
            "vendor": fields.get("Vendor ID") or ""}


@parser
def parse_meminfo(text: str) -> dict:
    """/proc/meminfo (kB) to bytes: total, available, swap."""
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * (1024 if len(parts) > 1 else 1)
    return {"total_bytes": values.get("MemTotal"), "available_bytes": values.get("MemAvailable"),
            "swap_total_bytes": values.get("SwapTotal"), "swap_free_bytes": values.get("SwapFree")}


class HostBackend:
    """Reads the host's hardware and mounts through a runner."""

    def __init__(self, runner: Runner, proc: Path = Path("/proc")) -> None:
        self._runner = runner
        self._proc = proc

    def cpu(self) -> dict:
        """CPU model and counts."""
        return parse_lscpu(self._runner.run(["lscpu", "--json"], timeout=10).stdout)

    def memory(self) -> dict:
        """Memory and swap in bytes."""
        return parse_meminfo((self._proc / "meminfo").read_text())

    def block_devices(self, devices: Sequence[str] = ()) -> list[BlockDevice]:
        """Disks, partitions, loop devices, with sizes and mountpoints (only ``devices`` when given)."""
        for dev in devices:
            if not dev.startswith("/dev/"):
                raise BackendError(f"not a device path: {dev!r}")
        argv = ["lsblk", "--json", "--bytes", "-o", LSBLK_COLUMNS, *devices]
        return parse_lsblk(self._runner.run(argv, timeout=20).stdout)

    def missing_paths(self, paths: Sequence[str]) -> list[str]:
        """The absolute ``paths`` that do not exist on the host, found without running a command.

        Only a local runner's host can be looked at that way; for another runner (SSH, replay) the
        answer is "none known missing", and the tool that is given the path refuses it itself.
        """
        runner = self._runner
        while isinstance(runner, LoggingRunner):
            runner = runner.inner
        if not isinstance(runner, LocalRunner):
            return []
        return [p for p in paths if not Path(p).exists()]

    def filesystems(self) -> list[dict]:
        """Mounted real filesystems with size and use."""
        argv = ["findmnt", "--json", "--bytes", "--real", "-o", FINDMNT_COLUMNS]
        return parse_findmnt(self._runner.run(argv, timeout=20).stdout)
