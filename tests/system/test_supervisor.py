"""The process supervisor behind ``make run`` (apps/system/supervisor.py), with real child processes: small
sleepers stand in for the services, except in the ``live`` tests, which run the real portal."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.testing.live import database_url
from apps.jobs.models import Job
from apps.system.supervisor import (
    BASE_DIR,
    Service,
    Supervisor,
    fail_jobs_of_dead_worker,
    private_redis,
    wait_for_redis,
)


def _wait(what: str, check: Callable[[], object], timeout: float = 10, step: Callable[[], None] | None = None):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        if step is not None:
            step()
        time.sleep(0.01)
    return result


def _group_members(pgids: set[int]) -> set[int]:
    """PIDs of the live processes in any of the process groups ``pgids`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) in pgids:
            found.add(int(entry.name))
    return found


def _children(pid: int) -> set[int]:
    try:
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


class _Log(list):
    """The supervisor's messages with the time each was written."""

    def __call__(self, message: str) -> None:
        self.append((time.monotonic(), message))

    def times(self, pattern: str) -> list[float]:
        return [t for t, m in self if re.search(pattern, m)]

    def delays(self, name: str) -> list[float]:
        return [float(m.rsplit(" ", 2)[1]) for _, m in self if m.startswith(f"{name} ended after")]


# -- restarts --------------------------------------------------------------------------------------------
def test_a_failing_service_restarts_with_doubling_delays_up_to_the_cap_while_the_others_keep_running():
    log = _Log()
    sup = Supervisor([Service("web", ["sleep", "60"]), Service("worker", ["sh", "-c", "exit 3"])],
                     min_delay=0.1, max_delay=0.4, reset_after=30, stop_timeout=2, log=log)
    sup.start()
    web_pid = sup["web"].pid
    try:
        _wait("six starts of the worker", lambda: len(log.times("^worker started")) >= 6, step=sup.poll)
        assert sup["web"].pid == web_pid and sup["web"].running and sup["web"].restarts == 0
    finally:
        sup.stop()
    starts = log.times("^worker started")
    delays = log.delays("worker")[:5]
    assert delays == [0.1, 0.2, 0.4, 0.4, 0.4]
    assert any("worker (pid" in m and "ended: exit 3" in m for _, m in log)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    for gap, delay in zip(gaps, delays, strict=True):
        assert delay <= gap < delay + 0.5, (gaps, delays)
    assert not _group_members({web_pid})


def test_the_back_off_starts_over_once_a_service_has_stayed_up():
    def delays(reset_after: float) -> list[float]:
        log = _Log()
        sup = Supervisor([Service("beat", ["sleep", "0.3"])], min_delay=0.1, max_delay=5, reset_after=reset_after,
                         log=log)
        sup.start()
        try:
            _wait("three restarts", lambda: len(log.delays("beat")) >= 3, step=sup.poll)
        finally:
            sup.stop()
        return log.delays("beat")[:3]

    assert delays(reset_after=0.2) == [0.1, 0.1, 0.1]  # up 0.3 s each time: long enough
    assert delays(reset_after=10) == [0.1, 0.2, 0.4]


# -- stopping --------------------------------------------------------------------------------------------
SUPERVISED = """
import sys
from apps.system.supervisor import Service, Supervisor

services = [
    Service("web", ["sleep", "300"]),
    Service("worker", ["sh", "-c", "sleep 300 & sleep 300 & wait"]),  # a main process with children
    Service("stubborn", ["sh", "-c", "trap '' TERM; sleep 300 & wait"]),  # ignores TERM: needs KILL
    Service("broker", ["sleep", "300"], stop_last=True),
]
sys.exit(Supervisor(services, stop_timeout=0.5, tick=0.02).run(ready=lambda: print("ready", flush=True)))
"""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _start_supervised(launcher: list[str], *, execs: bool) -> tuple[subprocess.Popen, int, set[int]]:
    """The sleeper supervisor started through ``launcher`` (which ``execs`` it or starts it as its child);
    returns (the launched process, the supervisor's pid, its services' process groups)."""
    proc = subprocess.Popen([*launcher, sys.executable, "-c", SUPERVISED], cwd=BASE_DIR, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(BASE_DIR)}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    pid = proc.pid if execs else _wait("the supervisor", lambda: next(iter(_children(proc.pid)), None))
    pgids = _wait("four services", lambda: c if len(c := _children(pid)) == 4 else None)
    return proc, pid, pgids


def _kill_groups(pgids: set[int]) -> None:
    """After a failed test: leave no sleeper behind."""
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_int_and_term_stop_every_process_group_also_in_the_background(sig):
    # As in the background of a non-interactive shell: started with SIGINT ignored.
    proc, pid, pgids = _start_supervised(["bash", "-c", "trap '' INT; exec \"$0\" \"$@\""], execs=True)
    try:
        # sh and its two sleepers in the worker's group, the stubborn sh (its trap set) and its sleeper:
        # forked a moment after the services themselves, so wait for them.
        members = _wait("the services' children", lambda: m if len(m := _group_members(pgids)) >= 7 else None)
        assert pgids <= members
        started = time.monotonic()
        os.kill(pid, sig)
        _, err = proc.communicate(timeout=15)
        elapsed = time.monotonic() - started
        assert proc.returncode == 0, err
        assert not _group_members(pgids), err
        assert "SIGKILL after 0.5 s: stubborn" in err and f"stopping ({sig.name})" in err
        assert elapsed < 5, err
    finally:
        _kill_groups(pgids)


def test_the_supervisor_stops_everything_when_its_parent_dies():
    proc, pid, pgids = _start_supervised(["bash", "-c", "\"$0\" \"$@\" & wait"], execs=False)
    try:
        os.kill(proc.pid, signal.SIGKILL)  # the shell (or make) that started it
        _, err = proc.communicate(timeout=15)
        _wait("the supervisor to end", lambda: not _alive(pid))
        assert not _group_members(pgids), err
        assert "stopping (SIGTERM)" in err
    finally:
        _kill_groups(pgids)


# -- a dead worker's jobs --------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_jobs_of_a_worker_that_dies_are_failed_at_once():
    node, now = "calypso@supervised", timezone.now()
    running = Job.objects.create(kind="tests.steps", state="running", worker=node, started=now, heartbeat=now)
    elsewhere = Job.objects.create(kind="tests.steps", state="running", worker="calypso@other", started=now,
                                   heartbeat=now)
    log = _Log()
    sup = Supervisor([Service("worker", ["sleep", "60"], on_exit=fail_jobs_of_dead_worker(node))],
                     min_delay=5, log=log)
    sup.start()
    try:
        os.kill(sup["worker"].pid, signal.SIGKILL)
        killed = time.monotonic()
        _wait("the job to fail", lambda: Job.objects.get(pk=running.pk).state == "failed", timeout=5, step=sup.poll)
        assert time.monotonic() - killed < 2
        assert sup["worker"].proc is None and sup["worker"].next_start  # restarted after its delay
    finally:
        sup.stop()
    running.refresh_from_db()
    assert "died (signal SIGKILL)" in running.error and "interrupted" in running.error and node in running.error
    assert running.finished is not None
    assert running.log_entries.filter(level="error", message=running.error).exists()
    event = AuditEvent.objects.get(object_type="jobs.job", object_id=str(running.pk))
    assert event.outcome == "failed" and event.message == running.error
    assert Job.objects.get(pk=elsewhere.pk).state == "running"


# -- the private Redis and the data folder ---------------------------------------------------------------
def _loose(root: Path) -> list[str]:
    """Paths under ``root`` (and itself) that the group or others may access."""
    paths = [root, *root.rglob("*")]
    return [f"{oct(stat.S_IMODE(p.lstat().st_mode))} {p}" for p in paths
            if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077]


def _redis_says(port: int, command: bytes) -> bytes:
    """Redis's answer to one inline command on a new connection (no client library, no retries)."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(command + b"\r\n")
        return conn.recv(200)


@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
def test_the_private_redis_wants_its_password_which_stays_out_of_sight(tmp_path):
    data = tmp_path / "data"
    service, url, port = private_redis(data)
    password = (data / "secrets" / "redis_password").read_text().strip()
    assert len(password) >= 32 and password in url
    sup = Supervisor([service], stop_timeout=5, log=lambda m: None)
    sup.start()
    try:
        wait_for_redis(url, service)
        assert _redis_says(port, b"PING").startswith(b"-NOAUTH")
        assert _redis_says(port, b"AUTH not-the-password").startswith(b"-WRONGPASS")
        assert redis.Redis.from_url(url, socket_timeout=2).ping()
        assert password.encode() not in Path(f"/proc/{service.pid}/cmdline").read_bytes()
    finally:
        sup.stop()
    assert password not in (data / "log" / "redis.log").read_text()
    assert not _loose(data)


PRIVATE_FILES = """
import sqlite3, sys
from pathlib import Path
from django.conf import settings
db = sqlite3.connect(settings.DATA_DIR / "db" / "new.sqlite3")
db.execute("PRAGMA journal_mode=WAL"); db.execute("CREATE TABLE t (x)"); db.execute("INSERT INTO t VALUES (1)")
db.commit()
(settings.DATA_DIR / "log" / "new.log").write_text("a log line")
(settings.DATA_DIR / "run" / "new.sock").touch()
print(sorted(p.name for p in (settings.DATA_DIR / "db").iterdir()))
"""


def test_settings_make_the_data_folder_private_and_new_files_are_born_private(tmp_path):
    data = tmp_path / "data"
    for sub in ("db", "log", "run", "secrets", "static/admin"):
        (data / sub).mkdir(parents=True)
    for name in ("db/calypso.sqlite3", "db/calypso.sqlite3-wal", "db/calypso.sqlite3-shm", "log/worker.log",
                 "run/beat.pid", "secrets/django_secret_key", "static/admin/base.css"):
        (data / name).write_text("x")
    for path in [data, *data.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    outside.chmod(0o644)
    (data / "link").symlink_to(outside)
    env = {**os.environ, "CALYPSO_DATA_DIR": str(data), "DJANGO_SETTINGS_MODULE": "calypso.settings",
           "PYTHONPATH": str(BASE_DIR)}
    env.pop("CALYPSO_SECRET_KEY", None)
    out = subprocess.run([sys.executable, "-c", "import django; django.setup()\n" + PRIVATE_FILES], cwd=BASE_DIR,
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "new.sqlite3-wal" in out.stdout  # the WAL existed while the modes were read... and after:
    assert not _loose(data)
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # a link is not followed


# -- live: the real portal -------------------------------------------------------------------------------
def _http_status(port: int, path: str = "/healthz") -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


@pytest.mark.live
@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
def test_make_run_serves_restarts_a_killed_worker_and_stops_on_int(tmp_path):
    from apps.core.testing.live import free_port

    data, port = tmp_path / "data", free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "CALYPSO_SECRET_KEY")}
    env.update(CALYPSO_DATA_DIR=str(data), CALYPSO_PORT=str(port), CALYPSO_ADMIN_PASSWORD="portal-check-Pass-42",
               CALYPSO_WORKER_CONCURRENCY="1", CALYPSO_LOG_LEVEL="WARNING", PYTHONPATH=str(BASE_DIR))
    log = (tmp_path / "supervisor.log").open("w")
    proc = subprocess.Popen(["bash", "-c", "trap '' INT; exec \"$0\" \"$@\"", sys.executable, "-m",
                             "apps.system.supervisor"], cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    pgids: set[int] = set()
    try:
        _wait("the liveness probe", lambda: _http_status(port) == 200 or proc.poll() is not None, timeout=90)
        assert proc.poll() is None, (tmp_path / "supervisor.log").read_text()
        pgids = _children(proc.pid)
        assert len(pgids) == 4
        assert _http_status(port, "/api/v1/system/health") == 401  # the details need a sign-in
        assert not _loose(data)
        conf = (data / "run" / "redis.conf").read_text()
        redis_port = int(re.search(r"^port (\d+)$", conf, re.M).group(1))
        assert _redis_says(redis_port, b"PING").startswith(b"-NOAUTH")

        worker = next(p for p in pgids if b"worker" in Path(f"/proc/{p}/cmdline").read_bytes())
        os.kill(worker, signal.SIGKILL)
        answers = []
        restarted = _wait("the worker to restart", lambda: (_children(proc.pid) - pgids) or answers.append(
            _http_status(port)), timeout=20)
        assert answers and set(answers) == {200}  # the web served while the worker was down
        pgids |= restarted
    finally:
        started = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        finally:
            log.close()
    text = (tmp_path / "supervisor.log").read_text()
    assert proc.returncode == 0, text
    assert time.monotonic() - started < 15, text
    assert not _group_members(pgids), text
    assert "worker (pid" in text and "ended: signal SIGKILL" in text
    password = (data / "secrets" / "redis_password").read_text().strip()
    assert password not in text and all(password not in p.read_text(errors="replace")
                                        for p in (data / "log").iterdir())
    assert not _loose(data)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_killed_celery_worker_fails_its_running_job_at_once_and_comes_back():
    import uuid

    from celery import current_app
    from django.conf import settings
    from django.test import override_settings

    import tests.jobs.live_tasks  # noqa: F401 - registers "tests.sleep" here too
    from apps.jobs.services import enqueue

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip(f"the worker shares the test database: PostgreSQL, not {db['ENGINE']}")
    tag = f"calypso-sup-{uuid.uuid4().hex[:10]}"
    node = f"{tag}@{socket.gethostname()}"
    env = {**os.environ, "PYTHONPATH": str(BASE_DIR), "DJANGO_SETTINGS_MODULE": "calypso.settings",
           "DATABASE_URL": database_url(db), "REDIS_URL": settings.REDIS_URL, "CALYPSO_QUEUE": tag,
           "CALYPSO_CHANNEL_PREFIX": tag, "CALYPSO_CACHE_PREFIX": tag, "CALYPSO_DATA_DIR": str(settings.DATA_DIR),
           "CALYPSO_SECRET_KEY": settings.SECRET_KEY, "CALYPSO_JOB_HEARTBEAT_S": "0.5", "CALYPSO_LOG_LEVEL": "WARNING"}
    argv = [sys.executable, "-m", "celery", "-A", "calypso", "worker", "-Q", tag, "-n", node, "-c", "1", "-P",
            "prefork", "--without-mingle", "--without-gossip", "-l", "warning", "--include", "tests.jobs.live_tasks"]
    log = _Log()
    sup = Supervisor([Service("worker", argv, env=env, cwd=BASE_DIR, on_exit=fail_jobs_of_dead_worker(node))],
                     min_delay=0.5, stop_timeout=5, log=log)
    with override_settings(CELERY_TASK_DEFAULT_QUEUE=tag):
        sup.start()
        try:
            job = enqueue("tests.sleep", params={"steps": 300, "delay": 0.1})
            _wait("the job to run", lambda: Job.objects.get(pk=job.pk).state == "running", timeout=60, step=sup.poll)
            first = sup["worker"].pid
            os.kill(first, signal.SIGKILL)
            killed = time.monotonic()
            _wait("the job to fail", lambda: Job.objects.get(pk=job.pk).state == "failed", timeout=10, step=sup.poll)
            assert time.monotonic() - killed < 2
            job.refresh_from_db()
            assert "died (signal SIGKILL)" in job.error and node in job.error, job.error
            _wait("the worker to come back", lambda: sup["worker"].running and sup["worker"].pid != first and
                  current_app.control.ping(destination=[node], timeout=0.5), timeout=60, step=sup.poll)
        finally:
            sup.stop()
    assert log.delays("worker")[0] == 0.5
