"""A live Calypso stack for end-to-end tests and benchmarks: a uvicorn ASGI server and a Celery worker.

Both run as child processes in their own sessions (``start_new_session=True``), so each PID is its
process group: stopping a group stops the worker's prefork children too, and nothing else.
``ManagedProcesses`` holds that start/wait/stop logic; the benchmarks' bare yardstick server uses it too.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Self
from urllib.parse import quote

from apps.core import serving

__all__ = ["LiveStack", "LiveStackError", "Managed", "ManagedProcesses", "database_url", "free_port", "uvicorn_argv"]

BASE_DIR = Path(__file__).resolve().parents[3]


class LiveStackError(RuntimeError):
    """A process of the stack did not start; the message ends with the tail of its log."""


class Managed:
    """``with thing:`` starts it and always stops it, also when starting fails halfway."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(db: Mapping[str, object]) -> str:
    """The DATABASE_URL of a PostgreSQL ``settings.DATABASES`` entry (the test database, for other processes)."""
    auth = quote(str(db.get("USER") or "postgres"), safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(str(db["PASSWORD"]), safe="")
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def uvicorn_argv(app: str, port: int, *extra: str) -> list[str]:
    """uvicorn serving ``app`` on 127.0.0.1:``port`` as ``make run`` starts it, without an access log."""
    return [*serving.uvicorn_argv(sys.executable, app, "127.0.0.1", port), *extra, "--no-access-log"]


class ManagedProcesses(Managed):
    """Child processes, each in its own session (its PID is its process group), output to a log file.

    ``_spawn`` starts one (cwd ``cwd``, environment ``env``, log under ``log_dir``), ``_wait`` polls until
    it is ready and otherwise raises LiveStackError with the tail of its log, ``stop`` ends every group
    by PID (SIGTERM, then SIGKILL after ``stop_timeout``) and closes the logs.
    """

    log_tail_lines = 40

    def __init__(self, env: Mapping[str, str], *, cwd: Path | str, log_dir: Path | str,
                 startup_timeout: float = 30.0, stop_timeout: float = 5.0) -> None:
        self.env = dict(env)
        self.cwd, self.log_dir = Path(cwd), Path(log_dir)
        self.startup_timeout, self.stop_timeout = startup_timeout, stop_timeout
        self._procs: list[tuple[subprocess.Popen, IO[bytes]]] = []

    def _spawn(self, argv: Sequence[str], log_name: str) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / log_name).open("ab")
        proc = subprocess.Popen(argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self._procs.append((proc, log))
        return proc

    def _fail(self, proc: subprocess.Popen, what: str) -> LiveStackError:
        log = next(f for p, f in self._procs if p is proc)
        log.flush()
        tail = Path(log.name).read_text(errors="replace").splitlines()[-self.log_tail_lines:]
        return LiveStackError(f"{what} (exit code {proc.poll()}); log {log.name}:\n" + "\n".join(tail))

    def _wait(self, proc: subprocess.Popen, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise self._fail(proc, f"{what} exited during startup")
            if ready():
                return
            time.sleep(0.1)
        raise self._fail(proc, f"{what} did not answer within {self.startup_timeout:.0f} s")

    @staticmethod
    def _http_status(port: int, path: str, headers: Mapping[str, str] | None = None) -> int:
        """The status of ``GET path`` on 127.0.0.1:``port`` (body read), 0 when nothing answers."""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", path, headers=dict(headers or {}))
            response = conn.getresponse()
            response.read()
            return response.status
        except OSError:
            return 0
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop every process started here (SIGTERM, then SIGKILL) and close the log files."""
        for proc, _log in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for proc, log in self._procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(self.stop_timeout)
            log.close()
        self._procs.clear()


class LiveStack(ManagedProcesses):
    """``with LiveStack(env, queue=...) as stack:`` serves ``stack.base_url`` and runs jobs from ``queue``."""

    def __init__(self, env: Mapping[str, str], *, queue: str, include: Sequence[str] = (),
                 log_dir: Path | str | None = None, startup_timeout: float = 30.0, stop_timeout: float = 5.0,
                 concurrency: int = 1, pool: str = "prefork") -> None:
        env = {**os.environ, "PYTHONPATH": str(BASE_DIR), "PYTHONUNBUFFERED": "1", **env}
        log_dir = Path(log_dir or env.get("CALYPSO_DATA_DIR", BASE_DIR / "var")) / "log"
        super().__init__(env, cwd=BASE_DIR, log_dir=log_dir, startup_timeout=startup_timeout, stop_timeout=stop_timeout)
        self.queue, self.include = queue, tuple(include)
        self.concurrency, self.pool = concurrency, pool
        self.port = free_port()
        self.base_url, self.ws_url = f"http://127.0.0.1:{self.port}", f"ws://127.0.0.1:{self.port}"
        self.worker_name = f"live-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        self.server: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self._celery = None

    def start(self) -> None:
        self.start_server()
        self.start_worker()

    def _http_answers(self) -> bool:
        return self._http_status(self.port, "/api/v1/system/version") > 0

    def _worker_answers(self) -> bool:
        if self._celery is None:
            from celery import Celery

            self._celery = Celery("calypso-live", broker=self.env.get("REDIS_URL"), set_as_current=False)
        return bool(self._celery.control.ping(destination=[self.worker_name], timeout=0.5))

    def start_server(self) -> None:
        self.server = self._spawn(uvicorn_argv("calypso.asgi:application", self.port), f"live-{self.port}-uvicorn.log")
        self._wait(self.server, "uvicorn", self._http_answers)

    def start_worker(self) -> None:
        """Start the worker (again, after ``kill_worker``) under the same node name."""
        argv = [sys.executable, "-m", "celery", "-A", "calypso", "worker", "-Q", self.queue, "-n",
                self.worker_name, "-c", str(self.concurrency), "-P", self.pool, "--without-mingle", "--without-gossip", "-l", "warning"]
        for module in self.include:
            argv += ["--include", module]
        self.worker = self._spawn(argv, f"live-{self.port}-worker.log")
        self._wait(self.worker, "celery worker", self._worker_answers)

    def kill_worker(self) -> None:
        """SIGKILL the worker and its children, as a crash or an OOM kill would."""
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(self.stop_timeout)

    def stop(self) -> None:
        """Stop the server and the worker (see ``ManagedProcesses.stop``) and the ping client."""
        super().stop()
        if self._celery is not None:
            self._celery.close()
            self._celery = None
