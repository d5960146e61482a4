"""The embedded database (SQLite) under the portal's real concurrency: a worker syncing the inventory, beat
ticking the snapshot policies and the web process saving edits, each its own process on one database file.
No write may fail with "database is locked" and no tick or edit may be lost.

The soak lasts a few seconds in the quick suite and 15 s in the full one (some 300 write transactions from the
three processes, all contending for the database's one write lock); CALYPSO_SQLITE_SOAK_S sets another
length, e.g. a minute or more for a longer soak of the same assertions."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
QUICK = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
SOAK_S = float(os.environ.get("CALYPSO_SQLITE_SOAK_S", 6 if QUICK else 15))


def _env(db: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(DATABASE_URL=f"sqlite:///{db}", CALYPSO_LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="calypso.settings",
               CELERY_TASK_ALWAYS_EAGER="0")
    return env


def _role(env: dict, role: str, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.core.sqlite_load", role, str(seconds)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _report(proc: subprocess.Popen, timeout: float) -> dict:
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"no report (exit {proc.returncode}): {err[-2000:]}"
    return json.loads(lines[-1]) | {"stderr": err[-2000:]}


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> tuple[Path, dict]:
    """One migrated database file for the module: the settings probe only reads it."""
    db = tmp_path_factory.mktemp("sqlite") / "calypso.sqlite3"
    env = _env(db)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    assert _report(_role(env, "setup", 0), 60)["errors"] == []
    return db, env


def test_sqlite_connections_use_wal_busy_timeout_and_immediate_writes(database):
    db, env = database
    probe = ("import django; django.setup(); from django.db import connection, transaction\n"
             "with connection.cursor() as c:\n"
             "    mode = c.execute('PRAGMA journal_mode').fetchone()[0]\n"
             "    busy = c.execute('PRAGMA busy_timeout').fetchone()[0]\n"
             "    sync = c.execute('PRAGMA synchronous').fetchone()[0]\n"
             "print(mode, busy, sync, connection.transaction_mode)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                         check=True).stdout.split()
    assert out[0] == "wal"
    assert int(out[1]) >= 5000  # waits seconds for another writer, not at all
    assert out[2] == "1"  # NORMAL
    assert out[3] == "IMMEDIATE"
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # kept in the file


def test_sync_policy_ticks_and_web_edits_together_lose_nothing(database):
    db, env = database
    procs = {role: _role(env, role, SOAK_S) for role in ("sync", "tick", "web")}
    reports = {role: _report(proc, SOAK_S + 90) for role, proc in procs.items()}
    for role, report in reports.items():
        assert report["errors"] == [], f"{role}: {report['errors']}"
        assert report["done"] > 0, f"{role} did nothing: {report['stderr']}"

    con = sqlite3.connect(db)
    policy_id, hourly = con.execute("SELECT id, hourly FROM storage_snapshotpolicy WHERE name='edited'").fetchone()
    ticked = con.execute("SELECT id FROM storage_snapshotpolicy WHERE name='ticked'").fetchone()[0]
    queued = con.execute("SELECT count(*) FROM jobs_job WHERE kind='storage.snapshotpolicy.run' AND target_id=?",
                         (str(ticked),)).fetchone()[0]
    assert queued == reports["tick"]["done"], "every tick queues the due policy's run"
    assert hourly == reports["web"]["done"], "every edit is kept"
    # The ticks kept going beside the sync (five a second asked; at least one a second on a busy machine).
    assert reports["tick"]["done"] >= SOAK_S, reports["tick"]
    assert reports["sync"]["done"] >= 2
