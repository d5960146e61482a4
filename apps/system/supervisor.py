"""The process supervisor behind ``make run``: ``python -m apps.system.supervisor``.

It starts a private Redis (when ``REDIS_URL`` is unset), migrates, then runs the ASGI server, the Celery
worker and Celery beat, each in its own session (its PID is its process group), and keeps them running:

- a service that ends is started again after a back-off delay: 1 s, doubling on each quick failure up to
  60 s, back to 1 s once it has stayed up for a minute; the others keep running meanwhile;
- when the worker's process ends, the jobs it was running are failed at once (they were interrupted);
- SIGINT, SIGTERM or SIGHUP stops everything it started, whole process groups: SIGTERM, then SIGKILL after
  a timeout. It installs its own handlers, so SIGINT works also when it was started in the background of a
  non-interactive shell (which starts it with SIGINT ignored); its parent dying sends it SIGTERM.

``Supervisor`` and ``Service`` know nothing of Calypso or Django; ``main`` puts the portal together.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from apps.core import serving

__all__ = ["Service", "Supervisor", "calypso_services", "describe_exit", "fail_jobs_of_dead_worker", "main",
           "private_redis", "wait_for_redis", "worker_node_name"]

BASE_DIR = Path(__file__).resolve().parents[2]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def say(message: str) -> None:
    sys.stderr.write(f"\033[1m[calypso]\033[0m {message}\n")
    sys.stderr.flush()


def describe_exit(returncode: int) -> str:
    """``exit 3`` or ``signal SIGKILL``."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit {returncode}"


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies, dead but not yet reaped by their parent or
    init, do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return True
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@dataclass
class Service:
    """One supervised command. ``on_exit(service, how)`` runs each time its process has ended (and its
    process group is gone), ``how`` as from ``describe_exit``. ``stop_last``: stopped after the others."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    cwd: str | Path | None = None
    on_exit: Callable[[Service, str], None] | None = None
    stop_last: bool = False
    proc: subprocess.Popen | None = field(default=None, repr=False)
    started_at: float = 0.0
    next_start: float = 0.0
    delay: float = 0.0
    restarts: int = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Supervisor:
    """Starts ``services`` in order and keeps them running until ``stop`` (see the module's docstring)."""

    def __init__(self, services: Sequence[Service], *, min_delay: float = 1.0, max_delay: float = 60.0,
                 reset_after: float = 60.0, stop_timeout: float = 10.0, tick: float = 0.1,
                 log: Callable[[str], None] = say) -> None:
        self.services = list(services)
        self.min_delay, self.max_delay, self.reset_after = min_delay, max_delay, reset_after
        self.stop_timeout, self.tick, self.log = stop_timeout, tick, log
        self.stop_requested: int | None = None
        self.stopped = False

    def __getitem__(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    # -- starting and restarting ------------------------------------------------------------------
    def spawn(self, service: Service) -> None:
        service.proc = subprocess.Popen(list(service.argv), env=dict(service.env) if service.env is not None else None,
                                        cwd=service.cwd, stdin=subprocess.DEVNULL, start_new_session=True)
        service.started_at = time.monotonic()
        self.log(f"{service.name} started (pid {service.proc.pid})")

    def start(self) -> None:
        for service in self.services:
            if service.proc is None:
                self.spawn(service)

    def poll(self) -> None:
        """Notice ended services (clean up their groups, run ``on_exit``, schedule a restart) and start the
        ones whose back-off delay is over."""
        now = time.monotonic()
        for service in self.services:
            if service.proc is not None and service.proc.poll() is not None:
                self._ended(service)
                uptime = now - service.started_at
                service.delay = (self.min_delay if uptime >= self.reset_after or not service.delay
                                 else min(service.delay * 2, self.max_delay))
                service.next_start = time.monotonic() + service.delay
                self.log(f"{service.name} ended after {uptime:.1f} s; restarting in {service.delay:g} s")
            elif service.proc is None and not self.stopped and service.next_start and now >= service.next_start:
                service.restarts += 1
                service.next_start = 0.0
                try:
                    self.spawn(service)
                except OSError as exc:  # e.g. its program was removed: try again later
                    service.delay = min(service.delay * 2, self.max_delay)
                    service.next_start = time.monotonic() + service.delay
                    self.log(f"{service.name} could not start ({exc}); trying again in {service.delay:g} s")

    def _ended(self, service: Service) -> None:
        """The main process ended: the rest of its group (e.g. a worker's pool) goes too, then ``on_exit``."""
        proc = service.proc
        assert proc is not None and proc.returncode is not None
        how = describe_exit(proc.returncode)
        self.log(f"{service.name} (pid {proc.pid}) ended: {how}")
        _signal_group(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 2
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        service.proc = None
        if service.on_exit is not None:
            try:
                service.on_exit(service, how)
            except Exception as exc:  # never let a hook take the supervisor down
                self.log(f"{service.name}: after-exit step failed: {type(exc).__name__}: {exc}")

    # -- stopping ---------------------------------------------------------------------------------
    def request_stop(self, signum: int, frame=None) -> None:
        if self.stop_requested is None:
            self.stop_requested = signum

    def stop(self) -> None:
        """Stop every service: the others first, then the ``stop_last`` ones (the broker they talk to)."""
        self.stopped = True
        for wave in ([s for s in self.services if not s.stop_last], [s for s in self.services if s.stop_last]):
            self._stop_wave(wave)

    def _stop_wave(self, services: list[Service]) -> None:
        started = [s for s in services if s.proc is not None]
        for service in started:
            _signal_group(service.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        killed = False
        while True:
            alive = [s for s in started if s.proc.poll() is None or _group_alive(s.proc.pid)]
            if not alive:
                break
            if time.monotonic() >= deadline:
                if killed:
                    self.log("still running after SIGKILL: " + ", ".join(f"{s.name} (pid {s.pid})" for s in alive))
                    break
                self.log(f"SIGKILL after {self.stop_timeout:g} s: " + ", ".join(s.name for s in alive))
                for service in alive:
                    _signal_group(service.proc.pid, signal.SIGKILL)
                killed, deadline = True, time.monotonic() + 5
            time.sleep(0.02)
        for service in started:
            if service.proc.poll() is not None:
                self._ended(service)

    # -- the main loop ----------------------------------------------------------------------------
    def run(self, ready: Callable[[], None] | None = None) -> int:
        """Start (unless started), supervise until a stop signal, stop everything. Returns 0."""
        install_stop_handlers(self.request_stop)
        try:
            if self.stop_requested is None:
                self.start()
                if ready is not None:
                    ready()
            while self.stop_requested is None:
                self.poll()
                time.sleep(self.tick)
        finally:
            started = time.monotonic()
            if self.stop_requested is not None:
                self.log(f"stopping ({signal.Signals(self.stop_requested).name})")
            self.stop()
            self.log(f"stopped in {time.monotonic() - started:.1f} s")
        return 0


def install_stop_handlers(handler: Callable) -> None:
    """INT, TERM and HUP call ``handler`` (also when they were ignored when this process started), and the
    death of the parent process sends TERM."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    parent = os.getppid()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the call
            handler(signal.SIGTERM)


# ---------------------------------------------------------------------------------------------------
# Calypso
def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value else default


def _secret_file(path: Path) -> str:
    """A random token kept in ``path`` (0600), created on first use."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError), \
                os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def private_redis(data_dir: Path) -> tuple[Service, str, int]:
    """A Redis for this data folder only: 127.0.0.1, a free port, the password in ``secrets/redis_password``,
    given in a 0600 config file (never on a command line). Returns the service and its URL (with the
    password: keep it out of output and logs) and port."""
    password = _secret_file(data_dir / "secrets" / "redis_password")
    port = _free_port()
    conf = data_dir / "run" / "redis.conf"
    for folder in ("run", "log"):
        (data_dir / folder).mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        conf.unlink()
    with os.fdopen(os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write("\n".join([
            "bind 127.0.0.1", f"port {port}", "protected-mode yes", f"requirepass {password}",
            'save ""', "appendonly no", "daemonize no", f"dir {data_dir / 'run'}",
            f"logfile {data_dir / 'log' / 'redis.log'}", ""]))
    return (Service("redis", [os.environ.get("CALYPSO_REDIS_SERVER", "redis-server"), str(conf)], stop_last=True),
            f"redis://:{password}@127.0.0.1:{port}/0", port)


def wait_for_redis(url: str, service: Service, timeout: float = 15) -> None:
    import redis

    deadline = time.monotonic() + timeout
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        while True:
            if not service.running:
                raise RuntimeError(f"redis-server ended during startup ({describe_exit(service.proc.returncode)}; "
                                   "see its log in the data folder, log/redis.log)")
            try:
                client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer within {timeout:g} s") from None
                time.sleep(0.05)
    finally:
        client.close()


def worker_node_name() -> str:
    """The worker's Celery node name: fixed across restarts, as the jobs it runs record it."""
    return f"calypso@{socket.gethostname()}"


def fail_jobs_of_dead_worker(node: str) -> Callable[[Service, str], None]:
    """``on_exit`` for the worker: the jobs it was running were interrupted; fail them now."""

    def on_exit(service: Service, how: str) -> None:
        from django.db import connections

        from apps.jobs.services import fail_jobs_of_worker

        try:
            failed = fail_jobs_of_worker(node, died=how)
        finally:
            connections.close_all()
        if failed:
            say(f"failed the jobs the worker was running: {', '.join(f'#{pk}' for pk in failed)}")

    return on_exit


def calypso_services(host: str, port: int, data_dir: Path) -> list[Service]:
    py = sys.executable
    log = data_dir / "log"
    node = worker_node_name()
    return [
        Service("web", serving.uvicorn_argv(py, "calypso.asgi:application", host, port), cwd=BASE_DIR),
        Service("worker", [py, "-m", "celery", "-A", "calypso", "worker", "-l", "info",
                           "-c", os.environ.get("CALYPSO_WORKER_CONCURRENCY", "2"),
                           "-Q", os.environ.get("CALYPSO_QUEUE", "calypso"), "-n", node,
                           "--logfile", str(log / "worker.log")], cwd=BASE_DIR, on_exit=fail_jobs_of_dead_worker(node)),
        Service("beat", [py, "-m", "celery", "-A", "calypso", "beat", "-l", "info", "--logfile", str(log / "beat.log"),
                         "--pidfile="], cwd=BASE_DIR),
    ]


def _claim_pidfile(path: Path) -> None:
    """One supervisor per data folder: refuse to start while the one in ``path`` still runs."""
    with contextlib.suppress(FileNotFoundError, ValueError):
        other = int(path.read_text().strip())
        if other != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(other, 0)
                cmdline = Path(f"/proc/{other}/cmdline").read_bytes()
                if b"apps.system.supervisor" in cmdline:
                    raise SystemExit(f"Calypso already runs on this data folder (pid {other}, {path})")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(f"{os.getpid()}\n")


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m apps.system.supervisor", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("CALYPSO_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("CALYPSO_PORT", "8000")))
    args = parser.parse_args(argv)

    os.umask(0o077)
    os.chdir(BASE_DIR)
    data_dir = Path(os.environ.setdefault("CALYPSO_DATA_DIR", str(BASE_DIR / "var"))).resolve()
    for sub in ("", "db", "run", "log", "secrets"):
        (data_dir / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    pidfile = data_dir / "run" / "supervisor.pid"
    _claim_pidfile(pidfile)

    services = calypso_services(args.host, args.port, data_dir)
    supervisor = Supervisor(services, min_delay=_env_float("CALYPSO_RESTART_MIN_S", 1.0),
                            max_delay=_env_float("CALYPSO_RESTART_MAX_S", 60.0),
                            reset_after=_env_float("CALYPSO_RESTART_RESET_S", 60.0),
                            stop_timeout=_env_float("CALYPSO_STOP_TIMEOUT_S", 10.0))
    install_stop_handlers(supervisor.request_stop)
    try:
        if not os.environ.get("REDIS_URL"):
            redis_service, url, redis_port = private_redis(data_dir)
            supervisor.services.insert(0, redis_service)
            supervisor.spawn(redis_service)
            wait_for_redis(url, redis_service)
            os.environ["REDIS_URL"] = url
            say(f"private Redis on 127.0.0.1:{redis_port} (password in {data_dir / 'secrets' / 'redis_password'})")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "calypso.settings")
        import django
        from django.core.management import call_command
        from django.db import connections

        django.setup()  # settings: the data folder private again (0700/0600)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("ensure_admin")
        call_command("mount_storage")  # managed Btrfs filesystems, after a reboot
        connections.close_all()
    except BaseException as exc:
        supervisor.stop()
        with contextlib.suppress(FileNotFoundError):
            pidfile.unlink()
        if isinstance(exc, Exception):
            say(f"could not start: {type(exc).__name__}: {exc}")
            return 1
        raise
    try:
        return supervisor.run(ready=lambda: say(
            f"Calypso is at http://{args.host}:{args.port}/admin/  (API: /api/v1/, docs: /api/v1/docs/, "
            f"liveness: /healthz; Ctrl-C stops)"))
    finally:
        with contextlib.suppress(FileNotFoundError):
            pidfile.unlink()


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # everything is stopped; skip the seconds of garbage collection of a loaded Django at exit
