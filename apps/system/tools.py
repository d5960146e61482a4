"""The host tools Calypso's subsystems drive, how to read their versions, and how to install them."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass

from apps.core.runner import CommandError, Runner

__all__ = ["TOOLS", "Tool", "ToolStatus", "probe"]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    subsystem: str
    package: str  # Debian package that provides it
    version_argv: tuple[str, ...] | None = None  # None: ask dpkg for the package version
    hint: str = ""

    @property
    def install_hint(self) -> str:
        return self.hint or f"apt-get install {self.package}"


@dataclass(frozen=True, slots=True)
class ToolStatus:
    name: str
    subsystem: str
    installed: bool
    path: str | None
    version: str | None
    install_hint: str


TOOLS: tuple[Tool, ...] = (
    Tool("zpool", "storage", "zfs-fuse", None, "apt-get install zfsutils-linux (OpenZFS) or zfs-fuse"),
    Tool("zfs", "storage", "zfs-fuse", None, "apt-get install zfsutils-linux (OpenZFS) or zfs-fuse"),
    Tool("btrfs", "storage", "btrfs-progs", ("btrfs", "--version")),
    Tool("lsblk", "system", "util-linux", ("lsblk", "--version")),
    Tool("findmnt", "system", "util-linux", ("findmnt", "--version")),
    Tool("smartctl", "monitoring", "smartmontools", ("smartctl", "--version")),
    Tool("smbd", "shares", "samba", ("smbd", "--version")),
    Tool("smbclient", "shares", "smbclient", ("smbclient", "--version")),
    Tool("ganesha.nfsd", "shares", "nfs-ganesha", None),
    Tool("tgtadm", "iscsi", "tgt", None),
    Tool("scstadmin", "iscsi", "scstadmin", None, "install SCST from its project packages (scstadmin)"),
    Tool("mtx", "tape", "mtx", None),
    Tool("mt", "tape", "mt-st", None),
    Tool("bconsole", "backup", "bacula-console", None),
    Tool("restic", "backup", "restic", ("restic", "version")),
    Tool("ssh", "fleet", "openssh-client", ("ssh", "-V")),
    Tool("zstd", "backup", "zstd", ("zstd", "--version")),
    Tool("gpg", "backup", "gnupg", ("gpg", "--version")),
)

_VERSION = re.compile(r"(\d+\.\d+(?:[.\-p]\w+)*)")


def _version(tool: Tool, runner: Runner) -> str | None:
    argv = tool.version_argv or ("dpkg-query", "-W", "-f=${Version}", tool.package)
    try:
        result = runner.run(list(argv), timeout=5, check=False)
    except CommandError:
        return None
    text = (result.stdout or result.stderr).strip()
    first = text.splitlines()[0] if text else ""
    match = _VERSION.search(first)
    return match.group(1) if match else (first[:60] or None)


def probe(runner: Runner, tools: tuple[Tool, ...] = TOOLS) -> list[ToolStatus]:
    """Which tools are installed here, with their versions, or how to install them."""
    out = []
    for tool in tools:
        path = shutil.which(tool.name, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        version = _version(tool, runner) if path else None
        out.append(ToolStatus(tool.name, tool.subsystem, bool(path), path, version, tool.install_hint))
    return out
