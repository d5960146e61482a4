"""A live Calypso stack for end-to-end tests and benchmarks: a uvicorn ASGI server and a Celery worker.

Both run as child processes in their own sessions (``start_new_session=True``), so each PID is its
process group: stopping a group stops the worker's prefork children too, and nothing else.
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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Self

__all__ = ["LiveStack", "LiveStackError", "Managed", "free_port"]

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


class LiveStack(Managed):
    """``with LiveStack(env, queue=...) as stack:`` serves ``stack.base_url`` and runs jobs from ``queue``."""

    def __init__(self, env: Mapping[str, str], *, queue: str, include: Sequence[str] = (),
                 log_dir: Path | str | None = None, startup_timeout: float = 30.0, stop_timeout: float = 5.0) -> None:
        self.env = {**os.environ, "PYTHONPATH": str(BASE_DIR), "PYTHONUNBUFFERED": "1", **env}
        self.queue, self.include = queue, tuple(include)
        self.port = free_port()
        self.base_url, self.ws_url = f"http://127.0.0.1:{self.port}", f"ws://127.0.0.1:{self.port}"
        self.worker_name = f"live-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        self.log_dir = Path(log_dir or self.env.get("CALYPSO_DATA_DIR", BASE_DIR / "var")) / "log"
        self.startup_timeout, self.stop_timeout = startup_timeout, stop_timeout
        self.server: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self._procs: list[tuple[subprocess.Popen, IO[bytes]]] = []
        self._celery = None

    def start(self) -> None:
        self.start_server()
        self.start_worker()

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"live-{self.port}-{name}.log").open("ab")
        proc = subprocess.Popen(argv, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self._procs.append((proc, log))
        return proc

    def _fail(self, proc: subprocess.Popen, what: str) -> LiveStackError:
        log = next(f for p, f in self._procs if p is proc)
        log.flush()
        tail = Path(log.name).read_text(errors="replace").splitlines()[-40:]
        return LiveStackError(f"{what} (exit code {proc.poll()}); log {log.name}:\n" + "\n".join(tail))

    def _wait(self, proc: subprocess.Popen, what: str, ready) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise self._fail(proc, f"{what} exited during startup")
            if ready():
                return
            time.sleep(0.1)
        raise self._fail(proc, f"{what} did not answer within {self.startup_timeout:.0f} s")

    def _http_answers(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/api/v1/system/version")
            return conn.getresponse().status > 0
        except OSError:
            return False
        finally:
            conn.close()

    def _worker_answers(self) -> bool:
        if self._celery is None:
            from celery import Celery

            self._celery = Celery("calypso-live", broker=self.env.get("REDIS_URL"), set_as_current=False)
        return bool(self._celery.control.ping(destination=[self.worker_name], timeout=0.5))

    def start_server(self) -> None:
        self.server = self._spawn("uvicorn", [
            sys.executable, "-m", "uvicorn", "calypso.asgi:application", "--host", "127.0.0.1",
            "--port", str(self.port), "--log-level", "warning", "--no-access-log"])
        self._wait(self.server, "uvicorn", self._http_answers)

    def start_worker(self) -> None:
        """Start the worker (again, after ``kill_worker``) under the same node name."""
        argv = [sys.executable, "-m", "celery", "-A", "calypso", "worker", "-Q", self.queue, "-n",
                self.worker_name, "-c", "1", "-P", "prefork", "--without-mingle", "--without-gossip", "-l", "warning"]
        for module in self.include:
            argv += ["--include", module]
        self.worker = self._spawn("worker", argv)
        self._wait(self.worker, "celery worker", self._worker_answers)

    def kill_worker(self) -> None:
        """SIGKILL the worker and its children, as a crash or an OOM kill would."""
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(self.stop_timeout)

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
        if self._celery is not None:
            self._celery.close()
            self._celery = None

