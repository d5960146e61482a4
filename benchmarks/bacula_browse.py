"""The Bacula file browser over a 100,000-file backup: the portal's browse API, cold and warm, against the same
bvfs listing asked of the director directly with ``bconsole``.

Run from the checkout as root: ``.venv/bin/python benchmarks/bacula_browse.py``. The last line of the output is
one JSON object with the results (keys end with their unit). About 3-5 minutes, most of it the backup.

It builds a private Bacula stack in a temporary directory (director, storage daemon and file daemon on
127.0.0.1, ports ``BENCH_BACULA_PORT`` (19301) for the director, +1 the file daemon, +2 the storage daemon; a
SQLite catalog made by the packaged ``make_sqlite3_tables``), writes a tree of small files::

    flat/                 BENCH_FLAT (90,000) files in one directory
    tree/d000 .. d099/    100 directories of 100 files
    tree/a/b/c/d/e/deep/  100 files, seven levels down

and backs it up in one Full job through the portal's API, as an administrator with a token (storage with a
disk-changer autochanger, volumes labelled from barcodes, pool, client, fileset, job, ``run``; each queued job
run in this process with ``apps.jobs.runtime.run_job``). Then, ``BENCH_SAMPLES`` (30) times each, in
interleaved rounds in a new random order each round, through ``GET /api/v1/bacula/history/<id>/browse/``:

- ``first``: the flat directory, offset 0, limit 100;
- ``deep``: the deep directory's first page;
- ``deep_page``: the flat directory at offset 50,000, limit 100;

each **cold** (the portal's ``bacula:*`` cache keys under this run's own cache prefix deleted first, so the
request asks the director as a first visitor does) and **warm** (the same request once before from an empty
cache, untimed, so the page's own listing is held); every measured answer must be a whole page. The yardstick
is the same listing asked of the director directly, ``bconsole -n -c <conf>`` with one ``.bvfs_lsfiles`` line
on stdin, as a subprocess: ``limit=100`` for the first and the deep directory's page; for the deep page
``limit=50100`` (Bacula 9.6's console ignores ``offset=`` on ``.bvfs_lsfiles``: the run probes it and says so).

It also checks that each portal page holds the director's own rows at that place, pages on from the first page
to offset 50,000 as a user would (the portal's cache then holds the first page's listing), and runs one cold
request of each page with every console session it opens timed, with the size and read-back cost of the
listing it leaves in the cache and the portal parser's cost over the deep page's listing.

Environment: ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/calypso_bench_bacula: created, and
**dropped** at the end; a SQLite URL's file is removed), ``REDIS_URL`` (the cache prefix is unique per run and
only its keys are deleted), ``CALYPSO_DATA_DIR``, ``BENCH_SAMPLES`` (30), ``BENCH_FLAT`` (90000),
``BENCH_BACULA_PORT`` (19301). The catalog helper comes from ``tests/bacula/conftest.py`` (pytest installed).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/calypso_bench_bacula")

from common import ensure_database, load1, setup_environment, summary  # noqa: E402

TAG = f"calypso-bench-{uuid.uuid4().hex[:8]}"
setup_environment(TAG)

SAMPLES = int(os.environ.get("BENCH_SAMPLES", "30"))
FLAT = int(os.environ.get("BENCH_FLAT", "90000"))
TREE_DIRS, PER_DIR, DEEP_FILES = 100, 100, 100
DEEP_OFFSET = 50_000
PAGE = 100
DIR_PORT = int(os.environ.get("BENCH_BACULA_PORT", "19301"))
FD_PORT, SD_PORT = DIR_PORT + 1, DIR_PORT + 2
DIR_PW, FD_PW, SD_PW = "bench-console-secret", "bench-fd-secret", "bench-sd-secret"
CHANGER = "/etc/bacula/scripts/disk-changer %c %o %S %a %d %v"
BARCODES = [f"BEN00{i}L6" for i in range(1, 5)]
API = "/api/v1/bacula/"

WORK = Path(os.path.realpath(tempfile.mkdtemp(prefix="calypso-bench-bacula-")))
HOME = WORK / "bacula"
ETC = HOME / "etc"
os.environ.update({
    "CALYPSO_INTEGRATIONS_DIR": str(WORK / "integrations"),
    "CALYPSO_BACULA_DIR_CONF": str(ETC / "bacula-dir.conf"),
    "CALYPSO_BACULA_SD_CONF": str(ETC / "bacula-sd.conf"),
    "CALYPSO_BACULA_CONSOLE_CONF": str(ETC / "bconsole.conf"),
    "CALYPSO_BACULA_RESTORE_WHERE": str(WORK / "restores"),
    "CALYPSO_BACULA_POLL_S": "0.5",
})

# What a packaged director configuration already holds: the director does not start without a job.
STOCK = """
Client {{ Name = stock-fd; Address = 127.0.0.1; FDPort = {fd}; Catalog = MyCatalog; Password = "{fd_pw}" }}
FileSet {{ Name = "Stock Set"; Include {{ File = /nonexistent }} }}
Pool {{ Name = Default; Pool Type = Backup }}
Storage {{ Name = StockFile; Address = 127.0.0.1; SDPort = {sd}; Password = "{sd_pw}"; Device = Stock; Media Type = Stock }}
Job {{ Name = StockRestore; Type = Restore; Client = stock-fd; FileSet = "Stock Set"; Storage = StockFile; Pool = Default
      Messages = Standard; Where = /nonexistent }}
"""


# ------------------------------------------------------------------ the private Bacula stack
def _configs() -> dict[str, str]:
    work, log = HOME / "work", HOME / "log" / "bacula.log"
    director = f"""Director {{
  Name = calypso-dir; DIRport = {DIR_PORT}; DirAddress = 127.0.0.1; QueryFile = "/etc/bacula/scripts/query.sql"
  WorkingDirectory = "{work}"; PidDirectory = "{work}"; Maximum Concurrent Jobs = 5
  Password = "{DIR_PW}"; Messages = Daemon
}}
Catalog {{ Name = MyCatalog; dbname = "bacula"; dbuser = ""; dbpassword = "" }}
Messages {{ Name = Standard; console = all, !skipped, !saved; append = "{log}" = all, !skipped
  catalog = all, !skipped, !saved }}
Messages {{ Name = Daemon; console = all, !skipped, !saved; append = "{log}" = all, !skipped }}
""" + STOCK.format(fd=FD_PORT, fd_pw=FD_PW, sd=SD_PORT, sd_pw=SD_PW) + f"@{ETC / 'calypso-dir.conf'}\n"
    storage = f"""Storage {{
  Name = calypso-sd; SDPort = {SD_PORT}; SDAddress = 127.0.0.1; WorkingDirectory = "{work}"
  Pid Directory = "{work}"; Plugin Directory = "/usr/lib/bacula"; Maximum Concurrent Jobs = 5
}}
Director {{ Name = calypso-dir; Password = "{SD_PW}" }}
Messages {{ Name = Standard; director = calypso-dir = all }}
@{ETC / 'calypso-sd.conf'}
"""
    client = f"""Director {{ Name = calypso-dir; Password = "{FD_PW}" }}
FileDaemon {{
  Name = calypso-fd; FDport = {FD_PORT}; FDAddress = 127.0.0.1; WorkingDirectory = "{work}"
  Pid Directory = "{work}"; Maximum Concurrent Jobs = 5; Plugin Directory = "/usr/lib/bacula"
}}
Messages {{ Name = Standard; director = calypso-dir = all, !skipped, !restored }}
"""
    console = f'Director {{ Name = calypso-dir; DIRport = {DIR_PORT}; address = 127.0.0.1; Password = "{DIR_PW}" }}\n'
    return {"bacula-dir.conf": director, "bacula-sd.conf": storage, "bacula-fd.conf": client,
            "bconsole.conf": console, "calypso-dir.conf": "", "calypso-sd.conf": ""}


class Stack:
    """The three daemons, each started in its own session and stopped by PID."""

    def __init__(self) -> None:
        self.daemons: dict = {}

    def prepare(self) -> None:
        from tests.bacula.conftest import make_catalog

        for sub in ("work", "log", "etc"):
            (HOME / sub).mkdir(parents=True)
        make_catalog(HOME / "work")
        for name, text in _configs().items():
            (ETC / name).write_text(text)
        vc = WORK / "vchanger"
        vc.mkdir()
        (vc / "conf").write_text("maxslot=10\nmaxdrive=1\n")
        (vc / "barcodes").write_text("".join(f"{i}:{code}\n" for i, code in enumerate(BARCODES, start=1)))
        for i in range(1, 5):
            (vc / f"slot{i}").touch()

    def start(self, daemon: str) -> None:
        from apps.bacula.backends.base import FLAVOURS
        from apps.core.testing.daemons import start_daemon

        conf, port = {"fd": ("bacula-fd.conf", FD_PORT), "sd": ("bacula-sd.conf", SD_PORT),
                      "dir": ("bacula-dir.conf", DIR_PORT)}[daemon]
        if daemon in self.daemons:  # the storage daemon has no reload: a new device takes a restart
            self.daemons.pop(daemon).stop()
        self.daemons[daemon] = start_daemon([FLAVOURS["bacula"].binary(daemon), "-f", "-c", str(ETC / conf)],
                                            port=port, log=HOME / "log" / f"{daemon}.log")

    def stop(self) -> None:
        for daemon in ("dir", "sd", "fd"):
            if daemon in self.daemons:
                self.daemons.pop(daemon).stop()

    def log_tail(self) -> str:
        log = HOME / "log" / "bacula.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no director log)"


def make_tree(root: Path) -> int:
    """The files to back up (a few bytes each); how many."""
    count = 0
    dirs = [(root / "flat", FLAT)] + [(root / "tree" / f"d{i:03d}", PER_DIR) for i in range(TREE_DIRS)]
    dirs.append((root / "tree" / "a" / "b" / "c" / "d" / "e" / "deep", DEEP_FILES))
    for directory, n in dirs:
        directory.mkdir(parents=True)
        for i in range(n):
            (directory / f"file{i:06d}.txt").write_bytes(b"%d\n" % i)
        count += n
    return count


# ------------------------------------------------------------------ the portal
def _made(api, url: str, body: dict) -> dict:
    answer = api.post(API + url, body, format="json")
    if answer.status_code != 201:
        raise RuntimeError(f"POST {url}: {answer.status_code} {answer.content[:500]!r}")
    return answer.json()


def _job(answer):
    from apps.jobs.runtime import run_job

    if answer.status_code != 202:
        raise RuntimeError(f"{answer.status_code} {answer.content[:500]!r}")
    job = run_job(answer.json()["id"])
    if job.state != "succeeded":
        raise RuntimeError(f"job {job.kind} {job.state}: {job.error}")
    return job


def portal_backup(stack: Stack, root: Path) -> tuple:
    """An administrator's token client; every resource through the API; the Full backup; (client, run, seconds)."""
    from rest_framework.test import APIClient

    from apps.accounts.models import ApiToken, User
    from apps.bacula.models import JobRun
    from apps.storage.choices import Backend, DatasetKind
    from apps.storage.models import Dataset
    from apps.storage.models import Pool as StoragePool

    admin = User.objects.create_superuser("bench-admin", "bench@example.com", "correct horse battery")
    api = APIClient(SERVER_NAME="localhost")
    api.credentials(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(admin, 'benchmark')[1]}")
    pool = StoragePool.objects.create(name="tank", backend=Backend.ZFS, mountpoint=str(root.parent))
    Dataset.objects.create(pool=pool, name="tank/projects", kind=DatasetKind.FILESYSTEM, mountpoint=str(root))
    vc = WORK / "vchanger"
    storage = _made(api, "storage/", {
        "name": "VTL1", "address": "127.0.0.1", "port": SD_PORT, "password": SD_PW, "media_type": "VTape",
        "changer_device": str(vc / "conf"), "changer_command": CHANGER,
        "archive_devices": [str(vc / "drive0"), str(vc / "drive1")]})
    stack.start("sd")  # the portal restarts the storage daemon with CALYPSO_BACULA_SD_RESTART; here the benchmark does
    tape_pool = _made(api, "pools/", {"name": "TapePool", "storage": storage["id"]})
    client = _made(api, "clients/", {"name": "calypso-fd", "address": "127.0.0.1", "port": FD_PORT,
                                     "password": FD_PW})
    fileset = _made(api, "filesets/", {"name": "Projects", "include": [str(root)]})
    job = _made(api, "jobs/", {"name": "ProjectsFull", "client": client["id"], "fileset": fileset["id"],
                               "pool": tape_pool["id"], "storage": storage["id"], "level": "Full"})
    _job(api.post(f"{API}storage/{storage['id']}/label/", {"pool": tape_pool["id"], "slots": "1-4"}, format="json"))
    started = time.perf_counter()
    backup = _job(api.post(f"{API}jobs/{job['id']}/run/", {"level": "Full"}, format="json"))
    seconds = time.perf_counter() - started
    run = JobRun.objects.get(jobid=backup.result["jobid"])
    return api, run, seconds


# ------------------------------------------------------------------ measuring
def _forget_browse_cache() -> int:
    """Delete the portal's held listings (``bacula:*:list:*``) under this run's own prefix; how many. The job's
    bvfs cache stays built, as the backup job left it when it ended."""
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=cache.make_key("bacula:*:list:*"), count=1000))
    if keys:
        client.delete(*keys)
    return len(keys)


def _browse(api, url: str, params: dict) -> dict:
    answer = api.get(url, params)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url} {params}: {answer.status_code} {answer.content[:500]!r}")
    return answer.json()


def _full_page(api, url: str, params: dict) -> dict:
    """A measured answer: a whole page, or the sample measured something else."""
    page = _browse(api, url, params)
    if len(page["entries"]) != params["limit"]:
        raise RuntimeError(f"{params}: {len(page['entries'])} entries, not {params['limit']}")
    return page


def _warmed(api, url: str, params: dict) -> None:
    """The page asked once from an empty cache (so its listing is cached for it, whatever was asked before)."""
    _forget_browse_cache()
    _full_page(api, url, params)


def _bconsole(command: str) -> str:
    from apps.bacula.backends.base import FLAVOURS

    done = subprocess.run([FLAVOURS["bacula"].console, "-n", "-c", str(ETC / "bconsole.conf")],
                          input=f"{command}\nquit\n", capture_output=True, text=True, timeout=300, check=True)
    return done.stdout


def _rows(out: str) -> list[list[str]]:
    return [line.split("\t") for line in out.splitlines() if line.count("\t") == 5]


def targets(api, run, root: Path) -> tuple[dict, dict, dict, str, str]:
    """The measured cases (name -> (an untimed step before, the timed sample)), the pages, the console lines of
    the yardstick, the browse URL and the ``offset=`` probe."""
    url = f"{API}history/{run.pk}/browse/"
    flat, deep = f"{root}/flat/", f"{root}/tree/a/b/c/d/e/deep/"
    pages = {"first": {"path": flat, "offset": 0, "limit": PAGE}, "deep": {"path": deep, "offset": 0, "limit": PAGE},
             "deep_page": {"path": flat, "offset": DEEP_OFFSET, "limit": PAGE}}
    direct = {"first": f".bvfs_lsfiles jobid={run.jobid} path={flat} limit={PAGE}",
              "deep": f".bvfs_lsfiles jobid={run.jobid} path={deep} limit={PAGE}",
              # the console ignores offset= on .bvfs_lsfiles (Bacula 9.6): the rows up to the page are the least
              # a console client can ask for (``check_pages`` probes offset= once and reports it)
              "deep_page": f".bvfs_lsfiles jobid={run.jobid} path={flat} limit={DEEP_OFFSET + PAGE}"}
    out = {}
    for name, params in pages.items():
        out[f"browse_{name}"] = (_forget_browse_cache, lambda p=params: _full_page(api, url, p))
        out[f"browse_{name}_warm"] = (lambda p=params: _warmed(api, url, p), lambda p=params: _full_page(api, url, p))
        out[f"bconsole_{name}"] = (None, lambda c=direct[name]: _bconsole(c))
    probe = f".bvfs_lsfiles jobid={run.jobid} path={flat} limit={PAGE} offset={DEEP_OFFSET}"
    return out, pages, direct, url, probe


def measure(cases: dict) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    order = list(cases)
    rng = random.Random(1234)
    for _ in range(SAMPLES):
        rng.shuffle(order)
        for name in order:
            before, sample = cases[name]
            if before is not None:
                before()
            t0 = time.perf_counter()
            sample()
            times[name].append((time.perf_counter() - t0) * 1000)
    return times


def breakdown(api, url: str, pages: dict) -> dict[str, list[tuple[str, float, int]]]:
    """One cold request of each page with every console call it makes timed: (command, ms, output bytes)."""
    from common import TimingRunner

    from apps.core.runner import runner_override

    out = {}
    for name, params in pages.items():
        _forget_browse_cache()
        runner = TimingRunner()
        calls: list[tuple[str, float, int]] = []
        inner = runner.run

        def run(argv, _inner=inner, _calls=calls, **kwargs):
            result = _inner(argv, **kwargs)
            sent = [c for c in (kwargs.get("stdin") or "").splitlines() if c != "quit"]
            line = " ; ".join(sent) if sent else " ".join(argv)  # one console session, every command it held
            _calls.append((line, result.duration_s * 1000, len(result.stdout)))
            return result

        runner.run = run
        t0 = time.perf_counter()
        with runner_override(runner):
            _browse(api, url, params)
        calls.append(("whole request", (time.perf_counter() - t0) * 1000, 0))
        calls.extend(_held_listings())
        out[name] = calls
    return out


def _held_listings() -> list[tuple[str, float, int]]:
    """Each listing the portal holds in its cache now (a head, then blocks of raw rows): what reading one back
    costs, and its size."""
    from django.core.cache import cache

    client = cache._cache.get_client()
    prefix = cache.make_key("")
    rows = []
    for key in sorted(client.scan_iter(match=cache.make_key("bacula:*:list:*"), count=1000)):
        name = key.decode()[len(prefix):]
        t0 = time.perf_counter()
        held = cache.get(name)
        took = (time.perf_counter() - t0) * 1000
        what = (f"cache.get of a listing's head ({held['files']:,} file rows held, complete={held['complete']})"
                if isinstance(held, dict) else f"cache.get of one block ({len(held):,} rows)")
        rows.append((what, took, client.strlen(key)))
    return rows[:3] + ([(f"... and {len(rows) - 3} more blocks", 0.0, 0)] if len(rows) > 3 else [])


def parse_cost(command: str) -> tuple[int, float]:
    """Rows and milliseconds of the portal's parser over one console answer (the deep page's listing)."""
    from apps.bacula.backends import bconsole_parse

    out = _bconsole(command)
    t0 = time.perf_counter()
    rows = bconsole_parse.parse_bvfs_entries(bconsole_parse.command_output(out, command))
    return len(rows), (time.perf_counter() - t0) * 1000


def check_pages(api, url: str, pages: dict, direct: dict, offset_probe: str) -> dict[str, bool]:
    """Does the director's own listing hold the portal's page at the same place? And does the console honour
    ``offset=`` on ``.bvfs_lsfiles`` (``offset_honoured``)?"""
    same = {}
    for name, params in pages.items():
        _forget_browse_cache()
        portal = [e["name"] for e in _browse(api, url, params)["entries"]]
        listing = _names(_bconsole(direct[name]))
        console = listing[params["offset"]:params["offset"] + params["limit"]]
        same[name] = bool(console) and portal[:len(console)] == console
        if name == "deep_page":
            probe = _names(_bconsole(offset_probe))
            same["offset_honoured"] = bool(probe) and probe == listing[DEEP_OFFSET:DEEP_OFFSET + len(probe)]
    return same


def paging_after_first_page(api, url: str, pages: dict) -> dict:
    """What a user paging on sees: the flat directory's first page, then its page at ``DEEP_OFFSET`` (the
    portal's cache holds the first page's listing by then)."""
    _forget_browse_cache()
    first = _browse(api, url, pages["first"])
    later = _browse(api, url, pages["deep_page"])
    return {"first_entries": len(first["entries"]), "first_more": first["more"],
            "later_entries": len(later["entries"]), "later_more": later["more"]}


def _names(out: str) -> list[str]:
    """The file names of a ``.bvfs_lsfiles`` answer (its row for the directory itself has none)."""
    return [row[5] for row in _rows(out) if row[5]]


# ------------------------------------------------------------------ the report
def report(files: int, backup_s: float, first_browse_s: float, times: dict, calls: dict, same: dict,
           paging: dict, parsed: tuple[int, float], run) -> dict:
    s = {name: summary(values) for name, values in times.items()}
    print(f"\nBacula file browser: {files:,} files backed up in one Full job (JobId {run.jobid}) in {backup_s:.1f} s "
          f"through the portal (director: {run.files:,} files, {run.bytes:,} bytes); first browse ever "
          f"(the backup job built its bvfs cache when it ended) {first_browse_s:.2f} s")
    print(f"{SAMPLES} samples each, interleaved rounds in random order; load average {load1():.2f}; "
          f"{os.cpu_count()} cores\n")
    print(f"  {'what':<26}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'vs bconsole p95':>17}")
    for page in ("first", "deep", "deep_page"):
        yard = s[f"bconsole_{page}"]["p95"]
        for name in (f"browse_{page}", f"browse_{page}_warm", f"bconsole_{page}"):
            row = s[name]
            label = name + ("" if name.endswith("_warm") or name.startswith("bconsole") else " (cold)")
            print(f"  {label:<26}{row['p50']:>9}{row['p95']:>9}{row['max']:>9}{row['p95'] / yard:>16.2f}x")
        print()
    print("  pages: first = flat/ offset 0; deep = tree/a/b/c/d/e/deep/ offset 0; deep_page = flat/ offset "
          f"{DEEP_OFFSET:,} (limit {PAGE})")
    print(f"  bconsole_deep_page asks .bvfs_lsfiles limit={DEEP_OFFSET + PAGE:,}: the console honours offset= "
          f"on .bvfs_lsfiles: {'yes' if same['offset_honoured'] else 'no'}")
    print("  the portal's page is the director's own rows at that place: "
          + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in same.items() if k != "offset_honoured"))
    ok = paging["later_entries"] == PAGE
    print(f"  paging on: flat/ first page {paging['first_entries']} entries (more={paging['first_more']}), then offset "
          f"{DEEP_OFFSET:,} from the same cache: {paging['later_entries']} entries (more={paging['later_more']})"
          f"{'' if ok else '  <-- WRONG: the directory holds ' + format(FLAT, ',') + ' files'}")
    print("\n  one cold request, each console session it opened:")
    for page, rows in calls.items():
        print(f"  {page}:")
        for line, ms, size in rows:
            print(f"    {ms:>9.1f} ms {size:>10,} B  {line[:110]}")
    print(f"  the portal's parser over the {parsed[0]:,} rows of bconsole_deep_page's answer: {parsed[1]:.0f} ms")
    out = {
        "files": files, "backup_s": round(backup_s, 2), "first_browse_ever_s": round(first_browse_s, 2),
        "browse_first_p50_ms": s["browse_first"]["p50"], "browse_first_p95_ms": s["browse_first"]["p95"],
        "browse_first_warm_p95_ms": s["browse_first_warm"]["p95"],
        "browse_deep_p95_ms": s["browse_deep"]["p95"], "browse_deep_warm_p95_ms": s["browse_deep_warm"]["p95"],
        "browse_deep_page_p95_ms": s["browse_deep_page"]["p95"],
        "browse_deep_page_warm_p95_ms": s["browse_deep_page_warm"]["p95"],
        "bconsole_direct_p50_ms": s["bconsole_first"]["p50"], "bconsole_direct_p95_ms": s["bconsole_first"]["p95"],
        "bconsole_deep_p95_ms": s["bconsole_deep"]["p95"], "bconsole_deep_page_p95_ms": s["bconsole_deep_page"]["p95"],
        "first_vs_direct": round(s["browse_first"]["p95"] / s["bconsole_first"]["p95"], 2),
        "first_warm_vs_direct": round(s["browse_first_warm"]["p95"] / s["bconsole_first"]["p95"], 2),
        "deep_vs_direct": round(s["browse_deep"]["p95"] / s["bconsole_deep"]["p95"], 2),
        "deep_page_vs_direct": round(s["browse_deep_page"]["p95"] / s["bconsole_deep_page"]["p95"], 2),
        "console_sessions_cold_first": sum(line.startswith(".") for line, _ms, _size in calls["first"]), "console_offset_honoured": same["offset_honoured"],
        "parse_deep_listing_ms": round(parsed[1], 1),
        "paging_after_first_entries": paging["later_entries"], "paging_after_first_more": paging["later_more"],
        "pages_match_director": all(v for k, v in same.items() if k != "offset_honoured"),
        "samples": SAMPLES, "load1": load1(), "cores": os.cpu_count(),
    }
    return out


# ------------------------------------------------------------------ setup and cleanup
def drop_database(url: str) -> None:
    from django.db import connections

    connections.close_all()
    if url.startswith("sqlite"):
        path = urlsplit(url).path
        path = path[1:] if path.startswith("//") else path
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(path + suffix).unlink(missing_ok=True)
        return
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    admin_url = parts._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(parts.path.lstrip("/"))))


def forget_redis() -> None:
    """Every key of this run (cache, queue and channel names carry its unique tag)."""
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"*{TAG}*", count=1000))
    if keys:
        client.delete(*keys)


def main() -> int:
    url = os.environ["DATABASE_URL"]
    try:
        if url.startswith("postgres"):
            ensure_database(url)
        import django

        django.setup()
    except BaseException:
        shutil.rmtree(WORK, ignore_errors=True)
        raise
    from django.conf import settings
    from django.core.management import call_command

    settings.CALYPSO_BACULA_SD_RESTART = []  # the benchmark restarts its own storage daemon
    stack = Stack()
    root = WORK / "tank" / "projects"
    started = time.perf_counter()
    try:
        call_command("migrate", verbosity=0, interactive=False)
        stack.prepare()
        t0 = time.perf_counter()
        files = make_tree(root)
        print(f"wrote {files:,} files under {root} in {time.perf_counter() - t0:.1f} s", flush=True)
        stack.start("fd")
        stack.start("dir")  # the storage daemon starts once the portal has given it a device
        try:
            api, run, backup_s = portal_backup(stack, root)
        except Exception:
            print(stack.log_tail(), file=sys.stderr)
            raise
        print(f"backup through the portal: {backup_s:.1f} s", flush=True)
        cases, pages, direct, browse_url, probe = targets(api, run, root)
        t0 = time.perf_counter()
        _browse(api, browse_url, pages["first"])  # the first browse builds the job's bvfs cache in the catalog
        first_browse_s = time.perf_counter() - t0
        same = check_pages(api, browse_url, pages, direct, probe)
        paging = paging_after_first_page(api, browse_url, pages)
        calls = breakdown(api, browse_url, pages)
        parsed = parse_cost(direct["deep_page"])
        times = measure(cases)
        out = report(files, backup_s, first_browse_s, times, calls, same, paging, parsed, run)
    finally:
        stack.stop()
        try:
            forget_redis()
        finally:
            drop_database(url)
            shutil.rmtree(WORK, ignore_errors=True)
        print(f"\ncleaned up: daemons stopped, {WORK} removed, database dropped")
    out["run_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
