"""The host tools Calypso's subsystems drive, how to read their versions, and how to install them."""

from __future__ import annotations

import re
import shlex
import shutil
import time
from dataclasses import dataclass

from apps.core.runner import CommandError, Runner

__all__ = ["CHECKS", "TOOLS", "Check", "Tool", "ToolStatus", "check", "probe"]

SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


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
    Tool("lsscsi", "tape", "lsscsi", ("lsscsi", "--version")),
    Tool("sg_logs", "tape", "sg3-utils", None),
    Tool("bconsole", "bacula", "bacula-console", None),
    Tool("bacula-dir", "bacula", "bacula-director", None, "apt-get install bacula-director-sqlite3 bacula-director "
         "(or bareos-director for Bareos)"),
    Tool("bacula-sd", "bacula", "bacula-sd", None),
    Tool("restic", "backup", "restic", ("restic", "version")),
    Tool("ssh", "fleet", "openssh-client", ("ssh", "-V")),
    Tool("zstd", "backup", "zstd", ("zstd", "--version")),
    Tool("age", "backup", "age", ("age", "--version")),
    Tool("gpg", "backup", "gnupg", ("gpg", "--version")),
)



@dataclass(frozen=True, slots=True)
class Check:
    """A cheap real command that fails when a tool family cannot work (installed is not running: zfs-fuse
    down makes every ``zpool`` say "failed to initialize ZFS library")."""

    family: str  # the health component: "zfs", "btrfs"
    tool: str  # checked only where this tool is installed
    argv: tuple[str, ...]


CHECKS: tuple[Check, ...] = (
    Check("zfs", "zpool", ("zpool", "list", "-H", "-o", "name")),
    Check("btrfs", "btrfs", ("btrfs", "filesystem", "show")),
)
CHECK_TIMEOUT_S = 5

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


def which(name: str) -> str | None:
    return shutil.which(name, path=SEARCH_PATH)


def _words(text: str) -> str:
    """A failing tool's own message on one line (what it printed, blank lines and padding dropped)."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())[:500]


def check(runner: Runner, checks: tuple[Check, ...] = CHECKS) -> dict[str, dict]:
    """Run each installed family's check: ``{family: {"status": "ok"|"error", "latency_ms", "command", "error"?}}``;
    an error carries the tool's words. Families whose tool is not installed are left out."""
    out = {}
    for item in checks:
        if not which(item.tool):
            continue
        started = time.perf_counter()
        entry: dict = {"status": "ok", "command": shlex.join(item.argv)}
        try:
            result = runner.run(list(item.argv), timeout=CHECK_TIMEOUT_S, check=False)
            if result.returncode != 0:
                entry.update(status="error", error=_words(result.stderr or result.stdout)
                             or f"{item.argv[0]} exited with status {result.returncode}")
        except CommandError as exc:  # timed out, or could not start
            entry.update(status="error", error=_words(str(exc)) or type(exc).__name__)
        except OSError as exc:
            entry.update(status="error", error=f"{type(exc).__name__}: {exc}"[:500])
        entry["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
        out[item.family] = entry
    return out


def probe(runner: Runner, tools: tuple[Tool, ...] = TOOLS) -> list[ToolStatus]:
    """Which tools are installed here, with their versions, or how to install them."""
    out = []
    for tool in tools:
        path = which(tool.name)
        version = _version(tool, runner) if path else None
        out.append(ToolStatus(tool.name, tool.subsystem, bool(path), path, version, tool.install_hint))
    return out
