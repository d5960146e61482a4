"""A backup repository: a directory of encrypted stream files, one manifest beside each.

Layout (the seeds' ``<client>/<YYYYMM>/full|incremental/...``)::

    <root>/<client>/<YYYYMM>/full/<source>@<snapshot>.<tool>.<zst|gz>.age
    <root>/<client>/<YYYYMM>/full/<source>@<snapshot>.<tool>.<zst|gz>.age.json      (its manifest, one line)
    <root>/<client>/<YYYYMM>/incremental/...

A stream file is written as ``<name>.partial``, read back whole and checked against the SHA-256 the writer
computed, renamed, and only then given its manifest (written to a temporary name and renamed): a file
without a manifest, or a ``.partial``, is never complete, whatever its size. A manifest is plain JSON
and the file a standard age-encrypted zstd or gzip stream, so a restore needs no Calypso (README). The
repository may be a directory of this host (``Repository``) or of another host over SSH (``RemoteRepository``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from apps.core.runner import CommandError

__all__ = ["FORMAT", "RemoteRepository", "Repository", "StreamFile", "UnreadableManifest", "chain_to", "chains",
           "complete_streams", "incomplete", "manifest_text", "prune_chains", "sha256_file", "stream_name"]

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
        if not _SAFE.fullmatch(part):
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
    """A repository directory on this host (a local disk or a mounted share). Paths handed out and taken back
    are strings, as ``RemoteRepository`` (the same directory layout on another host, over SSH) uses them."""

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

    def partial_for(self, relative: str) -> str:
        """Where the stream is written until it is verified (its directory created)."""
        target = self.path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        return str(target.with_name(target.name + PARTIAL))

    def sink_options(self, partial: str) -> dict:
        """run_pipeline() options writing the stream to ``partial`` (created exclusively)."""
        return {"sink": partial}

    def source_options(self, relative: str) -> dict:
        """run_pipeline() options reading stream file ``relative``."""
        return {"source": self.path(relative)}

    def readback(self, partial: str) -> tuple[str, int]:
        """(SHA-256, size) of the written file, read back whole."""
        return sha256_file(Path(partial)), Path(partial).stat().st_size

    def discard(self, path: str) -> None:
        Path(path).unlink(missing_ok=True)

    def complete(self, relative: str, stream: StreamFile) -> None:
        """The verified ``.partial`` becomes the stream file, then its manifest appears (both by rename)."""
        final = self.path(relative)
        os.replace(final.with_name(final.name + PARTIAL), final)
        manifest = final.with_name(final.name + MANIFEST)
        temporary = manifest.with_name(manifest.name + PARTIAL)
        temporary.write_text(manifest_text(stream))
        with temporary.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(temporary, manifest)
        _fsync_dir(final.parent)

    def sha256(self, relative: str) -> str:
        return sha256_file(self.path(relative))

    def _names(self, client: str, stem: str) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in (self.root / client).glob(f"*/*/{stem}*"))

    def _manifests(self, relatives: list[str]) -> list[str]:
        return [self.path(relative).read_text() for relative in relatives]  # unreadable: the listing fails

    def streams(self, client: str, stem: str) -> list[StreamFile]:
        """The complete stream files whose names start with ``stem`` (one task's: ``<source>@<prefix>``), as a
        manifest and its file, oldest snapshot first."""
        return complete_streams(self._names(client, stem), self._manifests)

    def leftovers(self, client: str, stem: str) -> list[str]:
        """What interrupted writes left: ``.partial`` files and stream files without a manifest."""
        return [str(self.root / n) for n in incomplete(self._names(client, stem))]

    def remove(self, stream: StreamFile) -> None:
        """Delete a stream: its manifest first (from then on it is not complete), then the file."""
        final = self.path(stream.path)
        final.with_name(final.name + MANIFEST).unlink(missing_ok=True)
        final.unlink(missing_ok=True)


def manifest_text(stream: StreamFile) -> str:
    """A manifest: one line of JSON (a listing reads many at once, one per line)."""
    return json.dumps(asdict(stream), sort_keys=True) + "\n"


class UnreadableManifest(ValueError):
    """A manifest exists but cannot be read or parsed: nothing may be decided about its chain (pruning, a
    base) until it is."""


def complete_streams(names: list[str], read: Callable[[list[str]], list[str]]) -> list[StreamFile]:
    """The streams among ``names`` (paths relative to the root) that have both their file and a manifest;
    ``read(manifest paths)`` gives the manifests' texts. A manifest that cannot be read raises
    UnreadableManifest: an incomplete picture must not look like a smaller repository."""
    present = set(names)
    manifests = [n for n in names if n.endswith(MANIFEST) and not n.endswith(PARTIAL)]
    try:
        texts = read(manifests)
    except OSError as exc:
        raise UnreadableManifest(f"cannot read the manifests: {exc}") from exc
    found = []
    for line in (line for text in texts for line in text.splitlines() if line.strip()):
        try:
            data = json.loads(line)
            found.append(StreamFile(**{k: v for k, v in data.items() if k in StreamFile.__slots__}))
        except (ValueError, TypeError) as exc:
            raise UnreadableManifest(f"a manifest is damaged: {line[:120]!r}") from exc
    if len(found) != len(manifests):
        raise UnreadableManifest(f"{len(manifests)} manifests, {len(found)} read")
    return sorted((s for s in found if s.path in present), key=lambda s: s.snapshot)


def incomplete(names: list[str]) -> list[str]:
    """``.partial`` files and stream files without a manifest."""
    present = set(names)
    return [n for n in names if n.endswith(PARTIAL) or (not n.endswith(MANIFEST) and n + MANIFEST not in present)]


class RemoteRepository:
    """The same repository layout in a directory of another host, every operation a command over SSH
    (``ssh`` builds the argv of the pipeline's remote stages, ``runner`` runs and logs the rest)."""

    def __init__(self, ssh, runner, root: str) -> None:
        self.ssh, self.runner, self.root = ssh, runner, root.rstrip("/")

    def path(self, relative: str) -> str:
        if relative.startswith("/") or ".." in relative.split("/"):
            raise ValueError(f"{relative!r} is outside the repository")
        return f"{self.root}/{relative}"

    def check(self) -> str | None:
        if self.runner.run(["test", "-d", self.root], check=False).returncode:
            return f"{self.root} is not a directory on {self.ssh.host}"
        if self.runner.run(["test", "-w", self.root], check=False).returncode:
            return f"{self.root} is not writable by {self.ssh.user} on {self.ssh.host}"
        return None

    def free_bytes(self) -> int:
        lines = self.runner.run(["df", "-B1", "--output=avail", self.root]).stdout.split()
        return int(lines[-1])

    def partial_for(self, relative: str) -> str:
        final = self.path(relative)
        self.runner.run(["mkdir", "-p", final.rpartition("/")[0]])
        return final + PARTIAL

    def sink_options(self, partial: str) -> dict:
        # dd: conv=excl refuses an existing file, conv=fsync has it on disk before dd exits
        return {"consumers": [self.ssh.ssh_argv(["dd", f"of={partial}", "bs=1M", "conv=excl,fsync",
                                                  "status=none"])]}

    def source_options(self, relative: str) -> dict:
        return {"producers": [self.ssh.ssh_argv(["cat", "--", self.path(relative)])]}

    def readback(self, partial: str) -> tuple[str, int]:
        digest = self.runner.run(["sha256sum", "--", partial], timeout=3600).stdout.split()[0]
        size = int(self.runner.run(["stat", "-c", "%s", "--", partial]).stdout.strip())
        return digest, size

    def discard(self, path: str) -> None:
        self.runner.run(["rm", "-f", "--", path], check=False)

    def complete(self, relative: str, stream: StreamFile) -> None:
        final = self.path(relative)
        self.runner.run(["mv", "--", final + PARTIAL, final])
        manifest = final + MANIFEST
        self.runner.run(["dd", f"of={manifest}{PARTIAL}", "conv=excl,fsync", "status=none"],
                        stdin=manifest_text(stream))
        self.runner.run(["mv", "--", manifest + PARTIAL, manifest])

    def sha256(self, relative: str) -> str:
        return self.runner.run(["sha256sum", "--", self.path(relative)], timeout=3600).stdout.split()[0]

    def _names(self, client: str, stem: str) -> list[str]:
        base = f"{self.root}/{client}"
        if self.runner.run(["test", "-d", base], check=False).returncode:
            return []
        out = self.runner.run(["find", base, "-mindepth", "3", "-maxdepth", "3", "-type", "f", "-name",
                               f"{stem}*"]).stdout
        return sorted(line[len(self.root) + 1:] for line in out.splitlines() if line.startswith(base + "/"))

    def _manifests(self, relatives: list[str]) -> list[str]:
        if not relatives:
            return []
        try:
            return [self.runner.run(["cat", "--", *(self.path(r) for r in relatives)]).stdout]
        except CommandError as exc:
            raise OSError(exc.stderr.strip() or str(exc)) from exc

    def streams(self, client: str, stem: str) -> list[StreamFile]:
        return complete_streams(self._names(client, stem), self._manifests)

    def leftovers(self, client: str, stem: str) -> list[str]:
        return [self.path(n) for n in incomplete(self._names(client, stem))]

    def remove(self, stream: StreamFile) -> None:
        final = self.path(stream.path)
        self.runner.run(["rm", "-f", "--", final + MANIFEST, final])


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
    """The streams of every chain but the newest ``keep``: whole chains only, so a kept file never loses the
    files it depends on. A stream in no chain is never pruned (it is reported by verify, not guessed at)."""
    if keep < 1:
        raise ValueError(f"keep at least one chain, not {keep}")
    old = chains(streams)[:-keep]
    return sorted((s for chain in old for s in chain), key=lambda s: s.snapshot)
