"""The bare Django + DRF yardstick (``shared/stackbase``) run beside Calypso in one benchmark.

stackbase is the same stack (Django, DRF, django-filter, Channels, uvicorn, psycopg pool) with no
application code: its ``/api/items-cursor/`` is a 50-row CursorPagination list with token auth,
``select_related`` and a filter backend. Calypso's list pages are compared with it at the same row
count, on the same box at the same moment, through the same HTTP client.

Its dependencies are a subset of Calypso's ``requirements/prod.txt``, so it runs from the benchmark's
own interpreter: ``manage.py migrate / seed / sbinfo`` as subprocesses (cwd and PYTHONPATH = the
stackbase folder, ``DJANGO_SETTINGS_MODULE=sb.settings``, ``SB_DB``), then one uvicorn per database on a
free 127.0.0.1 port, in its own session, stopped by PID (its process group) at the end: started and
stopped by ``apps.core.testing.live.ManagedProcesses``, as Calypso's own ``LiveStack`` is.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import sys
from pathlib import Path

import common  # noqa: F401 - puts the checkout on sys.path for the import below

from apps.core.testing.live import ManagedProcesses, free_port, uvicorn_argv

__all__ = ["BareServer", "StackbaseMissing", "bare_db_name", "locate_stackbase"]

# What the benchmark's environment holds for Calypso and must not leak into the bare app.
_CALYPSO_ONLY = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CALYPSO_QUEUE", "CALYPSO_CHANNEL_PREFIX",
                 "CALYPSO_CACHE_PREFIX", "CALYPSO_DATA_DIR", "CALYPSO_LOG_LEVEL", "PYTHONPATH")


class StackbaseMissing(RuntimeError):
    """The yardstick is not where STACKBASE_DIR (or its default) says."""


def locate_stackbase(root: Path) -> Path:
    """``STACKBASE_DIR``, else ``<repo>/../shared/stackbase``; raises StackbaseMissing with the reason."""
    configured = os.environ.get("STACKBASE_DIR")
    path = Path(configured) if configured else root.parent / "shared" / "stackbase"
    missing = [name for name in ("manage.py", "sb/settings.py", "app/management/commands/seed.py",
                                 "app/management/commands/sbinfo.py") if not (path / name).is_file()]
    if missing:
        how = "STACKBASE_DIR" if configured else "default <repo>/../shared/stackbase (set STACKBASE_DIR)"
        raise StackbaseMissing(f"stackbase not found at {path} ({how}): missing {', '.join(missing)}")
    return path.resolve()


def bare_db_name(prefix: str, rows: int) -> str:
    return f"{prefix}_{rows // 1000}k" if rows % 1000 == 0 else f"{prefix}_{rows}"


class BareServer(ManagedProcesses):
    """One stackbase database (seeded to ``rows`` items) and the uvicorn that serves it.

    ``prepare()`` creates, migrates and seeds the database (idempotent: seed does nothing when the row
    count already matches) and reads ``sbinfo``; ``start()`` launches uvicorn and waits for a 200;
    ``stop()`` ends its process group (SIGTERM, then SIGKILL). Usable as a context manager.
    """

    def __init__(self, home: Path, db: str, rows: int, *, log_dir: Path, startup_timeout: float = 30.0,
                 stop_timeout: float = 5.0) -> None:
        env = {k: v for k, v in os.environ.items() if k not in _CALYPSO_ONLY}
        env.update({"PYTHONPATH": str(home), "DJANGO_SETTINGS_MODULE": "sb.settings", "SB_DB": db,
                    "PYTHONUNBUFFERED": "1"})
        super().__init__(env, cwd=home, log_dir=log_dir, startup_timeout=startup_timeout, stop_timeout=stop_timeout)
        self.home, self.db, self.rows = home, db, rows
        self.info: dict = {}
        self.port = 0
        self.base_url = ""
        self.proc: subprocess.Popen | None = None

    # ---------------------------------------------------------------- database
    def _manage(self, *args: str, timeout: float = 900) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=self.home, env=self.env,  # noqa: S603
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"stackbase manage.py {' '.join(args)} (SB_DB={self.db}) failed with "
                               f"{done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}")
        return done.stdout

    def prepare(self, ensure_database) -> str:
        """Create/migrate/seed the database; returns seed's own line (inserted or nothing to do)."""
        ensure_database(f"postgres://postgres@127.0.0.1:5432/{self.db}")  # sb.settings: fixed host/user
        self._manage("migrate", "--noinput", "-v", "0")
        seeded = self._manage("seed", "--rows", str(self.rows)).strip().splitlines()
        self.info = json.loads(self._manage("sbinfo").strip().splitlines()[-1])
        if self.info["rows"] != self.rows:
            raise RuntimeError(f"stackbase {self.db} holds {self.info['rows']} items, not {self.rows}")
        return seeded[-1] if seeded else ""

    @property
    def token(self) -> str:
        return self.info["token"]

    @property
    def paths(self) -> dict[str, str]:
        return self.info["paths"]

    @property
    def queries(self) -> dict[str, int]:
        return self.info["queries_per_request"]

    # ---------------------------------------------------------------- server
    def start(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        # As stackbase's bench.sh starts it (1 worker, no access log); the same flags as Calypso's LiveStack.
        self.proc = self._spawn(uvicorn_argv("sb.asgi:application", self.port, "--workers", "1"),
                                f"stackbase-{self.port}-uvicorn.log")
        self._wait(self.proc, "stackbase uvicorn", self._answers)

    def _answers(self) -> bool:
        return self._http_status(self.port, self.paths["cursor_first"],
                                 {"Authorization": f"Token {self.token}"}) == 200

    def check(self) -> None:
        """The deep cursor lands where sbinfo said (a full page with a next link), over HTTP."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", self.paths["cursor_deep"], headers={"Authorization": f"Token {self.token}"})
            body = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        first = self.info["first_ids"]["cursor_deep"]
        if not body.get("results") or body["results"][0]["id"] != first or len(body["results"]) != 50:
            raise RuntimeError(f"stackbase {self.db}: deep cursor page does not start at id {first}")

    def rss_mb(self) -> float | None:
        if self.proc is None:
            return None
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
        return None
