"""A private Bacula stack for integration tests: director, storage daemon and file daemon on 127.0.0.1 (ports
19201-19203), a SQLite catalog, working and pid directories, all in the test's temporary directory. The
daemons run in the foreground and are started and stopped by PID; the director's and the storage daemon's main
configurations include one file each (``dir_include``, ``sd_include``), which the tests render."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from apps.bacula.backends.base import FLAVOURS
from apps.bacula.backends.bconsole import Console
from apps.core.runner import LocalRunner
from apps.core.testing import require_root, require_tools
from apps.core.testing.daemons import Daemon, start_daemon

DIR_PORT, FD_PORT, SD_PORT = 19201, 19202, 19203
DIR_PASSWORD, FD_PASSWORD, SD_PASSWORD = "dir-console-secret", "dir-fd-secret", "dir-sd-secret"
MAKE_TABLES = Path("/usr/share/bacula-director/make_sqlite3_tables")
TOOLS = ("bacula-dir", "bacula-sd", "bacula-fd", "bconsole", "sqlite3")


def _dir_conf(home: Path, include: Path) -> str:
    work = home / "work"
    return f"""# Test director
Director {{
  Name = calypso-dir
  DIRport = {DIR_PORT}
  DirAddress = 127.0.0.1
  QueryFile = "/etc/bacula/scripts/query.sql"
  WorkingDirectory = "{work}"
  PidDirectory = "{work}"
  Maximum Concurrent Jobs = 5
  Password = "{DIR_PASSWORD}"
  Messages = Daemon
}}
Catalog {{
  Name = MyCatalog
  dbname = "bacula"; dbuser = ""; dbpassword = ""
}}
Messages {{
  Name = Standard
  console = all, !skipped, !saved
  append = "{home}/log/bacula.log" = all, !skipped
  catalog = all, !skipped, !saved
}}
Messages {{
  Name = Daemon
  console = all, !skipped, !saved
  append = "{home}/log/bacula.log" = all, !skipped
}}
@{include}
"""


def _sd_conf(home: Path, include: Path) -> str:
    work = home / "work"
    return f"""Storage {{
  Name = calypso-sd
  SDPort = {SD_PORT}
  SDAddress = 127.0.0.1
  WorkingDirectory = "{work}"
  Pid Directory = "{work}"
  Plugin Directory = "/usr/lib/bacula"
  Maximum Concurrent Jobs = 5
}}
Director {{
  Name = calypso-dir
  Password = "{SD_PASSWORD}"
}}
Messages {{
  Name = Standard
  director = calypso-dir = all
}}
@{include}
"""


def _fd_conf(home: Path) -> str:
    work = home / "work"
    return f"""Director {{
  Name = calypso-dir
  Password = "{FD_PASSWORD}"
}}
FileDaemon {{
  Name = calypso-fd
  FDport = {FD_PORT}
  FDAddress = 127.0.0.1
  WorkingDirectory = "{work}"
  Pid Directory = "{work}"
  Maximum Concurrent Jobs = 5
  Plugin Directory = "/usr/lib/bacula"
}}
Messages {{
  Name = Standard
  director = calypso-dir = all, !skipped, !restored
}}
"""


def _console_conf() -> str:
    return f"""Director {{
  Name = calypso-dir
  DIRport = {DIR_PORT}
  address = 127.0.0.1
  Password = "{DIR_PASSWORD}"
}}
"""


def make_catalog(work: Path) -> None:
    """The SQLite catalog ``work/bacula.db``, made by the packaged script pointed at ``work``."""
    script = MAKE_TABLES.read_text().replace("cd /var/lib/bacula", f"cd {work}").replace("XXX_DBNAME_XXX", "bacula")
    local = work / "make_sqlite3_tables"
    local.write_text(script)
    subprocess.run(["sh", str(local)], cwd=work, check=True, capture_output=True, timeout=60)


@dataclass
class BaculaStack:
    home: Path
    dir_conf: Path
    sd_conf: Path
    fd_conf: Path
    console_conf: Path
    dir_include: Path
    sd_include: Path
    console: Console
    daemons: dict[str, Daemon] = field(default_factory=dict)

    def _start(self, daemon: str, conf: Path, port: int) -> None:
        binary = FLAVOURS["bacula"].binary(daemon)
        self.daemons[daemon] = start_daemon([binary, "-f", "-c", str(conf)], port=port,
                                            log=self.home / "log" / f"{daemon}.log")

    def start(self, *only: str) -> None:
        """Start the file daemon, the storage daemon and the director (``only`` these; whatever is not running).
        A storage daemon without any device does not start: start it once its include file has one."""
        for daemon, conf, port in (("fd", self.fd_conf, FD_PORT), ("sd", self.sd_conf, SD_PORT),
                                   ("dir", self.dir_conf, DIR_PORT)):
            if daemon not in self.daemons and (not only or daemon in only):
                self._start(daemon, conf, port)

    def restart_sd(self) -> None:
        """The storage daemon has no reload: a changed configuration takes a restart."""
        if "sd" in self.daemons:
            self.daemons.pop("sd").stop()
        self._start("sd", self.sd_conf, SD_PORT)

    def stop(self) -> None:
        for daemon in ("dir", "sd", "fd"):
            if daemon in self.daemons:
                self.daemons.pop(daemon).stop()


@pytest.fixture
def bacula_stack(tmp_path):
    """The three daemons' configurations in a temporary directory; ``start()`` them, they stop at the end."""
    require_root()
    require_tools(*TOOLS)
    if not MAKE_TABLES.exists():
        pytest.skip(f"{MAKE_TABLES} missing (apt-get install bacula-director-sqlite3)")
    home = tmp_path / "bacula"
    for sub in ("work", "log", "etc"):
        (home / sub).mkdir(parents=True)
    make_catalog(home / "work")
    etc = home / "etc"
    paths = {name: etc / name for name in ("bacula-dir.conf", "bacula-sd.conf", "bacula-fd.conf", "bconsole.conf",
                                           "calypso-dir.conf", "calypso-sd.conf")}
    paths["calypso-dir.conf"].write_text("")
    paths["calypso-sd.conf"].write_text("")
    paths["bacula-dir.conf"].write_text(_dir_conf(home, paths["calypso-dir.conf"]))
    paths["bacula-sd.conf"].write_text(_sd_conf(home, paths["calypso-sd.conf"]))
    paths["bacula-fd.conf"].write_text(_fd_conf(home))
    paths["bconsole.conf"].write_text(_console_conf())
    stack = BaculaStack(home, paths["bacula-dir.conf"], paths["bacula-sd.conf"], paths["bacula-fd.conf"],
                        paths["bconsole.conf"], paths["calypso-dir.conf"], paths["calypso-sd.conf"],
                        Console(LocalRunner(), str(paths["bconsole.conf"]), FLAVOURS["bacula"]))
    try:
        yield stack
    finally:
        stack.stop()
