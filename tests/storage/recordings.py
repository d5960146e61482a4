"""Recorded zfs-fuse outputs and the replay runners built from them (tests/storage/fixtures/zfs-fuse), and
what the conftest's fixtures are built with. Not a test module: the storage tests and conftest import it."""

from __future__ import annotations

from pathlib import Path

from apps.core.runner import ReplayRunner
from tests.hosts import BTRFS_IMAGE_BYTES, BTRFS_LABEL  # the btrfs_mount fixture's filesystem

__all__ = ["BTRFS_IMAGE_BYTES", "BTRFS_LABEL", "DATASET_NAMES", "FUSE", "POOL_LIST", "SNAP_GET", "degraded_status",
           "fuse_sync_runner", "known_pools", "recorded", "renamed", "under", "zfs_refresh"]

FUSE = Path(__file__).parent / "fixtures" / "zfs-fuse"
POOL_LIST = ["zpool", "list", "-H", "-o", "name,size,allocated,free,capacity,dedupratio,health,guid"]
DATASET_NAMES = ["zrectank", "zrectank/data", "zrectank/data/sub", "zrectank/home"]
SNAP_GET = ["zfs", "get", "-H", "-p", "-o", "name,property,value", "creation,used,referenced,userrefs,guid"]


def recorded(name: str) -> str:
    """A fixture's output (everything after the `$ command` line)."""
    return (FUSE / name).read_text().partition("\n")[2]


def fuse_sync_runner(*, pools: str | None = None, status: str | None = None) -> ReplayRunner:
    """Every command a full zfs-fuse sync runs, answered from the recordings."""
    runner = ReplayRunner()
    runner.add_file(FUSE / "zfs_version.txt")
    names = [line.split("\t")[0] for line in (pools or recorded("zpool_list.txt")).splitlines() if line]
    runner.add(POOL_LIST, stdout=pools or recorded("zpool_list.txt"))
    runner.add(["zpool", "status"], stdout=status or recorded("zpool_status_all.txt"))
    mounts = "".join(f"{n}\t/tmp/zrec/{n}\n" for n in names)
    runner.add(["zfs", "get", "-H", "-o", "name,value", "mountpoint", *names], stdout=mounts)
    runner.add(["zfs", "list", "-H", "-o", "name", "-t", "filesystem"], stdout="\n".join(DATASET_NAMES) + "\n")
    runner.add(["zfs", "get", "-H", "-p", "-o", "name,property,value,source", "all", *DATASET_NAMES],
               stdout=recorded("zfs_get_all.txt"))
    runner.add(SNAP_GET, stdout=recorded("zfs_get_snapshots_root.txt"))
    return runner


def degraded_status() -> str:
    return recorded("zpool_status_mirror_degraded.txt")


def known_pools(runner: ReplayRunner) -> ReplayRunner:
    """What the disks-in-use check reads: the pools' members from zpool status."""
    runner.add(POOL_LIST, stdout=recorded("zpool_list.txt"))
    runner.add(["zpool", "status"], stdout=recorded("zpool_status_all.txt"))
    runner.add(["zfs", "get", "-H", "-o", "name,value", "mountpoint", "zrecbig", "zrectank"], stdout="")
    return runner


def under(name: str, root: str) -> bool:
    return name == root or name.startswith((f"{root}/", f"{root}@"))


def renamed(text: str, rename: tuple[str, str] | None) -> str:
    if rename is None:
        return text
    old, new = rename
    return "".join(new + line[len(old):] if under(line.split("\t")[0], old) else line
                   for line in text.splitlines(True))


def zfs_refresh(replay: ReplayRunner, root: str, *, datasets=(), snapshots=(), gone=(), rename=None) -> None:
    """What re-reading one pool's datasets and snapshots under ``root`` runs (zfs-fuse), answered from the
    recordings: renamed, with new ``datasets``/``snapshots`` and without the ``gone`` snapshots."""
    names = [n for n in renamed("\n".join(DATASET_NAMES), rename).split("\n") if under(n, root)] + list(datasets)
    props = "".join(line for line in renamed(recorded("zfs_get_all.txt"), rename).splitlines(True)
                    if under(line.split("\t")[0], root))
    props += "".join(f"{n}\ttype\tfilesystem\t-\n{n}\tused\t19456\t-\n" for n in datasets)
    snaps = "".join(line for line in renamed(recorded("zfs_get_snapshots_root.txt"), rename).splitlines(True)
                    if under(line.split("\t")[0], root) and line.split("\t")[0] not in gone)
    snaps += "".join(f"{s}\tcreation\t1795541000\n{s}\tused\t0\n{s}\treferenced\t122880\n{s}\tuserrefs\t0\n"
                     f"{s}\tguid\t{i + 77}\n" for i, s in enumerate(snapshots))
    replay.add(["zfs", "list", "-H", "-o", "name", "-t", "filesystem", "-r", root], stdout="\n".join(names) + "\n")
    replay.add(["zfs", "get", "-H", "-p", "-o", "name,property,value,source", "all", *names], stdout=props)
    replay.add([*SNAP_GET[:4], "-r", *SNAP_GET[4:], root], stdout=snaps)
