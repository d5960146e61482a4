"""The repository's chain rules on their own: whole chains pruned, a middle stream never used as a base, an
unreadable manifest stopping decisions, one-to-one source names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.backup.backends.base import SideSnapshot
from apps.backup.models import BackupTask
from apps.backup.repository import (
    StreamFile,
    UnreadableManifest,
    chain_to,
    complete_streams,
    manifest_text,
    prune_chains,
)
from apps.backup.services.common import flat_name
from apps.backup.services.repository import incremental_base
from apps.storage.models import Dataset, Pool


def _stream(snapshot: str, base: str = "", month: str = "202612") -> StreamFile:
    kind = "incremental" if base else "full"
    return StreamFile(path=f"c/{month}/{kind}/d@{snapshot}.zfs.zst.age", source="tank/d", snapshot=snapshot,
                      base=base, kind=kind, tool="zfs", compression="zstd", recipient="age1x",
                      source_identity=f"id-{snapshot}", stream_bytes=1, sha256="0" * 64, created="")


def test_pruning_takes_whole_old_chains_and_never_a_stream_outside_a_chain():
    streams = [_stream("s1"), _stream("s2", "s1"), _stream("s3"), _stream("s4", "s3"), _stream("s5", "s2")]
    doomed = prune_chains(streams, keep=1)
    assert [s.snapshot for s in doomed] == ["s1", "s2", "s5"]  # the older chain, whole (s5 continues it)
    branch = [_stream("s1"), _stream("s2", "s1"), _stream("s3", "s2"), _stream("s4", "s2")]  # s4 forks at s2
    assert prune_chains(branch, keep=30) == []  # the orphan s4 is reported by verify, never deleted here
    assert [s.snapshot for s in chain_to(branch, "s3")] == ["s1", "s2", "s3"]


def test_only_the_end_of_the_newest_chain_is_a_base(db):
    pool = Pool.objects.create(name="tank", backend="zfs")
    task = BackupTask(pk=1, source=Dataset(pool=pool, name="tank/d"), strategy="incremental_forever")
    streams = [_stream("s1"), _stream("s2", "s1"), _stream("s3", "s2")]
    at = datetime(2026, 12, 5, tzinfo=UTC)

    def held(*names):
        return [SideSnapshot(n, f"tank/d@{n}", f"id-{n}") for n in names]

    assert incremental_base(task, streams, held("s1", "s2", "s3"), at).snapshot == "s3"
    assert incremental_base(task, streams, held("s1", "s2"), at) is None  # s3 rolled away on the source: a full, no branch
    task.strategy = "monthly_full"
    assert incremental_base(task, streams, held("s1", "s2", "s3"), datetime(2027, 1, 1, tzinfo=UTC)) is None  # a new month


def test_an_unreadable_manifest_stops_the_listing():
    good = manifest_text(_stream("s1"))
    names = ["c/202612/full/d@s1.zfs.zst.age", "c/202612/full/d@s1.zfs.zst.age.json",
             "c/202612/full/d@s2.zfs.zst.age", "c/202612/full/d@s2.zfs.zst.age.json"]
    with pytest.raises(UnreadableManifest):
        complete_streams(names, lambda paths: [good, "{not json"])
    with pytest.raises(UnreadableManifest):
        complete_streams(names, lambda paths: (_ for _ in ()).throw(OSError(5, "Input/output error")))
    assert [s.snapshot for s in complete_streams(names[:2], lambda paths: [good])] == ["s1"]


def test_source_names_map_one_to_one(db):
    pool = Pool.objects.create(name="tank", backend="zfs")

    def flat(name):
        return flat_name(BackupTask(source=Dataset(pool=pool, name=name)))

    assert flat("tank/home") == "tank_home"
    assert flat("tank/a_b") != flat("tank/a/b")
