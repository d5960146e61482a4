"""Private host daemons for tests and benchmarks (smbd, tgtd, NFS-Ganesha...): each started in its own
session (a daemon that signals its process group on exit then never reaches the test runner), bound to
127.0.0.1, waited for on its port, and stopped by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .live import free_port

__all__ = ["Daemon", "free_port", "samba_conf", "start_daemon", "start_ganesha", "start_smbd", "start_tgtd"]


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Daemon:
    proc: subprocess.Popen
    port: int
    log: Path
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        """Its own shutdown requests when it has them (``extra["stop_commands"]``, in order), else SIGTERM;
        SIGKILL by PID when it does not go; then the files it leaves behind (``extra["leftovers"]``)."""
        if self.proc.poll() is None:
            asked = self.extra.get("stop_commands")
            if asked:
                codes = [subprocess.run(argv, capture_output=True, timeout=15, check=False).returncode
                         for argv in asked]
                grace = 5.0 if codes[-1] == 0 else 0.1
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGTERM)
                grace = 15.0
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        for leftover in self.extra.get("leftovers", ()):
            Path(leftover).unlink(missing_ok=True)


def start_daemon(argv: Sequence[str], *, port: int, log: Path, timeout: float = 20.0) -> Daemon:
    """Start ``argv`` in its own session and wait until 127.0.0.1:``port`` answers; RuntimeError with the
    end of its log when it exits or does not answer in time."""
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=log.open("ab"), start_new_session=True)
    deadline = time.monotonic() + timeout
    while not _answers(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            daemon = Daemon(proc, port, log)
            daemon.stop()
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise RuntimeError(f"{argv[0]} did not start on 127.0.0.1:{port}: {tail}")
        time.sleep(0.05)
    return Daemon(proc, port, log)


def samba_conf(home: Path, port: int) -> Path:
    """A standalone smbd's main configuration with every directory of its own under ``home``."""
    dirs = {name: home / name for name in ("private", "lock", "state", "cache", "pid", "log")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    conf = home / "smb.conf"
    conf.write_text("\n\t".join([
        "[global]", "server role = standalone server", f"smb ports = {port}", "interfaces = 127.0.0.1",
        "bind interfaces only = yes", "disable netbios = yes", f"pid directory = {dirs['pid']}",
        f"lock directory = {dirs['lock']}", f"state directory = {dirs['state']}",
        f"cache directory = {dirs['cache']}", f"private dir = {dirs['private']}",
        f"ncalrpc dir = {dirs['lock'] / 'ncalrpc'}", f"log file = {dirs['log'] / 'log.%m'}",
        f"passdb backend = tdbsam:{dirs['private'] / 'passdb.tdb'}", "load printers = no", "printing = bsd",
        "printcap name = /dev/null", "disable spoolss = yes", "map to guest = never"]) + "\n")
    return conf


def start_smbd(home: Path) -> Daemon:
    """smbd on a free loopback port (``--no-process-group``: it signals its group when it stops)."""
    port = free_port()
    conf = samba_conf(home, port)
    daemon = start_daemon(["smbd", "--foreground", "--no-process-group", "-s", str(conf)], port=port,
                          log=home / "smbd.log")
    daemon.extra["conf"] = conf
    return daemon


def _free_tgtd_control_port() -> int:
    """tgtd's control "port" N is the unix socket /run/tgtd/socket.N: one no other tgtd uses."""
    for n in range(4900 + os.getpid() % 500, 6000):
        if not Path(f"/run/tgtd/socket.{n}").exists() and not Path(f"/var/run/tgtd/socket.{n}").exists():
            return n
    raise RuntimeError("no free tgtd control port")


def start_tgtd(home: Path) -> Daemon:
    """tgtd with its own control socket (``extra["control"]``: pass ``-C`` to every tgtadm) and a portal on a free
    loopback port (a system tgtd may own 0.0.0.0:3260). It ignores SIGTERM: it is stopped by its own shutdown
    request, or killed by PID when targets are left."""
    home.mkdir(parents=True, exist_ok=True)
    control, port = _free_tgtd_control_port(), free_port()
    daemon = start_daemon(["tgtd", "-f", "-C", str(control), "--iscsi", f"portal=127.0.0.1:{port}"], port=port,
                          log=home / "tgtd.log")
    daemon.extra.update(control=control, stop_commands=[
        # tgtd refuses to shut down while it is ready: offline first
        ["tgtadm", "-C", str(control), "--op", "update", "--mode", "sys", "--name", "State", "-v", "offline"],
        ["tgtadm", "-C", str(control), "--op", "delete", "--mode", "system"]],
                        leftovers=[f"/run/tgtd/socket.{control}", f"/run/tgtd/socket.{control}.lock"])
    return daemon


def start_ganesha(home: Path, conf: Path) -> Daemon:
    """NFS-Ganesha, NFSv4 only (no rpcbind, which would listen on every address), on a free loopback port, its
    main configuration written to ``conf`` (no exports: Calypso adds its include line), its pid file
    ``extra["pid_file"]`` and its log ``extra["log"]``."""
    (home / "recovery").mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(
        "NFS_CORE_PARAM {\n\tProtocols = 4;\n\tEnable_UDP = false;\n\tEnable_NLM = false;\n\tEnable_RQUOTA = false;\n"
        f"\tNFS_Port = {port};\n\tBind_addr = 127.0.0.1;\n}}\n"
        f"NFSV4 {{\n\tGraceless = true;\n\tRecoveryBackend = fs;\n\tRecoveryRoot = \"{home / 'recovery'}\";\n}}\n")
    pid_file, log = home / "ganesha.pid", home / "ganesha.log"
    daemon = start_daemon(["ganesha.nfsd", "-F", "-f", str(conf), "-p", str(pid_file), "-L", str(log),
                           "-N", "NIV_EVENT"], port=port, log=home / "stderr.log")
    daemon.extra.update(pid_file=pid_file, log=log)
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return daemon
