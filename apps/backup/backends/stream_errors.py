"""Typed errors of ``zfs send``/``zfs receive`` and ``btrfs send``/``btrfs receive``.

A failed replication stream leaves nothing but a few lines of stderr; ``classify`` reads them and gives back
a ``StreamError`` subclass with a stable ``code`` a client can branch on and a ``fix`` sentence an operator
can act on. The patterns are the tools' stable message fragments, in both wordings we meet: zfs-fuse 0.7
(recorded in tests/backup/fixtures/zfs-fuse) and OpenZFS 2.x (lib/libzfs/libzfs_sendrecv.c, fixtures in
tests/backup/fixtures/openzfs), and btrfs-progs 6.x (cmds/receive.c, cmds/send.c, common/send-stream.c).

Some causes cannot be told apart from stderr alone: an incremental stream received onto a target that has
snapshots but not the base reads exactly like a base mismatch, and onto a target with no snapshot at all
(zfs-fuse) like a modified target. The caller, which knows the target's snapshots, refines those.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from apps.core.errors import BackendError

__all__ = ["TOOLS", "BaseMismatch", "BrokenPipe", "MissingBase", "SourceNotReadOnly", "SourceSnapshotMissing",
           "StreamError", "TargetExists", "TargetFull", "TargetModified", "TruncatedStream", "classify"]

TOOLS = ("zfs send", "zfs receive", "btrfs send", "btrfs receive")
_ALIASES = {"zfs recv": "zfs receive", "btrfs recv": "btrfs receive"}
# A process killed by SIGPIPE: -13 from subprocess, 141 (128 + 13) through a shell or ssh.
_SIGPIPE_CODES = frozenset({-13, 141})
# Progress lines btrfs prints before the error; they are not the tool's complaint.
_PROGRESS = re.compile(r"^(At (subvol|snapshot) |receiving (subvol|snapshot) |write \S+ - offset=)")


class StreamError(BackendError):
    """A send or receive failed. ``stderr`` keeps the tool's own words; ``message`` reads
    "<what happened>: <the tool's words>. <fix>"."""

    code = "stream_failed"
    what = "The snapshot stream failed"
    fix = "Read the tool's message, correct its cause, then run the replication again."

    def __init__(self, stderr: str = "", *, tool: str = "", argv: tuple[str, ...] = (),
                 returncode: int | None = None) -> None:
        self.tool = tool
        super().__init__(_compose(self.what, _words(stderr, returncode), self.fix), argv=tuple(argv),
                         returncode=returncode, stderr=stderr)

    @property
    def message(self) -> str:
        return str(self)


class TargetModified(StreamError):
    code = "target_modified"
    what = "The target was changed after its most recent snapshot"
    fix = ("Roll the target back to its most recent snapshot (zfs rollback), which discards the changes made "
           "on it, then run the replication again.")


class BaseMismatch(StreamError):
    code = "base_mismatch"
    what = "The target's most recent snapshot is not the base of this incremental stream"
    fix = ("Roll the target back to the newest snapshot it shares with the source, or destroy the target and "
           "start over with a full send.")


class MissingBase(StreamError):
    code = "missing_base"
    what = "The target does not have the base snapshot of this incremental stream"
    fix = "Send a full stream first (or restore the base snapshot on the target), then send increments again."


class SourceSnapshotMissing(StreamError):
    code = "source_snapshot_missing"
    what = "A snapshot to send does not exist on the source"
    fix = ("Check that the snapshot, and for an incremental send its base, still exists on the source; if the "
           "base was destroyed, start over with a full send.")


class TargetExists(StreamError):
    code = "target_exists"
    what = "The target already has a dataset or snapshot of that name"
    fix = "Choose another target name, or destroy or force-overwrite the existing target if it is disposable."


class SourceNotReadOnly(StreamError):
    code = "source_not_readonly"
    what = "Only a read-only snapshot can be sent"
    fix = "Send a read-only snapshot (btrfs subvolume snapshot -r), not a writable subvolume."


class TruncatedStream(StreamError):
    code = "truncated_stream"
    what = "The stream ended early or is damaged"
    fix = ("Check the sending side and the link between them (its error is usually the cause), then run the "
           "replication again; a partly received target may need cleaning up.")


class BrokenPipe(StreamError):
    code = "broken_pipe"
    what = "The other side stopped reading the stream"
    fix = "Look at the receiving side's error: it is the cause, this side only lost its reader."


class TargetFull(StreamError):
    code = "target_full"
    what = "The target ran out of space"
    fix = "Free space on the target (or raise its quota), or replicate to a larger target, then run it again."


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: type[StreamError]
    tools: frozenset[str]
    pattern: re.Pattern[str]


def _rule(kind: type[StreamError], tools: tuple[str, ...], *fragments: str) -> list[_Rule]:
    return [_Rule(kind, frozenset(tools), re.compile(f, re.IGNORECASE)) for f in fragments]


_ZFS_RECV, _ZFS_SEND, _BTRFS_RECV, _BTRFS_SEND = ("zfs receive",), ("zfs send",), ("btrfs receive",), ("btrfs send",)


# First match wins: the specific complaints come before the generic stream and space ones.
_RULES: list[_Rule] = [
    *_rule(TargetModified, _ZFS_RECV, r"has been modified\s+since (the )?most recent snapshot"),
    *_rule(BaseMismatch, _ZFS_RECV, r"most recent snapshot of \S+ does not\s+match incremental source"),
    *_rule(MissingBase, _ZFS_RECV, r"incremental stream: destination '?\S+?'? does not exist"),
    *_rule(MissingBase, _BTRFS_RECV, r"cannot find parent subvolume", r"cannot find source subvol"),
    *_rule(TargetExists, _ZFS_RECV, r"destination '[^']+' exists\s+must specify -F",
           r"destination has snapshots", r"destination already exists", r"destination '[^']+' is a clone"),
    *_rule(TargetExists, _BTRFS_RECV, r"creating (subvolume|snapshot) .+ failed: File exists"),
    *_rule(SourceNotReadOnly, _BTRFS_SEND, r"subvolume \S+ is not read-only"),
    *_rule(SourceSnapshotMissing, _ZFS_SEND, r"incremental source \(.+\) does not exist",
           r"incremental source could not be found", r"incremental source \S+ no longer exists",
           r"could not send \S+: does not exist", r"snapshot \S+ does not exist",
           r"cannot open '[^']+': dataset does not exist"),
    *_rule(SourceSnapshotMissing, _BTRFS_SEND, r"unable to resolve ", r"could not resolve rootid",
           r"realpath \S+ failed: No such file or directory"),
    *_rule(TargetFull, TOOLS, r"out of space", r"no space left on device", r"quota exceeded"),
    *_rule(TruncatedStream, _ZFS_RECV, r"failed to read from stream", r"invalid backup stream",
           r"incomplete stream", r"checksum mismatch"),
    *_rule(TruncatedStream, _BTRFS_RECV, r"short read from stream", r"unexpected EOF in stream",
           r"empty stream is not considered valid", r"send stream is truncated", r"crc32 mismatch",
           r"read from stream failed"),
    *_rule(BrokenPipe, TOOLS, r"broken pipe"),
]


def classify(tool: str, stderr: str, returncode: int, argv: tuple[str, ...] = ()) -> StreamError:
    """The typed error for a failed ``tool`` ("zfs send", "zfs receive", "btrfs send", "btrfs receive");
    an unknown tool name is inferred from ``argv`` (a path to the binary, ``recv``, an ssh prefix)."""
    tool = _tool(tool, argv)
    for rule in _RULES:
        if (not tool or tool in rule.tools) and rule.pattern.search(stderr):
            return rule.kind(stderr, tool=tool, argv=tuple(argv), returncode=returncode)
    if returncode in _SIGPIPE_CODES and not _complaint(stderr):
        return BrokenPipe(stderr, tool=tool, argv=tuple(argv), returncode=returncode)
    return StreamError(stderr, tool=tool, argv=tuple(argv), returncode=returncode)


def _tool(tool: str, argv: tuple[str, ...]) -> str:
    """``tool`` normalised, or the first ``zfs|btrfs [options] send|receive|recv`` found in ``argv``, or ""."""
    name = _ALIASES.get(" ".join(tool.split()), " ".join(tool.split()))
    if name in TOOLS:
        return name
    words = [os.path.basename(a) for a in argv]
    for i, word in enumerate(words):
        if word not in ("zfs", "btrfs"):
            continue
        verb = next((w for w in words[i + 1:] if not w.startswith("-")), "")
        found = _ALIASES.get(f"{word} {verb}", f"{word} {verb}")
        if found in TOOLS:
            return found
    return ""


def _complaint(stderr: str) -> str:
    """The tool's error lines without btrfs's progress lines, on one line."""
    kept = [line.strip() for line in stderr.splitlines() if line.strip() and not _PROGRESS.match(line.strip())]
    return " ".join(" ".join(kept).split())


def _words(stderr: str, returncode: int | None) -> str:
    complaint = _complaint(stderr)
    if complaint:
        return complaint
    if returncode in _SIGPIPE_CODES:
        return "terminated by SIGPIPE"
    return f"exit status {returncode}" if returncode is not None else "no message"


def _compose(what: str, words: str, fix: str) -> str:
    return f"{what}: {words.rstrip('.')}. {fix}"
