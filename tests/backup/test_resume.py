"""Resumable receives (OpenZFS ``receive -s`` and ``send -t``), from recorded and source-derived outputs: zfs-fuse
has neither, so this path runs only against OpenZFS hosts (fixtures/openzfs, README there)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from apps.backup.backends.base import Replica, SideSnapshot
from apps.backup.backends.zfs import ZfsStream, parse_resume_target
from apps.backup.services import replication
from apps.core.runner import ReplayRunner
from apps.storage.backends.zfs import OPENZFS, ZFS_FUSE, ZfsBackend

FIXTURES = Path(__file__).parent / "fixtures" / "openzfs"
TOKEN = "1-c740b4e4b-d0-789c636064000310a500c4ec50360710e72765a5269740f80cd8e4d3d28a534b40329c4e4fcf17d040"


def _stream(flavour: str, runner: ReplayRunner) -> ZfsStream:
    return ZfsStream(ZfsBackend(runner, flavour=flavour), runner)


def test_openzfs_receives_resumably_and_zfs_fuse_does_not():
    replica = Replica("dst/src_fs")
    assert _stream(OPENZFS, ReplayRunner()).receive_argv(replica) == ["zfs", "receive", "-s", "-u", "dst/src_fs"]
    assert _stream(ZFS_FUSE, ReplayRunner()).receive_argv(replica) == ["zfs", "receive", "-u", "dst/src_fs"]
    assert _stream(ZFS_FUSE, ReplayRunner()).resume_token(replica) == ""  # asks nothing of zfs-fuse


def test_the_token_is_read_from_the_replica_and_names_its_snapshot():
    runner = ReplayRunner()
    runner.add(["zfs", "get", "-H", "-o", "value", "receive_resume_token", "dst/src_fs"], f"{TOKEN}\n")
    runner.add_file(FIXTURES / "zfs_send_nvt.txt")
    stream = _stream(OPENZFS, runner)
    assert stream.resume_token(Replica("dst/src_fs")) == TOKEN
    assert stream.resume_target(TOKEN) == "src/fs@calypso-4-20261201T010000000000Z"
    assert stream.send_resume_argv(TOKEN) == ["zfs", "send", "-t", TOKEN]
    none = ReplayRunner().add(["zfs", "get", "-H", "-o", "value", "receive_resume_token", "dst/x"], "-\n")
    assert _stream(OPENZFS, none).resume_token(Replica("dst/x")) == ""
    assert parse_resume_target("no token here") == ""


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)

    warning = info


def _task():
    return SimpleNamespace(source=SimpleNamespace(name="src/fs"), snapshot_prefix="calypso-4-",
                           target=SimpleNamespace(bandwidth_limit_kib=0))


def test_a_token_whose_snapshot_is_on_the_source_resumes_and_is_verified(monkeypatch):
    key = "calypso-4-20261201T010000000000Z"
    snap = SideSnapshot(key, f"src/fs@{key}", "111")
    backend = SimpleNamespace(resume_target=lambda token: f"src/fs@{key}",
                              source_snapshots=lambda dataset, prefix: [snap],
                              send_resume_argv=lambda token: ["zfs", "send", "-t", token])
    dst = SimpleNamespace(receive_argv=lambda replica: ["zfs", "receive", "-s", "-u", replica.name])
    calls = []
    monkeypatch.setattr(replication, "stream", lambda ctx, producers, consumers, **kw: calls.append(
        (producers, consumers)) or "result")
    monkeypatch.setattr(replication, "_verified", lambda ctx, task, b, d, replica, new, base, result: {
        "snapshot": new.key, "result": result})
    ctx = SimpleNamespace(log=_Log())
    done = replication._resume(ctx, _task(), backend, dst, list, Replica("dst/src_fs"), TOKEN, None)
    assert done == {"snapshot": key, "result": "result"}
    assert calls == [([["zfs", "send", "-t", TOKEN]], [["zfs", "receive", "-s", "-u", "dst/src_fs"]])]
    assert any("Resuming the interrupted receive" in line for line in ctx.log.lines)


def test_a_token_whose_snapshot_is_gone_is_discarded_and_the_run_goes_on():
    aborted = []
    backend = SimpleNamespace(resume_target=lambda token: "src/fs@calypso-4-gone",
                              source_snapshots=lambda dataset, prefix: [])
    dst = SimpleNamespace(abort_resume=aborted.append)
    ctx = SimpleNamespace(log=_Log())
    assert replication._resume(ctx, _task(), backend, dst, list, Replica("dst/src_fs"), TOKEN, None) is None
    assert aborted == [Replica("dst/src_fs")]
    assert any("Discarded the saved partial receive" in line for line in ctx.log.lines)
