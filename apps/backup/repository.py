"""A backup repository: a directory of encrypted stream files, one manifest beside each.

Layout (the seeds' ``<client>/<YYYYMM>/full|incremental/...``)::

    <root>/<client>/<YYYYMM>/full/<source>@<snapshot>.<tool>.<zst|gz>.age
    <root>/<client>/<YYYYMM>/full/<source>@<snapshot>.<tool>.<zst|gz>.age.json      (its manifest)
    <root>/<client>/<YYYYMM>/incremental/...

A stream file is written as ``<name>.partial``, read back whole and checked against the SHA-256 the writer
computed, renamed, and only then given its manifest (written to a temporary name and renamed): a file
without a manifest, or a ``.partial``, is never complete, whatever its size. A manifest is plain JSON
and the file a standard age-encrypted zstd or gzip stream, so a restore needs no Calypso (README).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["FORMAT", "Repository", "StreamFile", "chain_to", "chains", "prune_chains", "stream_name"]

FORMAT = 1
MANIFEST = ".json"
PARTIAL = ".partial"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$")
_EXTENSIONS = {"zstd": "zst", "gzip": "gz"}


@dataclass(frozen=True, slots=True)
class StreamFile:
    """What a manifest says about its stream file."""

    path: str  # relative to the repository root
    source: str  # the dataset or subvolume sent, as this host names it
    snapshot: str  # the snapshot's name after "@"
    base: str  # the incremental base's name after "@"; "" for a full stream
    kind: str  # "full" | "incremental"
    tool: str  # "zfs" | "btrfs"
    compression: str  # "zstd" | "gzip"
    recipient: str  # the age recipient the file is encrypted to
    source_identity: str  # ZFS GUID or Btrfs UUID of the snapshot sent
    stream_bytes: int  # bytes of the file
    sha256: str  # of the file
    created: str  # ISO 8601, UTC
    format: int = FORMAT

    @property
    def month(self) -> str:
        return self.path.split("/")[1]


def stream_name(client: str, month: str, kind: str, source_flat: str, snapshot: str, tool: str,
                compression: str) -> str:
    """The stream file's path relative to the repository root."""
    for part in (client, source_flat, snapshot):
        if not _SAFE.match(part):
            raise ValueError(f"unsafe name for a stream file: {part!r}")
    if not re.fullmatch(r"\d{6}", month) or kind not in ("full", "incremental"):
        raise ValueError(f"bad month or kind: {month!r} {kind!r}")
    return f"{client}/{month}/{kind}/{source_flat}@{snapshot}.{tool}.{_EXTENSIONS[compression]}.age"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Repository:
    """A repository directory on this host (a local disk or a mounted share)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def path(self, relative: str) -> Path:
        full = (self.root / relative).resolve()
        if self.root.resolve() not in full.parents:
            raise ValueError(f"{relative!r} is outside the repository")
        return full

    def check(self) -> str | None:
        """Why the repository cannot take files now (None: it can)."""
        if not self.root.is_dir():
            return f"{self.root} is not a directory (is the share mounted?)"
        if not os.access(self.root, os.W_OK | os.X_OK):
            return f"{self.root} is not writable"
        return None

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def partial_for(self, relative: str) -> Path:
        target = self.path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target.with_name(target.name + PARTIAL)

    def complete(self, relative: str, stream: StreamFile) -> None:
        """The verified ``.partial`` becomes the stream file, then its manifest appears (both by rename)."""
        final = self.path(relative)
        os.replace(final.with_name(final.name + PARTIAL), final)
        manifest = final.with_name(final.name + MANIFEST)
        temporary = manifest.with_name(manifest.name + PARTIAL)
        temporary.write_text(json.dumps(asdict(stream), indent=2, sort_keys=True) + "\n")
        with temporary.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(temporary, manifest)
        _fsync_dir(final.parent)

    def sha256(self, relative: str) -> str:
        return sha256_file(self.path(relative))

    def streams(self, client: str, source_flat: str) -> list[StreamFile]:
        """The complete stream files of one source (a manifest and its file), oldest snapshot first."""
        found = []
        for manifest in (self.root / client).glob(f"*/*/{source_flat}@*{MANIFEST}") if client else ():
            try:
                data = json.loads(manifest.read_text())
                stream = StreamFile(**{k: v for k, v in data.items() if k in StreamFile.__slots__})
            except (OSError, ValueError, TypeError):
                continue  # unreadable: not a complete stream (verify reports it)
            if (self.root / stream.path).is_file():
                found.append(stream)
        return sorted(found, key=lambda s: s.snapshot)

    def leftovers(self, client: str, source_flat: str) -> list[Path]:
        """What interrupted writes left: ``.partial`` files and stream files without a manifest."""
        out = []
        for path in (self.root / client).glob(f"*/*/{source_flat}@*"):
            if path.name.endswith(PARTIAL) or (not path.name.endswith(MANIFEST)
                                               and not path.with_name(path.name + MANIFEST).exists()):
                out.append(path)
        return sorted(out)

    def remove(self, stream: StreamFile) -> None:
        """Delete a stream: its manifest first (from then on it is not complete), then the file."""
        final = self.path(stream.path)
        final.with_name(final.name + MANIFEST).unlink(missing_ok=True)
        final.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def chains(streams: list[StreamFile]) -> list[list[StreamFile]]:
    """Streams grouped into chains, oldest first: a full stream, then each incremental whose base is the
    previous stream of the chain. An incremental whose base is in no chain is left out (it restores nothing)."""
    out: list[list[StreamFile]] = []
    head: dict[str, list[StreamFile]] = {}  # the snapshot each chain ends with -> the chain
    for stream in sorted(streams, key=lambda s: s.snapshot):
        if stream.kind == "full":
            chain = [stream]
            out.append(chain)
        elif stream.base in head:
            chain = head.pop(stream.base)
            chain.append(stream)
        else:
            continue
        head[stream.snapshot] = chain
    return out


def chain_to(streams: list[StreamFile], snapshot: str) -> list[StreamFile]:
    """The files a restore of ``snapshot`` reads, in order (its full stream first); [] if none leads to it."""
    for chain in chains(streams):
        keys = [s.snapshot for s in chain]
        if snapshot in keys:
            return chain[: keys.index(snapshot) + 1]
    return []


def prune_chains(streams: list[StreamFile], keep: int) -> list[StreamFile]:
    """The streams of every chain but the newest ``keep`` (whole chains only: a kept file never loses the
    files it depends on), plus incrementals that belong to no chain."""
    if keep < 1:
        raise ValueError(f"keep at least one chain, not {keep}")
    all_chains = chains(streams)
    kept = {s.path for chain in all_chains[-keep:] for s in chain}
    return [s for s in sorted(streams, key=lambda s: s.snapshot) if s.path not in kept]
