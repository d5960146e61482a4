"""``classify`` against the real failure outputs of zfs-fuse and btrfs-progs (recorded) and OpenZFS's wording
(taken from its source): each one gives its typed error, keeps the tool's words and tells the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.backup.backends.stream_errors import (
    BaseMismatch,
    BrokenPipe,
    MissingBase,
    SourceNotReadOnly,
    SourceSnapshotMissing,
    StreamError,
    TargetExists,
    TargetFull,
    TargetModified,
    TruncatedStream,
    classify,
)
from apps.core.runner import CommandResult, ReplayRunner

__all__: list[str] = []

FIXTURES = Path(__file__).parent / "fixtures"

EXPECTED: dict[str, type[StreamError]] = {
    # zfs-fuse 0.7, recorded
    "zfs-fuse/zfs_receive_empty_stream": TruncatedStream,
    "zfs-fuse/zfs_receive_full_exists": TargetExists,
    # the target has snapshots, none of them the base: zfs words it as a mismatch
    "zfs-fuse/zfs_receive_incremental_missing_base": BaseMismatch,
    "zfs-fuse/zfs_receive_incremental_missing_dataset": MissingBase,
    "zfs-fuse/zfs_receive_incremental_modified": TargetModified,
    # the target has no snapshot at all: zfs-fuse words it as modified (without -F) or a mismatch (with -F)
    "zfs-fuse/zfs_receive_incremental_no_snapshots": TargetModified,
    "zfs-fuse/zfs_receive_incremental_no_snapshots_force": BaseMismatch,
    "zfs-fuse/zfs_receive_incremental_nomatch": BaseMismatch,
    "zfs-fuse/zfs_receive_o_unsupported": StreamError,
    "zfs-fuse/zfs_receive_out_of_space": TargetFull,
    "zfs-fuse/zfs_receive_s_unsupported": StreamError,
    "zfs-fuse/zfs_receive_truncated_begin": TruncatedStream,
    "zfs-fuse/zfs_receive_truncated_data": TruncatedStream,
    "zfs-fuse/zfs_receive_truncated_header": TruncatedStream,
    "zfs-fuse/zfs_receive_truncated_incremental": TruncatedStream,
    "zfs-fuse/zfs_send_broken_pipe": BrokenPipe,
    "zfs-fuse/zfs_send_dataset_missing": SourceSnapshotMissing,
    "zfs-fuse/zfs_send_incremental_base_missing": SourceSnapshotMissing,
    "zfs-fuse/zfs_send_incremental_base_missing_short": SourceSnapshotMissing,
    "zfs-fuse/zfs_send_incremental_base_newer": StreamError,
    "zfs-fuse/zfs_send_nP_unsupported": StreamError,
    "zfs-fuse/zfs_send_s_unsupported": StreamError,
    "zfs-fuse/zfs_send_snapshot_missing": SourceSnapshotMissing,
    # btrfs-progs 6.2, recorded
    "btrfs/btrfs_receive_empty_stream": TruncatedStream,
    "btrfs/btrfs_receive_full_exists": TargetExists,
    "btrfs/btrfs_receive_incremental_exists": TargetExists,
    "btrfs/btrfs_receive_incremental_missing_parent": MissingBase,
    "btrfs/btrfs_receive_no_dir": StreamError,
    "btrfs/btrfs_receive_no_space": TargetFull,
    "btrfs/btrfs_receive_truncated": TruncatedStream,
    "btrfs/btrfs_receive_truncated_boundary": TruncatedStream,
    "btrfs/btrfs_receive_truncated_data": TruncatedStream,
    "btrfs/btrfs_receive_truncated_header": TruncatedStream,
    "btrfs/btrfs_send_broken_pipe": BrokenPipe,
    "btrfs/btrfs_send_killed_by_sigpipe": BrokenPipe,
    "btrfs/btrfs_send_missing": SourceSnapshotMissing,
    "btrfs/btrfs_send_not_readonly": SourceNotReadOnly,
    "btrfs/btrfs_send_parent_missing": SourceSnapshotMissing,
    # OpenZFS 2.x wording, from lib/libzfs/libzfs_sendrecv.c
    "openzfs/zfs_receive_checksum_mismatch": TruncatedStream,
    "openzfs/zfs_receive_failed_read": TruncatedStream,
    "openzfs/zfs_receive_full_exists": TargetExists,
    "openzfs/zfs_receive_full_has_snapshots": TargetExists,
    "openzfs/zfs_receive_incomplete_resumable": TruncatedStream,
    "openzfs/zfs_receive_incomplete_stream": TruncatedStream,
    "openzfs/zfs_receive_incremental_missing_dataset": MissingBase,
    "openzfs/zfs_receive_incremental_modified": TargetModified,
    "openzfs/zfs_receive_incremental_nomatch": BaseMismatch,
    "openzfs/zfs_receive_out_of_space": TargetFull,
    "openzfs/zfs_receive_quota_exceeded": TargetFull,
    "openzfs/zfs_receive_snapshot_exists": TargetExists,
    "openzfs/zfs_send_broken_pipe": BrokenPipe,
    "openzfs/zfs_send_incremental_base_missing": SourceSnapshotMissing,
    "openzfs/zfs_send_replicate_base_missing": SourceSnapshotMissing,
    "openzfs/zfs_send_snapshot_missing": SourceSnapshotMissing,
}


def replay(name: str) -> CommandResult:
    """The recorded result of fixture ``name`` (``dir/file`` without ``.txt``)."""
    runner = ReplayRunner().add_file(FIXTURES / f"{name}.txt")
    (argv,) = runner.recordings
    return runner.run(argv, check=False)


def failures() -> set[str]:
    names = {f"{p.parent.name}/{p.stem}" for d in ("zfs-fuse", "btrfs", "openzfs") for p in (FIXTURES / d).glob("*.txt")}
    return {n for n in names if replay(n).returncode != 0}


def test_every_failure_fixture_has_an_expectation():
    assert failures() == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_classifies(name):
    result = replay(name)
    error = classify(" ".join(result.argv[:2]), result.stderr, result.returncode, result.argv)
    kind = EXPECTED[name]
    assert type(error) is kind
    assert error.stderr == result.stderr and error.returncode == result.returncode and error.argv == result.argv
    assert error.message == str(error)
    assert error.message.startswith(f"{kind.what}: ") and error.message.endswith(kind.fix)
    words = [line.strip().rstrip(".") for line in result.stderr.splitlines()
             if line.strip() and not line.startswith(("At subvol", "At snapshot"))]
    assert all(w in error.message for w in words)


def test_message_joins_what_words_and_fix():
    error = classify("zfs receive", "cannot receive incremental stream: destination dst/fs has been modified\n"
                     "since most recent snapshot\n", 1, ("zfs", "receive", "dst/fs"))
    assert isinstance(error, TargetModified) and error.code == "target_modified"
    assert error.message == ("The target was changed after its most recent snapshot: cannot receive incremental "
                             "stream: destination dst/fs has been modified since most recent snapshot. "
                             + TargetModified.fix)


def test_codes_are_distinct():
    kinds = {TargetModified, BaseMismatch, MissingBase, SourceSnapshotMissing, TargetExists, SourceNotReadOnly,
             TruncatedStream, BrokenPipe, TargetFull, StreamError}
    assert len({k.code for k in kinds}) == len(kinds)
    assert all(k.fix and k.fix.endswith(".") for k in kinds)


def test_unknown_message_stays_plain():
    error = classify("zfs receive", "cannot receive: something new went wrong\n", 1, ("zfs", "receive", "dst/fs"))
    assert type(error) is StreamError and error.code == "stream_failed"
    assert error.stderr == "cannot receive: something new went wrong\n"
    assert "something new went wrong" in error.message and error.message.endswith(StreamError.fix)


def test_rules_belong_to_their_tool():
    # a receive never reports a missing source snapshot, whatever it prints
    error = classify("zfs receive", "cannot open 'dst/x': dataset does not exist\n", 1)
    assert type(error) is StreamError


@pytest.mark.parametrize("stderr, kind", [
    # btrfs-progs newer than the recorded 6.2 (cmds/receive.c, cmds/send.c, common/send-stream.c)
    ("ERROR: snapshot receive: cannot find parent subvolume 98bdace5-13bc-794e-889d-46ad487f73eb\n", MissingBase),
    ("ERROR: clone: cannot find source subvol 98bdace5-13bc-794e-889d-46ad487f73eb\n", MissingBase),
    ("At subvol s1\nERROR: send stream is truncated\n", TruncatedStream),
    ("At subvol s1\nERROR: crc32 mismatch in command\n", TruncatedStream),
    ("ERROR: writing to blob failed: Disk quota exceeded\n", TargetFull),
])
def test_btrfs_receive_wordings(stderr, kind):
    assert type(classify("btrfs receive", stderr, 1)) is kind


def test_btrfs_send_parent_not_readonly():
    error = classify("btrfs send", "ERROR: parent subvolume /mnt/src/snaps/rw1 is not read-only\n", 1)
    assert type(error) is SourceNotReadOnly


@pytest.mark.parametrize("tool, argv", [
    ("ssh backup", ("ssh", "backup", "--", "/usr/sbin/zfs", "recv", "-u", "dst/fs")),
    ("", ("btrfs", "-q", "receive", "/mnt/dst")),
    ("zfs recv", ()),
])
def test_tool_inferred_from_argv(tool, argv):
    stderr = ("cannot receive incremental stream: most recent snapshot of dst/fs does not\nmatch incremental source\n"
              if "zfs" in tool + " ".join(argv) else "ERROR: cannot find parent subvolume\n")
    error = classify(tool, stderr, 1, argv)
    assert type(error) in (BaseMismatch, MissingBase) and error.tool in ("zfs receive", "btrfs receive")


def test_sigpipe_without_words_is_a_broken_pipe():
    error = classify("btrfs send", "At subvol /mnt/src/snaps/s1\n", 141, ("btrfs", "send", "/mnt/src/snaps/s1"))
    assert type(error) is BrokenPipe and "terminated by SIGPIPE" in error.message
