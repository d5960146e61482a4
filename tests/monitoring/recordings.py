"""Recorded smartctl JSON (tests/monitoring/fixtures/, see its README) and the lsblk listings that go with it."""

from __future__ import annotations

import json
from pathlib import Path

from apps.core.runner import ReplayRunner
from apps.system.backends.host import LSBLK_COLUMNS

FIXTURES = Path(__file__).parent / "fixtures"
LSBLK = ("lsblk", "--json", "--bytes", "-o", LSBLK_COLUMNS)


def recorded(name: str) -> str:
    return (FIXTURES / name).read_text()


def exit_status(name: str) -> int:
    return json.loads(recorded(name))["smartctl"].get("exit_status", 0)


def smartctl(runner: ReplayRunner, option: str, device: str, fixture: str) -> ReplayRunner:
    """``smartctl --json=c <option> <device>`` answers the recording, with the exit status it recorded."""
    return runner.add(["smartctl", "--json=c", option, device], stdout=recorded(fixture),
                      returncode=exit_status(fixture))


def lsblk_disk(name: str, size: int, *, model=None, serial=None, tran=None, rota=True, fstype=None,
               mountpoint=None, children=(), type_="disk") -> dict:
    return {"name": name, "kname": name, "path": f"/dev/{name}", "type": type_, "size": size, "model": model,
            "serial": serial, "rota": rota, "tran": tran, "fstype": fstype, "mountpoint": mountpoint, "ro": False,
            **({"children": list(children)} if children else {})}


def lsblk(runner: ReplayRunner, *devices: dict) -> ReplayRunner:
    return runner.add(LSBLK, stdout=json.dumps({"blockdevices": list(devices)}))


def host_with_five_disks(runner: ReplayRunner) -> ReplayRunner:
    """sda (SATA SSD, in pool tank through its partition), sdb (SAS), sdc (failing), nvme0n1, vda (no SMART);
    zram0 and loop0 are not disks."""
    lsblk(runner,
          lsblk_disk("zram0", 0, rota=False),
          lsblk_disk("loop0", 1 << 30, type_="loop"),
          lsblk_disk("sda", 500107862016, model="Samsung SSD 860 EVO 500GB", serial="S3YZNB0KB00864E", tran="sata",
                     rota=False, children=[lsblk_disk("sda1", 500105764864, fstype="zfs_member", type_="part")]),
          lsblk_disk("sdb", 1200243695616, model="ST1200MM0088", tran="sas"),
          lsblk_disk("sdc", 500107862016, model="HDS721050DLE630", tran="usb"),
          lsblk_disk("nvme0n1", 1024209543168, model="INTEL SSDPEKNW010T8", tran="nvme", rota=False),
          lsblk_disk("vda", 274877906944))
    smartctl(runner, "-a", "/dev/sda", "ata.json")
    smartctl(runner, "-a", "/dev/sdb", "sas.json")
    smartctl(runner, "-a", "/dev/sdc", "ata-failing.json")
    smartctl(runner, "-a", "/dev/nvme0n1", "nvme.json")
    return smartctl(runner, "-a", "/dev/vda", "vda-unsupported.json")
